//! The organisation's PKI: device identities, trust, and TLS configurations.
//!
//! Every pad and the gateway hold a certificate from the organisation's CA.
//! A pad certificate names its device: subject `CN` = call sign, subject
//! `serialNumber` = the hardware serial, SAN = [`pad_server_name`] (pads are
//! TLS servers during a pad-to-pad handover). Revocation is by CRLs from the
//! CA, listed in the configuration.
//!
//! TLS follows BSI TR-02102-2: TLS 1.2 and 1.3 only, AES-GCM suites with
//! ECDHE only, key exchange on P-256/P-384 only ([`provider`]). Handover uses
//! TLS 1.3 only; the gateway accepts 1.2 and 1.3.
//!
//! [`issue`] makes a test/demo PKI with rcgen (`rettpad-gateway init`, tests).

use rustls::crypto::CryptoProvider;
use rustls::crypto::aws_lc_rs as alc;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, CertificateRevocationListDer, PrivateKeyDer, ServerName};
use rustls::server::WebPkiClientVerifier;
use rustls::{ClientConfig, RootCertStore, ServerConfig};
use std::path::{Path, PathBuf};
use std::sync::Arc;

#[derive(Debug, thiserror::Error)]
pub enum PkiError {
    #[error("cannot read {path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("no certificate in PEM data")]
    NoCertificate,
    #[error("no private key in PEM data")]
    NoKey,
    #[error("malformed PEM: {0}")]
    Pem(String),
    #[error("TLS configuration: {0}")]
    Tls(#[from] rustls::Error),
    #[error("certificate verifier: {0}")]
    Verifier(String),
    #[error("certificate does not name a device: {0}")]
    Name(String),
    #[error("certificate generation failed: {0}")]
    Generate(String),
}

/// For the UI: what the crew can do about it.
impl rettpad_text::UserMessage for PkiError {
    fn message(&self, lang: rettpad_text::Lang) -> String {
        let (de, en) = match self {
            PkiError::Io { .. } | PkiError::NoCertificate | PkiError::NoKey | PkiError::Pem(_) => (
                "Gerätezertifikat fehlt oder ist beschädigt. Bitte die IT verständigen.",
                "The device certificate is missing or damaged. Please call IT.",
            ),
            PkiError::Name(_) => (
                "Zertifikat der Gegenstelle nennt kein Gerät.",
                "The peer's certificate names no device.",
            ),
            _ => (
                "Sichere Verbindung kann nicht eingerichtet werden. Bitte die IT verständigen.",
                "Cannot set up a secure connection. Please call IT.",
            ),
        };
        lang.pick(de, en).into()
    }
}

/// This device's certificate chain and private key.
#[derive(Debug)]
pub struct Identity {
    pub chain: Vec<CertificateDer<'static>>,
    pub key: PrivateKeyDer<'static>,
}

impl Clone for Identity {
    fn clone(&self) -> Self {
        Identity {
            chain: self.chain.clone(),
            key: self.key.clone_key(),
        }
    }
}

impl Identity {
    pub fn from_pem(cert_pem: &[u8], key_pem: &[u8]) -> Result<Self, PkiError> {
        let chain = CertificateDer::pem_slice_iter(cert_pem)
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| PkiError::Pem(e.to_string()))?;
        if chain.is_empty() {
            return Err(PkiError::NoCertificate);
        }
        let key = PrivateKeyDer::from_pem_slice(key_pem).map_err(|e| match e {
            rustls::pki_types::pem::Error::NoItemsFound => PkiError::NoKey,
            e => PkiError::Pem(e.to_string()),
        })?;
        Ok(Identity { chain, key })
    }

    pub fn load(cert: &Path, key: &Path) -> Result<Self, PkiError> {
        Identity::from_pem(&read(cert)?, &read(key)?)
    }

    /// The device named by this identity's leaf certificate.
    pub fn device(&self) -> Result<DeviceName, PkiError> {
        device_name(self.chain.first().ok_or(PkiError::NoCertificate)?)
    }
}

/// The organisation's CA and its revocation lists.
#[derive(Debug, Clone)]
pub struct Trust {
    pub roots: Arc<RootCertStore>,
    pub crls: Vec<CertificateRevocationListDer<'static>>,
}

