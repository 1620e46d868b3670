//! TLS on real loopback sockets: a rustls client against the transport's
//! server side, the transport's client against it, file regions under
//! TLS, the copy and crypto counts, and bad input (garbage, plaintext on
//! the TLS port, a stalled handshake, a corrupted or truncated record, an
//! alert), each closing only its own connection.

mod common;

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use tokio::sync::mpsc;
use tokio::time::timeout;
use weft_buf::FileRegion;
use weft_pipeline::{Context, Event, Handler, Message, Nothing};
use weft_transport::tls::{rustls, write_test_certs, TestCerts, TlsHandshake};
use weft_transport::{
    connect_tcp_tls, Channel, ChannelConfig, Server, ServerBuilder, TlsAcceptor, TlsConnector,
};

use common::TEST_TIMEOUT;

/// Echoes what it reads, except `FILE`, answered with the whole file as a
/// `FileRegion`; records handshakes.
struct Serve {
    file: Option<Arc<std::fs::File>>,
    handshakes: Arc<Mutex<Vec<TlsHandshake>>>,
}

impl Handler for Serve {
    type In = Message;
    type Out = Nothing;

    fn read(&mut self, ctx: &mut Context<'_, Nothing>, msg: Message) {
        let bytes = msg.to_bytes().unwrap_or_default();
        match &self.file {
            Some(f) if bytes.starts_with(b"FILE") => {
                let len = f.metadata().unwrap().len();
                ctx.write_and_flush(FileRegion::new(f.clone(), 0, len).unwrap());
            }
            _ => ctx.write_and_flush(bytes),
        }
    }

    fn event(&mut self, ctx: &mut Context<'_, Nothing>, event: Event) {
        if let Event::User(v) = &event {
            if let Some(hs) = v.downcast_ref::<TlsHandshake>() {
                self.handshakes.lock().unwrap().push(hs.clone());
            }
        }
        ctx.fire_event(event);
    }
}

struct Fixture {
    server: Server,
    addr: SocketAddr,
    certs: TestCerts,
    handshakes: Arc<Mutex<Vec<TlsHandshake>>>,
    channels: mpsc::UnboundedReceiver<Channel>,
    _dir: tempfile::TempDir,
}

fn serve(file: Option<std::fs::File>, handshake_timeout: Duration) -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let certs = write_test_certs(dir.path(), &rcgen::PKCS_ECDSA_P256_SHA256).unwrap();
    let tls = TlsAcceptor::from_pem_files(&certs.cert, &certs.key, &[b"weft-test"]).unwrap();
    let handshakes = Arc::new(Mutex::new(Vec::new()));
    let hs = handshakes.clone();
    let file = file.map(Arc::new);
    let (tx, channels) = mpsc::unbounded_channel();
    let mut cfg = ChannelConfig::default();
    cfg.handshake_timeout(handshake_timeout);
    let server = ServerBuilder::new()
        .config(cfg)
        .tls(tls)
        .on_channel(move |ch| {
            let _ = tx.send(ch);
        })
        .bind_tcp("127.0.0.1:0".parse().unwrap(), move |p| {
            p.handlers().add_last(
                "serve",
                Serve {
                    file: file.clone(),
                    handshakes: hs.clone(),
                },
            )?;
            Ok(())
        })
        .unwrap();
    let addr = server.local_addr().unwrap();
    Fixture {
        server,
        addr,
        certs,
        handshakes,
        channels,
        _dir: dir,
    }
}

/// A blocking rustls client, bounded by a read timeout.
fn rustls_client(
    addr: SocketAddr,
    certs: &TestCerts,
) -> rustls::StreamOwned<rustls::ClientConnection, TcpStream> {
    let connector = TlsConnector::from_ca_file(&certs.ca, "localhost", &[b"weft-test"]).unwrap();
    let conn =
        rustls::ClientConnection::new(client_config(&connector), connector.server_name().clone())
            .unwrap();
    let sock = TcpStream::connect(addr).unwrap();
    sock.set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    rustls::StreamOwned::new(conn, sock)
}

fn client_config(c: &TlsConnector) -> Arc<rustls::ClientConfig> {
    c.config().clone()
}

