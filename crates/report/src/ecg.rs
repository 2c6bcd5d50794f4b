//! ECG strips as page geometry at the paper standard: 25 mm/s and 10 mm/mV.
//!
//! Coordinates leave here in hundredths of a millimetre, measured from the
//! top left of a row, so the template cannot change the scale. Each row
//! starts with a 1 mV / 200 ms calibration pulse. Decimation keeps the
//! minimum and maximum of every 0.25 mm column at their true times: peaks
//! survive and every point sits exactly where its sample belongs.

use super::{Strip, StripKind};
use serde_json::{Value as J, json};

/// mm per second of paper speed.
pub const MM_PER_S: f64 = 25.0;
/// mm per millivolt of gain.
pub const MM_PER_MV: f64 = 10.0;
/// Width of the grid (a whole number of 5 mm boxes).
pub const GRID_W_MM: f64 = 185.0;
/// Left part of each row that holds the calibration pulse.
pub const CAL_W_MM: f64 = 10.0;
/// Height of one row (5 big boxes, ±1.25 mV around the baseline).
pub const ROW_H_MM: f64 = 25.0;
/// Width of one decimation column.
const COLUMN_MM: f64 = 0.25;
/// Rhythm strips longer than this many rows are cut (and say so).
const MAX_RHYTHM_ROWS: usize = 6;

const LIMB: [&str; 6] = ["I", "II", "III", "aVR", "aVL", "aVF"];
const CHEST: [&str; 6] = ["V1", "V2", "V3", "V4", "V5", "V6"];

fn trace_mm() -> f64 {
    GRID_W_MM - CAL_W_MM
}

/// Seconds of signal that fit in `mm` of paper.
fn secs(mm: f64) -> f64 {
    mm / MM_PER_S
}

/// Points (x, y) in 1/100 mm for samples `[from, to)` of one lead, placed
/// at `x0_mm`, with the baseline at half the row height.
fn trace(strip: &Strip, lead: usize, from: usize, to: usize, x0_mm: f64) -> Vec<i32> {
    let Some(l) = strip.leads.get(lead) else {
        return Vec::new();
    };
    let rate = f64::from(strip.sample_rate_hz.max(1));
    let to = to.min(l.samples.len());
    if from >= to {
        return Vec::new();
    }
    let per_col = ((rate * secs(COLUMN_MM)).floor() as usize).max(1);
    let uv = f64::from(strip.uv_per_lsb);
    let base = ROW_H_MM / 2.0;
    let clamp = ROW_H_MM * 1.5;
    let pt = |i: usize, s: i16| -> [i32; 2] {
        let x = x0_mm + (i - from) as f64 / rate * MM_PER_S;
        let mv = f64::from(s) * uv / 1000.0;
        let y = (base - mv * MM_PER_MV).clamp(-clamp, ROW_H_MM + clamp);
        [(x * 100.0).round() as i32, (y * 100.0).round() as i32]
    };
    let mut out = Vec::with_capacity((to - from) / per_col * 4 + 4);
    let mut i = from;
    while i < to {
        let end = (i + per_col).min(to);
        let col = &l.samples[i..end];
        let (mut lo, mut hi) = (0usize, 0usize);
        for (k, s) in col.iter().enumerate() {
            if *s < col[lo] {
                lo = k;
            }
            if *s > col[hi] {
                hi = k;
            }
        }
        let (a, b) = if lo <= hi { (lo, hi) } else { (hi, lo) };
        out.extend(pt(i + a, col[a]));
        if b != a {
            out.extend(pt(i + b, col[b]));
        }
        i = end;
    }
    // The trace ends where its last sample is, even on a flat line.
    let last = pt(to - 1, l.samples[to - 1]);
    if out.len() < 2 || out[out.len() - 2] != last[0] {
        out.extend(last);
    }
    out
}

fn idx_of(strip: &Strip, name: &str) -> Option<usize> {
    strip.leads.iter().position(|l| l.name == name)
}

fn row(traces: Vec<J>) -> J {
    json!({ "traces": traces })
}

fn tr(strip: &Strip, lead: usize, from_s: f64, len_mm: f64, x0_mm: f64) -> J {
    let rate = f64::from(strip.sample_rate_hz.max(1));
    let from = (from_s * rate).round() as usize;
    let to = from + (secs(len_mm) * rate).round() as usize;
    let name = strip.leads.get(lead).map_or("", |l| l.name.as_str());
    json!({
        "lead": name,
        "x": (x0_mm * 100.0).round() as i32,
        "pts": trace(strip, lead, from, to, x0_mm),
    })
}

fn samples(strip: &Strip) -> usize {
    strip
        .leads
        .iter()
        .map(|l| l.samples.len())
        .min()
        .unwrap_or(0)
}

