//! Half-closure both ways, plaintext and TLS: a peer's end of stream with
//! `allow_half_closure` leaves the server able to answer, and
//! `Channel::shutdown_output` sends end of stream while the answer can
//! still come back.

mod common;

use std::io::{Read, Write};
use std::net::{Shutdown, TcpStream};
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use tokio::sync::mpsc;
use tokio::time::timeout;
use weft_pipeline::{Context, Event, Handler, Message, Nothing};
use weft_transport::tls::{rustls, write_test_certs};
use weft_transport::{
    connect_tcp, ChannelConfig, InputShutdown, ServerBuilder, TlsAcceptor, TlsConnector,
};

use common::TEST_TIMEOUT;

/// Collects what it reads; at the peer's end of stream answers with a
/// count of it and closes.
#[derive(Default)]
struct CountThenClose(BytesMut);

impl Handler for CountThenClose {
    type In = Bytes;
    type Out = Nothing;
    fn read(&mut self, _ctx: &mut Context<'_, Nothing>, b: Bytes) {
        self.0.extend_from_slice(&b);
    }
    fn event(&mut self, ctx: &mut Context<'_, Nothing>, event: Event) {
        if let Event::User(v) = &event {
            if v.is::<InputShutdown>() {
                ctx.write_and_flush(Bytes::from(format!("got {} bytes", self.0.len())));
                ctx.close();
            }
        }
    }
}

fn half_closing_server(tls: Option<TlsAcceptor>) -> weft_transport::Server {
    let mut cfg = ChannelConfig::default();
    cfg.allow_half_closure(true);
    let mut b = ServerBuilder::new();
    b.config(cfg);
    if let Some(t) = tls {
        b.tls(t);
    }
    b.bind_tcp("127.0.0.1:0".parse().unwrap(), |p| {
        p.handlers().add_last("count", CountThenClose::default())?;
        Ok(())
    })
    .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_half_closed_peer_still_gets_its_answer() {
    timeout(TEST_TIMEOUT, async {
        let server = half_closing_server(None);
        let addr = server.local_addr().unwrap();
        let answer = tokio::task::spawn_blocking(move || {
            let mut s = TcpStream::connect(addr).unwrap();
            s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
            s.write_all(&[7u8; 100_000]).unwrap();
            s.shutdown(Shutdown::Write).unwrap();
            let mut answer = String::new();
            s.read_to_string(&mut answer).unwrap();
            answer
        })
        .await
        .unwrap();
        assert_eq!(answer, "got 100000 bytes");
        server.shutdown(Duration::from_secs(1)).await.unwrap();
    })
    .await
    .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tls_peer_that_sends_close_notify_still_gets_its_answer() {
    timeout(TEST_TIMEOUT, async {
        let dir = tempfile::tempdir().unwrap();
        let certs = write_test_certs(dir.path(), &rcgen::PKCS_ECDSA_P256_SHA256).unwrap();
        let acceptor = TlsAcceptor::from_pem_files(&certs.cert, &certs.key, &[]).unwrap();
        let connector = TlsConnector::from_ca_file(&certs.ca, "localhost", &[]).unwrap();
        let server = half_closing_server(Some(acceptor));
        let addr = server.local_addr().unwrap();
        let answer = tokio::task::spawn_blocking(move || {
            let conn = rustls::ClientConnection::new(
                connector.config().clone(),
                connector.server_name().clone(),
            )
            .unwrap();
            let sock = TcpStream::connect(addr).unwrap();
            sock.set_read_timeout(Some(Duration::from_secs(10)))
                .unwrap();
            let mut s = rustls::StreamOwned::new(conn, sock);
            s.write_all(&[7u8; 50_000]).unwrap();
            s.conn.send_close_notify();
            s.flush().unwrap();
            s.sock.shutdown(Shutdown::Write).unwrap();
            let mut answer = String::new();
            s.read_to_string(&mut answer).unwrap();
            answer
        })
        .await
        .unwrap();
        assert_eq!(answer, "got 50000 bytes");
        server.shutdown(Duration::from_secs(1)).await.unwrap();
    })
    .await
    .unwrap();
}

/// Echoes; closes at the peer's end of stream (half-closure off).
struct Echo;
impl Handler for Echo {
    type In = Bytes;
    type Out = Nothing;
    fn read(&mut self, ctx: &mut Context<'_, Nothing>, b: Bytes) {
        ctx.write_and_flush(b);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_output_sends_eof_and_the_answer_still_arrives() {
    timeout(TEST_TIMEOUT, async {
        let server = ServerBuilder::new()
            .bind_tcp("127.0.0.1:0".parse().unwrap(), |p| {
                p.handlers().add_last("echo", Echo)?;
                Ok(())
            })
            .unwrap();
        let (tx, mut rx) = mpsc::unbounded_channel::<Option<Bytes>>();
        struct Collect(mpsc::UnboundedSender<Option<Bytes>>);
        impl Handler for Collect {
            type In = Message;
            type Out = Nothing;
            fn read(&mut self, _ctx: &mut Context<'_, Nothing>, m: Message) {
                let _ = self.0.send(m.to_bytes());
            }
            fn event(&mut self, _ctx: &mut Context<'_, Nothing>, event: Event) {
                if let Event::Inactive = event {
                    let _ = self.0.send(None);
                }
            }
        }
        let ch = connect_tcp(
            server.local_addr().unwrap(),
            &ChannelConfig::default(),
            |p| {
                p.handlers().add_last("collect", Collect(tx))?;
                Ok(())
            },
        )
        .await
        .unwrap();
        ch.write_and_flush(Bytes::from(vec![1u8; 300_000]))
            .await
            .unwrap();
        ch.shutdown_output();
        // Everything echoed arrives, then the server's close ends the channel.
        let mut got = 0;
        while let Some(Some(b)) = rx.recv().await {
            got += b.len();
        }
        assert_eq!(got, 300_000);
        assert!(ch
            .write_and_flush(Bytes::from_static(b"late"))
            .await
            .is_err());
        server.shutdown(Duration::from_secs(1)).await.unwrap();
    })
    .await
    .unwrap();
}
