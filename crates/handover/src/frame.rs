//! Application frames of the handover protocol, carried inside TLS.
//!
//! Wire format of one frame (all integers big-endian):
//!
//! ```text
//! u32 len | u8 version | u32 head_len | head (JSON, `Msg`) | tail (bytes)
//! ```
//!
//! `len` counts everything after itself. The JSON head carries the message;
//! bulk data (zstd-compressed event batches and strip chunks) travels raw in
//! the tail so it is not inflated by JSON. Sizes are capped before any
//! allocation, so a hostile peer cannot make us buffer more than
//! [`MAX_FRAME`] bytes.

use rettpad_record::{Hash, MissionId};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Protocol version; a peer with another version is refused.
pub const VERSION: u8 = 1;
/// Largest frame after the length prefix.
pub const MAX_FRAME: usize = 1024 * 1024;
/// Largest JSON head.
pub const MAX_HEAD: usize = 256 * 1024;
/// Largest compressed strip chunk.
pub const STRIP_CHUNK: usize = 48 * 1024;
/// Largest strip after decompression.
pub const MAX_STRIP_RAW: usize = 32 * 1024 * 1024;
/// Largest event batch after decompression.
pub const MAX_BATCH_RAW: usize = 4 * 1024 * 1024;
/// Longest text field (call signs, details) accepted from a peer.
pub const MAX_TEXT: usize = 256;
/// Most missions in one request.
pub const MAX_MISSIONS: usize = 64;

/// Which missions the receiver asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MissionSel {
    One(MissionId),
    /// "Alle offenen Einsätze" of the sending pad.
    AllOpen,
}

/// The sender's answer to a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Decision {
    Allow,
    Deny,
    /// Nobody answered within the confirmation time.
    Timeout,
}

/// What the sender offers for one mission.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ManifestEntry {
    pub mission: MissionId,
    pub events: u32,
    /// Digest of the sender's log ([`rettpad_record::log::digest`]).
    pub digest: Hash,
    /// Highest seq per device in the sender's log.
    pub heads: BTreeMap<String, u64>,
    /// Hashes of the strips the sender holds.
    pub strips: Vec<Hash>,
}

/// What the receiver already has of one mission: the resume point.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct HaveEntry {
    pub mission: MissionId,
    pub heads: BTreeMap<String, u64>,
    pub strips: Vec<Hash>,
}

/// The sender's final word per mission: the hash of the transferred log.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DoneEntry {
    pub mission: MissionId,
    pub digest: Hash,
    pub events: u32,
}

/// Machine-readable reason in an `Error` frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorCode {
    Protocol,
    NoSuchMission,
    NotPaired,
    Busy,
    Storage,
    Cancelled,
}

/// One application message. Bulk bytes live in the frame tail and are
/// skipped by serde.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "t", rename_all = "snake_case")]
pub enum Msg {
    Request {
        missions: MissionSel,
        call_sign: String,
    },
    /// The sender shows the prompt; it closes after `deadline_in_ms`.
    Prompting {
        deadline_in_ms: u64,
    },
    Decision {
        decision: Decision,
    },
    Manifest {
        missions: Vec<ManifestEntry>,
    },
    Have {
        missions: Vec<HaveEntry>,
    },
    /// How many units (event batches and strips) follow.
    Plan {
        units: u32,
    },
    /// `zdata` = zstd(JSON array of events); `sha256` over the JSON bytes.
    EventBatch {
        unit: u32,
        mission: MissionId,
        batch: u32,
        events: u32,
        sha256: Hash,
        #[serde(skip)]
        zdata: Vec<u8>,
    },
    /// One piece of zstd(`Strip::encode()`); `strip` is the strip's hash.
    StripChunk {
        unit: u32,
        mission: MissionId,
        strip: Hash,
        chunk: u32,
        last: bool,
        #[serde(skip)]
        zdata: Vec<u8>,
    },
    Ack {
        unit: u32,
    },
    Done {
        missions: Vec<DoneEntry>,
    },
    /// The receiver merged everything and recorded the handover.
    Finished {
        missions: Vec<DoneEntry>,
    },
    Cancel,
    Error {
        code: ErrorCode,
        detail: String,
    },
}