/// Runs blocking client code off the runtime's threads.
async fn blocking<R: Send + 'static>(f: impl FnOnce() -> R + Send + 'static) -> R {
    tokio::task::spawn_blocking(f).await.unwrap()
}

/// Reads until end of stream or error; true if the server closed.
fn closed_by_server(sock: &mut TcpStream) -> bool {
    sock.set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let mut buf = [0u8; 4096];
    for _ in 0..1000 {
        match sock.read(&mut buf) {
            Ok(0) => return true,
            Ok(_) => continue,
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => return true,
            Err(_) => return false,
        }
    }
    false
}

/// A good client still gets its echo (the server lives on).
fn echo_once(addr: SocketAddr, certs: &TestCerts) {
    let mut c = rustls_client(addr, certs);
    c.write_all(b"still here").unwrap();
    let mut buf = [0u8; 10];
    c.read_exact(&mut buf).unwrap();
    assert_eq!(&buf, b"still here");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rustls_client_gets_its_echo_with_no_copy_on_the_write_side() {
    timeout(TEST_TIMEOUT, async {
        let mut fx = serve(None, Duration::from_secs(10));
        let (addr, certs) = (fx.addr, fx.certs.clone());
        let payload: Vec<u8> = (0..1_000_000u32).map(|i| (i * 7 % 251) as u8).collect();
        let sent = payload.clone();
        let got = blocking(move || {
            let mut c = rustls_client(addr, &certs);
            let mut got = vec![0u8; sent.len()];
            let writer_data = sent.clone();
            // Write in pieces while reading, so neither side's buffers fill.
            let mut read = 0;
            for piece in writer_data.chunks(50_000) {
                c.write_all(piece).unwrap();
                c.flush().unwrap();
                let want = read + piece.len();
                while read < want {
                    read += c.read(&mut got[read..want]).unwrap();
                }
            }
            assert_eq!(
                c.conn.protocol_version(),
                Some(rustls::ProtocolVersion::TLSv1_3)
            );
            assert_eq!(c.conn.alpn_protocol(), Some(&b"weft-test"[..]));
            got
        })
        .await;
        assert!(got == payload, "echo differs");
        let ch = fx.channels.recv().await.unwrap();
        let s = ch.stats();
        assert_eq!(s.tls_handshakes, 1);
        assert_eq!(s.tls_decrypted_bytes, payload.len() as u64);
        assert_eq!(s.tls_encrypted_bytes, payload.len() as u64);
        // The read side copies plaintext out of rustls (counted); the write
        // side encrypts the received buffers themselves: no copy.
        assert_eq!(s.copied_bytes, payload.len() as u64);
        let hs = fx.handshakes.lock().unwrap().clone();
        assert_eq!(hs.len(), 1);
        assert_eq!(hs[0].alpn.as_deref(), Some(&b"weft-test"[..]));
        assert_eq!(hs[0].server_name.as_deref(), Some("localhost"));
        fx.server.shutdown(Duration::from_secs(1)).await.unwrap();
    })
    .await
    .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_file_region_goes_out_encrypted_in_order() {
    timeout(TEST_TIMEOUT, async {
        let mut f = tempfile::tempfile().unwrap();
        let body: Vec<u8> = (0..3_000_000u32).map(|i| (i % 253) as u8).collect();
        f.write_all(&body).unwrap();
        let mut fx = serve(Some(f), Duration::from_secs(10));
        let (addr, certs) = (fx.addr, fx.certs.clone());
        let got = blocking(move || {
            let mut c = rustls_client(addr, &certs);
            c.write_all(b"FILE").unwrap();
            c.flush().unwrap();
            let mut got = vec![0u8; 3_000_000];
            c.read_exact(&mut got).unwrap();
            c.write_all(b"after").unwrap();
            let mut after = [0u8; 5];
            c.read_exact(&mut after).unwrap();
            assert_eq!(&after, b"after");
            got
        })
        .await;
        assert!(got == body, "file body differs");
        let ch = fx.channels.recv().await.unwrap();
        let s = ch.stats();
        assert_eq!(s.tls_encrypted_bytes, 3_000_005);
        // The file is read into memory to be encrypted (counted), the two
        // echoes' reads copied out of rustls; nothing else.
        assert_eq!(s.copied_bytes, 3_000_000 + 4 + 5);
        assert_eq!(s.sendfile_calls, 0);
        fx.server.shutdown(Duration::from_secs(1)).await.unwrap();
    })
    .await
    .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_transport_client_talks_to_the_transport_server() {
    timeout(TEST_TIMEOUT, async {
        let fx = serve(None, Duration::from_secs(10));
        let connector =
            TlsConnector::from_ca_file(&fx.certs.ca, "localhost", &[b"weft-test"]).unwrap();
        let (tx, mut rx) = mpsc::unbounded_channel::<Bytes>();
        struct Collect(mpsc::UnboundedSender<Bytes>);
        impl Handler for Collect {
            type In = Message;
            type Out = Nothing;
            fn read(&mut self, _ctx: &mut Context<'_, Nothing>, msg: Message) {
                let _ = self.0.send(msg.to_bytes().unwrap_or_default());
            }
        }
        let ch = connect_tcp_tls(fx.addr, &ChannelConfig::default(), connector, move |p| {
            p.handlers().add_last("collect", Collect(tx))?;
            Ok(())
        })
        .await
        .unwrap();
        // Written before the handshake completes: waits for it.
        ch.write_and_flush(Bytes::from_static(b"hello over tls"))
            .await
            .unwrap();
        let mut got = Vec::new();
        while got.len() < 14 {
            got.extend_from_slice(&rx.recv().await.unwrap());
        }
        assert_eq!(got, b"hello over tls");
        assert_eq!(ch.stats().tls_handshakes, 1);
        // A client that trusts another CA refuses the server.
        let other = tempfile::tempdir().unwrap();
        let other = write_test_certs(other.path(), &rcgen::PKCS_ECDSA_P256_SHA256).unwrap();
        let wrong = TlsConnector::from_ca_file(&other.ca, "localhost", &[]).unwrap();
        let ch = connect_tcp_tls(fx.addr, &ChannelConfig::default(), wrong, |_p| Ok(()))
            .await
            .unwrap();
        let r = ch.write_and_flush(Bytes::from_static(b"x")).await;
        assert!(
            r.is_err(),
            "a server with an untrusted certificate was accepted"
        );
        fx.server.shutdown(Duration::from_secs(1)).await.unwrap();
    })
    .await
    .unwrap();
}

/// Sends `bytes` raw and expects the server to close the connection, then
/// checks a good client is still served.
async fn refused(fx: &Fixture, bytes: &'static [u8], then_stall: bool) {
    let (addr, certs) = (fx.addr, fx.certs.clone());
    blocking(move || {
        let mut s = TcpStream::connect(addr).unwrap();
        s.write_all(bytes).unwrap();
        if !then_stall {
            let _ = s.shutdown(std::net::Shutdown::Write);
        }
        assert!(closed_by_server(&mut s), "the server kept the connection");
        echo_once(addr, &certs);
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_input_closes_only_that_connection() {
    timeout(TEST_TIMEOUT, async {
        let fx = serve(None, Duration::from_millis(500));
        // Garbage where a ClientHello should be.
        refused(&fx, b"\x16\x03\x01\x00\x05garbage and more garbage", true).await;
        // Plaintext HTTP on the TLS port.
        refused(&fx, b"GET / HTTP/1.1\r\nHost: x\r\n\r\n", true).await;
        // A fatal alert (handshake_failure) as the first record.
        refused(&fx, b"\x15\x03\x03\x00\x02\x02\x28", true).await;
        // Nothing at all: the handshake timeout closes it.
        refused(&fx, b"", true).await;
        // Half a record, then end of stream.
        refused(&fx, b"\x16\x03\x01\x01\x00\x01\x00", false).await;
        fx.server.shutdown(Duration::from_secs(1)).await.unwrap();
    })
    .await
    .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_that_stops_mid_handshake_is_timed_out() {
    timeout(TEST_TIMEOUT, async {
        let fx = serve(None, Duration::from_millis(300));
        let (addr, certs) = (fx.addr, fx.certs.clone());
        blocking(move || {
            // The first half of a real ClientHello, then silence.
            let connector = TlsConnector::from_ca_file(&certs.ca, "localhost", &[]).unwrap();
            let mut conn = rustls::ClientConnection::new(
                client_config(&connector),
                connector.server_name().clone(),
            )
            .unwrap();
            let mut hello = Vec::new();
            conn.write_tls(&mut hello).unwrap();
            let mut s = TcpStream::connect(addr).unwrap();
            s.write_all(&hello[..hello.len() / 2]).unwrap();
            assert!(closed_by_server(&mut s));
            echo_once(addr, &certs);
        })
        .await;
        fx.server.shutdown(Duration::from_secs(1)).await.unwrap();
    })
    .await
    .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_corrupted_record_gets_an_alert_and_a_close() {
    timeout(TEST_TIMEOUT, async {
        let fx = serve(None, Duration::from_secs(10));
        let (addr, certs) = (fx.addr, fx.certs.clone());
        blocking(move || {
            let mut c = rustls_client(addr, &certs);
            c.write_all(b"ping").unwrap();
            let mut buf = [0u8; 4];
            c.read_exact(&mut buf).unwrap();
            // Encrypt a record with the session, flip a byte of its
            // ciphertext, and send it raw.
            c.conn.writer().write_all(b"tampered").unwrap();
            let mut rec = Vec::new();
            c.conn.write_tls(&mut rec).unwrap();
            let last = rec.len() - 1;
            rec[last] ^= 0x40;
            c.sock.write_all(&rec).unwrap();
            // The server answers with an alert, then closes.
            let mut raw = Vec::new();
            let _ = c.sock.read_to_end(&mut raw);
            assert!(raw.len() >= 5, "no alert");
            assert!(c.conn.read_tls(&mut &raw[..]).is_ok());
            let err = c.conn.process_new_packets().unwrap_err();
            assert!(
                matches!(
                    err,
                    rustls::Error::AlertReceived(rustls::AlertDescription::BadRecordMac)
                ),
                "{err:?}"
            );
            echo_once(addr, &certs);
        })
        .await;
        fx.server.shutdown(Duration::from_secs(1)).await.unwrap();
    })
    .await
    .unwrap();
}

/// Echoes once the handshake is done: reading starts (auto-read) only then.
struct ReadAfterHandshake;

impl Handler for ReadAfterHandshake {
    type In = Message;
    type Out = Nothing;

    fn read(&mut self, ctx: &mut Context<'_, Nothing>, msg: Message) {
        ctx.write_and_flush(msg.to_bytes().unwrap_or_default());
    }

    fn event(&mut self, ctx: &mut Context<'_, Nothing>, event: Event) {
        if let Event::User(v) = &event {
            if v.is::<TlsHandshake>() {
                ctx.set_auto_read(true);
            }
        }
        ctx.fire_event(event);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_handshake_runs_while_auto_read_is_off_and_its_data_waits() {
    timeout(TEST_TIMEOUT, async {
        let dir = tempfile::tempdir().unwrap();
        let certs = write_test_certs(dir.path(), &rcgen::PKCS_ECDSA_P256_SHA256).unwrap();
        let tls = TlsAcceptor::from_pem_files(&certs.cert, &certs.key, &[]).unwrap();
        let mut cfg = ChannelConfig::default();
        cfg.auto_read(false)
            .handshake_timeout(Duration::from_secs(20));
        let server = ServerBuilder::new()
            .config(cfg)
            .tls(tls)
            .bind_tcp("127.0.0.1:0".parse().unwrap(), |p| {
                p.handlers().add_last("echo", ReadAfterHandshake)?;
                Ok(())
            })
            .unwrap();
        let addr = server.local_addr().unwrap();
        let got = blocking(move || {
            // Written before the handshake: rustls sends it right after
            // its Finished, often in the same segment.
            let mut c = rustls_client(addr, &certs);
            c.write_all(b"early words").unwrap();
            let mut buf = [0u8; 11];
            c.read_exact(&mut buf).unwrap();
            buf
        })
        .await;
        assert_eq!(&got, b"early words");
        server.shutdown(Duration::from_secs(1)).await.unwrap();
    })
    .await
    .unwrap();
}
