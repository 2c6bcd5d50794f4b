//! The arrival board page (Ankunftstafel): plain HTML, no scripts, reloads
//! itself every 30 s. Every value is escaped; no patient name exists here.
//! Times are local (Europe/Berlin), as the emergency room reads its clock.
//! Pre-notices sent en route show "unterwegs"; an entry younger than two
//! minutes is highlighted (a blinking border), so a new arrival is seen.
//! With `?ton=1` in its address the page also sounds a gong once per new
//! entry: the reload address carries the newest entry it has shown
//! (`seen`), and only an entry newer than that brings the `<audio>` tag.
//! Still no script; the kiosk browser must allow autoplay.

use super::intake::BoardEntry;

/// How long an entry counts as new.
pub const NEW_MS: i64 = 120_000;

pub(crate) fn esc(s: &str) -> String {
    let mut o = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => o.push_str("&amp;"),
            '<' => o.push_str("&lt;"),
            '>' => o.push_str("&gt;"),
            '"' => o.push_str("&quot;"),
            '\'' => o.push_str("&#39;"),
            c => o.push(c),
        }
    }
    o
}

/// Europe/Berlin's offset from UTC at `ms` (the record's EU rule).
pub use rettpad_record::value::berlin_offset_ms;

/// `HH:MM` in Europe/Berlin.
pub fn hhmm(ms: i64) -> String {
    let mins = (ms + berlin_offset_ms(ms)).div_euclid(60_000);
    let (h, m) = (mins.div_euclid(60).rem_euclid(24), mins.rem_euclid(60));
    format!("{h:02}:{m:02}")
}

/// The optional gong: on, and the newest entry the screen already showed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Chime {
    pub on: bool,
    pub seen_ms: Option<i64>,
}

/// The gong (WAV, 8 kHz, 8-bit mono): two falling tones, like a door chime.
pub fn gong_wav() -> Vec<u8> {
    const RATE: u32 = 8000;
    let mut pcm = Vec::new();
    for (freq, ms) in [(880.0f64, 350u32), (660.0, 600)] {
        let n = RATE * ms / 1000;
        for i in 0..n {
            let t = f64::from(i) / f64::from(RATE);
            let fade = 1.0 - f64::from(i) / f64::from(n);
            let v = (t * freq * std::f64::consts::TAU).sin() * fade * 100.0;
            pcm.push((128.0 + v).round().clamp(0.0, 255.0) as u8);
        }
    }
    let len = pcm.len() as u32;
    let mut w = Vec::with_capacity(44 + pcm.len());
    w.extend_from_slice(b"RIFF");
    w.extend_from_slice(&(36 + len).to_le_bytes());
    w.extend_from_slice(b"WAVEfmt ");
    w.extend_from_slice(&16u32.to_le_bytes());
    w.extend_from_slice(&1u16.to_le_bytes()); // PCM
    w.extend_from_slice(&1u16.to_le_bytes()); // mono
    w.extend_from_slice(&RATE.to_le_bytes());
    w.extend_from_slice(&RATE.to_le_bytes()); // bytes per second
    w.extend_from_slice(&1u16.to_le_bytes()); // block align
    w.extend_from_slice(&8u16.to_le_bytes()); // bits per sample
    w.extend_from_slice(b"data");
    w.extend_from_slice(&len.to_le_bytes());
    w.extend_from_slice(&pcm);
    w
}

/// En-route notices first (by ETA), then received protocols (newest first).
pub fn render(title: &str, entries: &[BoardEntry], now_ms: i64) -> String {
    render_with(title, entries, now_ms, Chime::default())
}

