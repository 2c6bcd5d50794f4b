//! The permanent pad <-> gateway channel, sans-IO.
//!
//! Server -> pad messages travel as server-sent events over one long
//! `GET /v1/channel` (HTTP/1.1, mTLS): the gateway's axum is http1-only and
//! the traffic is one-way; the pad answers with ordinary POSTs (acks).
//!
//! - [`Envelope`]: one message, validated on the way in.
//! - [`sse`]: the event-stream encoder and a bounded incremental decoder.
//! - [`client`]: the reconnecting client as a state machine fed bytes,
//!   `Instant`s and random numbers, so every path is tested without sockets.
//!
//! No I/O, no clock reads, no randomness: the adapters (reqwest on the pad,
//! axum on the gateway) supply all three.

pub mod client;
pub mod sse;

/// The envelope schema this build speaks. A higher `v` is refused, never
/// guessed at: the pad must be updated first.
pub const SCHEMA_VERSION: u32 = 1;

/// Largest SSE event (all data lines of one event together) a decoder
/// accepts. Dispatch messages are a few KiB; a provisioning package with
/// 500 staff and 200 hospitals is about 250 KiB as an event, so 4 MiB
/// leaves room for large organisations without letting a broken server
/// fill the pad's memory. Larger packages go by USB stick.
pub const MAX_EVENT_BYTES: usize = 4 * 1024 * 1024;

/// One server -> pad message. `seq` is per pad, gapless and strictly rising
/// as the gateway assigns it; `id` is a UUIDv7 made by the gateway (unique
/// across gateway nodes); the pad acknowledges by seq (cumulative).
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Envelope {
    pub v: u32,
    pub id: uuid::Uuid,
    pub seq: u64,
    pub kind: Kind,
    pub created_ms: i64,
    pub body: serde_json::Value,
}

/// What an envelope carries. An unknown kind from a newer gateway still
/// parses, so the pad can acknowledge it and the stream moves on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    Dispatch,
    Command,
    Provisioning,
    #[serde(other)]
    Unknown,
}

impl Kind {
    /// The wire name, also used as the SSE `event:` type.
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Dispatch => "dispatch",
            Kind::Command => "command",
            Kind::Provisioning => "provisioning",
            Kind::Unknown => "unknown",
        }
    }
}

/// Why an event's data is not an envelope this pad accepts. `Display` is
/// the log line: sizes, positions and numbers only, never message content.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EnvelopeError {
    #[error("envelope of {len} bytes exceeds the {max}-byte limit")]
    TooLarge { len: usize, max: usize },
    #[error("envelope is not valid JSON ({category}) at line {line}, column {column}")]
    Json {
        category: JsonErrorKind,
        line: usize,
        column: usize,
    },
    #[error("envelope schema version {got} is not supported (this pad speaks {supported})")]
    Version { got: u32, supported: u32 },
    #[error("envelope seq 0 is invalid: seqs start at 1")]
    ZeroSeq,
    #[error("SSE id {} does not match envelope seq {seq}", sse_id_text(.sse_id))]
    IdMismatch {
        /// The SSE id as a number; `None` when it is not a decimal u64.
        sse_id: Option<u64>,
        seq: u64,
    },
}

fn sse_id_text(id: &Option<u64>) -> String {
    id.map_or_else(|| "(not a number)".to_string(), |n| n.to_string())
}

/// serde_json's error class, kept instead of its message: the message can
/// quote field values, and logs carry no message content.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JsonErrorKind {
    /// Not JSON at all.
    Syntax,
    /// JSON, but not the envelope's shape (missing field, wrong type).
    Data,
    /// Cut off.
    Eof,
}

impl std::fmt::Display for JsonErrorKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            JsonErrorKind::Syntax => "syntax",
            JsonErrorKind::Data => "wrong shape",
            JsonErrorKind::Eof => "truncated",
        })
    }
}

impl From<serde_json::Error> for EnvelopeError {
    fn from(e: serde_json::Error) -> EnvelopeError {
        let category = match e.classify() {
            serde_json::error::Category::Syntax => JsonErrorKind::Syntax,
            serde_json::error::Category::Eof => JsonErrorKind::Eof,
            // Io cannot happen reading from a str; count it as shape.
            serde_json::error::Category::Data | serde_json::error::Category::Io => {
                JsonErrorKind::Data
            }
        };
        EnvelopeError::Json {
            category,
            line: e.line(),
            column: e.column(),
        }
    }
}

/// Only `v`, read first: a newer schema may change every other field, and
/// "update the pad" is a better error than "wrong type in seq".
#[derive(serde::Deserialize)]
struct VersionProbe {
    v: u32,
}

impl Envelope {
    /// Parses and validates one envelope from an SSE event's data: size
    /// cap, JSON, `v == SCHEMA_VERSION`, `seq >= 1`, and the SSE `id:`
    /// field (if any) must equal `seq` in decimal. Unknown JSON fields are
    /// ignored (additions within a version); the `event:` type is not
    /// checked, `kind` is what counts.
    pub fn from_sse(ev: &sse::SseEvent) -> Result<Envelope, EnvelopeError> {
        if ev.data.len() > MAX_EVENT_BYTES {
            return Err(EnvelopeError::TooLarge {
                len: ev.data.len(),
                max: MAX_EVENT_BYTES,
            });
        }
        let probe: VersionProbe = serde_json::from_str(&ev.data)?;
        if probe.v != SCHEMA_VERSION {
            return Err(EnvelopeError::Version {
                got: probe.v,
                supported: SCHEMA_VERSION,
            });
        }
        let env: Envelope = serde_json::from_str(&ev.data)?;
        if env.seq == 0 {
            return Err(EnvelopeError::ZeroSeq);
        }
        if let Some(id) = &ev.id
            && *id != env.seq.to_string()
        {
            return Err(EnvelopeError::IdMismatch {
                sse_id: id.parse().ok(),
                seq: env.seq,
            });
        }
        Ok(env)
    }

    /// Compact JSON: one line, so one SSE `data:` line.
    pub fn to_json(&self) -> String {
        // Cannot fail: the struct has string keys only, and a
        // serde_json::Value holds no non-finite numbers.
        serde_json::to_string(self).expect("an Envelope always serialises")
    }
}

/// Reads a `Last-Event-ID` header value (the gateway's side of
/// [`client::Channel::resume_from`]): a decimal seq, surrounding blanks
/// allowed. `None` for anything else, which the gateway treats as 0.
pub fn parse_last_event_id(value: &str) -> Option<u64> {
    let v = value.trim();
    if v.is_empty() || !v.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    v.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn last_event_id_parses_only_decimals() {
        assert_eq!(parse_last_event_id(" 42 "), Some(42));
        assert_eq!(parse_last_event_id("0"), Some(0));
        assert_eq!(parse_last_event_id("+1"), None);
        assert_eq!(parse_last_event_id(""), None);
        assert_eq!(parse_last_event_id("99999999999999999999999"), None);
    }

    #[test]
    fn error_lines_carry_no_content() {
        let ev = sse::SseEvent {
            data: r#"{"v":1,"id":"Mustermann"}"#.into(),
            ..Default::default()
        };
        let e = Envelope::from_sse(&ev).unwrap_err();
        assert!(!e.to_string().contains("Mustermann"), "{e}");
        let e = EnvelopeError::IdMismatch {
            sse_id: None,
            seq: 3,
        };
        assert_eq!(
            e.to_string(),
            "SSE id (not a number) does not match envelope seq 3"
        );
    }
}
