//! Certificates for tests (feature `test-certs`): a private CA and a leaf
//! for `localhost`, `127.0.0.1` and `::1`, generated with rcgen and written
//! as PEM files.

use std::io;
use std::path::{Path, PathBuf};

use rcgen::{BasicConstraints, CertificateParams, CertifiedIssuer, IsCa, KeyPair};

/// The PEM files [`write_test_certs`] wrote.
#[derive(Debug, Clone)]
pub struct TestCerts {
    /// The CA's certificate: what a client trusts (`curl --cacert`).
    pub ca: PathBuf,
    /// The server's certificate chain (leaf, then the CA).
    pub cert: PathBuf,
    /// The server's private key (PKCS#8).
    pub key: PathBuf,
}

/// Generates a CA and a server certificate signed by it, with a key of
/// `alg` (for example `&rcgen::PKCS_ECDSA_P256_SHA256` or
/// `&rcgen::PKCS_ED25519`), and writes `ca.pem`, `cert.pem`, `key.pem`
/// into `dir`.
///
/// # Errors
///
/// Writing a file; generating a key of an algorithm rcgen's backend
/// lacks (as `Unsupported`).
///
/// # Examples
///
/// ```
/// let dir = tempfile::tempdir().unwrap();
/// let c = weft_transport::tls::write_test_certs(dir.path(), &rcgen::PKCS_ECDSA_P256_SHA256).unwrap();
/// assert!(weft_transport::TlsAcceptor::from_pem_files(&c.cert, &c.key, &[]).is_ok());
/// ```
pub fn write_test_certs(
    dir: &Path,
    alg: &'static rcgen::SignatureAlgorithm,
) -> io::Result<TestCerts> {
    let fail = |e: rcgen::Error| io::Error::new(io::ErrorKind::Unsupported, e.to_string());
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).map_err(fail)?;
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    // A name of its own per CA: a client that trusts another test CA then
    // fails as with any unknown issuer, not on a signature that does not
    // verify under a same-named CA's key.
    let nonce = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    ca_params.distinguished_name.push(
        rcgen::DnType::CommonName,
        format!("Weft test CA {nonce:x}-{}", std::process::id()),
    );
    let ca = CertifiedIssuer::self_signed(ca_params, KeyPair::generate().map_err(fail)?)
        .map_err(fail)?;
    let names = vec!["localhost".to_string(), "127.0.0.1".into(), "::1".into()];
    let leaf_key = KeyPair::generate_for(alg).map_err(fail)?;
    let leaf = CertificateParams::new(names)
        .map_err(fail)?
        .signed_by(&leaf_key, &ca)
        .map_err(fail)?;
    let out = TestCerts {
        ca: dir.join("ca.pem"),
        cert: dir.join("cert.pem"),
        key: dir.join("key.pem"),
    };
    std::fs::write(&out.ca, ca.pem())?;
    std::fs::write(&out.cert, format!("{}{}", leaf.pem(), ca.pem()))?;
    std::fs::write(&out.key, leaf_key.serialize_pem())?;
    Ok(out)
}
