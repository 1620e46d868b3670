//! `--tls-cert` / `--tls-key`: the TLS flags every `weft` server that
//! speaks TCP takes (http, echo, log, proxy).

use std::io;
use std::path::PathBuf;

use weft_transport::TlsAcceptor;

/// The TLS flags of a server. Both or neither.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct TlsArgs {
    /// PEM certificate chain (leaf first): serve TLS 1.3 and 1.2 instead of
    /// plaintext. Needs `--tls-key`.
    #[arg(long, requires = "tls_key", value_name = "PEM")]
    pub tls_cert: Option<PathBuf>,
    /// PEM private key (PKCS#8, PKCS#1 or SEC1; RSA, ECDSA or Ed25519) of
    /// `--tls-cert`.
    #[arg(long, requires = "tls_cert", value_name = "PEM")]
    pub tls_key: Option<PathBuf>,
}

impl TlsArgs {
    /// The acceptor the flags ask for, offering the given ALPN protocols;
    /// `None` without flags.
    ///
    /// # Errors
    ///
    /// `InvalidInput` naming the file and what is wrong with it, or if only
    /// one of the two flags was given.
    ///
    /// # Examples
    ///
    /// ```
    /// use weft_examples::tls::TlsArgs;
    /// assert!(TlsArgs::default().acceptor(&[]).unwrap().is_none());
    /// let half = TlsArgs { tls_cert: Some("c.pem".into()), tls_key: None };
    /// assert!(half.acceptor(&[]).unwrap_err().to_string().contains("--tls-key"));
    /// let missing = TlsArgs { tls_cert: Some("/no/c.pem".into()), tls_key: Some("/no/k.pem".into()) };
    /// assert!(missing.acceptor(&[]).unwrap_err().to_string().contains("/no/c.pem"));
    /// ```
    pub fn acceptor(&self, alpn: &[&[u8]]) -> io::Result<Option<TlsAcceptor>> {
        match (&self.tls_cert, &self.tls_key) {
            (None, None) => Ok(None),
            (Some(cert), Some(key)) => TlsAcceptor::from_pem_files(cert, key, alpn)
                .map(Some)
                .map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e.to_string())),
            _ => Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "--tls-cert and --tls-key go together",
            )),
        }
    }
}
