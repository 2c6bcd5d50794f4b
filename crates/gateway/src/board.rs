//! The arrival board page (Ankunftstafel): plain HTML, no scripts, reloads
//! itself every 30 s. Every value is escaped; no patient name exists here.
//! Times are local (Europe/Berlin), as the emergency room reads its clock.
//! Pre-notices sent en route show "unterwegs"; an entry younger than two
//! minutes is highlighted (a blinking border), so a new arrival is seen.

use super::intake::BoardEntry;

/// How long an entry counts as new.
pub const NEW_MS: i64 = 120_000;

fn esc(s: &str) -> String {
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

/// En-route notices first (by ETA), then received protocols (newest first).
pub fn render(title: &str, entries: &[BoardEntry], now_ms: i64) -> String {
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
<meta http-equiv=\"refresh\" content=\"30\"><title>{t}</title>\
<style>body{{font-family:sans-serif;margin:1em}}table{{border-collapse:collapse;width:100%}}\
td,th{{border:1px solid #999;padding:.4em;text-align:left}}th{{background:#eee}}\
tr.new td{{background:#fff3b0;font-weight:bold}}tr.new{{outline:4px solid #d00;animation:blink 1s step-start 0s 20}}\
@keyframes blink{{50%{{outline-color:transparent}}}}</style></head>\
<body><h1>{t}</h1><p>Voranmeldungen, bis 3 Stunden nach Ankunft. Stand: {now} (Ortszeit)</p>\
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
