//! TLS on a connection, with [rustls]: [`TlsAcceptor`] for servers
//! ([`ServerBuilder::tls`](crate::ServerBuilder::tls)), [`TlsConnector`]
//! for clients ([`connect_tcp_tls`](crate::connect_tcp_tls)).
//!
//! # Where TLS sits
//!
//! In the transport, between the socket and the pipeline's head, not as a
//! handler:
//!
//! ```text
//!  socket ─▶ rustls (read_tls, decrypt) ─▶ plaintext Bytes ─▶ pipeline.fire_read
//!  socket ◀─ rustls (encrypt, write_tls) ◀─ OutboundBuffer (Bytes, CompositeBuf, FileRegion)
//! ```
//!
//! - A [`FileRegion`](weft_buf::FileRegion) is written the same way on an
//!   encrypted channel: the transport, which owns the file half of a flush,
//!   `pread`s the region in chunks of the thread's staging buffer and
//!   encrypts them (netty#3968: Netty's `SslHandler` refuses a
//!   `FileRegion`, and users switch to `ChunkedFile` by hand). Ordering,
//!   promises, watermarks and the truncation check are the plaintext
//!   path's.
//! - Segments are handed to rustls as one gather (`write_vectored`), so a
//!   response's head and body go into the same record without being
//!   flattened first: the only write of a plaintext byte is the one
//!   encryption makes into the record.
//! - The write budget, the watermarks and the idle-memory rules apply to
//!   the ciphertext as they do to plaintext.
//! - Handlers are the same on both kinds of channel; a handler that wants
//!   to know gets a [`TlsHandshake`] user event when the handshake
//!   completes.
//!
//! A handler next to the head (Netty's place) would see only `Wire`
//! messages: it could not read a `FileRegion` without the transport's file
//! machinery, and it would need its own outbound queue in front of the
//! transport's, with watermarks twice.
//!
//! # What is copied
//!
//! - Writes: 0 bytes copied outside encryption for in-memory payloads.
//!   Encryption writes each plaintext byte once into a record (counted as
//!   encrypted, [`weft_buf::copy::total_encrypted`], not as copied).
//!   A file region is `pread` into the staging buffer first: 1 copy per
//!   byte, counted, as on the plaintext `ReadWrite` path.
//! - Reads: rustls 0.23 decrypts in place and then keeps the plaintext in
//!   its own buffer; the transport copies it out into a pooled receive chunk
//!   (1 copy per byte, counted) and frames then slice that chunk without a
//!   further copy. rustls' unbuffered API is no better in 0.23 (its
//!   `ReadTraffic` also hands out an owned copy); a decrypt straight into the
//!   receive chunk needs rustls' planned in-place `ReadTraffic`.
//!
//! # Crypto provider
//!
//! aws-lc-rs. Measured on this project's 2-core build machine (AVX-512,
//! VAES): AES-128-GCM 13.8 GB/s against ring's 8.9, AES-256-GCM 10.7
//! against 7.6, ChaCha20-Poly1305 1.6 against 1.8; a clean release build of
//! rustls with it takes 48 s against ring's 25 s (`-j2`). The build cost is
//! paid once, the cipher cost on every byte.
//!
//! # kTLS
//!
//! Not built: this machine's kernel has no `CONFIG_TLS`, so it could not be
//! tested. It would plug in after the handshake: extract the traffic
//! secrets (`ServerConfig::enable_secret_extraction`,
//! `dangerous_extract_secrets`), hand them to the socket with
//! `setsockopt(SOL_TLS, TLS_TX/TLS_RX)`, drop the session, and keep the
//! plaintext paths (writev, sendfile) of [`OutboundBuffer`](crate::OutboundBuffer).
//!
//! # Examples
//!
//! ```no_run
//! # fn run() -> Result<(), Box<dyn std::error::Error>> {
//! use weft_transport::{ServerBuilder, TlsAcceptor};
//!
//! let tls = TlsAcceptor::from_pem_files("cert.pem", "key.pem", &[b"http/1.1"])?;
//! let server = ServerBuilder::new()
//!     .tls(tls)
//!     .bind_tcp("127.0.0.1:8443".parse()?, |_p| Ok(()))?;
//! # Ok(()) }
//! ```

