//! The pad's end of the permanent channel over mTLS: opens the
//! server-sent event stream and posts acknowledgements. Only the HTTP; the
//! reconnecting logic is `rettpad_channel::client`, driven by the pad core.

use super::{CALL_SIGN_HEADER, SERIAL_HEADER, call_sign_header};
use std::time::Duration;

/// Why the stream could not be opened or an ack not posted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LinkError {
    /// Refused by the gateway (unknown pad, call sign not registered, …).
    #[error("gateway refused with {status}: {code}")]
    Refused { status: u16, code: String },
    #[error("no connection: {0}")]
    Transport(String),
}

pub use crate::pad_status::PadStatus;

/// One HTTPS client for the channel.
pub struct ChannelLink {
    http: reqwest::blocking::Client,
    stream_url: String,
    ack_url: String,
    prenotice_url: String,
    status_url: String,
    serial: String,
    call_sign: String,
}

impl ChannelLink {
    /// `read_timeout` bounds each read of the stream: the keep-alive's
    /// dead time, so a silent link ends the read instead of hanging.
    pub fn new(
        gateway_url: &str,
        tls: rustls::ClientConfig,
        serial: &str,
        call_sign: &str,
        read_timeout: Duration,
    ) -> Result<ChannelLink, String> {
        let http = reqwest::blocking::Client::builder()
            .tls_backend_preconfigured(tls)
            .https_only(true)
            .connect_timeout(Duration::from_secs(10))
            .timeout(read_timeout)
            .build()
            .map_err(|e| format!("HTTPS client: {e}"))?;
        let base = gateway_url.trim_end_matches('/');
        Ok(ChannelLink {
            http,
            stream_url: format!("{base}/v1/channel"),
            ack_url: format!("{base}/v1/channel/ack"),
            prenotice_url: format!("{base}/v1/prenotice"),
            status_url: format!("{base}/v1/pad/status"),
            serial: serial.into(),
            call_sign: call_sign.into(),
        })
    }

    fn refused(r: reqwest::blocking::Response) -> LinkError {
        let status = r.status().as_u16();
        let code = r
            .bytes()
            .ok()
            .and_then(|b| serde_json::from_slice::<serde_json::Value>(&b).ok())
            .and_then(|v| v.get("error").and_then(|e| e.as_str()).map(str::to_string))
            .unwrap_or_default();
        LinkError::Refused { status, code }
    }

    /// Opens the stream after `after` (the highest seq applied). The
    /// response is read as the event stream; it ends when the link does.
    pub fn open(&self, after: u64) -> Result<reqwest::blocking::Response, LinkError> {
        let r = self
            .http
            .get(&self.stream_url)
            .header(SERIAL_HEADER, &self.serial)
            .header(CALL_SIGN_HEADER, call_sign_header(&self.call_sign))
            .header("last-event-id", after.to_string())
            .header("accept", "text/event-stream")
            .send()
            .map_err(|e| LinkError::Transport(e.to_string()))?;
        if r.status().as_u16() == 200 {
            Ok(r)
        } else {
            Err(Self::refused(r))
        }
    }

    /// Sends (or replaces) the en-route pre-notice of `mission` to
    /// `hospital`'s arrival board, with the 12-lead ECG sealed for the
    /// hospital (`ecg::seal_ecg`) where there is one.
    pub fn prenotice(
        &self,
        mission: uuid::Uuid,
        hospital: &str,
        notice: &super::PreNotice,
        ecg: Option<&[u8]>,
    ) -> Result<(), LinkError> {
        let body = serde_json::json!({ "mission_id": mission, "hospital": hospital,
            "notice": notice, "ecg": ecg.map(hex::encode) });
        self.post(&self.prenotice_url, body.to_string())
    }

    /// The pad's state for the gateway's fleet view (no patient data).
    pub fn status(&self, status: &PadStatus) -> Result<(), LinkError> {
        let body =
            serde_json::to_string(status).map_err(|e| LinkError::Transport(e.to_string()))?;
        self.post(&self.status_url, body)
    }

    /// Everything up to `seq` is applied on the pad.
    pub fn ack(&self, seq: u64) -> Result<(), LinkError> {
        self.post(&self.ack_url, format!("{{\"seq\":{seq}}}"))
    }

    /// One authenticated JSON POST; anything but 2xx is a refusal.
    fn post(&self, url: &str, body: String) -> Result<(), LinkError> {
        let r = self
            .http
            .post(url)
            .header(SERIAL_HEADER, &self.serial)
            .header(CALL_SIGN_HEADER, call_sign_header(&self.call_sign))
            .header("content-type", "application/json")
            .body(body)
            .send()
            .map_err(|e| LinkError::Transport(e.to_string()))?;
        if r.status().is_success() {
            Ok(())
        } else {
            Err(Self::refused(r))
        }
    }
}
