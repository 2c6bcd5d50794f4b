//! Shift login data: call sign and crew. Persisted as JSON; deserialising
//! validates, so a stored shift can never come back in a state the login form
//! would have refused.

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::error::ShiftError;
use rettpad_clock::Clock;

pub const MAX_CALL_SIGN_LEN: usize = 64;
pub const MAX_CREW: usize = 12;
pub const MAX_NAME_LEN: usize = 120;
pub const MAX_PERSONNEL_NO_LEN: usize = 32;

/// Qualification of a crew member, mapped to the MIND personnel code list
/// (01 Arzt i. WB, 02 Gebietsfacharzt, 03 FA + ZB Intensivmedizin, 04 RettAss,
/// 05 RettSan, 06 Intensivpflege, 07 NotSan, 98 Sonstige).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Qualification {
    Notarzt,
    NotSan,
    RettAss,
    RettSan,
    RettHelfer,
    Praktikant,
    Sonstige,
}

impl Qualification {
    pub const ALL: [Qualification; 7] = [
        Qualification::Notarzt,
        Qualification::NotSan,
        Qualification::RettAss,
        Qualification::RettSan,
        Qualification::RettHelfer,
        Qualification::Praktikant,
        Qualification::Sonstige,
    ];

    /// The MIND codes this qualification stands for. Notarzt covers three
    /// codes (the export must ask which one); RettHelfer and Praktikant have
    /// none and are exported as 98 Sonstige.
    pub fn mind_codes(self) -> &'static [&'static str] {
        match self {
            Qualification::Notarzt => &["01", "02", "03"],
            Qualification::RettAss => &["04"],
            Qualification::RettSan => &["05"],
            Qualification::NotSan => &["07"],
            Qualification::Sonstige => &["98"],
            Qualification::RettHelfer | Qualification::Praktikant => &[],
        }
    }

    /// Maps a MIND personnel code. 06 (Intensivpflege) has no own variant and
    /// becomes Sonstige; unknown codes give `None`.
    pub fn from_mind_code(code: &str) -> Option<Qualification> {
        match code {
            "01" | "02" | "03" => Some(Qualification::Notarzt),
            "04" => Some(Qualification::RettAss),
            "05" => Some(Qualification::RettSan),
            "07" => Some(Qualification::NotSan),
            "06" | "98" => Some(Qualification::Sonstige),
            _ => None,
        }
    }

    pub fn label_de(self) -> &'static str {
        match self {
            Qualification::Notarzt => "Notarzt/Notärztin",
            Qualification::NotSan => "Notfallsanitäter/-in",
            Qualification::RettAss => "Rettungsassistent/-in",
            Qualification::RettSan => "Rettungssanitäter/-in",
            Qualification::RettHelfer => "Rettungshelfer/-in",
            Qualification::Praktikant => "Praktikant/-in",
            Qualification::Sonstige => "Sonstige",
        }
    }

    pub fn label_en(self) -> &'static str {
        match self {
            Qualification::Notarzt => "Emergency physician",
            Qualification::NotSan => "Paramedic (Notfallsanitäter)",
            Qualification::RettAss => "Paramedic, legacy (Rettungsassistent)",
            Qualification::RettSan => "EMT (Rettungssanitäter)",
            Qualification::RettHelfer => "EMS assistant (Rettungshelfer)",
            Qualification::Praktikant => "Trainee",
            Qualification::Sonstige => "Other",
        }
    }
}

/// One person on the vehicle. `Debug` hides the name and personnel number so
/// a stray `{:?}` in a log line leaks nothing.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CrewMember {
    pub id: Uuid,
    pub name: String,
    pub personnel_no: String,
    pub qualification: Qualification,
    /// Taken from the provisioned staff list (number, name and
    /// qualification as listed); `false`: typed by hand.
    #[serde(default)]
    pub listed: bool,
}

impl CrewMember {
    /// A new member with a fresh UUIDv7 and trimmed text fields.
    pub fn new(name: &str, personnel_no: &str, qualification: Qualification) -> CrewMember {
        CrewMember {
            id: Uuid::now_v7(),
            name: name.trim().to_owned(),
            personnel_no: personnel_no.trim().to_owned(),
            qualification,
            listed: false,
        }
    }
}

