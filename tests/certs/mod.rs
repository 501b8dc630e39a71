//! A throwaway PKI for TLS tests: a CA and one certificate for 127.0.0.1
//! signed by it, written as PEM files into a fresh directory.

#![allow(dead_code)] // each test crate uses part of it

use std::path::PathBuf;

/// PEM files of a test CA and of a node certificate (with its key) valid
/// for 127.0.0.1 and `localhost`.
pub struct TestPki {
    pub dir: PathBuf,
    pub ca: PathBuf,
    pub cert: PathBuf,
    pub key: PathBuf,
}

impl TestPki {
    /// Creates the files under the system's temporary directory, in a
    /// directory named after `tag` and this process.
    pub fn new(tag: &str) -> TestPki {
        let dir = std::env::temp_dir().join(format!("swimlist-pki-{tag}-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("temporary directory");
        let ca_key = rcgen::KeyPair::generate().expect("CA key");
        let mut ca = rcgen::CertificateParams::new(Vec::<String>::new()).expect("CA params");
        ca.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
        let ca = ca.self_signed(&ca_key).expect("CA certificate");
        let key = rcgen::KeyPair::generate().expect("node key");
        let names = vec!["127.0.0.1".to_owned(), "localhost".to_owned()];
        let cert = rcgen::CertificateParams::new(names)
            .expect("node params")
            .signed_by(&key, &ca, &ca_key)
            .expect("node certificate");
        let pki = TestPki {
            ca: dir.join("ca.pem"),
            cert: dir.join("node.pem"),
            key: dir.join("node-key.pem"),
            dir,
        };
        std::fs::write(&pki.ca, ca.pem()).expect("write CA");
        std::fs::write(&pki.cert, cert.pem()).expect("write certificate");
        std::fs::write(&pki.key, key.serialize_pem()).expect("write key");
        pki
    }
}

impl Drop for TestPki {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
