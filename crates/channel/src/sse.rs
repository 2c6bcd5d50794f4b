//! Server-sent events: the encoder the gateway writes with and the bounded,
//! incremental decoder the pad reads with.
//!
//! The decoder follows the WHATWG HTML Living Standard, "Server-sent
//! events", §9.2.5 "Parsing an event stream" and §9.2.6 "Interpreting an
//! event stream", with two deliberate differences, both for the pad's sake:
//!
//! - Bounded: the bytes held for one event may not exceed
//!   [`MAX_EVENT_BYTES`]. A hostile or broken server cannot grow the pad's
//!   memory; the event is reported as [`SseError::TooLarge`] and skipped up
//!   to the next blank line, so the stream survives it.
//! - Strict UTF-8: the standard decodes with replacement characters; a
//!   field line that is not UTF-8 is [`SseError::Utf8`] instead (same
//!   recovery), so a mangled envelope is never half-trusted. Comment lines
//!   are skipped undecoded.
//!
//! [`SseEvent::id`] is the `id:` field of this event only (the standard's
//! "last event ID" persists across events; the client tracks seqs itself).

use crate::{Envelope, MAX_EVENT_BYTES};

/// What a decoded event holds (only the fields we use).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SseEvent {
    /// The event's `id:` field, if it had one (the last one wins).
    pub id: Option<String>,
    /// The event type; `None` when unset or empty (the standard's "message").
    pub event: Option<String>,
    /// The data lines joined with `\n`.
    pub data: String,
}

/// A per-event decoding failure; the decoder carries on after it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum SseError {
    #[error("SSE event larger than {max} bytes; skipped to the next blank line")]
    TooLarge { max: usize },
    #[error("SSE event line is not valid UTF-8; skipped to the next blank line")]
    Utf8,
}

/// Writes one event: `id: <seq>\nevent: <kind>\ndata: <json>\n\n`.
pub fn encode(env: &Envelope) -> Vec<u8> {
    let json = env.to_json();
    let kind = env.kind.as_str();
    let mut out = Vec::with_capacity(json.len() + kind.len() + 48);
    out.extend_from_slice(b"id: ");
    out.extend_from_slice(env.seq.to_string().as_bytes());
    out.extend_from_slice(b"\nevent: ");
    out.extend_from_slice(kind.as_bytes());
    out.push(b'\n');
    encode_data(&mut out, &json);
    out.push(b'\n');
    out
}

/// Appends `data` as `data:` lines. Compact JSON has no line breaks, but any
/// text is split at every line end so the decoder rejoins it exactly
/// (`\r\n` and lone `\r` become `\n`, as the standard reads them).
pub fn encode_data(out: &mut Vec<u8>, data: &str) {
    let bytes = data.as_bytes();
    let mut start = 0;
    let mut i = 0;
    while i <= bytes.len() {
        let end_here = i == bytes.len() || bytes[i] == b'\n' || bytes[i] == b'\r';
        if end_here {
            out.extend_from_slice(b"data: ");
            out.extend_from_slice(&bytes[start..i]);
            out.push(b'\n');
            if i + 1 < bytes.len() && bytes[i] == b'\r' && bytes[i + 1] == b'\n' {
                i += 1;
            }
            start = i + 1;
        }
        i += 1;
    }
}

/// A comment line for keep-alive: `: ka\n\n`. The blank line dispatches
/// nothing but ends any half-skipped event, and every byte resets the
/// pad's dead-link timer.
pub fn keepalive() -> &'static [u8] {
    b": ka\n\n"
}

/// Incremental, bounded SSE decoder. Feed it reads as they come; it keeps
/// at most [`MAX_EVENT_BYTES`] of an unfinished event (see
/// [`Decoder::buffered`]).
#[derive(Debug, Default)]
pub struct Decoder {
    /// The line being read, without its end.
    line: Vec<u8>,
    /// Data values, each followed by `\n` (the standard's data buffer).
    data: String,
    event: String,
    id: Option<String>,
    /// The previous push ended in `\r`: a `\n` first in the next is the
    /// same line end.
    after_cr: bool,
    /// No line finished yet: a BOM there is dropped.
    first_line: bool,
    /// Discarding up to the next blank line after an error.
    skipping: bool,
    /// In skip mode: the current line has bytes (so its end is not blank).
    skip_line_has_bytes: bool,
}

impl Decoder {
    pub fn new() -> Decoder {
        Decoder {
            first_line: true,
            ..Decoder::default()
        }
    }

    /// Feeds bytes; returns complete events and per-event errors in
    /// arrival order.
    pub fn push(&mut self, bytes: &[u8]) -> Vec<Result<SseEvent, SseError>> {
        let mut out = Vec::new();
        let mut rest = bytes;
        while !rest.is_empty() {
            if self.after_cr {
                self.after_cr = false;
                if rest[0] == b'\n' {
                    rest = &rest[1..];
                    continue;
                }
            }
            match rest.iter().position(|&b| b == b'\n' || b == b'\r') {
                Some(p) => {
                    self.extend_line(&rest[..p], &mut out);
                    self.after_cr = rest[p] == b'\r';
                    self.end_line(&mut out);
                    rest = &rest[p + 1..];
                }
                None => {
                    self.extend_line(rest, &mut out);
                    rest = &[];
                }
            }
        }
        out
    }

