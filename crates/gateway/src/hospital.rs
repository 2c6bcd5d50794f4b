//! The hospital client: lists its mailbox (bearer token), downloads each
//! envelope and decrypts it locally with the hospital's private HPKE key.
//! The gateway never holds that key.

use super::private::{self, Existing};
use rettpad_transfer::HpkeSecretKey;
use rettpad_transfer::packet::{self, Letter};
use std::path::{Path, PathBuf};
use std::time::Duration;
use uuid::Uuid;

#[derive(Debug, Default)]
pub struct FetchReport {
    /// `(packet id, PDF path)` of letters written in this run.
    pub written: Vec<(Uuid, PathBuf)>,
    /// Letters already on disk from an earlier run.
    pub skipped: usize,
    /// `(packet id, reason)`.
    pub failed: Vec<(Uuid, String)>,
}

#[derive(serde::Deserialize)]
struct Item {
    packet_id: Uuid,
}

/// Downloads and decrypts every envelope in the mailbox into `out_dir`
/// (`<packet>.pdf`, `<packet>-uebergabe.txt`).
pub fn fetch(
    base_url: &str,
    hospital: &str,
    token: &str,
    key: &HpkeSecretKey,
    out_dir: &Path,
) -> Result<FetchReport, String> {
    // Decrypted letters are patient data: 0600 files in a 0700 directory.
    private::dir(out_dir, Existing::Refuse)?;
    let client = reqwest::blocking::Client::builder()
        .timeout(Duration::from_secs(30))
        .build()
        .map_err(|e| e.to_string())?;
    let base = base_url.trim_end_matches('/');
    let list = client
        .get(format!("{base}/v1/mailbox/{hospital}"))
        .bearer_auth(token)
        .send()
        .map_err(|e| format!("mailbox: {e}"))?;
    if !list.status().is_success() {
        return Err(format!("mailbox: HTTP {}", list.status()));
    }
    let items: Vec<Item> = list.json_body()?;
    let mut rep = FetchReport::default();
    for it in items {
        let pdf_path = out_dir.join(format!("{}.pdf", it.packet_id));
        if pdf_path.exists() {
            rep.skipped += 1;
            continue;
        }
        let res = client
            .get(format!("{base}/v1/mailbox/{hospital}/{}", it.packet_id))
            .bearer_auth(token)
            .send()
            .map_err(|e| e.to_string())
            .and_then(|r| {
                if r.status().is_success() {
                    r.bytes().map_err(|e| e.to_string())
                } else {
                    Err(format!("HTTP {}", r.status()))
                }
            })
            .and_then(|b| open_letter(&b, it.packet_id, key));
        match res {
            Ok(letter) => {
                write_atomic(
                    &out_dir.join(format!("{}-uebergabe.txt", it.packet_id)),
                    letter.handover_summary.as_bytes(),
                )?;
                write_atomic(&pdf_path, &letter.pdf)?;
                rep.written.push((it.packet_id, pdf_path));
            }
            Err(e) => rep.failed.push((it.packet_id, e)),
        }
    }
    Ok(rep)
}

fn open_letter(b: &[u8], id: Uuid, key: &HpkeSecretKey) -> Result<Letter, String> {
    let env = packet::parse_envelope(b).map_err(|e| e.to_string())?;
    if env.packet_id != id {
        return Err("envelope is for another packet".into());
    }
    env.open(key).map_err(|e| e.to_string())
}

fn write_atomic(path: &Path, data: &[u8]) -> Result<(), String> {
    private::write(path, data)
}

trait JsonBody {
    fn json_body<T: serde::de::DeserializeOwned>(self) -> Result<T, String>;
}

impl JsonBody for reqwest::blocking::Response {
    fn json_body<T: serde::de::DeserializeOwned>(self) -> Result<T, String> {
        let b = self.bytes().map_err(|e| e.to_string())?;
        serde_json::from_slice(&b).map_err(|e| format!("mailbox answer: {e}"))
    }
}
