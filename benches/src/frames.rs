//! The second table: frames made of N separate pieces, sent piece by
//! piece, flattened into one buffer, or gathered with `writev`.

use std::io::{self, IoSlice, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use crate::paths::{write_all_counted, Counts};

/// Pieces per frame measured by the frame table.
pub const FRAME_PIECES: [usize; 3] = [2, 8, 32];

/// Piece sizes measured by the frame table.
pub const PIECE_SIZES: [usize; 3] = [64, 1024, 16 * 1024];

/// How a frame of several pieces goes to the socket.
///
/// # Examples
///
/// ```
/// use weft_benches::FrameMethod;
/// assert_eq!(FrameMethod::Writev.name(), "writev");
/// assert_eq!(FrameMethod::ALL.len(), 3);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FrameMethod {
    /// One `write` per piece.
    PerPiece,
    /// Copy the pieces into one buffer, then one `write`.
    Concat,
    /// One `writev` with an iovec per piece.
    Writev,
}

impl FrameMethod {
    /// Every method, in table order.
    pub const ALL: [FrameMethod; 3] = [
        FrameMethod::PerPiece,
        FrameMethod::Concat,
        FrameMethod::Writev,
    ];

    /// Short name used in row names.
    ///
    /// # Examples
    ///
    /// ```
    /// assert_eq!(weft_benches::FrameMethod::PerPiece.name(), "write per piece");
    /// ```
    pub fn name(self) -> &'static str {
        match self {
            FrameMethod::PerPiece => "write per piece",
            FrameMethod::Concat => "concat+write",
            FrameMethod::Writev => "writev",
        }
    }
}

/// Makes `n` separately allocated pieces of `size` bytes, each filled with
/// a different byte, so a frame is really non-contiguous in memory.
///
/// # Examples
///
/// ```
/// let p = weft_benches::make_pieces(3, 4);
/// assert_eq!(p.len(), 3);
/// assert_eq!(p[2], vec![2u8; 4]);
/// ```
pub fn make_pieces(n: usize, size: usize) -> Vec<Vec<u8>> {
    (0..n).map(|i| vec![(i % 251) as u8; size]).collect()
}

/// Sends frames made of `pieces` along `method`, at most `max_frames` of
/// them and for at most about `budget`; returns how many frames went and
/// the counts (`user_bytes` is the bytes the loop copied into its flat
/// buffer).
///
/// # Errors
///
/// Any I/O error from the socket.
///
/// # Examples
///
/// ```no_run
/// use std::time::Duration;
/// use weft_benches::{make_pieces, send_frames, FrameMethod, Receiver};
///
/// let rx = Receiver::spawn(false).unwrap();
/// let mut s = rx.connect().unwrap();
/// let pieces = make_pieces(8, 64);
/// let (frames, c) = send_frames(FrameMethod::Writev, &pieces, 10, Duration::from_secs(1), &mut s).unwrap();
/// drop(s);
/// assert_eq!((frames, c.sent), (10, 10 * 8 * 64));
/// assert_eq!(rx.join().unwrap().bytes, 10 * 8 * 64);
/// ```
pub fn send_frames(
    method: FrameMethod,
    pieces: &[Vec<u8>],
    max_frames: u64,
    budget: Duration,
    sock: &mut TcpStream,
) -> io::Result<(u64, Counts)> {
    let mut c = Counts::default();
    let total: usize = pieces.iter().map(Vec::len).sum();
    let mut flat = Vec::with_capacity(total);
    let start = Instant::now();
    let mut frames = 0u64;
    while frames < max_frames {
        if frames % 8 == 0 && start.elapsed() >= budget {
            break;
        }
        match method {
            FrameMethod::PerPiece => {
                for p in pieces {
                    write_all_counted(sock, p, &mut c)?;
                }
            }
            FrameMethod::Concat => {
                flat.clear();
                for p in pieces {
                    flat.extend_from_slice(p);
                }
                c.user_bytes += flat.len() as u64;
                write_all_counted(sock, &flat, &mut c)?;
            }
            FrameMethod::Writev => writev_all(sock, pieces, &mut c)?,
        }
        frames += 1;
    }
    Ok((frames, c))
}

/// `writev` every piece, resuming exactly where a partial write stopped.
fn writev_all(sock: &mut TcpStream, pieces: &[Vec<u8>], c: &mut Counts) -> io::Result<()> {
    let mut idx = 0usize;
    let mut off = 0usize;
    let mut iov: Vec<IoSlice<'_>> = Vec::with_capacity(pieces.len());
    // Skip empty pieces up front so the loop below always has bytes to send.
    while idx < pieces.len() && pieces[idx].is_empty() {
        idx += 1;
    }
    // Each pass sends at least one byte or returns: bounded by the frame size.
    while idx < pieces.len() {
        iov.clear();
        iov.push(IoSlice::new(&pieces[idx][off..]));
        iov.extend(pieces[idx + 1..].iter().map(|p| IoSlice::new(p)));
        c.syscalls += 1;
        let mut n = match sock.write_vectored(&iov) {
            Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        c.sent += n as u64;
        while n > 0 && idx < pieces.len() {
            let left = pieces[idx].len() - off;
            if n >= left {
                n -= left;
                idx += 1;
                off = 0;
            } else {
                off += n;
                n = 0;
            }
        }
        while idx < pieces.len() && pieces[idx].len() == off {
            idx += 1;
            off = 0;
        }
    }
    Ok(())
}