/// [`render`] with the optional gong.
pub fn render_with(title: &str, entries: &[BoardEntry], now_ms: i64, chime: Chime) -> String {
    let newest = entries.iter().map(|e| e.created_ms).max();
    // Without `seen` (the first load) only what is new counts.
    let ring = chime.on
        && entries.iter().any(|e| match chime.seen_ms {
            Some(seen) => e.created_ms > seen,
            None => now_ms - e.created_ms < NEW_MS,
        });
    let refresh = if chime.on {
        format!(
            "30;url=?ton=1&amp;seen={}",
            newest.or(chime.seen_ms).unwrap_or(now_ms)
        )
    } else {
        "30".into()
    };
    let audio = if ring {
        "<audio src=\"/board/gong.wav\" autoplay></audio>"
    } else {
        ""
    };
    let mut sorted: Vec<&BoardEntry> = entries.iter().collect();
    sorted.sort_by_key(|e| {
        (
            !e.en_route,
            e.notice.eta_ms.unwrap_or(i64::MAX),
            -e.created_ms,
        )
    });
    let mut rows = String::new();
    for e in sorted {
        let n = &e.notice;
        let age = n
            .age_years
            .map(|a| format!("{a} J."))
            .unwrap_or_else(|| "–".into());
        let eta = match n.eta_ms {
            Some(t) if t > now_ms => format!("{} (in {} min)", hhmm(t), (t - now_ms) / 60_000),
            Some(t) => hhmm(t),
            None => "–".into(),
        };
        let state = if e.en_route {
            "unterwegs"
        } else {
            "Protokoll da"
        };
        let class = if now_ms - e.created_ms < NEW_MS {
            " class=\"new\""
        } else {
            ""
        };
        let ecg = if e.ecg { "12-Kanal-EKG" } else { "–" };
        rows.push_str(&format!(
            "<tr{class}><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>\n",
            esc(&eta),
            esc(state),
            esc(ecg),
            esc(&n.priority),
            esc(n.pzc.as_deref().unwrap_or("–")),
            esc(&format!(
                "{age} / {}",
                if n.sex.is_empty() { "–" } else { &n.sex }
            )),
            esc(&n.suspected_diagnosis),
            esc(if n.vitals.is_empty() { "–" } else { &n.vitals }),
            esc(&e.call_sign),
            esc(&e.hospital),
        ));
    }
    if entries.is_empty() {
        rows.push_str("<tr><td colspan=\"10\">Keine Voranmeldungen.</td></tr>\n");
    }
    format!(
        "<!DOCTYPE html>\n<html lang=\"de\"><head><meta charset=\"utf-8\">\
<meta http-equiv=\"refresh\" content=\"{refresh}\"><title>{t}</title>\
<style>body{{font-family:sans-serif;margin:1em}}table{{border-collapse:collapse;width:100%}}\
td,th{{border:1px solid #999;padding:.4em;text-align:left}}th{{background:#eee}}\
tr.new td{{background:#fff3b0;font-weight:bold}}tr.new{{outline:4px solid #d00;animation:blink 1s step-start 0s 20}}\
@keyframes blink{{50%{{outline-color:transparent}}}}</style></head>\
<body>{audio}<h1>{t}</h1><p>Voranmeldungen, bis 3 Stunden nach Ankunft. Stand: {now} (Ortszeit)</p>\
<table><tr><th>Ankunft</th><th>Stand</th><th>EKG</th><th>Priorität</th><th>PZC</th><th>Alter / Geschlecht</th><th>Verdachtsdiagnose</th><th>Vitalwerte</th><th>Rettungsmittel</th><th>Klinik</th></tr>\n{rows}</table></body></html>\n",
        t = esc(title),
        now = hhmm(now_ms),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use rettpad_transfer::PreNotice;

    fn entry(en_route: bool, created_ms: i64, eta: Option<i64>) -> BoardEntry {
        BoardEntry {
            packet_id: uuid::Uuid::nil(),
            en_route,
            ecg: en_route,
            hospital: "h1".into(),
            call_sign: "RTW <1>".into(),
            created_ms,
            expires_ms: 1,
            notice: PreNotice {
                age_years: Some(76),
                sex: "m".into(),
                suspected_diagnosis: "STEMI <script>".into(),
                priority: "Herzkatheter".into(),
                eta_ms: eta,
                pzc: Some("332-76-1".into()),
                vitals: "HF 92 · RR 150/90".into(),
            },
        }
    }

    #[test]
    fn escapes_and_shows_fields() {
        let h = render("Ankunftstafel", &[entry(false, -NEW_MS, Some(600_000))], 0);
        assert!(h.contains("76 J. / m"));
        assert!(h.contains("STEMI &lt;script&gt;"));
        assert!(!h.contains("<script>"));
        // 1970-01-01 is winter: CET, UTC+1.
        assert!(h.contains("01:10 (in 10 min)"));
        assert!(h.contains("332-76-1") && h.contains("HF 92 · RR 150/90"));
        assert!(
            !h.contains("class=\"new\""),
            "an old entry is not highlighted"
        );
        assert!(render("x", &[], 0).contains("Keine Voranmeldungen"));
    }

    #[test]
    fn en_route_notices_come_first_and_new_ones_are_highlighted() {
        let h = render(
            "x",
            &[
                entry(false, 0, Some(10)),
                entry(true, 50_000, Some(900_000)),
            ],
            60_000,
        );
        let (a, b) = (
            h.find("unterwegs").unwrap(),
            h.find("Protokoll da").unwrap(),
        );
        assert!(a < b);
        assert_eq!(h.matches("class=\"new\"").count(), 2);
    }

    #[test]
    fn the_gong_sounds_once_per_new_entry_and_only_when_asked() {
        let e = [entry(true, 50_000, Some(900_000))];
        let on = |seen| Chime {
            on: true,
            seen_ms: seen,
        };
        assert!(
            !render("x", &e, 60_000).contains("<audio"),
            "off by default"
        );
        // First load: the new entry rings; the reload remembers it.
        let h = render_with("x", &e, 60_000, on(None));
        assert!(h.contains("<audio src=\"/board/gong.wav\" autoplay>"));
        assert!(h.contains("url=?ton=1&amp;seen=50000"), "{h}");
        // The reload that has seen it stays quiet; a newer one rings.
        assert!(!render_with("x", &e, 90_000, on(Some(50_000))).contains("<audio"));
        let two = [entry(true, 50_000, None), entry(true, 80_000, None)];
        assert!(render_with("x", &two, 90_000, on(Some(50_000))).contains("<audio"));
        // An old entry on a first load does not ring.
        let old = [entry(false, 0, None)];
        assert!(!render_with("x", &old, NEW_MS + 1, on(None)).contains("<audio"));
    }

    #[test]
    fn the_gong_is_a_valid_wav() {
        let w = gong_wav();
        assert_eq!(&w[..4], b"RIFF");
        assert_eq!(&w[8..16], b"WAVEfmt ");
        let riff = u32::from_le_bytes([w[4], w[5], w[6], w[7]]) as usize;
        assert_eq!(riff + 8, w.len());
        let data = u32::from_le_bytes([w[40], w[41], w[42], w[43]]) as usize;
        assert_eq!(data + 44, w.len());
        // 0.95 s at 8 kHz.
        assert_eq!(data, 8000 * 350 / 1000 + 8000 * 600 / 1000);
    }

    /// The EU rule against known switch instants (timeanddate.com, Berlin).
    #[test]
    fn berlin_time_switches_on_the_last_sundays_at_one_utc() {
        let utc = |y, m, d, h: i64, min: i64| {
            (rettpad_record::value::days_from_civil(y, m, d) * 86_400 + h * 3600 + min * 60) * 1000
        };
        // 2026-03-29 01:00 UTC: 02:00 CET becomes 03:00 CEST.
        assert_eq!(hhmm(utc(2026, 3, 29, 0, 59)), "01:59");
        assert_eq!(hhmm(utc(2026, 3, 29, 1, 0)), "03:00");
        // 2026-10-25 01:00 UTC: 03:00 CEST becomes 02:00 CET.
        assert_eq!(hhmm(utc(2026, 10, 25, 0, 59)), "02:59");
        assert_eq!(hhmm(utc(2026, 10, 25, 1, 0)), "02:00");
        // 2024: 31 March and 27 October.
        assert_eq!(berlin_offset_ms(utc(2024, 3, 31, 1, 0)), 7_200_000);
        assert_eq!(berlin_offset_ms(utc(2024, 10, 27, 1, 0)), 3_600_000);
        assert_eq!(hhmm(utc(2026, 12, 7, 13, 5)), "14:05");
    }
}
