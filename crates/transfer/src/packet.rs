//! The upload packet: sans-IO sealing, parsing and verification.
//!
//! # Wire format (all integers big-endian, every length capped)
//! ```text
//! packet   = "RPK1" | version u8 (=1)
//!          | manifest_len u32 | manifest (JSON, plaintext: the routing part)
//!          | server_enc_len u16 | server_enc | server_ct_len u32 | server_ct
//!          | n_envelopes u8 | { envelope_len u32 | envelope }*
//!          | sha256 (32) of every byte before it
//! envelope = "RPE1" | packet_id (16) | hospital_len u8 | hospital id (UTF-8)
//!          | enc_len u16 | enc | ct_len u32 | ct
//! ```
//! `server_ct` is HPKE-sealed to the gateway, each envelope's `ct` to one
//! hospital (RFC 9180 base mode, DHKEM(P-256, HKDF-SHA256), HKDF-SHA256,
//! AES-256-GCM). Both plaintexts are a [`Parts`] list. The AAD binds each
//! ciphertext to the packet id (and the hospital id), so a ciphertext moved
//! into another packet fails to open.
//!
//! The manifest lists the SHA-256 of every plaintext part, of the server
//! ciphertext and of every envelope; the trailer hashes the whole packet.
//! The gateway can read the manifest only, plus the server payload with its
//! key; an envelope is opaque to it. Packet id + trailer hash identify a
//! packet.

use super::keys::{Aead, ENC_LEN, HpkePublicKey, HpkeSecretKey, Kdf, Kem};
use hpke::{Deserializable, OpModeR, OpModeS, Serializable};
use rettpad_crypto::sha256;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

pub const MAGIC: &[u8; 4] = b"RPK1";
pub const ENVELOPE_MAGIC: &[u8; 4] = b"RPE1";
pub const VERSION: u8 = 1;
/// Whole packet.
pub const MAX_PACKET: usize = 64 << 20;
pub const MAX_MANIFEST: usize = 64 << 10;
/// One ciphertext (server payload or envelope).
pub const MAX_CIPHERTEXT: usize = 48 << 20;
pub const MAX_RECIPIENTS: usize = 8;
pub const MAX_PARTS: usize = 16;
pub const MAX_NAME: usize = 64;
pub const HASH_LEN: usize = 32;

/// Part names in the server payload.
pub const PART_EVENTS: &str = "events.json";
pub const PART_MIND: &str = "mind.xml";
pub const PART_FHIR: &str = "fhir.json";
pub const PART_PDF: &str = "protocol.pdf";
pub const PART_PRENOTICE: &str = "prenotice.json";
/// Part names in a hospital envelope (plus [`PART_PDF`]).
pub const PART_HANDOVER: &str = "handover.txt";
pub const PART_LETTER_META: &str = "letter.json";

const SERVER_INFO: &[u8] = b"rettpad/v1/server";
const HOSPITAL_INFO: &[u8] = b"rettpad/v1/hospital";