impl Trust {
    pub fn from_pem(ca_pem: &[u8], crl_pems: &[Vec<u8>]) -> Result<Self, PkiError> {
        let mut roots = RootCertStore::empty();
        let mut n = 0;
        for c in CertificateDer::pem_slice_iter(ca_pem) {
            roots.add(c.map_err(|e| PkiError::Pem(e.to_string()))?)?;
            n += 1;
        }
        if n == 0 {
            return Err(PkiError::NoCertificate);
        }
        let mut crls = Vec::new();
        for pem in crl_pems {
            for c in CertificateRevocationListDer::pem_slice_iter(pem) {
                crls.push(c.map_err(|e| PkiError::Pem(e.to_string()))?);
            }
        }
        Ok(Trust {
            roots: Arc::new(roots),
            crls,
        })
    }

    /// Checks that every CRL in the PEM texts parses (a provisioned list
    /// before it is kept).
    pub fn check_crls(crl_pems: &[Vec<u8>]) -> Result<(), PkiError> {
        for pem in crl_pems {
            let mut n = 0;
            for c in CertificateRevocationListDer::pem_slice_iter(pem) {
                let der = c.map_err(|e| PkiError::Pem(e.to_string()))?;
                x509_parser::parse_x509_crl(der.as_ref())
                    .map_err(|e| PkiError::Pem(format!("unparsable CRL: {e}")))?;
                n += 1;
            }
            if n == 0 {
                return Err(PkiError::Pem("no CRL in the PEM text".into()));
            }
        }
        Ok(())
    }

    /// Builds the server verifier once, as a TLS client would: the
    /// certificates and CRLs are usable, not only well-formed PEM.
    pub fn check(&self) -> Result<(), PkiError> {
        rustls::client::WebPkiServerVerifier::builder_with_provider(self.roots.clone(), provider())
            .with_crls(self.crls.clone())
            .build()
            .map(|_| ())
            .map_err(|e| PkiError::Verifier(e.to_string()))
    }

    pub fn load(ca: &Path, crls: &[PathBuf]) -> Result<Self, PkiError> {
        let crl_pems = crls
            .iter()
            .map(|p| read(p))
            .collect::<Result<Vec<_>, _>>()?;
        Trust::from_pem(&read(ca)?, &crl_pems)
    }
}

fn read(p: &Path) -> Result<Vec<u8>, PkiError> {
    std::fs::read(p).map_err(|source| PkiError::Io {
        path: p.to_path_buf(),
        source,
    })
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Versions {
    Tls13Only,
    Tls12And13,
}

impl Versions {
    fn list(self) -> &'static [&'static rustls::SupportedProtocolVersion] {
        static ONLY13: &[&rustls::SupportedProtocolVersion] = &[&rustls::version::TLS13];
        static BOTH: &[&rustls::SupportedProtocolVersion] =
            &[&rustls::version::TLS13, &rustls::version::TLS12];
        match self {
            Versions::Tls13Only => ONLY13,
            Versions::Tls12And13 => BOTH,
        }
    }
}

/// aws-lc-rs restricted to BSI TR-02102-2: AES-GCM suites, P-256/P-384.
pub fn provider() -> Arc<CryptoProvider> {
    use alc::cipher_suite as cs;
    Arc::new(CryptoProvider {
        cipher_suites: vec![
            cs::TLS13_AES_256_GCM_SHA384,
            cs::TLS13_AES_128_GCM_SHA256,
            cs::TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384,
            cs::TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,
            cs::TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384,
            cs::TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,
        ],
        kx_groups: vec![alc::kx_group::SECP256R1, alc::kx_group::SECP384R1],
        ..alc::default_provider()
    })
}

/// A server that requires a client certificate from `trust` (not revoked).
pub fn server_config(id: &Identity, trust: &Trust, v: Versions) -> Result<ServerConfig, PkiError> {
    let p = provider();
    let verifier = WebPkiClientVerifier::builder_with_provider(trust.roots.clone(), p.clone())
        .with_crls(trust.crls.clone())
        // The CA itself is not on a CRL; only leaf certificates are revoked.
        .only_check_end_entity_revocation()
        .build()
        .map_err(|e| PkiError::Verifier(e.to_string()))?;
    Ok(ServerConfig::builder_with_provider(p)
        .with_protocol_versions(v.list())?
        .with_client_cert_verifier(verifier)
        .with_single_cert(id.chain.clone(), id.key.clone_key())?)
}

/// A client that presents `id` and trusts only `trust` (not revoked).
pub fn client_config(id: &Identity, trust: &Trust, v: Versions) -> Result<ClientConfig, PkiError> {
    let p = provider();
    let verifier =
        rustls::client::WebPkiServerVerifier::builder_with_provider(trust.roots.clone(), p.clone())
            .with_crls(trust.crls.clone())
            .only_check_end_entity_revocation()
            .build()
            .map_err(|e| PkiError::Verifier(e.to_string()))?;
    Ok(ClientConfig::builder_with_provider(p)
        .with_protocol_versions(v.list())?
        .with_webpki_verifier(verifier)
        .with_client_auth_cert(id.chain.clone(), id.key.clone_key())?)
}