/// One strip as rows of traces.
pub fn strip_json(strip: &Strip) -> J {
    let n = samples(strip);
    let rate = f64::from(strip.sample_rate_hz.max(1));
    let dur_s = n as f64 / rate;
    let mut rows = Vec::new();
    let mut cut = false;
    let twelve = strip.kind == StripKind::TwelveLead
        && LIMB
            .iter()
            .chain(CHEST.iter())
            .all(|l| idx_of(strip, l).is_some());
    if twelve {
        // Two columns (limb leads, then chest leads later in time) and a
        // rhythm row of lead II over the full width.
        let col_mm = trace_mm() / 2.0;
        let right_from = if dur_s >= 2.0 * secs(col_mm) {
            secs(col_mm)
        } else {
            0.0
        };
        for (limb, chest) in LIMB.iter().zip(CHEST.iter()) {
            let mut t = Vec::new();
            if let Some(i) = idx_of(strip, limb) {
                t.push(tr(strip, i, 0.0, col_mm, CAL_W_MM));
            }
            if let Some(i) = idx_of(strip, chest) {
                t.push(tr(strip, i, right_from, col_mm, CAL_W_MM + col_mm));
            }
            rows.push(row(t));
        }
        if let Some(i) = idx_of(strip, "II") {
            rows.push(row(vec![tr(strip, i, 0.0, trace_mm(), CAL_W_MM)]));
        }
    } else {
        let per_row = secs(trace_mm());
        let row_count = (dur_s / per_row).ceil().max(1.0) as usize;
        // Time-major: all leads of one time span stacked, as a monitor
        // prints them, so a beat can be followed from lead to lead.
        let max_rows = MAX_RHYTHM_ROWS * strip.leads.len().min(2);
        'spans: for r in 0..row_count {
            for lead in 0..strip.leads.len() {
                if rows.len() >= max_rows {
                    cut = true;
                    break 'spans;
                }
                rows.push(row(vec![tr(
                    strip,
                    lead,
                    r as f64 * per_row,
                    trace_mm(),
                    CAL_W_MM,
                )]));
            }
        }
    }
    let kind = match strip.kind {
        StripKind::TwelveLead => "12-Kanal-EKG",
        StripKind::Rhythm => "Rhythmusstreifen",
    };
    json!({
        "label": strip.label,
        "kind": kind,
        "time": super::data::clock_secs(strip.start_ms),
        "device": strip.device,
        "duration": format!("{:.1} s", dur_s).replace('.', ","),
        "scale": "25 mm/s · 10 mm/mV",
        "leads": strip.leads.len(),
        "cut": cut,
        "grid_w": GRID_W_MM,
        "cal_w": CAL_W_MM,
        "row_h": ROW_H_MM,
        "rows": rows,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use rettpad_record::wave::Lead;

    fn strip(samples: Vec<i16>) -> Strip {
        Strip {
            kind: StripKind::Rhythm,
            start_ms: 0,
            sample_rate_hz: 500,
            uv_per_lsb: 1.0,
            leads: vec![Lead {
                name: "II".into(),
                samples,
            }],
            device: "t".into(),
            label: "t".into(),
        }
    }

    #[test]
    fn scale_is_exact_and_peaks_survive() {
        // 1 mV spike at sample 250 (0.5 s) on a flat line.
        let mut s = vec![0i16; 1000];
        s[250] = 1000;
        let st = strip(s);
        let pts = trace(&st, 0, 0, 1000, 10.0);
        let xy: Vec<(i32, i32)> = pts.chunks(2).map(|c| (c[0], c[1])).collect();
        // 0.5 s at 25 mm/s = 12.5 mm after the 10 mm offset; 1 mV = 10 mm up.
        assert!(xy.contains(&(2250, 250)), "{:?}", &xy[..8]);
        assert!(xy.iter().all(|p| p.1 == 1250 || p.1 == 250));
        // Decimated: far fewer points than samples; the last sample (1.998 s) ends it.
        assert!(xy.len() < 500);
        assert_eq!(xy.last().map(|p| p.0), Some(1000 + 4995));
    }

    #[test]
    fn empty_and_short_leads_do_not_panic() {
        let st = strip(vec![]);
        assert!(trace(&st, 0, 0, 10, 0.0).is_empty());
        assert!(trace(&st, 5, 0, 10, 0.0).is_empty());
        let j = strip_json(&strip(vec![5; 3]));
        assert_eq!(j["rows"].as_array().map(Vec::len), Some(1));
    }

    #[test]
    fn a_multi_lead_rhythm_strip_stacks_the_leads_of_each_time_span() {
        let mut st = strip(vec![0; 5000]);
        st.leads = ["I", "II", "III"]
            .into_iter()
            .map(|n| Lead {
                name: n.into(),
                samples: vec![0; 5000],
            })
            .collect();
        let j = strip_json(&st);
        let leads: Vec<&str> = j["rows"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|r| r["traces"][0]["lead"].as_str())
            .collect();
        assert_eq!(leads, ["I", "II", "III", "I", "II", "III"]);
        assert_eq!(j["cut"], false);
    }
}
