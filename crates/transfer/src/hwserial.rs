//! The pad's hardware serial number, read from the OS behind a trait so
//! tests and the demo can inject one.
//!
//! Order: DMI `product_serial` (the vendor's serial on the label; readable
//! by root only on most systems), then `/etc/machine-id` (stable per
//! installation) as a fallback. Placeholder strings that vendors ship
//! ("To be filled by O.E.M.", "Default string", all zeros) count as absent.

use std::path::PathBuf;

pub trait SerialSource: Send + Sync {
    /// The serial, or `None` if this source has none.
    fn serial(&self) -> Option<String>;
}

/// A fixed serial (tests, demo, configuration override).
#[derive(Debug, Clone)]
pub struct FixedSerial(pub String);

impl SerialSource for FixedSerial {
    fn serial(&self) -> Option<String> {
        clean(&self.0)
    }
}

/// Reads DMI, then machine-id. Paths are fields so tests can point them at
/// temp files.
#[derive(Debug, Clone)]
pub struct OsSerial {
    pub dmi: PathBuf,
    pub machine_id: PathBuf,
}

impl Default for OsSerial {
    fn default() -> Self {
        OsSerial {
            dmi: "/sys/class/dmi/id/product_serial".into(),
            machine_id: "/etc/machine-id".into(),
        }
    }
}

impl SerialSource for OsSerial {
    fn serial(&self) -> Option<String> {
        let read = |p: &PathBuf| {
            std::fs::read(p)
                .ok()
                .filter(|b| b.len() <= 256)
                .and_then(|b| String::from_utf8(b).ok())
                .and_then(|s| clean(&s))
        };
        read(&self.dmi).or_else(|| read(&self.machine_id).map(|m| format!("MID-{m}")))
    }
}

fn clean(s: &str) -> Option<String> {
    let t = s.trim();
    let placeholder = t.is_empty()
        || t.chars().all(|c| c == '0' || c == '-' || c == ' ')
        || [
            "to be filled by o.e.m.",
            "default string",
            "system serial number",
            "not specified",
            "none",
        ]
        .contains(&t.to_ascii_lowercase().as_str());
    let printable = t.chars().all(|c| c.is_ascii_graphic() || c == ' ');
    (!placeholder && printable && t.len() <= 64).then(|| t.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dmi_then_machine_id_and_placeholders() {
        let d = tempfile::tempdir().unwrap();
        let src = OsSerial {
            dmi: d.path().join("dmi"),
            machine_id: d.path().join("mid"),
        };
        assert_eq!(src.serial(), None);
        std::fs::write(&src.machine_id, "0123abcd\n").unwrap();
        assert_eq!(src.serial().as_deref(), Some("MID-0123abcd"));
        std::fs::write(&src.dmi, "To be filled by O.E.M.\n").unwrap();
        assert_eq!(src.serial().as_deref(), Some("MID-0123abcd"));
        std::fs::write(&src.dmi, "PF3XK9\n").unwrap();
        assert_eq!(src.serial().as_deref(), Some("PF3XK9"));
        std::fs::write(&src.dmi, "0000000\n").unwrap();
        assert_eq!(src.serial().as_deref(), Some("MID-0123abcd"));
        assert_eq!(FixedSerial("  ".into()).serial(), None);
        assert_eq!(FixedSerial("SN\u{7}".into()).serial(), None);
    }
}
