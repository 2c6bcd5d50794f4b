//! The provisioned staff list: search for the shift login, who came from
//! the list, and RFID unlock with a staff card.

use crate::fleet::provisioned;
use crate::session::{CrewMember, Qualification};

/// A staff list's qualification as the shift's.
pub fn qualification_of(m: &rettpad_provision::parts::StaffMember) -> Option<Qualification> {
    serde_json::from_value(serde_json::Value::String(m.qualification.clone())).ok()
}

/// Whether `m` is in the staff list as it stands: number, name and
/// qualification as listed. Anything else is a manual entry.
pub fn is_listed(staff: &[rettpad_provision::parts::StaffMember], m: &CrewMember) -> bool {
    staff.iter().any(|s| {
        s.number == m.personnel_no
            && s.name == m.name
            && qualification_of(s) == Some(m.qualification)
    })
}

fn fold(s: &str) -> String {
    s.to_lowercase()
        .replace('ä', "ae")
        .replace('ö', "oe")
        .replace('ü', "ue")
        .replace('ß', "ss")
}

/// Staff matching what the crew typed: a personnel number by its start,
/// a name by the start of any of its words (umlauts as ae/oe/ue). At most
/// `limit`, numbers first.
pub fn find_staff(
    staff: &[rettpad_provision::parts::StaffMember],
    query: &str,
    limit: usize,
) -> Vec<rettpad_provision::parts::StaffMember> {
    let q = fold(query.trim());
    if q.is_empty() {
        return Vec::new();
    }
    let by_number = staff.iter().filter(|s| fold(&s.number).starts_with(&q));
    let by_name = staff.iter().filter(|s| {
        !fold(&s.number).starts_with(&q)
            && fold(&s.name)
                .split(|c: char| c.is_whitespace() || c == '-' || c == ',')
                .any(|w| w.starts_with(&q))
    });
    by_number.chain(by_name).take(limit).cloned().collect()
}

impl crate::Pad {
    /// The provisioned staff list (empty without one).
    pub fn staff(&self) -> Vec<rettpad_provision::parts::StaffMember> {
        provisioned(&self.store().lock())
            .staff
            .map(|s| s.staff)
            .unwrap_or_default()
    }
}

impl crate::Pad {
    /// Whether staff cards unlock this pad: provisioned, with cards listed.
    pub fn rfid_unlock(&self) -> bool {
        let p = provisioned(&self.store().lock());
        p.settings.is_some_and(|s| s.rfid_unlock)
            && p.staff
                .is_some_and(|s| s.staff.iter().any(|m| m.rfid_sha256.is_some()))
    }

    /// A staff card held to the reader (its UID's SHA-256). While locked,
    /// with RFID unlock provisioned: a listed card unlocks like the PIN and
    /// logs its holder in when no shift runs; any other card is a wrong
    /// attempt. `None`: the card means nothing here.
    pub fn badge(&mut self, uid_sha256: &str) -> Option<crate::Unlock> {
        use crate::session::UnlockOutcome;
        if !self.session().is_locked() || !self.rfid_unlock() {
            return None;
        }
        let holder = self.staff().into_iter().find(|s| {
            s.rfid_sha256
                .as_deref()
                .is_some_and(|h| h.eq_ignore_ascii_case(uid_sha256))
        });
        let r = self.session_mut().badge(holder.is_some());
        tracing::info!(known = holder.is_some(), "staff card at the lock screen");
        let out = match r {
            Ok(UnlockOutcome::WrongPin { remaining }) => {
                crate::Unlock::Refused(rettpad_text::Notice::new(
                    format!("Unbekannte Karte. Noch {remaining} Versuche bis zur Löschung."),
                    format!("Unknown card. {remaining} attempts left before the pad is wiped."),
                ))
            }
            other => self.unlock_outcome(other),
        };
        if let (crate::Unlock::Open { shift: false }, Some(h)) = (&out, &holder)
            && let Some(q) = qualification_of(h)
        {
            let call_sign = self.config().call_sign.clone();
            if let Err(n) = self.start_shift(&call_sign, &[(h.name.clone(), h.number.clone(), q)]) {
                tracing::warn!(error = %n, "shift from the staff card not started");
            } else {
                return Some(crate::Unlock::Open { shift: true });
            }
        }
        Some(out)
    }
}
