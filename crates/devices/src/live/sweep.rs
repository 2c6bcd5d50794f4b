//! Sweep drawing of the live waves, as monitors draw them: a sample keeps
//! its place (position = sample number modulo the window), a cursor runs
//! left to right and erases a short gap ahead of itself. The box is cut
//! into segments; a frame redraws only the segments whose picture changed
//! (new samples, the moving gap), so the UI repaints a small strip instead
//! of the whole wave area (issue 19: the live page on battery).
//!
//! Pure: fed the [`Live`] state, returns path commands per changed segment.

use super::{Channel, Live, ecg_lead, is_capno, is_pleth};
use std::fmt::Write;

/// Which wave a [`Sweep`] draws.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum WaveKind {
    /// The display lead, ±`range_uv` around the middle.
    Ecg { range_uv: f64 },
    /// Relative amplitude: scaled to its own range, with hysteresis.
    Pleth,
    /// 0 at the bottom, [`Live::capno_scale`] at the top.
    Capno,
}

/// The erase gap ahead of the cursor, in thousandths of the window.
const GAP_PER_MILLE: usize = 25;

/// What a segment shows: the sample numbers drawn (at most two runs, when
/// the sweep wraps inside it) and the vertical scale. Equal keys draw the
/// same picture, so an unchanged key needs no new path.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
struct SegKey {
    epoch: u64,
    runs: [(u64, u64); 2],
    scale: (f64, f64),
}

/// The sweep state of one wave box.
#[derive(Debug, Clone)]
pub struct Sweep {
    kind: WaveKind,
    width: usize,
    height: f64,
    window_ms: i64,
    segments: usize,
    keys: Vec<SegKey>,
    /// Pleth: the raw range the box is scaled to.
    pleth: Option<(i32, i32)>,
}

/// A channel's samples in sweep terms.
struct View<'a> {
    c: &'a Channel,
    /// Samples per window (positions).
    want: u64,
    /// Visible sample numbers: `[first, end)`.
    first: u64,
    end: u64,
}

impl View<'_> {
    fn new(c: &Channel, window_ms: i64) -> Option<View<'_>> {
        let want = (window_ms.max(1) as u64 * 1000 / u64::from(c.period_us.max(1))).max(2);
        let end = c.pushed;
        let held = c.ring.len() as u64;
        let gap = (want * GAP_PER_MILLE as u64 / 1000).max(1);
        let first = end.saturating_sub(held).max(end.saturating_sub(want - gap));
        (end > first).then_some(View {
            c,
            want,
            first,
            end,
        })
    }

    /// The visible sample at position `p`, if any.
    fn at(&self, p: u64) -> Option<i32> {
        let base = self.first - self.first % self.want + p;
        let n = if base < self.first {
            base + self.want
        } else {
            base
        };
        if n >= self.end {
            return None;
        }
        self.sample(n)
    }

    /// Sample number `n`, while the ring still holds it.
    fn sample(&self, n: u64) -> Option<i32> {
        let ring_start = self.c.pushed - self.c.ring.len() as u64;
        let i = n.checked_sub(ring_start)?;
        self.c.ring.get(usize::try_from(i).ok()?).copied()
    }

    /// Sample numbers shown at positions `[p0, p1)`: at most two runs.
    fn runs(&self, p0: u64, p1: u64) -> [(u64, u64); 2] {
        let mut out = [(0, 0); 2];
        let k0 = self.first / self.want;
        for (slot, k) in [k0, k0 + 1].into_iter().enumerate() {
            let lo = (k * self.want + p0).max(self.first);
            let hi = (k * self.want + p1).min(self.end);
            if lo < hi {
                out[slot] = (lo, hi);
            }
        }
        out
    }
}

impl Sweep {
    /// A box of `width` × `height` view units showing `window_ms`, cut into
    /// `segments` strips.
    pub fn new(
        kind: WaveKind,
        width: usize,
        height: f64,
        window_ms: i64,
        segments: usize,
    ) -> Sweep {
        let segments = segments.clamp(1, width.max(1));
        Sweep {
            kind,
            width: width.max(2),
            height,
            window_ms,
            segments,
            keys: vec![SegKey::default(); segments],
            pleth: None,
        }
    }

