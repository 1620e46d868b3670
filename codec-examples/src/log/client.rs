//! `weft log-client`: produce records from stdin, fetch them to stdout.
//!
//! A plain tokio client: it speaks the protocol of [`super::protocol`] and
//! checks every fetched record's offset and CRC.

use std::io::{self, Write};
use std::net::SocketAddr;
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;

use super::protocol::{encode_fetch, encode_produce, Status, MAX_FRAME_BYTES};
use super::record::{RecordHeader, RECORD_HEADER_LEN};

/// How long `produce` waits for more input before sending a partial batch
/// (so typed lines are acknowledged at once, and piped input batches fully).
pub const BATCH_LINGER: Duration = Duration::from_millis(5);

/// How long each fetch waits at the end of the log with `--follow`.
pub const FOLLOW_WAIT_MS: u32 = 1000;

/// One answer frame: status and body.
#[derive(Debug)]
struct Answer {
    status: u8,
    body: Vec<u8>,
}

fn invalid(msg: String) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, msg)
}

async fn read_answer(stream: &mut TcpStream) -> io::Result<Answer> {
    let len = stream.read_u32().await? as usize;
    if len == 0 || len > MAX_FRAME_BYTES {
        return Err(invalid(format!("answer frame of {len} bytes")));
    }
    let mut body = vec![0u8; len];
    stream.read_exact(&mut body).await?;
    let status = body[0];
    body.remove(0);
    Ok(Answer { status, body })
}

/// Turns an error answer into an `io::Error` carrying the broker's message
/// (which names the problem: `offset 9 is beyond the end of the log ...`).
fn broker_error(a: &Answer) -> io::Error {
    let msg = String::from_utf8_lossy(&a.body);
    match Status::from_u8(a.status) {
        Some(_) if !msg.is_empty() => io::Error::other(format!("broker: {msg}")),
        _ => io::Error::other(format!("broker answered status {}", a.status)),
    }
}

fn be_u64(b: &[u8]) -> u64 {
    let mut raw = [0u8; 8];
    raw.copy_from_slice(&b[..8]);
    u64::from_be_bytes(raw)
}

/// Reads stdin, one record per line (without its `\n` or `\r\n`), sends
/// batches of at most `batch` records and prints the offset of the first
/// record of each acknowledged batch.
///
/// # Errors
///
/// I/O errors, or the broker's error answer.
///
/// # Examples
///
/// ```no_run
/// # async fn f() -> std::io::Result<()> {
/// weft_examples::log::client::produce("127.0.0.1:9092".parse().unwrap(), 1000).await
/// # }
/// ```
pub async fn produce(addr: SocketAddr, batch: usize) -> io::Result<()> {
    let batch = batch.max(1);
    let mut stream = TcpStream::connect(addr).await?;
    stream.set_nodelay(true)?;
    let mut stdin = BufReader::new(tokio::io::stdin());
    let mut out = io::stdout().lock();
    let mut eof = false;
    // Outlives each batch: `read_until` keeps what it read of a line when
    // the linger timeout cancels it, and the line goes on in the next batch
    // (a fresh buffer per line lost those bytes: "record 7" arrived as " 7").
    let mut line = Vec::new();
    while !eof {
        let mut records: Vec<Vec<u8>> = Vec::new();
        let mut bytes = 0usize;
        while records.len() < batch && bytes < MAX_FRAME_BYTES / 2 {
            let n = if records.is_empty() {
                stdin.read_until(b'\n', &mut line).await?
            } else {
                match tokio::time::timeout(BATCH_LINGER, stdin.read_until(b'\n', &mut line)).await {
                    Ok(r) => r?,
                    Err(_) => break, // no more input right now: send what we have
                }
            };
            if n == 0 {
                eof = true;
                if line.is_empty() {
                    break;
                }
                // The last line had no newline and its start came before a
                // linger timeout: it is a record too.
            }
            if line.last() == Some(&b'\n') {
                line.pop();
                if line.last() == Some(&b'\r') {
                    line.pop();
                }
            }
            bytes += line.len() + 4;
            records.push(std::mem::take(&mut line));
            if eof {
                break;
            }
        }
        if records.is_empty() {
            break;
        }
        stream.write_all(&encode_produce(&records)).await?;
        let a = read_answer(&mut stream).await?;
        if a.status != Status::Ok as u8 {
            return Err(broker_error(&a));
        }
        if a.body.len() != 12 {
            return Err(invalid(format!("produce answer of {} bytes", a.body.len())));
        }
        writeln!(out, "{}", be_u64(&a.body))?;
        out.flush()?;
    }
    Ok(())
}

/// Prints records from `offset` on, one per line, until the end of the log
/// (or for ever with `follow`, waiting at the end; stop it with Ctrl-C).
///
/// # Errors
///
/// I/O errors, a record whose offset or CRC is wrong, or the broker's error
/// answer (such as an offset past the end).
///
/// # Examples
///
/// ```no_run
/// # async fn f() -> std::io::Result<()> {
/// weft_examples::log::client::fetch("127.0.0.1:9092".parse().unwrap(), 0, 1 << 20, false).await
/// # }
/// ```
pub async fn fetch(addr: SocketAddr, offset: u64, max_bytes: u32, follow: bool) -> io::Result<()> {
    let mut stream = TcpStream::connect(addr).await?;
    stream.set_nodelay(true)?;
    let mut out = io::BufWriter::new(io::stdout().lock());
    let mut next = offset;
    let wait = if follow { FOLLOW_WAIT_MS } else { 0 };
    loop {
        stream
            .write_all(&encode_fetch(next, max_bytes, wait))
            .await?;
        let a = read_answer(&mut stream).await?;
        if a.status != Status::Ok as u8 {
            out.flush()?;
            return Err(broker_error(&a));
        }
        if a.body.len() < 16 {
            return Err(invalid(format!("fetch answer of {} bytes", a.body.len())));
        }
        let log_end = be_u64(&a.body[8..16]);
        let mut p = &a.body[16..];
        while !p.is_empty() {
            if p.len() < RECORD_HEADER_LEN {
                return Err(invalid("torn record header in a fetch answer".into()));
            }
            let mut raw = [0u8; RECORD_HEADER_LEN];
            raw.copy_from_slice(&p[..RECORD_HEADER_LEN]);
            let h = RecordHeader::decode(&raw);
            let end = RECORD_HEADER_LEN + h.len as usize;
            if p.len() < end {
                return Err(invalid(format!("record {} is cut short", h.offset)));
            }
            let payload = &p[RECORD_HEADER_LEN..end];
            if h.offset != next || !h.matches(&[payload]) {
                return Err(invalid(format!(
                    "record {} (expected {next}) fails its offset or CRC check",
                    h.offset
                )));
            }
            out.write_all(payload)?;
            out.write_all(b"\n")?;
            next += 1;
            p = &p[end..];
        }
        out.flush()?;
        if !follow && next >= log_end {
            return Ok(());
        }
    }
}
