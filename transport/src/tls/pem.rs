//! PEM files: certificate chains and private keys, with errors that name the
//! file and say what is wrong.

use std::path::Path;

use rustls::pki_types::pem::{self, PemObject};
use rustls::pki_types::{CertificateDer, PrivateKeyDer};

use super::TlsError;

fn read(path: &Path) -> Result<Vec<u8>, TlsError> {
    std::fs::read(path).map_err(|source| TlsError::Read {
        path: path.to_path_buf(),
        source,
    })
}

fn bad(path: &Path, what: impl Into<String>) -> TlsError {
    TlsError::Pem {
        path: path.to_path_buf(),
        what: what.into(),
    }
}

/// Every `CERTIFICATE` block of the file, in order (leaf first).
pub(super) fn certificates(path: &Path) -> Result<Vec<CertificateDer<'static>>, TlsError> {
    let data = read(path)?;
    let certs = CertificateDer::pem_slice_iter(&data)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| bad(path, format!("bad PEM: {e}")))?;
    if certs.is_empty() {
        let hint = if PrivateKeyDer::from_pem_slice(&data).is_ok() {
            " (it holds a private key: are the certificate and key swapped?)"
        } else {
            ""
        };
        return Err(bad(
            path,
            format!("no certificate (no \"-----BEGIN CERTIFICATE-----\" block){hint}"),
        ));
    }
    Ok(certs)
}

/// The first private key of the file (PKCS#8, PKCS#1 or SEC1).
pub(super) fn private_key(path: &Path) -> Result<PrivateKeyDer<'static>, TlsError> {
    let data = read(path)?;
    match PrivateKeyDer::from_pem_slice(&data) {
        Ok(key) => Ok(key),
        Err(pem::Error::NoItemsFound) => {
            let hint = if CertificateDer::pem_slice_iter(&data).any(|c| c.is_ok()) {
                " (it holds a certificate: are the certificate and key swapped?)"
            } else {
                ""
            };
            Err(bad(
                path,
                format!("no private key (no PRIVATE KEY, RSA PRIVATE KEY or EC PRIVATE KEY block){hint}"),
            ))
        }
        Err(e) => Err(bad(path, format!("bad PEM: {e}"))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn swapped_files_are_named_and_explained() {
        let cert = rcgen::generate_simple_self_signed(vec!["localhost".into()]).unwrap();
        let dir = tempfile::tempdir().unwrap();
        let c = dir.path().join("cert.pem");
        let k = dir.path().join("key.pem");
        std::fs::write(&c, cert.cert.pem()).unwrap();
        std::fs::write(&k, cert.signing_key.serialize_pem()).unwrap();
        assert_eq!(certificates(&c).unwrap().len(), 1);
        assert!(private_key(&k).is_ok());
        let e = certificates(&k).unwrap_err().to_string();
        assert!(e.contains("key.pem") && e.contains("swapped"), "{e}");
        let e = private_key(&c).unwrap_err().to_string();
        assert!(e.contains("cert.pem") && e.contains("swapped"), "{e}");
    }

    #[test]
    fn a_truncated_block_is_bad_pem() {
        let dir = tempfile::tempdir().unwrap();
        let c = dir.path().join("cut.pem");
        std::fs::write(&c, "-----BEGIN CERTIFICATE-----\nMIIB\n").unwrap();
        let e = certificates(&c).unwrap_err().to_string();
        assert!(e.contains("cut.pem"), "{e}");
    }

    #[test]
    fn every_key_kind_loads() {
        for alg in [
            &rcgen::PKCS_ECDSA_P256_SHA256,
            &rcgen::PKCS_ED25519,
            &rcgen::PKCS_RSA_SHA256,
        ] {
            let Ok(key) = rcgen::KeyPair::generate_for(alg) else {
                // rcgen cannot generate RSA keys with every backend.
                continue;
            };
            let dir = tempfile::tempdir().unwrap();
            let k = dir.path().join("k.pem");
            std::fs::write(&k, key.serialize_pem()).unwrap();
            assert!(private_key(&k).is_ok(), "{alg:?}");
        }
    }
}