/// Why a packet or envelope was refused. English, for logs; no content.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PacketError {
    #[error("truncated: {what} needs {need} more bytes")]
    Truncated { what: &'static str, need: usize },
    #[error("not a rettpad packet (bad magic)")]
    BadMagic,
    #[error("unsupported packet version {0}")]
    UnsupportedVersion(u8),
    #[error("{what} is {len} bytes, more than the limit of {max}")]
    TooLong {
        what: &'static str,
        len: usize,
        max: usize,
    },
    #[error("{what} has a bad length ({len})")]
    BadLength { what: &'static str, len: usize },
    #[error("{0} trailing bytes after the packet")]
    TrailingBytes(usize),
    #[error("checksum mismatch: {what}")]
    Checksum { what: String },
    #[error("manifest is invalid: {0}")]
    Manifest(String),
    #[error("cannot decrypt {what}: wrong key or tampered data")]
    Decrypt { what: &'static str },
    #[error("encryption failed")]
    Encrypt,
    #[error("no envelope for hospital {0}")]
    NoEnvelope(String),
    #[error("invalid input: {0}")]
    Input(String),
}

/// The text for the crew or the hospital user.
impl rettpad_text::UserMessage for PacketError {
    fn message(&self, lang: rettpad_text::Lang) -> String {
        let (de, en) = match self {
            PacketError::Decrypt { .. } => (
                "Entschlüsselung fehlgeschlagen: falscher Schlüssel oder veränderte Daten.",
                "Decryption failed: wrong key or altered data.",
            ),
            PacketError::Encrypt | PacketError::Input(_) => (
                "Übertragungspaket konnte nicht erstellt werden. Daten bleiben auf dem Gerät.",
                "The transfer packet could not be made. The data stays on the device.",
            ),
            PacketError::NoEnvelope(_) => (
                "Für diese Klinik liegt kein Umschlag im Paket.",
                "The packet holds no envelope for this hospital.",
            ),
            _ => (
                "Übertragungspaket ist beschädigt oder unvollständig.",
                "The transfer packet is damaged or incomplete.",
            ),
        };
        lang.pick(de, en).into()
    }
}

/// SHA-256 of one plaintext part, as listed in the manifest.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PartDigest {
    pub name: String,
    pub len: u64,
    pub sha256: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EnvelopeDigest {
    pub hospital: String,
    pub len: u64,
    pub sha256: String,
}

/// The routing part: the only plaintext the gateway reads without its key.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Manifest {
    pub packet_id: Uuid,
    pub mission_id: Uuid,
    pub device_serial: String,
    pub call_sign: String,
    pub created_ms: i64,
    pub target_hospital: Option<String>,
    /// Plaintext parts of the server payload.
    pub parts: Vec<PartDigest>,
    pub pdf_sha256: String,
    pub server_len: u64,
    pub server_sha256: String,
    pub envelopes: Vec<EnvelopeDigest>,
}

/// Pre-notification for the hospital's arrival board (in the server payload,
/// so the gateway can show it; expires after 3 h there).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PreNotice {
    pub age_years: Option<u16>,
    /// "m", "w", "d" or empty.
    pub sex: String,
    pub suspected_diagnosis: String,
    /// E.g. "Schockraum", "dringend", "normal".
    pub priority: String,
    /// Expected arrival (ms since epoch).
    pub eta_ms: Option<i64>,
    /// IVENA patient-allocation code (RMI + age + urgency, "332-76-1").
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pzc: Option<String>,
    /// The latest vital signs, short ("HF 92 · RR 150/90 · SpO₂ 94 %").
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub vitals: String,
}

/// What the pad seals: every part as bytes (the export and report modules
/// make them).
#[derive(Clone)]
pub struct SealInput {
    pub mission_id: Uuid,
    pub device_serial: String,
    pub call_sign: String,
    pub created_ms: i64,
    pub target_hospital: Option<String>,
    pub events_json: Vec<u8>,
    pub mind_xml: Vec<u8>,
    pub fhir_json: Vec<u8>,
    pub pdf: Vec<u8>,
    pub pdf_sha256: [u8; 32],
    pub handover_summary: String,
    pub prenotice: Option<PreNotice>,
}

impl std::fmt::Debug for SealInput {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SealInput")
            .field("mission_id", &self.mission_id)
            .field("pdf_len", &self.pdf.len())
            .finish_non_exhaustive()
    }
}

/// A sealed packet and its identity.
#[derive(Clone, PartialEq, Eq)]
pub struct Sealed {
    pub packet_id: Uuid,
    pub sha256: [u8; 32],
    pub bytes: Vec<u8>,
}

impl std::fmt::Debug for Sealed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "Sealed({} {} {} B)",
            self.packet_id,
            hex::encode(self.sha256),
            self.bytes.len()
        )
    }
}

/// An ordered list of named byte parts (plaintext of a ciphertext):
/// `n u8 | { name_len u8 | name | len u32 | bytes }*`.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Parts(pub Vec<(String, Vec<u8>)>);

impl std::fmt::Debug for Parts {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let v: Vec<(&str, usize)> = self.0.iter().map(|(n, b)| (n.as_str(), b.len())).collect();
        write!(f, "Parts({v:?})")
    }
}