/// The device a certificate was issued to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeviceName {
    /// Subject `serialNumber`: the hardware serial.
    pub serial: String,
    /// Subject `CN`: the call sign (or the gateway's/hospital's name).
    pub call_sign: String,
}

pub fn device_name(cert: &CertificateDer<'_>) -> Result<DeviceName, PkiError> {
    let (_, c) = x509_parser::parse_x509_certificate(cert.as_ref())
        .map_err(|e| PkiError::Name(format!("unparsable certificate: {e}")))?;
    let subject = c.subject();
    let first = |oid: x509_parser::oid_registry::Oid<'static>| -> Option<String> {
        subject
            .iter_by_oid(&oid)
            .next()
            .and_then(|a| a.as_str().ok())
            .map(str::to_string)
    };
    let call_sign = first(x509_parser::oid_registry::OID_X509_COMMON_NAME)
        .ok_or_else(|| PkiError::Name("no common name".into()))?;
    let serial = first(x509_parser::oid_registry::OID_X509_SERIALNUMBER)
        .ok_or_else(|| PkiError::Name("no serialNumber attribute".into()))?;
    Ok(DeviceName { serial, call_sign })
}

/// The peer's device from an established TLS connection.
pub fn peer_device(conn: &rustls::CommonState) -> Result<DeviceName, PkiError> {
    let leaf = conn
        .peer_certificates()
        .and_then(|c| c.first())
        .ok_or(PkiError::NoCertificate)?;
    device_name(leaf)
}

fn dns_label(serial: &str) -> String {
    let s: String = serial
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_lowercase()
            } else {
                '-'
            }
        })
        .take(50)
        .collect();
    let s = s.trim_matches('-');
    if s.is_empty() {
        "unknown".into()
    } else {
        s.into()
    }
}

/// The DNS name in a pad's certificate, derived from its serial, so a
/// handover client can verify it reached the pad it paired with.
pub fn pad_server_name(serial: &str) -> ServerName<'static> {
    let name = format!("pad-{}.rettpad.internal", dns_label(serial));
    ServerName::try_from(name).unwrap_or_else(|_| {
        ServerName::try_from("pad-unknown.rettpad.internal").expect("static name is valid")
    })
}

/// A test/demo PKI made with rcgen. Production keys come from the
/// organisation's CA; nothing here is used on a pad at runtime.
pub mod issue {
    use super::{PkiError, dns_label};
    use rcgen::{
        BasicConstraints, CertificateParams, CertificateRevocationListParams, DistinguishedName,
        DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyIdMethod, KeyPair, KeyUsagePurpose,
        RevocationReason, RevokedCertParams, SerialNumber,
    };

    fn err(e: rcgen::Error) -> PkiError {
        PkiError::Generate(e.to_string())
    }

    /// A certificate authority (self-signed, may sign certificates and CRLs).
    pub struct Ca {
        issuer: Issuer<'static, KeyPair>,
        cert_pem: String,
        key_pem: String,
        next_serial: std::cell::Cell<u64>,
    }

    /// A certificate issued by a [`Ca`], with its key.
    #[derive(Debug, Clone)]
    pub struct Issued {
        pub cert_pem: String,
        pub key_pem: String,
        pub serial: Vec<u8>,
    }

    impl Ca {
        pub fn generate(name: &str) -> Result<Ca, PkiError> {
            let key = KeyPair::generate().map_err(err)?;
            let mut p = CertificateParams::new(Vec::<String>::new()).map_err(err)?;
            let mut dn = DistinguishedName::new();
            dn.push(DnType::CommonName, name);
            dn.push(DnType::OrganizationName, "rettpad");
            p.distinguished_name = dn;
            p.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
            p.key_usages = vec![
                KeyUsagePurpose::KeyCertSign,
                KeyUsagePurpose::CrlSign,
                KeyUsagePurpose::DigitalSignature,
            ];
            let cert = p.self_signed(&key).map_err(err)?;
            let cert_pem = cert.pem();
            let key_pem = key.serialize_pem();
            Ok(Ca {
                issuer: Issuer::new(p, key),
                cert_pem,
                key_pem,
                next_serial: std::cell::Cell::new(1),
            })
        }

        pub fn cert_pem(&self) -> String {
            self.cert_pem.clone()
        }

