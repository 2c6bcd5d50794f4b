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
    /// `(mission id, SVG path)` of 12-lead ECGs sent en route.
    pub ecgs: Vec<(Uuid, PathBuf)>,
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
        let url = format!("{base}/v1/mailbox/{hospital}/{}", it.packet_id);
        let res = download(&client, &url, token).and_then(|b| open_letter(&b, it.packet_id, key));
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
    fetch_ecgs(&client, base, hospital, token, key, out_dir, &mut rep)?;
    Ok(rep)
}

#[derive(serde::Deserialize)]
struct EcgItem {
    mission_id: Uuid,
}

/// The 12-lead ECGs sent en route (before the patient arrives): each is
/// opened with the hospital's key and drawn as `ekg-<mission>.svg`; a newer
/// ECG of the same mission replaces the file.
fn fetch_ecgs(
    client: &reqwest::blocking::Client,
    base: &str,
    hospital: &str,
    token: &str,
    key: &HpkeSecretKey,
    out_dir: &Path,
    rep: &mut FetchReport,
) -> Result<(), String> {
    let list = client
        .get(format!("{base}/v1/ecg/{hospital}"))
        .bearer_auth(token)
        .send()
        .map_err(|e| format!("ECG list: {e}"))?;
    if !list.status().is_success() {
        return Err(format!("ECG list: HTTP {}", list.status()));
    }
    let items: Vec<EcgItem> = list.json_body()?;
    for it in items {
        let m = it.mission_id;
        let res = download(client, &format!("{base}/v1/ecg/{hospital}/{m}"), token)
            .and_then(|b| {
                rettpad_transfer::ecg::open_ecg(key, m, hospital, &b).map_err(|e| e.to_string())
            })
            .and_then(|pt| {
                rettpad_record::Strip::decode(&pt).map_err(|e| format!("ECG strip: {e}"))
            });
        match res {
            Ok(strip) => {
                let path = out_dir.join(format!("ekg-{m}.svg"));
                write_atomic(&path, svg(&strip).as_bytes())?;
                rep.ecgs.push((m, path));
            }
            Err(e) => rep.failed.push((m, e)),
        }
    }
    Ok(())
}

/// The strip on ECG paper: 25 mm/s, 10 mm/mV, 4 px per mm, one row of
/// 30 mm per lead, a 5 mm grid; at most 250 points per second are drawn.
pub fn svg(s: &rettpad_record::Strip) -> String {
    const PX: f32 = 4.0;
    let rate = s.sample_rate_hz.max(1) as f32;
    let n = s.samples_per_lead();
    let secs = n as f32 / rate;
    let (w, row) = (secs * 25.0 * PX, 30.0 * PX);
    let h = row * s.leads.len() as f32 + 12.0 * PX;
    let step = ((rate / 250.0).ceil() as usize).max(1);
    let mut o = format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{w:.0}\" height=\"{h:.0}\" viewBox=\"0 0 {w:.0} {h:.0}\">\n\
         <rect width=\"100%\" height=\"100%\" fill=\"#fff\"/>\n"
    );
    let mut x = 0.0;
    while x <= w {
        o.push_str(&format!(
            "<line x1=\"{x:.1}\" y1=\"0\" x2=\"{x:.1}\" y2=\"{h:.0}\" stroke=\"#f4b6b6\" stroke-width=\"{}\"/>\n",
            if (x / (5.0 * PX)).round() as i64 % 5 == 0 { 1.0 } else { 0.4 }
        ));
        x += 5.0 * PX;
    }
    let mut y = 0.0;
    while y <= h {
        o.push_str(&format!(
            "<line x1=\"0\" y1=\"{y:.1}\" x2=\"{w:.0}\" y2=\"{y:.1}\" stroke=\"#f4b6b6\" stroke-width=\"0.4\"/>\n"
        ));
        y += 5.0 * PX;
    }
    let esc = |t: &str| {
        t.replace('&', "&amp;")
            .replace('<', "&lt;")
            .replace('>', "&gt;")
    };
    o.push_str(&format!(
        "<text x=\"8\" y=\"{:.0}\" font-family=\"sans-serif\" font-size=\"20\">{} · {} · 25 mm/s · 10 mm/mV</text>\n",
        8.0 * PX,
        esc(&s.label),
        esc(&s.device)
    ));
    for (li, lead) in s.leads.iter().enumerate() {
        let base = 12.0 * PX + row * li as f32 + row / 2.0;
        let pts: Vec<String> = (0..n)
            .step_by(step)
            .filter_map(|i| {
                let mv = s.millivolts(li, i)?;
                let px = i as f32 / rate * 25.0 * PX;
                let py = base - mv.clamp(-3.0, 3.0) * 10.0 * PX;
                Some(format!("{px:.1},{py:.1}"))
            })
            .collect();
        o.push_str(&format!(
            "<text x=\"8\" y=\"{:.0}\" font-family=\"sans-serif\" font-size=\"18\">{}</text>\n\
             <polyline fill=\"none\" stroke=\"#000\" stroke-width=\"1.2\" points=\"{}\"/>\n",
            base - row / 2.0 + 18.0,
            esc(&lead.name),
            pts.join(" ")
        ));
    }
    o.push_str("</svg>\n");
    o
}

/// One authenticated GET of a body.
fn download(client: &reqwest::blocking::Client, url: &str, token: &str) -> Result<Vec<u8>, String> {
    let r = client
        .get(url)
        .bearer_auth(token)
        .send()
        .map_err(|e| e.to_string())?;
    if !r.status().is_success() {
        return Err(format!("HTTP {}", r.status()));
    }
    r.bytes().map(|b| b.to_vec()).map_err(|e| e.to_string())
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