impl Parts {
    pub fn get(&self, name: &str) -> Option<&[u8]> {
        self.0
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, b)| b.as_slice())
    }

    fn encode(&self) -> Result<Vec<u8>, PacketError> {
        if self.0.len() > MAX_PARTS {
            return Err(PacketError::Input("too many parts".into()));
        }
        let total: usize = self.0.iter().map(|(n, b)| 5 + n.len() + b.len()).sum();
        let mut out = Vec::with_capacity(1 + total);
        out.push(self.0.len() as u8);
        for (n, b) in &self.0 {
            if n.is_empty() || n.len() > MAX_NAME {
                return Err(PacketError::Input("part name length".into()));
            }
            out.push(n.len() as u8);
            out.extend_from_slice(n.as_bytes());
            let len = u32::try_from(b.len()).map_err(|_| PacketError::TooLong {
                what: "part",
                len: b.len(),
                max: MAX_CIPHERTEXT,
            })?;
            out.extend_from_slice(&len.to_be_bytes());
            out.extend_from_slice(b);
        }
        if out.len() > MAX_CIPHERTEXT {
            return Err(PacketError::TooLong {
                what: "payload",
                len: out.len(),
                max: MAX_CIPHERTEXT,
            });
        }
        Ok(out)
    }

    pub fn decode(b: &[u8]) -> Result<Parts, PacketError> {
        let mut r = Reader::new(b);
        let n = r.u8("part count")? as usize;
        if n > MAX_PARTS {
            return Err(PacketError::TooLong {
                what: "part count",
                len: n,
                max: MAX_PARTS,
            });
        }
        let mut parts = Vec::with_capacity(n);
        for _ in 0..n {
            let nl = r.u8("part name length")? as usize;
            if nl == 0 || nl > MAX_NAME {
                return Err(PacketError::BadLength {
                    what: "part name",
                    len: nl,
                });
            }
            let name = std::str::from_utf8(r.take(nl, "part name")?)
                .map_err(|_| PacketError::Manifest("part name is not UTF-8".into()))?
                .to_string();
            let len = r.u32_len("part", MAX_CIPHERTEXT)?;
            let body = r.take(len, "part")?;
            if parts.iter().any(|(n, _): &(String, Vec<u8>)| *n == name) {
                return Err(PacketError::Manifest(format!("duplicate part {name}")));
            }
            parts.push((name, body.to_vec()));
        }
        r.finish()?;
        Ok(Parts(parts))
    }
}

/// Bounds-checked reader: every read says what it was reading.
struct Reader<'a> {
    b: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    fn new(b: &'a [u8]) -> Self {
        Reader { b, pos: 0 }
    }

    fn take(&mut self, n: usize, what: &'static str) -> Result<&'a [u8], PacketError> {
        let rest = self.b.len() - self.pos;
        if n > rest {
            return Err(PacketError::Truncated {
                what,
                need: n - rest,
            });
        }
        let s = &self.b[self.pos..self.pos + n];
        self.pos += n;
        Ok(s)
    }

    fn u8(&mut self, what: &'static str) -> Result<u8, PacketError> {
        Ok(self.take(1, what)?[0])
    }

    fn u16(&mut self, what: &'static str) -> Result<u16, PacketError> {
        let s = self.take(2, what)?;
        Ok(u16::from_be_bytes([s[0], s[1]]))
    }

    fn u32_len(&mut self, what: &'static str, max: usize) -> Result<usize, PacketError> {
        let s = self.take(4, what)?;
        let n = u32::from_be_bytes([s[0], s[1], s[2], s[3]]) as usize;
        if n > max {
            return Err(PacketError::TooLong { what, len: n, max });
        }
        Ok(n)
    }

    fn finish(&self) -> Result<(), PacketError> {
        match self.b.len() - self.pos {
            0 => Ok(()),
            n => Err(PacketError::TrailingBytes(n)),
        }
    }
}

fn put_len32(
    out: &mut Vec<u8>,
    n: usize,
    what: &'static str,
    max: usize,
) -> Result<(), PacketError> {
    if n > max {
        return Err(PacketError::TooLong { what, len: n, max });
    }
    out.extend_from_slice(&(n as u32).to_be_bytes());
    Ok(())
}

fn server_aad(packet_id: &Uuid) -> Vec<u8> {
    let mut a = SERVER_INFO.to_vec();
    a.extend_from_slice(packet_id.as_bytes());
    a
}

fn envelope_aad(packet_id: &Uuid, hospital: &str) -> Vec<u8> {
    let mut a = HOSPITAL_INFO.to_vec();
    a.extend_from_slice(packet_id.as_bytes());
    a.extend_from_slice(hospital.as_bytes());
    a
}

pub(crate) fn hpke_seal(
    pk: &HpkePublicKey,
    info: &[u8],
    aad: &[u8],
    pt: &[u8],
) -> Result<(Vec<u8>, Vec<u8>), PacketError> {
    let (enc, ct) = hpke::single_shot_seal::<Aead, Kdf, Kem>(&OpModeS::Base, &pk.0, info, pt, aad)
        .map_err(|_| PacketError::Encrypt)?;
    Ok((enc.to_bytes().to_vec(), ct))
}

pub(crate) fn hpke_open(
    sk: &HpkeSecretKey,
    info: &[u8],
    aad: &[u8],
    enc: &[u8],
    ct: &[u8],
    what: &'static str,
) -> Result<Vec<u8>, PacketError> {
    let enc = <Kem as hpke::Kem>::EncappedKey::from_bytes(enc)
        .map_err(|_| PacketError::Decrypt { what })?;
    hpke::single_shot_open::<Aead, Kdf, Kem>(&OpModeR::Base, &sk.0, &enc, info, ct, aad)
        .map_err(|_| PacketError::Decrypt { what })
}

