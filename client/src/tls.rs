//! TLS settings for `https://` addresses: the server is verified against
//! the system's roots plus an optional CA file (a private CA), and a client
//! certificate can be presented for routers that require mTLS.

use std::path::Path;

use tonic::transport::{Certificate, ClientTlsConfig, Identity};

use crate::error::ClientError;

/// How to speak TLS to the router.
#[derive(Clone, Default)]
pub struct TlsOptions {
    ca_pem: Option<Vec<u8>>,
    identity: Option<(Vec<u8>, Vec<u8>)>,
    domain: Option<String>,
}

impl std::fmt::Debug for TlsOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TlsOptions")
            .field("ca", &self.ca_pem.is_some())
            .field("client_certificate", &self.identity.is_some())
            .field("domain", &self.domain)
            .finish()
    }
}

impl TlsOptions {
    /// Trusts the CA certificate(s) in this PEM as well as the system roots.
    #[must_use]
    pub fn ca_pem(mut self, pem: impl Into<Vec<u8>>) -> Self {
        self.ca_pem = Some(pem.into());
        self
    }

    /// Presents this client certificate chain and key (PEM) for mTLS.
    #[must_use]
    pub fn identity_pem(mut self, cert: impl Into<Vec<u8>>, key: impl Into<Vec<u8>>) -> Self {
        self.identity = Some((cert.into(), key.into()));
        self
    }

    /// Verifies the server certificate for this name instead of the host
    /// in the address.
    #[must_use]
    pub fn domain(mut self, name: impl Into<String>) -> Self {
        self.domain = Some(name.into());
        self
    }

    /// Reads the PEM files a person named on the command line.
    pub fn from_files(
        ca: Option<&Path>,
        cert: Option<&Path>,
        key: Option<&Path>,
    ) -> Result<Self, ClientError> {
        let mut tls = TlsOptions::default();
        if let Some(ca) = ca {
            tls = tls.ca_pem(read("CA file", ca)?);
        }
        match (cert, key) {
            (Some(cert), Some(key)) => {
                tls = tls.identity_pem(read("client certificate", cert)?, read("client key", key)?);
            }
            (None, None) => {}
            _ => {
                return Err(ClientError::Tls(
                    "a client certificate needs both --client-cert and --client-key".into(),
                ));
            }
        }
        Ok(tls)
    }

    /// The channel's TLS config.
    pub(crate) fn config(&self) -> ClientTlsConfig {
        let mut c = ClientTlsConfig::new().with_native_roots();
        if let Some(ca) = &self.ca_pem {
            c = c.ca_certificate(Certificate::from_pem(ca));
        }
        if let Some((cert, key)) = &self.identity {
            c = c.identity(Identity::from_pem(cert, key));
        }
        if let Some(domain) = &self.domain {
            c = c.domain_name(domain.clone());
        }
        c
    }
}

fn read(what: &str, path: &Path) -> Result<Vec<u8>, ClientError> {
    std::fs::read(path)
        .map_err(|e| ClientError::Tls(format!("cannot read the {what} {}: {e}", path.display())))
}