        /// The CA's private key (to keep the demo CA beside its certificate).
        pub fn key_pem(&self) -> String {
            self.key_pem.clone()
        }

        fn leaf(
            &self,
            sans: Vec<String>,
            dn: DistinguishedName,
            ekus: Vec<ExtendedKeyUsagePurpose>,
        ) -> Result<Issued, PkiError> {
            let key = KeyPair::generate().map_err(err)?;
            let mut p = CertificateParams::new(sans).map_err(err)?;
            p.distinguished_name = dn;
            p.is_ca = IsCa::ExplicitNoCa;
            p.key_usages = vec![KeyUsagePurpose::DigitalSignature];
            p.extended_key_usages = ekus;
            let n = self.next_serial.get();
            self.next_serial.set(n + 1);
            let serial = n.to_be_bytes().to_vec();
            p.serial_number = Some(SerialNumber::from_slice(&serial));
            let cert = p.signed_by(&key, &self.issuer).map_err(err)?;
            Ok(Issued {
                cert_pem: cert.pem(),
                key_pem: key.serialize_pem(),
                serial,
            })
        }

        /// A pad: client and server auth (server during a handover).
        pub fn issue_pad(&self, serial: &str, call_sign: &str) -> Result<Issued, PkiError> {
            let mut dn = DistinguishedName::new();
            dn.push(DnType::CommonName, call_sign);
            dn.push(DnType::CustomDnType(vec![2, 5, 4, 5]), serial);
            self.leaf(
                vec![format!("pad-{}.rettpad.internal", dns_label(serial))],
                dn,
                vec![
                    ExtendedKeyUsagePurpose::ClientAuth,
                    ExtendedKeyUsagePurpose::ServerAuth,
                ],
            )
        }

        /// The gateway: server auth, SANs `dns` plus 127.0.0.1.
        pub fn issue_server(&self, dns: &[&str]) -> Result<Issued, PkiError> {
            let mut dn = DistinguishedName::new();
            dn.push(
                DnType::CommonName,
                dns.first().copied().unwrap_or("gateway"),
            );
            dn.push(DnType::CustomDnType(vec![2, 5, 4, 5]), "gateway");
            let mut sans: Vec<String> = dns.iter().map(|s| s.to_string()).collect();
            sans.push("127.0.0.1".into());
            self.leaf(sans, dn, vec![ExtendedKeyUsagePurpose::ServerAuth])
        }

        /// A client that is not a pad (a hospital's mailbox client).
        pub fn issue_client(&self, id: &str, name: &str) -> Result<Issued, PkiError> {
            let mut dn = DistinguishedName::new();
            dn.push(DnType::CommonName, name);
            dn.push(DnType::CustomDnType(vec![2, 5, 4, 5]), id);
            self.leaf(Vec::new(), dn, vec![ExtendedKeyUsagePurpose::ClientAuth])
        }

        /// A CRL revoking `revoked`, valid from `now_unix` for 30 days.
        pub fn crl_pem(&self, revoked: &[&Issued], now_unix: i64) -> Result<String, PkiError> {
            let now = time_at(now_unix)?;
            let later = time_at(now_unix + 30 * 86_400)?;
            let p = CertificateRevocationListParams {
                this_update: now,
                next_update: later,
                crl_number: SerialNumber::from(now_unix.max(1) as u64),
                issuing_distribution_point: None,
                revoked_certs: revoked
                    .iter()
                    .map(|i| RevokedCertParams {
                        serial_number: SerialNumber::from_slice(&i.serial),
                        revocation_time: now,
                        reason_code: Some(RevocationReason::KeyCompromise),
                        invalidity_date: None,
                    })
                    .collect(),
                key_identifier_method: KeyIdMethod::Sha256,
            };
            p.signed_by(&self.issuer).map_err(err)?.pem().map_err(err)
        }
    }

