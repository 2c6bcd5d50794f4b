//! `[upload]` of the pad configuration.

use serde::{Deserialize, Serialize};
use std::path::PathBuf;

/// `[upload]`: the gateway, the pad's TLS identity and the recipients' keys.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UploadConfig {
    /// Base URL, any port: `https://gateway.example:8443`.
    pub gateway_url: String,
    /// Organisation CA (PEM): the only trust anchor for the gateway.
    pub ca: PathBuf,
    #[serde(default)]
    pub crls: Vec<PathBuf>,
    /// Device certificate and key (PEM): the pad's TLS client identity.
    pub cert: PathBuf,
    pub key: PathBuf,
    /// Gateway's HPKE public key (hex, P-256 uncompressed).
    pub gateway_hpke_public: String,
    /// Gateway's Ed25519 receipt key (hex).
    pub gateway_receipt_public: String,
    /// Hospitals' HPKE public keys (hex) by hospital id.
    #[serde(default)]
    pub hospital_keys: std::collections::BTreeMap<String, String>,
    /// Refuse TLS 1.2 as well.
    #[serde(default)]
    pub tls13_only: bool,
    /// Provisioned, not from the file: more CA certificates (PEM) trusted
    /// beside `ca`, and CRLs (PEM) checked beside `crls`.
    #[serde(skip)]
    pub provisioned_ca_pem: Vec<u8>,
    #[serde(skip)]
    pub provisioned_crl_pem: Vec<Vec<u8>>,
}