mod pem;
mod session;
#[cfg(feature = "test-certs")]
mod testing;

#[cfg(feature = "test-certs")]
pub use testing::{write_test_certs, TestCerts};

use std::fmt;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

pub use rustls;
use rustls::pki_types::ServerName;
use rustls::{ClientConfig, ServerConfig};

pub(crate) use session::TlsSession;

/// How long a TLS handshake may take before the connection is closed.
pub const DEFAULT_HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// Ciphertext a connection buffers at most (rustls' send buffer): the
/// transport encrypts more only once this much has gone to the socket.
pub const TLS_SEND_BUFFER: usize = 64 * 1024;

/// The crypto provider Weft builds its rustls configurations with.
fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::aws_lc_rs::default_provider())
}

/// What went wrong setting up TLS. Errors about files name the file.
///
/// # Examples
///
/// ```
/// let err = weft_transport::TlsAcceptor::from_pem_files("/no/cert.pem", "/no/key.pem", &[]).unwrap_err();
/// assert!(err.to_string().contains("/no/cert.pem"), "{err}");
/// ```
#[derive(Debug)]
#[non_exhaustive]
pub enum TlsError {
    /// A file could not be read.
    Read {
        /// The file.
        path: PathBuf,
        /// The operating system's error.
        source: io::Error,
    },
    /// A file is not what it should be (no certificate, no key, bad PEM).
    Pem {
        /// The file.
        path: PathBuf,
        /// What is wrong, in words.
        what: String,
    },
    /// rustls refused the configuration (for example a key that does not
    /// match the certificate).
    Config(rustls::Error),
}

impl fmt::Display for TlsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TlsError::Read { path, source } => {
                write!(f, "cannot read {}: {source}", path.display())
            }
            TlsError::Pem { path, what } => write!(f, "{}: {what}", path.display()),
            TlsError::Config(e) => write!(f, "TLS configuration refused: {e}"),
        }
    }
}

impl std::error::Error for TlsError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            TlsError::Read { source, .. } => Some(source),
            TlsError::Config(e) => Some(e),
            TlsError::Pem { .. } => None,
        }
    }
}

/// The server side of TLS: a rustls [`ServerConfig`], shared by every
/// connection of a server.
///
/// # Examples
///
/// ```
/// use std::sync::Arc;
/// let cert = rcgen::generate_simple_self_signed(vec!["localhost".into()]).unwrap();
/// let dir = tempfile::tempdir().unwrap();
/// std::fs::write(dir.path().join("c.pem"), cert.cert.pem()).unwrap();
/// std::fs::write(dir.path().join("k.pem"), cert.signing_key.serialize_pem()).unwrap();
/// let tls = weft_transport::TlsAcceptor::from_pem_files(
///     dir.path().join("c.pem"), dir.path().join("k.pem"), &[b"http/1.1"]).unwrap();
/// assert_eq!(tls.config().alpn_protocols, vec![b"http/1.1".to_vec()]);
/// ```
#[derive(Debug, Clone)]
pub struct TlsAcceptor {
    config: Arc<ServerConfig>,
}

impl TlsAcceptor {
    /// An acceptor with a configuration of the caller's.
    ///
    /// # Examples
    ///
    /// ```
    /// # let cert = rcgen::generate_simple_self_signed(vec!["localhost".into()]).unwrap();
    /// use weft_transport::tls::rustls;
    /// let config = rustls::ServerConfig::builder_with_provider(
    ///         rustls::crypto::aws_lc_rs::default_provider().into())
    ///     .with_safe_default_protocol_versions().unwrap()
    ///     .with_no_client_auth()
    ///     .with_single_cert(vec![cert.cert.der().clone()],
    ///         rustls::pki_types::PrivatePkcs8KeyDer::from(cert.signing_key.serialize_der()).into())
    ///     .unwrap();
    /// let _ = weft_transport::TlsAcceptor::new(std::sync::Arc::new(config));
    /// ```
    pub fn new(config: Arc<ServerConfig>) -> Self {
        TlsAcceptor { config }
    }