    fn time_at(unix: i64) -> Result<time::OffsetDateTime, PkiError> {
        time::OffsetDateTime::from_unix_timestamp(unix)
            .map_err(|e| PkiError::Generate(e.to_string()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pad_names_are_dns_safe() {
        assert_eq!(
            pad_server_name("PAD RTW/0001").to_str(),
            "pad-pad-rtw-0001.rettpad.internal"
        );
        assert_eq!(
            pad_server_name("///").to_str(),
            "pad-unknown.rettpad.internal"
        );
    }

    #[test]
    fn provider_is_bsi_restricted() {
        let p = provider();
        assert_eq!(p.kx_groups.len(), 2);
        for s in &p.cipher_suites {
            let name = format!("{:?}", s.suite());
            assert!(name.contains("GCM"), "{name}");
        }
    }

    #[test]
    fn issued_pad_certificate_names_its_device() {
        let ca = issue::Ca::generate("Test CA").unwrap();
        let pad = ca.issue_pad("SN-4711", "RTW 3/83-1").unwrap();
        let id = Identity::from_pem(pad.cert_pem.as_bytes(), pad.key_pem.as_bytes()).unwrap();
        assert_eq!(
            id.device().unwrap(),
            DeviceName {
                serial: "SN-4711".into(),
                call_sign: "RTW 3/83-1".into()
            }
        );
        let trust = Trust::from_pem(ca.cert_pem().as_bytes(), &[]).unwrap();
        server_config(&id, &trust, Versions::Tls13Only).unwrap();
        client_config(&id, &trust, Versions::Tls12And13).unwrap();
    }

    /// Runs a handshake in memory; `Err` carries the first side's error.
    fn handshake(
        server: ServerConfig,
        client: ClientConfig,
        name: ServerName<'static>,
    ) -> Result<(), rustls::Error> {
        let mut s = rustls::ServerConnection::new(Arc::new(server))?;
        let mut c = rustls::ClientConnection::new(Arc::new(client), name)?;
        for _ in 0..20 {
            let mut buf = Vec::new();
            while c.wants_write() {
                c.write_tls(&mut buf).unwrap();
            }
            s.read_tls(&mut buf.as_slice()).unwrap();
            s.process_new_packets()?;
            let mut buf = Vec::new();
            while s.wants_write() {
                s.write_tls(&mut buf).unwrap();
            }
            c.read_tls(&mut buf.as_slice()).unwrap();
            c.process_new_packets()?;
            if !c.is_handshaking() && !s.is_handshaking() {
                assert_eq!(peer_device(&s).unwrap().serial, "SN-RTW");
                return Ok(());
            }
        }
        panic!("handshake did not finish");
    }

    #[test]
    fn mutual_tls_accepts_org_pads_and_refuses_foreign_and_revoked() {
        let ca = issue::Ca::generate("Org CA").unwrap();
        let foreign = issue::Ca::generate("Foreign CA").unwrap();
        let rtw = ca.issue_pad("SN-RTW", "RTW 1").unwrap();
        let nef = ca.issue_pad("SN-NEF", "NEF 1").unwrap();
        let evil = foreign.issue_pad("SN-RTW", "RTW 1").unwrap();
        let revoked = ca.issue_pad("SN-RTW", "RTW 1").unwrap();
        let id = |i: &issue::Issued| {
            Identity::from_pem(i.cert_pem.as_bytes(), i.key_pem.as_bytes()).unwrap()
        };
        let crl = ca.crl_pem(&[&revoked], 1_770_000_000).unwrap();
        let trust = Trust::from_pem(ca.cert_pem().as_bytes(), &[crl.into_bytes()]).unwrap();
        let nef_name = pad_server_name("SN-NEF");
        let server = || server_config(&id(&nef), &trust, Versions::Tls13Only).unwrap();

        handshake(
            server(),
            client_config(&id(&rtw), &trust, Versions::Tls13Only).unwrap(),
            nef_name.clone(),
        )
        .unwrap();
        let e = handshake(
            server(),
            client_config(&id(&evil), &trust, Versions::Tls13Only).unwrap(),
            nef_name.clone(),
        )
        .unwrap_err();
        assert!(matches!(e, rustls::Error::InvalidCertificate(_)), "{e:?}");
        let e = handshake(
            server(),
            client_config(&id(&revoked), &trust, Versions::Tls13Only).unwrap(),
            nef_name.clone(),
        )
        .unwrap_err();
        assert!(
            matches!(
                e,
                rustls::Error::InvalidCertificate(rustls::CertificateError::Revoked)
            ),
            "{e:?}"
        );
        // The client checks it reached the paired pad, not any org pad.
        let e = handshake(
            server(),
            client_config(&id(&rtw), &trust, Versions::Tls13Only).unwrap(),
            pad_server_name("SN-OTHER"),
        )
        .unwrap_err();
        assert!(matches!(e, rustls::Error::InvalidCertificate(_)), "{e:?}");
    }

    #[test]
    fn bad_pem_is_a_clear_error() {
        assert!(matches!(
            Identity::from_pem(b"nothing", b"nothing"),
            Err(PkiError::NoCertificate)
        ));
        assert!(matches!(
            Trust::from_pem(b"", &[]),
            Err(PkiError::NoCertificate)
        ));
    }
}