impl std::fmt::Debug for CrewMember {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CrewMember")
            .field("id", &self.id)
            .field("name", &"[REDACTED]")
            .field("personnel_no", &"[REDACTED]")
            .field("qualification", &self.qualification)
            .field("listed", &self.listed)
            .finish()
    }
}

/// The crew logged in on this pad.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "ShiftData")]
pub struct Shift {
    pub call_sign: String,
    pub crew: Vec<CrewMember>,
    /// Wall-clock login time, ms since the Unix epoch (UTC).
    pub started_ms: i64,
}

impl Shift {
    /// Builds and validates a shift starting now.
    pub fn new(
        call_sign: &str,
        crew: Vec<CrewMember>,
        clock: &dyn Clock,
    ) -> Result<Shift, ShiftError> {
        let shift = Shift {
            call_sign: call_sign.trim().to_owned(),
            crew,
            started_ms: clock.wall_ms(),
        };
        shift.validate()?;
        Ok(shift)
    }

    /// The crew as the record keeps it on each mission (MIND qualification
    /// code, or 98 where MIND has none).
    pub fn crew_refs(&self) -> Vec<rettpad_record::CrewRef> {
        self.crew
            .iter()
            .map(|m| rettpad_record::CrewRef {
                id: m.id,
                name: m.name.clone(),
                personnel_no: m.personnel_no.clone(),
                qualification: m
                    .qualification
                    .mind_codes()
                    .first()
                    .copied()
                    .unwrap_or("98")
                    .to_string(),
                call_sign: self.call_sign.clone(),
            })
            .collect()
    }

    /// Reports the first problem, in form order. Blank text counts as empty.
    pub fn validate(&self) -> Result<(), ShiftError> {
        if self.call_sign.trim().is_empty() {
            return Err(ShiftError::EmptyCallSign);
        }
        if self.call_sign.chars().count() > MAX_CALL_SIGN_LEN {
            return Err(ShiftError::CallSignTooLong {
                max: MAX_CALL_SIGN_LEN,
            });
        }
        if self.crew.is_empty() {
            return Err(ShiftError::NoCrew);
        }
        if self.crew.len() > MAX_CREW {
            return Err(ShiftError::TooManyCrew { max: MAX_CREW });
        }
        for (i, m) in self.crew.iter().enumerate() {
            let member = i + 1;
            if m.name.trim().is_empty() {
                return Err(ShiftError::EmptyName { member });
            }
            if m.name.chars().count() > MAX_NAME_LEN {
                return Err(ShiftError::FieldTooLong {
                    member,
                    field: "name",
                    max: MAX_NAME_LEN,
                });
            }
            if m.personnel_no.trim().is_empty() {
                return Err(ShiftError::EmptyPersonnelNo { member });
            }
            if m.personnel_no.chars().count() > MAX_PERSONNEL_NO_LEN {
                return Err(ShiftError::FieldTooLong {
                    member,
                    field: "personnel number",
                    max: MAX_PERSONNEL_NO_LEN,
                });
            }
            // The crew is tiny (≤ MAX_CREW), so a quadratic scan is fine.
            if let Some(first) = self.crew[..i]
                .iter()
                .position(|o| o.personnel_no.trim() == m.personnel_no.trim())
            {
                return Err(ShiftError::DuplicatePersonnelNo {
                    member,
                    first: first + 1,
                });
            }
            if let Some(first) = self.crew[..i].iter().position(|o| o.id == m.id) {
                return Err(ShiftError::DuplicateId {
                    member,
                    first: first + 1,
                });
            }
        }
        Ok(())
    }
}

/// Wire mirror of [`Shift`], so deserialisation goes through `validate`.
#[derive(Deserialize)]
struct ShiftData {
    call_sign: String,
    crew: Vec<CrewMember>,
    started_ms: i64,
}

impl TryFrom<ShiftData> for Shift {
    type Error = ShiftError;