    pub fn segments(&self) -> usize {
        self.segments
    }

    /// The first view column of segment `s` (its left edge; the last
    /// segment ends at the width).
    pub fn segment_x(&self, s: usize) -> usize {
        s * self.width / self.segments
    }

    /// A new height (the ECG box grows when pleth and capnogram go):
    /// every segment is drawn anew.
    pub fn set_height(&mut self, height: f64) {
        if height != self.height {
            self.height = height;
            self.keys.fill(SegKey::default());
        }
    }

    fn channel<'a>(&self, live: &'a Live) -> Option<&'a Channel> {
        match self.kind {
            WaveKind::Ecg { .. } => {
                let lead = live.display_lead()?;
                live.channels
                    .iter()
                    .find(|c| ecg_lead(c.metric) == Some(lead))
            }
            WaveKind::Pleth => live.channels.iter().find(|c| is_pleth(c.metric)),
            WaveKind::Capno => live.channels.iter().find(|c| is_capno(c.metric)),
        }
    }

    /// The raw → view-y mapping as (offset, factor): y = a + raw × b, with
    /// `rising` (upstroke first in a column) from the sign of b.
    fn scale(&mut self, live: &Live, v: &View<'_>) -> Option<(f64, f64)> {
        let h = self.height;
        match self.kind {
            WaveKind::Ecg { range_uv } => {
                let (k, zero) = v.c.uv_per_raw?;
                // y = h/2 − (raw − zero)·k / range · h/2
                let b = -k / range_uv * h / 2.0;
                Some((h / 2.0 - zero * b, b))
            }
            WaveKind::Capno => {
                let (a, k) = v.c.phys?;
                let (top, _) = live.capno_scale()?;
                // y = h − (a + raw·k)/top · h
                Some((h - a / top * h, -k / top * h))
            }
            WaveKind::Pleth => {
                let (mut lo, mut hi) = (i32::MAX, i32::MIN);
                for s in (v.first..v.end).filter_map(|n| v.sample(n)) {
                    lo = lo.min(s);
                    hi = hi.max(s);
                }
                if lo > hi {
                    return None;
                }
                // Rescale only when the wave leaves the range or uses less
                // than half of it: a steady box, few full redraws.
                let keep = self.pleth.is_some_and(|(l, hh)| {
                    let span = i64::from(hh) - i64::from(l);
                    lo >= l && hi <= hh && (i64::from(hi) - i64::from(lo)) * 2 >= span
                });
                if !keep {
                    let pad = ((i64::from(hi) - i64::from(lo)) / 8).max(1);
                    let l = (i64::from(lo) - pad).max(i64::from(i32::MIN)) as i32;
                    let hh = (i64::from(hi) + pad).min(i64::from(i32::MAX)) as i32;
                    self.pleth = Some((l, hh));
                }
                let (l, hh) = self.pleth?;
                let span = (f64::from(hh) - f64::from(l)).max(1.0);
                // The top fifth stays free for the label.
                let b = -h * 0.74 / span;
                Some((h * 0.96 - f64::from(l) * b, b))
            }
        }
    }

    /// Segments whose picture changed since the last call, with their new
    /// path commands (in view units of the whole box; an empty string is
    /// an empty segment). `out` is cleared first.
    pub fn update(&mut self, live: &Live, out: &mut Vec<(usize, String)>) {
        out.clear();
        let Some(c) = self.channel(live) else {
            self.blank(out);
            return;
        };
        let Some(v) = View::new(c, self.window_ms) else {
            self.blank(out);
            return;
        };
        let Some((a, b)) = self.scale(live, &v) else {
            self.blank(out);
            return;
        };
        for s in 0..self.segments {
            let (p0, p1) = self.positions(s, v.want);
            // One position beyond each edge: the lines that cross it.
            let key = SegKey {
                epoch: v.c.epoch,
                runs: v.runs(p0.saturating_sub(1), (p1 + 1).min(v.want)),
                scale: (a, b),
            };
            if key == self.keys[s] {
                continue;
            }
            self.keys[s] = key;
            out.push((
                s,
                self.path(&v, p0.saturating_sub(1), (p1 + 1).min(v.want), a, b),
            ));
        }
    }

    /// Clears every segment that still shows something.
    fn blank(&mut self, out: &mut Vec<(usize, String)>) {
        for (s, k) in self.keys.iter_mut().enumerate() {
            if *k != SegKey::default() {
                *k = SegKey::default();
                out.push((s, String::new()));
            }
        }
    }

    /// Positions `[p0, p1)` whose column falls in segment `s`.
    fn positions(&self, s: usize, want: u64) -> (u64, u64) {
        let w = self.width as u64;
        let col = |s: usize| (s * self.width / self.segments) as u64;
        let p = |c: u64| (c * want).div_ceil(w);
        let p1 = if s + 1 == self.segments {
            want
        } else {
            p(col(s + 1))
        };
        (p(col(s)), p1)
    }

    /// Min/max per column over positions `[p0, p1)`; a hidden sample (the
    /// gap, not yet drawn) breaks the line.
    fn path(&self, v: &View<'_>, p0: u64, p1: u64, a: f64, b: f64) -> String {
        let mut out = String::new();
        let rising = b < 0.0;
        let y = |raw: i32| a + f64::from(raw) * b;
        let mut pen = false;
        let mut p = p0;
        while p < p1 {
            let px = p * self.width as u64 / v.want;
            let (mut lo, mut hi, mut seen, mut hidden) = (i32::MAX, i32::MIN, false, false);
            while p < p1 && p * self.width as u64 / v.want == px {
                match v.at(p) {
                    Some(s) => {
                        lo = lo.min(s);
                        hi = hi.max(s);
                        seen = true;
                    }
                    None => hidden = true,
                }
                p += 1;
            }
            if !seen {
                pen = false;
                continue;
            }
            let (ya, yb) = (y(lo), y(hi));
            // Upstroke first when the column rises, so the line stays joined.
            let (first, second) = if rising { (ya, yb) } else { (yb, ya) };
            let cmd = if pen { 'L' } else { 'M' };
            let _ = write!(out, "{cmd}{px} {first:.1}");
            if (first - second).abs() >= 0.5 {
                let _ = write!(out, "L{px} {second:.1}");
            }
            pen = !hidden;
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ieee11073::Decimal;
    use crate::live::LiveConfig;
    use crate::obs::{
        HostTime, MeasStatus, Metric, Observation, Reading, Scale, Timestamps, Unit, WaveChunk,
    };

    const LEAD_II: u32 = (2 << 16) | 0x0102;

    fn chunk(t0_ms: i64, from: i32, n: usize) -> Observation {
        Observation::Wave(WaveChunk {
            channel: Metric::Other(LEAD_II),
            t0: Timestamps {
                device: None,
                host: HostTime {
                    wall_ms: t0_ms,
                    mono_ms: t0_ms.max(0) as u64,
                },
                seq: None,
            },
            sample_period_us: 2_000,
            scale: Some(Scale {
                lower_abs: Reading::Value(Decimal::int(0)),
                upper_abs: Reading::Value(Decimal::int(1)),
                lower_raw: 0,
                upper_raw: 1000,
            }),
            unit: Unit::MilliVolt,
            samples: (0..n as i32).map(|i| (from + i) % 400 - 200).collect(),
            status: MeasStatus::default(),
        })
    }

    /// Feeds `secs` of lead II at 500 Hz in 0.1 s chunks from `t0`.
    fn feed(live: &mut Live, t0: i64, secs: i64) -> i64 {
        let mut t = t0;
        for _ in 0..secs * 10 {
            live.push(&chunk(t, (t / 2) as i32, 50));
            t += 100;
        }
        t
    }

    fn ecg() -> Sweep {
        Sweep::new(WaveKind::Ecg { range_uv: 2_000.0 }, 1000, 150.0, 6_000, 20)
    }

    #[test]
    fn a_frame_redraws_only_the_segments_the_cursor_touched() {
        let mut live = Live::new(LiveConfig::default());
        let mut sw = ecg();
        let mut out = Vec::new();
        sw.update(&live, &mut out);
        assert!(out.is_empty(), "nothing to draw, nothing drawn");
        let mut t = feed(&mut live, 1_000, 8);
        sw.update(&live, &mut out);
        assert_eq!(out.len(), 20, "the first frame draws every segment");
        assert!(out.iter().filter(|(_, p)| p.is_empty()).count() <= 1);
        for _ in 0..30 {
            live.push(&chunk(t, 7, 50));
            t += 100;
            sw.update(&live, &mut out);
            assert!(
                (1..=4).contains(&out.len()),
                "0.1 s moves the cursor and the gap over a few segments: {}",
                out.len()
            );
        }
        sw.update(&live, &mut out);
        assert!(out.is_empty(), "no new samples, no redraw");
    }

    #[test]
    fn the_gap_ahead_of_the_cursor_stays_blank_and_the_rest_is_drawn() {
        let mut live = Live::new(LiveConfig::default());
        let mut sw = ecg();
        feed(&mut live, 1_000, 9);
        let mut out = Vec::new();
        sw.update(&live, &mut out);
        let c = sw.channel(&live).unwrap();
        let v = View::new(c, 6_000).unwrap();
        // 9 s at 500 Hz: 4500 samples; the cursor sits at position 1500.
        assert_eq!((v.want, v.end), (3000, 4500));
        assert!(v.at(1499).is_some(), "the newest sample");
        for p in 1500..1575 {
            assert!(v.at(p).is_none(), "position {p} is in the erase gap");
        }
        assert!(v.at(1575).is_some(), "after the gap: the last sweep");
        // The picture of every column comes from the segment that owns it.
        let all: String = out.iter().map(|(_, p)| p.as_str()).collect();
        assert!(all.starts_with('M'));
        assert!(all.matches('M').count() >= 2, "the gap breaks the line");
    }

    #[test]
    fn segment_positions_tile_the_window_without_overlap() {
        for (width, want, segs) in [
            (1000usize, 3000u64, 20usize),
            (997, 750, 7),
            (1000, 750, 20),
        ] {
            let sw = Sweep::new(WaveKind::Pleth, width, 100.0, 6_000, segs);
            let mut next = 0;
            for s in 0..segs {
                let (p0, p1) = sw.positions(s, want);
                assert_eq!(p0, next, "segment {s} starts where {} ended", s.max(1) - 1);
                assert!(p1 > p0);
                let col0 = sw.segment_x(s) as u64;
                assert!(p0 * width as u64 / want >= col0);
                next = p1;
            }
            assert_eq!(next, want);
        }
    }

    #[test]
    fn a_lost_lead_blanks_the_box_once() {
        let mut live = Live::new(LiveConfig::default());
        let mut sw = ecg();
        feed(&mut live, 1_000, 7);
        let mut out = Vec::new();
        sw.update(&live, &mut out);
        assert!(!out.is_empty());
        let fresh = Live::new(LiveConfig::default());
        sw.update(&fresh, &mut out);
        assert!(out.iter().all(|(_, p)| p.is_empty()) && !out.is_empty());
        sw.update(&fresh, &mut out);
        assert!(out.is_empty(), "blank stays blank without redraws");
    }

    #[test]
    fn a_reconnected_device_is_drawn_anew() {
        let mut sw = ecg();
        let mut out = Vec::new();
        let mut a = Live::new(LiveConfig::default());
        feed(&mut a, 1_000, 7);
        sw.update(&a, &mut out);
        assert_eq!(out.len(), 20);
        let mut b = Live::new(LiveConfig::default());
        feed(&mut b, 1_000, 7);
        sw.update(&b, &mut out);
        assert_eq!(out.len(), 20, "same sample counts, another channel");
    }
}