impl Msg {
    /// A short name for logs (never content).
    pub fn name(&self) -> &'static str {
        match self {
            Msg::Request { .. } => "request",
            Msg::Prompting { .. } => "prompting",
            Msg::Decision { .. } => "decision",
            Msg::Manifest { .. } => "manifest",
            Msg::Have { .. } => "have",
            Msg::Plan { .. } => "plan",
            Msg::EventBatch { .. } => "event_batch",
            Msg::StripChunk { .. } => "strip_chunk",
            Msg::Ack { .. } => "ack",
            Msg::Done { .. } => "done",
            Msg::Finished { .. } => "finished",
            Msg::Cancel => "cancel",
            Msg::Error { .. } => "error",
        }
    }

    fn tail(&self) -> &[u8] {
        match self {
            Msg::EventBatch { zdata, .. } | Msg::StripChunk { zdata, .. } => zdata,
            _ => &[],
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FrameError {
    #[error("frame of {0} bytes exceeds the limit")]
    TooLarge(usize),
    #[error("unsupported protocol version {0}")]
    Version(u8),
    #[error("malformed frame: {0}")]
    Malformed(&'static str),
    #[error("message does not decode")]
    Undecodable,
}

/// Encodes one message into a frame.
pub fn encode(msg: &Msg) -> Result<Vec<u8>, FrameError> {
    let head = serde_json::to_vec(msg).map_err(|_| FrameError::Malformed("head encoding"))?;
    let tail = msg.tail();
    if head.len() > MAX_HEAD {
        return Err(FrameError::TooLarge(head.len()));
    }
    let len = 1 + 4 + head.len() + tail.len();
    if len > MAX_FRAME {
        return Err(FrameError::TooLarge(len));
    }
    let mut out = Vec::with_capacity(4 + len);
    out.extend_from_slice(&(len as u32).to_be_bytes());
    out.push(VERSION);
    out.extend_from_slice(&(head.len() as u32).to_be_bytes());
    out.extend_from_slice(&head);
    out.extend_from_slice(tail);
    Ok(out)
}

/// Decodes the body of one frame (after the length prefix).
pub fn decode_body(body: &[u8]) -> Result<Msg, FrameError> {
    let (&version, rest) = body
        .split_first()
        .ok_or(FrameError::Malformed("empty frame"))?;
    if version != VERSION {
        return Err(FrameError::Version(version));
    }
    let (len_bytes, rest) = rest
        .split_first_chunk::<4>()
        .ok_or(FrameError::Malformed("short head length"))?;
    let head_len = u32::from_be_bytes(*len_bytes) as usize;
    if head_len > MAX_HEAD || head_len > rest.len() {
        return Err(FrameError::Malformed("head length"));
    }
    let (head, tail) = rest.split_at(head_len);
    let mut msg: Msg = serde_json::from_slice(head).map_err(|_| FrameError::Undecodable)?;
    match &mut msg {
        Msg::EventBatch { zdata, .. } | Msg::StripChunk { zdata, .. } => {
            *zdata = tail.to_vec();
        }
        _ if !tail.is_empty() => return Err(FrameError::Malformed("unexpected tail")),
        _ => {}
    }
    check_limits(&msg)?;
    Ok(msg)
}

/// Bounds on counts and texts that the JSON itself does not cap.
fn check_limits(msg: &Msg) -> Result<(), FrameError> {
    let long = |s: &str| s.len() > MAX_TEXT;
    let bad = match msg {
        Msg::Request { call_sign, .. } => long(call_sign),
        Msg::Error { detail, .. } => long(detail),
        Msg::Manifest { missions } => {
            missions.len() > MAX_MISSIONS
                || missions.iter().any(|m| m.heads.keys().any(|d| long(d)))
        }
        Msg::Have { missions } => {
            missions.len() > MAX_MISSIONS
                || missions.iter().any(|m| m.heads.keys().any(|d| long(d)))
        }
        Msg::Done { missions } | Msg::Finished { missions } => missions.len() > MAX_MISSIONS,
        Msg::StripChunk { zdata, .. } => zdata.len() > STRIP_CHUNK,
        _ => false,
    };
    if bad {
        Err(FrameError::Malformed("limit exceeded"))
    } else {
        Ok(())
    }
}

/// Reassembles frames from a byte stream that arrives in arbitrary pieces.
#[derive(Debug, Default)]
pub struct Decoder {
    buf: Vec<u8>,
}

impl Decoder {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn push(&mut self, bytes: &[u8]) {
        self.buf.extend_from_slice(bytes);
    }

    /// Bytes received but not yet part of a whole frame.
    pub fn buffered(&self) -> usize {
        self.buf.len()
    }

    /// The next whole frame, if one is buffered. After an error the stream
    /// is out of sync and must be dropped.
    pub fn next_msg(&mut self) -> Result<Option<Msg>, FrameError> {
        let Some(len_bytes) = self.buf.first_chunk::<4>() else {
            return Ok(None);
        };
        let len = u32::from_be_bytes(*len_bytes) as usize;
        if len > MAX_FRAME {
            return Err(FrameError::TooLarge(len));
        }
        let Some(body) = self.buf.get(4..4 + len) else {
            return Ok(None);
        };
        let msg = decode_body(body);
        self.buf.drain(..4 + len);
        msg.map(Some)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn samples() -> Vec<Msg> {
        let m = MissionId::new();
        vec![
            Msg::Request {
                missions: MissionSel::One(m),
                call_sign: "RTW 1/83-1".into(),
            },
            Msg::Request {
                missions: MissionSel::AllOpen,
                call_sign: "NEF 1/82-1".into(),
            },
            Msg::Prompting {
                deadline_in_ms: 10_000,
            },
            Msg::Decision {
                decision: Decision::Timeout,
            },
            Msg::EventBatch {
                unit: 3,
                mission: m,
                batch: 1,
                events: 2,
                sha256: Hash([7; 32]),
                zdata: vec![1, 2, 3, 0, 255],
            },
            Msg::StripChunk {
                unit: 4,
                mission: m,
                strip: Hash([1; 32]),
                chunk: 0,
                last: true,
                zdata: vec![9; 100],
            },
            Msg::Ack { unit: 4 },
            Msg::Cancel,
        ]
    }

    #[test]
    fn roundtrip_in_any_pieces() {
        let msgs = samples();
        let mut wire = Vec::new();
        for m in &msgs {
            wire.extend(encode(m).unwrap());
        }
        for piece in [1, 3, 7, 64, wire.len()] {
            let mut d = Decoder::new();
            let mut out = Vec::new();
            for c in wire.chunks(piece) {
                d.push(c);
                while let Some(m) = d.next_msg().unwrap() {
                    out.push(m);
                }
            }
            assert_eq!(out, msgs);
            assert_eq!(d.buffered(), 0);
        }
    }

    #[test]
    fn rejects_oversize_version_and_garbage() {
        let mut d = Decoder::new();
        d.push(&((MAX_FRAME as u32) + 1).to_be_bytes());
        assert!(matches!(d.next_msg(), Err(FrameError::TooLarge(_))));

        let mut f = encode(&Msg::Cancel).unwrap();
        f[4] = 9;
        let mut d = Decoder::new();
        d.push(&f);
        assert_eq!(d.next_msg(), Err(FrameError::Version(9)));

        let mut f = encode(&Msg::Cancel).unwrap();
        f.push(1); // a tail where none belongs
        let n = (f.len() - 4) as u32;
        f[..4].copy_from_slice(&n.to_be_bytes());
        assert!(decode_body(&f[4..]).is_err());
        assert!(decode_body(&[VERSION, 0, 0, 0, 2, b'{', b'}']).is_err());
        assert!(decode_body(&[VERSION, 255, 255, 255, 255]).is_err());

        let long = Msg::Request {
            missions: MissionSel::AllOpen,
            call_sign: "x".repeat(MAX_TEXT + 1),
        };
        let f = encode(&long).unwrap();
        assert!(decode_body(&f[4..]).is_err());
    }

    #[test]
    fn fuzz_seeds_are_valid_frames() {
        let dir =
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fuzz/seeds/handover");
        let mut n = 0;
        for e in std::fs::read_dir(dir).unwrap() {
            let bytes = std::fs::read(e.unwrap().path()).unwrap();
            let mut d = Decoder::new();
            d.push(&bytes);
            while d.buffered() > 0 {
                assert!(d.next_msg().unwrap().is_some());
                n += 1;
            }
        }
        assert!(n >= 8);
    }

    proptest::proptest! {
        #[test]
        fn parser_never_panics(bytes in proptest::collection::vec(proptest::num::u8::ANY, 0..600)) {
            let mut d = Decoder::new();
            d.push(&bytes);
            for _ in 0..8 {
                match d.next_msg() {
                    Ok(Some(_)) => {}
                    _ => break,
                }
            }
            let _ = decode_body(&bytes);
        }

        #[test]
        fn mutated_frames_never_panic(i in 0usize..200, b in proptest::num::u8::ANY) {
            let mut wire = Vec::new();
            for m in samples() {
                wire.extend(encode(&m).unwrap());
            }
            let i = i % wire.len();
            wire[i] = b;
            let mut d = Decoder::new();
            d.push(&wire);
            while let Ok(Some(_)) = d.next_msg() {}
        }
    }
}