    /// Loads a PEM certificate chain (leaf first) and a PEM private key
    /// (PKCS#8, PKCS#1 RSA or SEC1 EC; RSA, ECDSA and Ed25519 keys) and
    /// offers TLS 1.3 and 1.2 with the given ALPN protocols (none if empty).
    ///
    /// # Errors
    ///
    /// [`TlsError::Read`] if a file cannot be read, [`TlsError::Pem`] if
    /// it holds no certificate or no key or bad PEM, [`TlsError::Config`]
    /// if rustls refuses them (a key that does not match the certificate).
    ///
    /// # Examples
    ///
    /// ```
    /// let dir = tempfile::tempdir().unwrap();
    /// let cert = dir.path().join("cert.pem");
    /// std::fs::write(&cert, "not a certificate").unwrap();
    /// let err = weft_transport::TlsAcceptor::from_pem_files(&cert, &cert, &[]).unwrap_err();
    /// assert!(err.to_string().contains("no certificate"), "{err}");
    /// ```
    pub fn from_pem_files(
        cert: impl AsRef<Path>,
        key: impl AsRef<Path>,
        alpn: &[&[u8]],
    ) -> Result<Self, TlsError> {
        let chain = pem::certificates(cert.as_ref())?;
        let key_der = pem::private_key(key.as_ref())?;
        let mut config = ServerConfig::builder_with_provider(provider())
            .with_safe_default_protocol_versions()
            .map_err(TlsError::Config)?
            .with_no_client_auth()
            .with_single_cert(chain, key_der)
            .map_err(|e| TlsError::Pem {
                path: key.as_ref().to_path_buf(),
                what: format!(
                    "cannot be used with the certificate in {}: {e}",
                    cert.as_ref().display()
                ),
            })?;
        config.alpn_protocols = alpn.iter().map(|p| p.to_vec()).collect();
        Ok(TlsAcceptor::new(Arc::new(config)))
    }

    /// The rustls configuration.
    ///
    /// # Examples
    ///
    /// See [`TlsAcceptor`].
    pub fn config(&self) -> &Arc<ServerConfig> {
        &self.config
    }
}

/// The client side of TLS: a rustls [`ClientConfig`] and the name the
/// server's certificate must carry.
///
/// # Examples
///
/// ```
/// let cert = rcgen::generate_simple_self_signed(vec!["localhost".into()]).unwrap();
/// let dir = tempfile::tempdir().unwrap();
/// std::fs::write(dir.path().join("ca.pem"), cert.cert.pem()).unwrap();
/// let c = weft_transport::TlsConnector::from_ca_file(dir.path().join("ca.pem"), "localhost", &[]).unwrap();
/// assert_eq!(c.server_name().to_str(), "localhost");
/// ```
#[derive(Debug, Clone)]
pub struct TlsConnector {
    config: Arc<ClientConfig>,
    name: ServerName<'static>,
}

impl TlsConnector {
    /// A connector with a configuration of the caller's, checking the
    /// server's certificate against `server_name` (a DNS name or an IP
    /// address).
    ///
    /// # Errors
    ///
    /// [`TlsError::Config`] if `server_name` is neither.
    ///
    /// # Examples
    ///
    /// ```
    /// use weft_transport::tls::rustls;
    /// let config = rustls::ClientConfig::builder_with_provider(
    ///         rustls::crypto::aws_lc_rs::default_provider().into())
    ///     .with_safe_default_protocol_versions().unwrap()
    ///     .with_root_certificates(rustls::RootCertStore::empty())
    ///     .with_no_client_auth();
    /// assert!(weft_transport::TlsConnector::new(config.into(), "example.com").is_ok());
    /// assert!(weft_transport::TlsConnector::new(rustls::ClientConfig::builder_with_provider(
    ///         rustls::crypto::aws_lc_rs::default_provider().into())
    ///     .with_safe_default_protocol_versions().unwrap()
    ///     .with_root_certificates(rustls::RootCertStore::empty())
    ///     .with_no_client_auth().into(), "not a name!").is_err());
    /// ```
    pub fn new(config: Arc<ClientConfig>, server_name: &str) -> Result<Self, TlsError> {
        let name = ServerName::try_from(server_name.to_string()).map_err(|e| {
            TlsError::Config(rustls::Error::General(format!(
                "{server_name:?} is not a DNS name or an IP address: {e}"
            )))
        })?;
        Ok(TlsConnector { config, name })
    }