/// Hospital ids are routing keys (mailbox names): short, no control chars.
pub fn valid_hospital_id(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= MAX_NAME
        && id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
}

fn digest(name: &str, b: &[u8]) -> PartDigest {
    PartDigest {
        name: name.into(),
        len: b.len() as u64,
        sha256: hex::encode(sha256(b)),
    }
}

/// Metadata inside a hospital envelope.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LetterMeta {
    pub packet_id: Uuid,
    pub mission_id: Uuid,
    pub call_sign: String,
    pub created_ms: i64,
    pub pdf_sha256: String,
}

/// Seals a packet with a fresh UUIDv7 id.
pub fn seal(
    input: &SealInput,
    gateway: &HpkePublicKey,
    hospitals: &[(String, HpkePublicKey)],
) -> Result<Sealed, PacketError> {
    seal_with_id(input, gateway, hospitals, Uuid::now_v7())
}

/// Seals a packet with the given id (ids are made by the caller so that a
/// retry after a crash can reuse one).
pub fn seal_with_id(
    input: &SealInput,
    gateway: &HpkePublicKey,
    hospitals: &[(String, HpkePublicKey)],
    packet_id: Uuid,
) -> Result<Sealed, PacketError> {
    if sha256(&input.pdf) != input.pdf_sha256 {
        return Err(PacketError::Input(
            "pdf_sha256 does not match the PDF".into(),
        ));
    }
    if hospitals.len() > MAX_RECIPIENTS {
        return Err(PacketError::TooLong {
            what: "recipients",
            len: hospitals.len(),
            max: MAX_RECIPIENTS,
        });
    }
    for (i, (h, _)) in hospitals.iter().enumerate() {
        if !valid_hospital_id(h) {
            return Err(PacketError::Input("invalid hospital id".into()));
        }
        if hospitals[..i].iter().any(|(o, _)| o == h) {
            return Err(PacketError::Input("duplicate recipient".into()));
        }
    }
    if let Some(t) = &input.target_hospital
        && !valid_hospital_id(t)
    {
        return Err(PacketError::Input("invalid target hospital id".into()));
    }
    let mut server = Parts(vec![
        (PART_EVENTS.into(), input.events_json.clone()),
        (PART_MIND.into(), input.mind_xml.clone()),
        (PART_FHIR.into(), input.fhir_json.clone()),
        (PART_PDF.into(), input.pdf.clone()),
    ]);
    if let Some(p) = &input.prenotice {
        let j = serde_json::to_vec(p).map_err(|e| PacketError::Input(e.to_string()))?;
        server.0.push((PART_PRENOTICE.into(), j));
    }
    let parts: Vec<PartDigest> = server.0.iter().map(|(n, b)| digest(n, b)).collect();
    let (s_enc, s_ct) = hpke_seal(
        gateway,
        SERVER_INFO,
        &server_aad(&packet_id),
        &server.encode()?,
    )?;

    let meta = LetterMeta {
        packet_id,
        mission_id: input.mission_id,
        call_sign: input.call_sign.clone(),
        created_ms: input.created_ms,
        pdf_sha256: hex::encode(input.pdf_sha256),
    };
    let letter = Parts(vec![
        (
            PART_LETTER_META.into(),
            serde_json::to_vec(&meta).map_err(|e| PacketError::Input(e.to_string()))?,
        ),
        (PART_PDF.into(), input.pdf.clone()),
        (
            PART_HANDOVER.into(),
            input.handover_summary.as_bytes().to_vec(),
        ),
    ])
    .encode()?;
    let mut envelopes = Vec::with_capacity(hospitals.len());
    for (h, pk) in hospitals {
        let (enc, ct) = hpke_seal(pk, HOSPITAL_INFO, &envelope_aad(&packet_id, h), &letter)?;
        let mut e = Vec::with_capacity(4 + 16 + 1 + h.len() + 2 + enc.len() + 4 + ct.len());
        e.extend_from_slice(ENVELOPE_MAGIC);
        e.extend_from_slice(packet_id.as_bytes());
        e.push(h.len() as u8);
        e.extend_from_slice(h.as_bytes());
        e.extend_from_slice(&(enc.len() as u16).to_be_bytes());
        e.extend_from_slice(&enc);
        put_len32(&mut e, ct.len(), "envelope ciphertext", MAX_CIPHERTEXT)?;
        e.extend_from_slice(&ct);
        envelopes.push((h.clone(), e));
    }

    let manifest = Manifest {
        packet_id,
        mission_id: input.mission_id,
        device_serial: input.device_serial.clone(),
        call_sign: input.call_sign.clone(),
        created_ms: input.created_ms,
        target_hospital: input.target_hospital.clone(),
        parts,
        pdf_sha256: hex::encode(input.pdf_sha256),
        server_len: s_ct.len() as u64,
        server_sha256: hex::encode(sha256(&s_ct)),
        envelopes: envelopes
            .iter()
            .map(|(h, e)| EnvelopeDigest {
                hospital: h.clone(),
                len: e.len() as u64,
                sha256: hex::encode(sha256(e)),
            })
            .collect(),
    };
    let mj = serde_json::to_vec(&manifest).map_err(|e| PacketError::Input(e.to_string()))?;

    let mut out = Vec::with_capacity(
        64 + mj.len() + s_ct.len() + envelopes.iter().map(|(_, e)| e.len() + 4).sum::<usize>(),
    );
    out.extend_from_slice(MAGIC);
    out.push(VERSION);
    put_len32(&mut out, mj.len(), "manifest", MAX_MANIFEST)?;
    out.extend_from_slice(&mj);
    out.extend_from_slice(&(s_enc.len() as u16).to_be_bytes());
    out.extend_from_slice(&s_enc);
    put_len32(&mut out, s_ct.len(), "server ciphertext", MAX_CIPHERTEXT)?;
    out.extend_from_slice(&s_ct);
    out.push(envelopes.len() as u8);
    for (_, e) in &envelopes {
        put_len32(&mut out, e.len(), "envelope", MAX_CIPHERTEXT)?;
        out.extend_from_slice(e);
    }
    let h = sha256(&out);
    out.extend_from_slice(&h);
    if out.len() > MAX_PACKET {
        return Err(PacketError::TooLong {
            what: "packet",
            len: out.len(),
            max: MAX_PACKET,
        });
    }
    Ok(Sealed {
        packet_id,
        sha256: h,
        bytes: out,
    })
}