    fn try_from(d: ShiftData) -> Result<Shift, ShiftError> {
        let shift = Shift {
            call_sign: d.call_sign,
            crew: d.crew,
            started_ms: d.started_ms,
        };
        shift.validate()?;
        Ok(shift)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rettpad_clock::TestClock;
    use rettpad_text::{Lang, UserMessage};

    fn crew() -> Vec<CrewMember> {
        vec![
            CrewMember::new(" Anna Muster ", "4711", Qualification::NotSan),
            CrewMember::new("Ben Beispiel", "0815", Qualification::RettSan),
        ]
    }

    #[test]
    fn valid_shift_trims_and_stamps() {
        let clock = TestClock::new(1_700_000_000_000);
        let s = Shift::new(" RK Musterstadt 1/83-1 ", crew(), &*clock).unwrap();
        assert_eq!(s.call_sign, "RK Musterstadt 1/83-1");
        assert_eq!(s.crew[0].name, "Anna Muster");
        assert_eq!(s.started_ms, 1_700_000_000_000);
        assert_eq!(s.crew[0].id.get_version_num(), 7);
        assert_ne!(s.crew[0].id, s.crew[1].id);
    }

    #[test]
    fn validation_errors() {
        let clock = TestClock::new(0);
        assert_eq!(
            Shift::new("  ", crew(), &*clock).err(),
            Some(ShiftError::EmptyCallSign)
        );
        assert_eq!(
            Shift::new("RTW 1", vec![], &*clock).err(),
            Some(ShiftError::NoCrew)
        );
        let mut c = crew();
        c[1].name = " ".into();
        assert_eq!(
            Shift::new("RTW 1", c, &*clock).err(),
            Some(ShiftError::EmptyName { member: 2 })
        );
        let mut c = crew();
        c[0].personnel_no = String::new();
        assert_eq!(
            Shift::new("RTW 1", c, &*clock).err(),
            Some(ShiftError::EmptyPersonnelNo { member: 1 })
        );
        let mut c = crew();
        c[1].personnel_no = "4711".into();
        assert_eq!(
            Shift::new("RTW 1", c, &*clock).err(),
            Some(ShiftError::DuplicatePersonnelNo {
                member: 2,
                first: 1
            })
        );
        let mut c = crew();
        c[0].name = "x".repeat(MAX_NAME_LEN + 1);
        assert!(matches!(
            Shift::new("RTW 1", c, &*clock),
            Err(ShiftError::FieldTooLong { member: 1, .. })
        ));
        let e = ShiftError::EmptyName { member: 2 };
        assert_eq!(e.to_string(), "crew member 2: name is empty");
        assert_eq!(
            e.message(Lang::De),
            "Besatzungsmitglied 2: Bitte den Namen eingeben."
        );
    }

    #[test]
    fn json_roundtrip_and_validation_on_load() {
        let clock = TestClock::new(42);
        let s = Shift::new("RTW 1", crew(), &*clock).unwrap();
        let json = serde_json::to_string(&s).unwrap();
        assert!(json.contains("\"qualification\":\"notsan\""), "{json}");
        let back: Shift = serde_json::from_str(&json).unwrap();
        assert_eq!(back, s);

        let bad = json.replace("RTW 1", " ");
        let err = serde_json::from_str::<Shift>(&bad).unwrap_err();
        assert!(err.to_string().contains("call sign is empty"), "{err}");
    }

    #[test]
    fn debug_hides_personal_data() {
        let m = CrewMember::new("Anna Muster", "4711", Qualification::Notarzt);
        let d = format!("{m:?}");
        assert!(!d.contains("Anna") && !d.contains("4711"), "{d}");
    }

    #[test]
    fn mind_codes_roundtrip() {
        for q in Qualification::ALL {
            for code in q.mind_codes() {
                assert_eq!(Qualification::from_mind_code(code), Some(q));
            }
            assert!(!q.label_de().is_empty() && !q.label_en().is_empty());
        }
        assert_eq!(
            Qualification::from_mind_code("06"),
            Some(Qualification::Sonstige)
        );
        assert_eq!(Qualification::from_mind_code("99"), None);
        assert_eq!(Qualification::NotSan.mind_codes(), &["07"]);
    }
}