    /// Trusts the certificates of a PEM file (a private CA, or a server's
    /// self-signed certificate) and offers TLS 1.3 and 1.2 with the given
    /// ALPN protocols.
    ///
    /// # Errors
    ///
    /// As [`TlsAcceptor::from_pem_files`] for the file; as
    /// [`new`](Self::new) for the name.
    ///
    /// # Examples
    ///
    /// ```
    /// let err = weft_transport::TlsConnector::from_ca_file("/no/ca.pem", "localhost", &[]).unwrap_err();
    /// assert!(err.to_string().contains("/no/ca.pem"));
    /// ```
    pub fn from_ca_file(
        ca: impl AsRef<Path>,
        server_name: &str,
        alpn: &[&[u8]],
    ) -> Result<Self, TlsError> {
        let mut roots = rustls::RootCertStore::empty();
        for cert in pem::certificates(ca.as_ref())? {
            roots.add(cert).map_err(|e| TlsError::Pem {
                path: ca.as_ref().to_path_buf(),
                what: format!("holds a certificate that cannot be trusted: {e}"),
            })?;
        }
        let mut config = ClientConfig::builder_with_provider(provider())
            .with_safe_default_protocol_versions()
            .map_err(TlsError::Config)?
            .with_root_certificates(roots)
            .with_no_client_auth();
        config.alpn_protocols = alpn.iter().map(|p| p.to_vec()).collect();
        TlsConnector::new(Arc::new(config), server_name)
    }

    /// The rustls configuration.
    ///
    /// # Examples
    ///
    /// ```
    /// # let cert = rcgen::generate_simple_self_signed(vec!["localhost".into()]).unwrap();
    /// # let dir = tempfile::tempdir().unwrap();
    /// # std::fs::write(dir.path().join("ca.pem"), cert.cert.pem()).unwrap();
    /// let c = weft_transport::TlsConnector::from_ca_file(dir.path().join("ca.pem"), "localhost", &[b"h2"]).unwrap();
    /// assert_eq!(c.config().alpn_protocols, vec![b"h2".to_vec()]);
    /// ```
    pub fn config(&self) -> &Arc<ClientConfig> {
        &self.config
    }

    /// The name the server's certificate is checked against.
    ///
    /// # Examples
    ///
    /// See [`TlsConnector`].
    pub fn server_name(&self) -> &ServerName<'static> {
        &self.name
    }
}

/// Which side of TLS a connection plays.
#[derive(Debug, Clone)]
pub(crate) enum TlsRole {
    Server(TlsAcceptor),
    Client(TlsConnector),
}

/// The user event a connection fires through its pipeline when its TLS
/// handshake completes (before any decrypted byte is read).
///
/// # Examples
///
/// ```
/// use weft_pipeline::{Context, Event, Handler, Message};
/// use weft_transport::tls::TlsHandshake;
///
/// struct Log;
/// impl Handler for Log {
///     type In = Message;
///     type Out = Message;
///     fn read(&mut self, ctx: &mut Context<'_, Message>, msg: Message) {
///         ctx.fire_read(msg);
///     }
///     fn event(&mut self, ctx: &mut Context<'_, Message>, event: Event) {
///         if let Event::User(v) = &event {
///             if let Some(hs) = v.downcast_ref::<TlsHandshake>() {
///                 println!("TLS {:?}, ALPN {:?}", hs.version, hs.alpn);
///             }
///         }
///         ctx.fire_event(event);
///     }
/// }
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct TlsHandshake {
    /// The protocol version agreed.
    pub version: Option<rustls::ProtocolVersion>,
    /// The cipher suite agreed.
    pub suite: Option<rustls::CipherSuite>,
    /// The application protocol agreed with ALPN, if any.
    pub alpn: Option<Vec<u8>>,
    /// The server name the client asked for (SNI), on the server side.
    pub server_name: Option<String>,
}