/// A parsed, checksum-verified packet borrowing the received bytes.
#[derive(Debug)]
pub struct Verified<'a> {
    pub manifest: Manifest,
    pub sha256: [u8; 32],
    server_enc: &'a [u8],
    server_ct: &'a [u8],
    /// `(hospital id, envelope bytes)`.
    pub envelopes: Vec<(String, &'a [u8])>,
}

/// A parsed hospital envelope.
#[derive(Debug)]
pub struct Envelope<'a> {
    pub packet_id: Uuid,
    pub hospital: String,
    enc: &'a [u8],
    ct: &'a [u8],
}

/// What a hospital gets out of its envelope.
#[derive(Clone, PartialEq, Eq)]
pub struct Letter {
    pub meta: LetterMeta,
    pub pdf: Vec<u8>,
    pub handover_summary: String,
}

impl std::fmt::Debug for Letter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Letter")
            .field("packet_id", &self.meta.packet_id)
            .field("pdf_len", &self.pdf.len())
            .finish_non_exhaustive()
    }
}

/// Parses an envelope (as served by a hospital mailbox).
pub fn parse_envelope(b: &[u8]) -> Result<Envelope<'_>, PacketError> {
    let mut r = Reader::new(b);
    if r.take(4, "envelope magic")? != ENVELOPE_MAGIC {
        return Err(PacketError::BadMagic);
    }
    let id = r.take(16, "envelope packet id")?;
    let packet_id = Uuid::from_slice(id).map_err(|_| PacketError::BadLength {
        what: "packet id",
        len: id.len(),
    })?;
    let hl = r.u8("hospital id length")? as usize;
    let hospital = std::str::from_utf8(r.take(hl, "hospital id")?)
        .ok()
        .filter(|h| valid_hospital_id(h))
        .ok_or_else(|| PacketError::Manifest("invalid hospital id in envelope".into()))?
        .to_string();
    let el = r.u16("envelope enc length")? as usize;
    if el != ENC_LEN {
        return Err(PacketError::BadLength {
            what: "envelope enc",
            len: el,
        });
    }
    let enc = r.take(el, "envelope enc")?;
    let cl = r.u32_len("envelope ciphertext", MAX_CIPHERTEXT)?;
    let ct = r.take(cl, "envelope ciphertext")?;
    r.finish()?;
    Ok(Envelope {
        packet_id,
        hospital,
        enc,
        ct,
    })
}

