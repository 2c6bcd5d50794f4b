//! The back office over HTTPS with its second factor: a client certificate
//! from the user's organisation's CA (seed §5.5, §6.1.6 fn. 1). The
//! handshake already demands a certificate of one of the configured CAs;
//! [`gate`] then names the organisation whose CA issued it and the user it
//! belongs to (subject `serialNumber` = login). The sign-in and every
//! session are bound to that pair in `web`, so a password or a session
//! cookie alone opens nothing.

use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::StatusCode;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum_server::tls::TlsInfo;
use rettpad_pki as pki;
use rustls::pki_types::{CertificateDer, UnixTime};
use rustls::server::WebPkiClientVerifier;
use rustls::server::danger::ClientCertVerifier;

use crate::config::BackofficeTls;

/// Who a connection's certificate names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientCert {
    pub org: String,
    pub login: String,
}

/// One verifier per organisation: a certificate counts for the
/// organisation whose CA verifies it, never for another.
pub struct CertTrust {
    orgs: Vec<(String, Arc<dyn ClientCertVerifier>)>,
}

/// The listener's TLS configuration (all organisations' CAs) and the
/// per-organisation trust that names each certificate.
pub fn load(t: &BackofficeTls) -> Result<(rustls::ServerConfig, CertTrust), String> {
    let id = pki::Identity::load(&t.cert, &t.key).map_err(|e| format!("backoffice.tls: {e}"))?;
    let mut all_ca = Vec::new();
    let mut all_crls = Vec::new();
    let mut orgs = Vec::new();
    for c in &t.client_ca {
        let ca = std::fs::read(&c.ca).map_err(|e| format!("{}: {e}", c.ca.display()))?;
        let crls = c
            .crls
            .iter()
            .map(|p| std::fs::read(p).map_err(|e| format!("{}: {e}", p.display())))
            .collect::<Result<Vec<_>, _>>()?;
        let trust =
            pki::Trust::from_pem(&ca, &crls).map_err(|e| format!("{}: {e}", c.ca.display()))?;
        orgs.push((c.org.clone(), verifier(&trust, trust.crls.is_empty())?));
        all_ca.extend_from_slice(&ca);
        all_ca.push(b'\n');
        all_crls.extend(crls);
    }
    let all = pki::Trust::from_pem(&all_ca, &all_crls).map_err(|e| e.to_string())?;
    // The handshake checks every organisation's CRLs; an organisation
    // without CRLs has no status to check, and `identify` applies each
    // organisation's own rule again.
    let mut sc = rustls::ServerConfig::builder_with_provider(pki::provider())
        // TLS 1.2 too: the desktop browsers of the services' offices.
        .with_protocol_versions(&[&rustls::version::TLS13, &rustls::version::TLS12])
        .map_err(|e| e.to_string())?
        .with_client_cert_verifier(verifier(&all, true)?)
        .with_single_cert(id.chain.clone(), id.key.clone_key())
        .map_err(|e| format!("backoffice.tls: {e}"))?;
    sc.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok((sc, CertTrust { orgs }))
}

fn verifier(
    trust: &pki::Trust,
    allow_unknown_status: bool,
) -> Result<Arc<dyn ClientCertVerifier>, String> {
    let b = WebPkiClientVerifier::builder_with_provider(trust.roots.clone(), pki::provider())
        .with_crls(trust.crls.clone())
        .only_check_end_entity_revocation();
    let b = if allow_unknown_status {
        b.allow_unknown_revocation_status()
    } else {
        b
    };
    b.build().map_err(|e| e.to_string())
}

impl CertTrust {
    /// The organisation and login of a presented chain (leaf first), if
    /// exactly one organisation's CA verifies it now.
    pub fn identify(&self, chain: &[Vec<u8>]) -> Option<ClientCert> {
        let (leaf, rest) = chain.split_first()?;
        let leaf = CertificateDer::from(leaf.as_slice());
        let rest: Vec<CertificateDer<'_>> = rest
            .iter()
            .map(|c| CertificateDer::from(c.as_slice()))
            .collect();
        let now = UnixTime::now();
        let mut orgs = self
            .orgs
            .iter()
            .filter(|(_, v)| v.verify_client_cert(&leaf, &rest, now).is_ok());
        let (org, _) = orgs.next()?;
        if orgs.next().is_some() {
            // One CA configured for two organisations: trust neither.
            return None;
        }
        let name = pki::device_name(&leaf).ok()?;
        Some(ClientCert {
            org: org.clone(),
            login: name.serial,
        })
    }
}

/// Names the connection's certificate for the handlers; a request
/// without one that verifies (cannot pass the handshake, but checked
/// anyway) gets 403.
pub async fn gate(State(trust): State<Arc<CertTrust>>, mut req: Request, next: Next) -> Response {
    let cert = req
        .extensions()
        .get::<Arc<TlsInfo>>()
        .and_then(|i| trust.identify(&i.peer_certificates));
    match cert {
        Some(c) => {
            req.extensions_mut().insert(c);
            next.run(req).await
        }
        None => {
            tracing::warn!("back-office request without a usable client certificate");
            (
                StatusCode::FORBIDDEN,
                "client certificate of an organisation's CA required",
            )
                .into_response()
        }
    }
}
