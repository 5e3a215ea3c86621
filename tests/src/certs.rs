//! Certificates made at run time with `rcgen` for TLS and mTLS tests: a CA,
//! a server certificate for `localhost` / `127.0.0.1`, and client
//! certificates, all written as PEM files into a directory.

use std::path::{Path, PathBuf};

use rcgen::{
    BasicConstraints, CertificateParams, CertifiedIssuer, DnType, ExtendedKeyUsagePurpose, IsCa,
    KeyPair,
};

/// PEM files of one test PKI.
pub struct TestPki {
    /// The CA certificate.
    pub ca: PathBuf,
    /// Server certificate and key (SANs `localhost`, `127.0.0.1`).
    pub server_cert: PathBuf,
    /// Server key.
    pub server_key: PathBuf,
    /// A client certificate signed by the CA.
    pub client_cert: PathBuf,
    /// Its key.
    pub client_key: PathBuf,
}

impl TestPki {
    /// Writes a fresh CA, server and client certificate under `dir` with
    /// file names starting with `prefix`.
    pub fn create(dir: &Path, prefix: &str) -> anyhow::Result<TestPki> {
        let mut ca_params = CertificateParams::new(Vec::<String>::new())?;
        ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        ca_params
            .distinguished_name
            .push(DnType::CommonName, format!("{prefix} test CA"));
        let ca = CertifiedIssuer::self_signed(ca_params, KeyPair::generate()?)?;

        let write = |name: &str, text: &str| -> anyhow::Result<PathBuf> {
            let path = dir.join(format!("{prefix}-{name}.pem"));
            std::fs::write(&path, text)?;
            Ok(path)
        };
        let leaf = |sans: Vec<String>, usage: ExtendedKeyUsagePurpose| -> anyhow::Result<_> {
            let key = KeyPair::generate()?;
            let mut params = CertificateParams::new(sans)?;
            params.extended_key_usages = vec![usage];
            let cert = params.signed_by(&key, &ca)?;
            Ok((cert.pem(), key.serialize_pem()))
        };
        let (server_pem, server_key_pem) = leaf(
            vec!["localhost".into(), "127.0.0.1".into()],
            ExtendedKeyUsagePurpose::ServerAuth,
        )?;
        let (client_pem, client_key_pem) = leaf(
            vec!["client.test".into()],
            ExtendedKeyUsagePurpose::ClientAuth,
        )?;
        Ok(TestPki {
            ca: write("ca", &ca.pem())?,
            server_cert: write("server", &server_pem)?,
            server_key: write("server-key", &server_key_pem)?,
            client_cert: write("client", &client_pem)?,
            client_key: write("client-key", &client_key_pem)?,
        })
    }
}
