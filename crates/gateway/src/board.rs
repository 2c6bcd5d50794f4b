//! The arrival board page (Ankunftstafel): plain HTML, no scripts, reloads
//! itself every 30 s. Every value is escaped.

use super::intake::BoardEntry;

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

/// `HH:MM` UTC of a wall time in ms (the board shows times as received).
fn hhmm(ms: i64) -> String {
    let mins = ms.div_euclid(60_000);
    let (h, m) = (mins.div_euclid(60).rem_euclid(24), mins.rem_euclid(60));
    format!("{h:02}:{m:02} UTC")
}

pub fn render(title: &str, entries: &[BoardEntry], now_ms: i64) -> String {
    let mut rows = String::new();
    for e in entries {
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
        rows.push_str(&format!(
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>\n",
            esc(&eta),
            esc(&n.priority),
            esc(&format!(
                "{age} / {}",
                if n.sex.is_empty() { "–" } else { &n.sex }
            )),
            esc(&n.suspected_diagnosis),
            esc(&e.call_sign),
            esc(&e.hospital),
        ));
    }
    if entries.is_empty() {
        rows.push_str("<tr><td colspan=\"6\">Keine Voranmeldungen.</td></tr>\n");
    }
    format!(
        "<!DOCTYPE html>\n<html lang=\"de\"><head><meta charset=\"utf-8\">\
<meta http-equiv=\"refresh\" content=\"30\"><title>{t}</title>\
<style>body{{font-family:sans-serif;margin:1em}}table{{border-collapse:collapse;width:100%}}\
td,th{{border:1px solid #999;padding:.4em;text-align:left}}th{{background:#eee}}</style></head>\
<body><h1>{t}</h1><p>Voranmeldungen der letzten 3 Stunden. Stand: {now}</p>\
<table><tr><th>Ankunft</th><th>Priorität</th><th>Alter / Geschlecht</th><th>Verdachtsdiagnose</th><th>Rettungsmittel</th><th>Klinik</th></tr>\n{rows}</table></body></html>\n",
        t = esc(title),
        now = hhmm(now_ms),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use rettpad_transfer::PreNotice;

    #[test]
    fn escapes_and_shows_fields() {
        let e = BoardEntry {
            packet_id: uuid::Uuid::nil(),
            hospital: "h1".into(),
            call_sign: "RTW <1>".into(),
            created_ms: 0,
            expires_ms: 1,
            notice: PreNotice {
                age_years: Some(76),
                sex: "m".into(),
                suspected_diagnosis: "STEMI <script>".into(),
                priority: "Herzkatheter".into(),
                eta_ms: Some(600_000),
            },
        };
        let h = render("Ankunftstafel", &[e], 0);
        assert!(h.contains("76 J. / m"));
        assert!(h.contains("STEMI &lt;script&gt;"));
        assert!(!h.contains("<script>"));
        assert!(h.contains("00:10 UTC (in 10 min)"));
        assert!(render("x", &[], 0).contains("Keine Voranmeldungen"));
    }
}
