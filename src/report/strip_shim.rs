//! Stand-in for `record::wave` until the core lands it (same field names).

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StripKind {
    TwelveLead,
    Rhythm,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Lead {
    pub name: String,
    pub samples: Vec<i16>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Strip {
    pub kind: StripKind,
    pub start_ms: i64,
    pub sample_rate_hz: u32,
    pub uv_per_lsb: f32,
    pub leads: Vec<Lead>,
    pub device: String,
    pub label: String,
}

impl Strip {
    pub fn duration_ms(&self) -> i64 {
        let n = self.leads.first().map_or(0, |l| l.samples.len()) as i64;
        if self.sample_rate_hz == 0 {
            0
        } else {
            n * 1000 / i64::from(self.sample_rate_hz)
        }
    }
}