impl Envelope<'_> {
    /// Decrypts with the hospital's private key and checks the PDF hash.
    pub fn open(&self, sk: &HpkeSecretKey) -> Result<Letter, PacketError> {
        let pt = hpke_open(
            sk,
            HOSPITAL_INFO,
            &envelope_aad(&self.packet_id, &self.hospital),
            self.enc,
            self.ct,
            "hospital envelope",
        )?;
        let parts = Parts::decode(&pt)?;
        let meta: LetterMeta = parts
            .get(PART_LETTER_META)
            .ok_or_else(|| PacketError::Manifest("letter meta missing".into()))
            .and_then(|m| {
                serde_json::from_slice(m).map_err(|e| PacketError::Manifest(e.to_string()))
            })?;
        if meta.packet_id != self.packet_id {
            return Err(PacketError::Manifest("letter packet id mismatch".into()));
        }
        let pdf = parts
            .get(PART_PDF)
            .ok_or_else(|| PacketError::Manifest("letter PDF missing".into()))?
            .to_vec();
        if hex::encode(sha256(&pdf)) != meta.pdf_sha256 {
            return Err(PacketError::Checksum {
                what: "letter PDF".into(),
            });
        }
        let handover_summary = String::from_utf8(parts.get(PART_HANDOVER).unwrap_or(&[]).to_vec())
            .map_err(|_| PacketError::Manifest("handover summary is not UTF-8".into()))?;
        Ok(Letter {
            meta,
            pdf,
            handover_summary,
        })
    }
}

fn check_hex_hash(what: &str, expected: &str, data: &[u8]) -> Result<(), PacketError> {
    if hex::encode(sha256(data)) != expected {
        return Err(PacketError::Checksum { what: what.into() });
    }
    Ok(())
}

/// Parses a packet and verifies its structure, the trailer hash and every
/// ciphertext hash listed in the manifest. Needs no key.
pub fn verify(b: &[u8]) -> Result<Verified<'_>, PacketError> {
    if b.len() > MAX_PACKET {
        return Err(PacketError::TooLong {
            what: "packet",
            len: b.len(),
            max: MAX_PACKET,
        });
    }
    if b.len() < HASH_LEN {
        return Err(PacketError::Truncated {
            what: "packet",
            need: HASH_LEN - b.len(),
        });
    }
    let mut r = Reader::new(b);
    if r.take(4, "magic")? != MAGIC {
        return Err(PacketError::BadMagic);
    }
    let v = r.u8("version")?;
    if v != VERSION {
        return Err(PacketError::UnsupportedVersion(v));
    }
    let ml = r.u32_len("manifest", MAX_MANIFEST)?;
    let mj = r.take(ml, "manifest")?;
    let sel = r.u16("server enc length")? as usize;
    if sel != ENC_LEN {
        return Err(PacketError::BadLength {
            what: "server enc",
            len: sel,
        });
    }
    let server_enc = r.take(sel, "server enc")?;
    let scl = r.u32_len("server ciphertext", MAX_CIPHERTEXT)?;
    let server_ct = r.take(scl, "server ciphertext")?;
    let n = r.u8("envelope count")? as usize;
    if n > MAX_RECIPIENTS {
        return Err(PacketError::TooLong {
            what: "envelope count",
            len: n,
            max: MAX_RECIPIENTS,
        });
    }
    let mut raw_env = Vec::with_capacity(n);
    for _ in 0..n {
        let l = r.u32_len("envelope", MAX_CIPHERTEXT)?;
        raw_env.push(r.take(l, "envelope")?);
    }
    let body_len = r.pos;
    let trailer = r.take(HASH_LEN, "checksum")?;
    r.finish()?;
    let h = sha256(&b[..body_len]);
    if h[..] != trailer[..] {
        return Err(PacketError::Checksum {
            what: "packet".into(),
        });
    }
    let manifest: Manifest =
        serde_json::from_slice(mj).map_err(|e| PacketError::Manifest(e.to_string()))?;
    if manifest.parts.len() > MAX_PARTS {
        return Err(PacketError::Manifest("too many parts".into()));
    }
    if manifest.server_len != server_ct.len() as u64 {
        return Err(PacketError::Checksum {
            what: "server payload length".into(),
        });
    }
    check_hex_hash("server payload", &manifest.server_sha256, server_ct)?;
    if manifest.envelopes.len() != raw_env.len() {
        return Err(PacketError::Manifest("envelope count mismatch".into()));
    }
    let mut envelopes = Vec::with_capacity(n);
    for (d, e) in manifest.envelopes.iter().zip(raw_env) {
        if d.len != e.len() as u64 {
            return Err(PacketError::Checksum {
                what: format!("envelope {} length", d.hospital),
            });
        }
        check_hex_hash(&format!("envelope {}", d.hospital), &d.sha256, e)?;
        let pe = parse_envelope(e)?;
        if pe.packet_id != manifest.packet_id || pe.hospital != d.hospital {
            return Err(PacketError::Manifest("envelope routing mismatch".into()));
        }
        envelopes.push((d.hospital.clone(), e));
    }
    if manifest.packet_id.get_version_num() != 7 {
        return Err(PacketError::Manifest("packet id is not a UUIDv7".into()));
    }
    Ok(Verified {
        manifest,
        sha256: h,
        server_enc,
        server_ct,
        envelopes,
    })
}

