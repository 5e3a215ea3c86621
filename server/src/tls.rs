//! TLS and mTLS for the gRPC port, with tonic's rustls support: the server
//! certificate and key from PEM files, and, when a client CA is configured,
//! a client certificate signed by it required on every connection.

use std::path::{Path, PathBuf};

use tonic::transport::{Certificate, Identity, ServerTlsConfig};

use crate::config::TlsConfig;

/// A PEM file that cannot be read.
#[derive(Debug, thiserror::Error)]
#[error("cannot read the TLS {what} {path}: {source}")]
pub struct TlsError {
    what: &'static str,
    path: PathBuf,
    source: std::io::Error,
}

/// The server's TLS settings, or None when TLS is off.
pub fn server_config(config: &TlsConfig) -> Result<Option<ServerTlsConfig>, TlsError> {
    let (Some(cert), Some(key)) = (&config.cert, &config.key) else {
        return Ok(None);
    };
    let identity = Identity::from_pem(read("certificate", cert)?, read("private key", key)?);
    let mut tls = ServerTlsConfig::new().identity(identity);
    if let Some(ca) = &config.client_ca {
        tls = tls.client_ca_root(Certificate::from_pem(read("client CA", ca)?));
    }
    Ok(Some(tls))
}

fn read(what: &'static str, path: &Path) -> Result<Vec<u8>, TlsError> {
    std::fs::read(path).map_err(|source| TlsError {
        what,
        path: path.to_path_buf(),
        source,
    })
}