    /// Bytes held for an unfinished line and event: never more than
    /// [`MAX_EVENT_BYTES`].
    pub fn buffered(&self) -> usize {
        self.line.len() + self.held_fields()
    }

    fn held_fields(&self) -> usize {
        self.data.len() + self.event.len() + self.id.as_ref().map_or(0, String::len)
    }

    fn extend_line(&mut self, chunk: &[u8], out: &mut Vec<Result<SseEvent, SseError>>) {
        if self.skipping {
            self.skip_line_has_bytes |= !chunk.is_empty();
            return;
        }
        // The line and the event's fields together: a line finishing into
        // a field never grows what is held, so this one check bounds both.
        let held = self.line.len() + chunk.len() + self.held_fields();
        if held > MAX_EVENT_BYTES {
            out.push(Err(SseError::TooLarge {
                max: MAX_EVENT_BYTES,
            }));
            self.start_skip(true);
            return;
        }
        self.line.extend_from_slice(chunk);
    }

    fn end_line(&mut self, out: &mut Vec<Result<SseEvent, SseError>>) {
        if self.skipping {
            if !self.skip_line_has_bytes {
                self.skipping = false;
            }
            self.skip_line_has_bytes = false;
            self.first_line = false;
            return;
        }
        let mut line = std::mem::take(&mut self.line);
        if self.first_line {
            self.first_line = false;
            if line.starts_with(b"\xEF\xBB\xBF") {
                line.drain(..3);
            }
        }
        self.process(&line, out);
        // Keep the allocation for the next line unless it was a big one.
        line.clear();
        if line.capacity() <= 4096 {
            self.line = line;
        }
    }

    fn process(&mut self, line: &[u8], out: &mut Vec<Result<SseEvent, SseError>>) {
        if line.is_empty() {
            self.dispatch(out);
            return;
        }
        if line[0] == b':' {
            return;
        }
        let Ok(line) = std::str::from_utf8(line) else {
            out.push(Err(SseError::Utf8));
            self.start_skip(false);
            return;
        };
        let (field, value) = match line.split_once(':') {
            Some((f, v)) => (f, v.strip_prefix(' ').unwrap_or(v)),
            None => (line, ""),
        };
        match field {
            "data" => {
                self.data.push_str(value);
                self.data.push('\n');
            }
            "event" => {
                self.event.clear();
                self.event.push_str(value);
            }
            // An id with NUL is ignored, as the standard says.
            "id" if !value.contains('\0') => self.id = Some(value.to_string()),
            // `retry:` and unknown fields are ignored: the client has its
            // own backoff.
            _ => {}
        }
    }

    fn dispatch(&mut self, out: &mut Vec<Result<SseEvent, SseError>>) {
        let id = self.id.take();
        let event = std::mem::take(&mut self.event);
        if self.data.is_empty() {
            return;
        }
        let mut data = std::mem::take(&mut self.data);
        data.pop(); // the last data line's `\n`
        out.push(Ok(SseEvent {
            id,
            event: (!event.is_empty()).then_some(event),
            data,
        }));
    }

    /// Drops the event in progress and discards up to the next blank line.
    fn start_skip(&mut self, mid_line: bool) {
        self.line = Vec::new();
        self.data = String::new();
        self.event = String::new();
        self.id = None;
        self.skipping = true;
        self.skip_line_has_bytes = mid_line;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn all(d: &mut Decoder, b: &[u8]) -> Vec<Result<SseEvent, SseError>> {
        d.push(b)
    }

    fn data(s: &str) -> Result<SseEvent, SseError> {
        Ok(SseEvent {
            data: s.into(),
            ..SseEvent::default()
        })
    }

    #[test]
    fn encode_data_splits_every_line_end() {
        let mut out = Vec::new();
        encode_data(&mut out, "a\nb\r\nc\rd");
        assert_eq!(out, b"data: a\ndata: b\ndata: c\ndata: d\n");
        let mut out = Vec::new();
        encode_data(&mut out, "");
        assert_eq!(out, b"data: \n");
        let mut out = Vec::new();
        encode_data(&mut out, "x\n");
        assert_eq!(out, b"data: x\ndata: \n");
        let mut d = Decoder::new();
        out.push(b'\n');
        assert_eq!(all(&mut d, &out), vec![data("x\n")]);
    }

    #[test]
    fn bom_only_at_the_start() {
        let mut d = Decoder::new();
        let r = all(&mut d, b"\xEF\xBB\xBFdata: a\n\n\xEF\xBB\xBFdata: b\n\n");
        // The second BOM makes an unknown field name: ignored, no event.
        assert_eq!(r, vec![data("a")]);
    }

    #[test]
    fn skip_ends_at_a_blank_line_split_over_pushes() {
        let mut d = Decoder::new();
        assert_eq!(d.push(b"data: \xFF\r"), vec![Err(SseError::Utf8)]);
        assert!(d.push(b"\n").is_empty());
        assert!(d.push(b"data: lost\r").is_empty());
        assert!(d.push(b"\r").is_empty());
        assert_eq!(d.push(b"data: ok\n\n"), vec![data("ok")]);
    }

    #[test]
    fn id_with_nul_is_ignored() {
        let mut d = Decoder::new();
        let r = all(&mut d, b"id: 1\nid: 2\0\ndata: x\n\n");
        assert_eq!(r[0].as_ref().map(|e| e.id.clone()), Ok(Some("1".into())));
    }
}