impl Verified<'_> {
    /// Decrypts the server payload with the gateway's key and checks every
    /// part against the manifest.
    pub fn open_server(&self, sk: &HpkeSecretKey) -> Result<Parts, PacketError> {
        let pt = hpke_open(
            sk,
            SERVER_INFO,
            &server_aad(&self.manifest.packet_id),
            self.server_enc,
            self.server_ct,
            "server payload",
        )?;
        let parts = Parts::decode(&pt)?;
        if parts.0.len() != self.manifest.parts.len() {
            return Err(PacketError::Manifest("part count mismatch".into()));
        }
        for ((name, body), d) in parts.0.iter().zip(&self.manifest.parts) {
            if *name != d.name || body.len() as u64 != d.len {
                return Err(PacketError::Checksum {
                    what: format!("part {}", d.name),
                });
            }
            check_hex_hash(&format!("part {name}"), &d.sha256, body)?;
        }
        let pdf = parts
            .get(PART_PDF)
            .ok_or_else(|| PacketError::Manifest("PDF part missing".into()))?;
        check_hex_hash("PDF hash", &self.manifest.pdf_sha256, pdf)?;
        Ok(parts)
    }

    pub fn envelope(&self, hospital: &str) -> Option<&[u8]> {
        self.envelopes
            .iter()
            .find(|(h, _)| h == hospital)
            .map(|(_, e)| *e)
    }
}

