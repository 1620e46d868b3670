//! Client bootstrap: connect and run a connection with its pipeline.

use std::net::SocketAddr;
use std::path::Path;

use weft_pipeline::{Pipeline, PipelineError};

use crate::channel::Channel;
use crate::config::ChannelConfig;
use crate::conn;
use crate::error::TransportError;
use crate::stream::Stream;
use crate::tls::{TlsConnector, TlsRole};

/// Connects to a TCP address and runs the connection on the current tokio
/// runtime, with a pipeline filled by `init`.
///
/// # Errors
///
/// [`TransportError::Io`] if the connection fails;
/// [`TransportError::Pipeline`] if `init` fails.
///
/// # Examples
///
/// ```no_run
/// # async fn run() -> Result<(), weft_transport::TransportError> {
/// let ch = weft_transport::connect_tcp("127.0.0.1:7000".parse().unwrap(), &Default::default(), |_p| Ok(())).await?;
/// ch.write_and_flush(bytes::Bytes::from_static(b"hi")).await?;
/// # Ok(()) }
/// ```
pub async fn connect_tcp(
    addr: SocketAddr,
    config: &ChannelConfig,
    init: impl FnOnce(&mut Pipeline) -> Result<(), PipelineError>,
) -> Result<Channel, TransportError> {
    let stream = tokio::net::TcpStream::connect(addr).await?;
    connect(Stream::Tcp(stream), config, init)
}

/// Connects to a TCP address as a TLS client of `connector` and runs the
/// connection with a pipeline filled by `init`. The handlers read and
/// write plaintext; what they write before the handshake completes waits
/// for it.
///
/// # Errors
///
/// As [`connect_tcp`]. A failed handshake (a certificate that does not
/// match, an alert) fails the channel's pending writes and closes it.
///
/// # Examples
///
/// ```no_run
/// # async fn run() -> Result<(), Box<dyn std::error::Error>> {
/// let tls = weft_transport::TlsConnector::from_ca_file("ca.pem", "localhost", &[])?;
/// let ch = weft_transport::connect_tcp_tls("127.0.0.1:8443".parse()?, &Default::default(), tls, |_p| Ok(())).await?;
/// ch.write_and_flush(bytes::Bytes::from_static(b"hi")).await?;
/// # Ok(()) }
/// ```
pub async fn connect_tcp_tls(
    addr: SocketAddr,
    config: &ChannelConfig,
    connector: TlsConnector,
    init: impl FnOnce(&mut Pipeline) -> Result<(), PipelineError>,
) -> Result<Channel, TransportError> {
    let stream = tokio::net::TcpStream::connect(addr).await?;
    let mut config = config.clone();
    config.set_tls(Some(TlsRole::Client(connector)));
    connect(Stream::Tcp(stream), &config, init)
}

/// Connects to a Unix socket path; otherwise as [`connect_tcp`].
///
/// # Errors
///
/// As [`connect_tcp`].
///
/// # Examples
///
/// ```no_run
/// # async fn run() -> Result<(), weft_transport::TransportError> {
/// let ch = weft_transport::connect_unix("/tmp/weft.sock", &Default::default(), |_p| Ok(())).await?;
/// # Ok(()) }
/// ```
pub async fn connect_unix(
    path: impl AsRef<Path>,
    config: &ChannelConfig,
    init: impl FnOnce(&mut Pipeline) -> Result<(), PipelineError>,
) -> Result<Channel, TransportError> {
    let stream = tokio::net::UnixStream::connect(path).await?;
    connect(Stream::Unix(stream), config, init)
}

fn connect(
    stream: Stream,
    config: &ChannelConfig,
    init: impl FnOnce(&mut Pipeline) -> Result<(), PipelineError>,
) -> Result<Channel, TransportError> {
    let mut pipeline = Pipeline::new();
    init(&mut pipeline)?;
    let (channel, fut) = conn::start(stream, pipeline, config)?;
    tokio::spawn(fut);
    Ok(channel)
}