/// Fuzz entry: every parser on arbitrary bytes; must never panic.
pub fn fuzz_one(data: &[u8]) {
    if let Ok(v) = verify(data) {
        for (h, _) in &v.envelopes {
            let _ = v.envelope(h);
        }
    }
    let _ = parse_envelope(data);
    let _ = Parts::decode(data);
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]
        #[test]
        fn parsers_never_panic(data in proptest::collection::vec(any::<u8>(), 0..512)) {
            fuzz_one(&data);
            let mut p = MAGIC.to_vec();
            p.push(VERSION);
            p.extend_from_slice(&data);
            fuzz_one(&p);
        }
    }

    fn input() -> SealInput {
        let pdf = b"%PDF-1.7 test".to_vec();
        SealInput {
            mission_id: Uuid::now_v7(),
            device_serial: "SN-1".into(),
            call_sign: "RTW 1/83-1".into(),
            created_ms: 1_700_000_000_000,
            target_hospital: Some("klinikum-mitte".into()),
            events_json: b"[]".to_vec(),
            mind_xml: b"<mind/>".to_vec(),
            fhir_json: b"{}".to_vec(),
            pdf_sha256: sha256(&pdf),
            pdf,
            handover_summary: "76 J., V. a. STEMI".into(),
            prenotice: Some(PreNotice {
                age_years: Some(76),
                sex: "m".into(),
                suspected_diagnosis: "STEMI".into(),
                priority: "Herzkatheter".into(),
                eta_ms: Some(1_700_000_600_000),
                pzc: Some("332-76-1".into()),
                vitals: "HF 92".into(),
            }),
        }
    }

    struct Keys {
        gw: HpkeSecretKey,
        h1: HpkeSecretKey,
        h2: HpkeSecretKey,
    }

    fn keys() -> Keys {
        Keys {
            gw: HpkeSecretKey::generate().unwrap().0,
            h1: HpkeSecretKey::generate().unwrap().0,
            h2: HpkeSecretKey::generate().unwrap().0,
        }
    }

    fn sealed(k: &Keys) -> Sealed {
        seal(
            &input(),
            &k.gw.public(),
            &[
                ("klinikum-mitte".into(), k.h1.public()),
                ("st-marien".into(), k.h2.public()),
            ],
        )
        .unwrap()
    }

    #[test]
    fn roundtrip_server_and_hospitals() {
        let k = keys();
        let s = sealed(&k);
        let v = verify(&s.bytes).unwrap();
        assert_eq!(v.sha256, s.sha256);
        assert_eq!(v.manifest.packet_id, s.packet_id);
        assert_eq!(
            v.manifest.target_hospital.as_deref(),
            Some("klinikum-mitte")
        );
        let parts = v.open_server(&k.gw).unwrap();
        assert_eq!(parts.get(PART_MIND), Some(&b"<mind/>"[..]));
        assert!(parts.get(PART_PRENOTICE).is_some());
        let e = parse_envelope(v.envelope("klinikum-mitte").unwrap()).unwrap();
        let l = e.open(&k.h1).unwrap();
        assert_eq!(l.pdf, b"%PDF-1.7 test");
        assert_eq!(l.handover_summary, "76 J., V. a. STEMI");
        // Wrong keys: the gateway cannot open an envelope, a hospital cannot
        // open another's envelope nor the server payload.
        assert_eq!(
            e.open(&k.gw).unwrap_err(),
            PacketError::Decrypt {
                what: "hospital envelope"
            }
        );
        assert!(e.open(&k.h2).is_err());
        assert!(v.open_server(&k.h1).is_err());
        let e2 = parse_envelope(v.envelope("st-marien").unwrap()).unwrap();
        assert_eq!(e2.open(&k.h2).unwrap().pdf, l.pdf);
    }

    #[test]
    fn every_flipped_byte_is_refused() {
        let k = keys();
        let s = sealed(&k);
        // Sample positions across the whole packet (all would take long in debug).
        let step = (s.bytes.len() / 400).max(1);
        for i in (0..s.bytes.len()).step_by(step) {
            let mut b = s.bytes.clone();
            b[i] ^= 0x01;
            assert!(verify(&b).is_err(), "flip at {i} accepted");
        }
    }

    #[test]
    fn truncation_and_trailing_are_named() {
        let k = keys();
        let s = sealed(&k);
        for cut in [0, 3, 5, 9, 100, s.bytes.len() - 1] {
            let e = verify(&s.bytes[..cut]).unwrap_err();
            assert!(
                matches!(e, PacketError::Truncated { .. }),
                "cut {cut}: {e:?}"
            );
        }
        let mut b = s.bytes.clone();
        b.push(0);
        assert_eq!(verify(&b).unwrap_err(), PacketError::TrailingBytes(1));
        let mut b = s.bytes.clone();
        b[0] = b'X';
        assert_eq!(verify(&b).unwrap_err(), PacketError::BadMagic);
        let mut b = s.bytes.clone();
        b[4] = 9;
        assert_eq!(verify(&b).unwrap_err(), PacketError::UnsupportedVersion(9));
        let mut b = s.bytes.clone();
        b[5] = 0xff; // manifest length far beyond the cap
        assert!(matches!(
            verify(&b).unwrap_err(),
            PacketError::TooLong {
                what: "manifest",
                ..
            }
        ));
    }

    #[test]
    fn recomputed_trailer_still_fails_on_inner_hash() {
        let k = keys();
        let s = sealed(&k);
        let mut b = s.bytes.clone();
        let n = b.len();
        b[n - 100] ^= 0x80; // inside the last envelope's ciphertext
        let h = sha256(&b[..n - 32]);
        b[n - 32..].copy_from_slice(&h);
        assert!(matches!(
            verify(&b).unwrap_err(),
            PacketError::Checksum { .. }
        ));
    }

    #[test]
    fn seal_refuses_bad_input() {
        let k = keys();
        let mut i = input();
        i.pdf_sha256 = [0; 32];
        assert!(matches!(
            seal(&i, &k.gw.public(), &[]),
            Err(PacketError::Input(_))
        ));
        let i = input();
        assert!(seal(&i, &k.gw.public(), &[("bad id!".into(), k.h1.public())]).is_err());
        assert!(
            seal(
                &i,
                &k.gw.public(),
                &[("a".into(), k.h1.public()), ("a".into(), k.h2.public())]
            )
            .is_err()
        );
    }

    #[test]
    fn parts_codec_caps() {
        assert!(Parts::decode(&[17]).is_err());
        assert!(Parts::decode(&[1, 0]).is_err());
        assert!(matches!(
            Parts::decode(&[1, 1, b'a', 0xff, 0xff, 0xff, 0xff]),
            Err(PacketError::TooLong { .. })
        ));
        let p = Parts(vec![("a".into(), vec![1, 2]), ("b".into(), vec![])]);
        assert_eq!(Parts::decode(&p.encode().unwrap()).unwrap(), p);
    }
}
