//! Quick entry: one page that gathers the standard mission's choices from
//! several sections. Each entry field there edits the patient's *first*
//! entry of its collection (the Erstbefund, the first ECG, the main
//! diagnosis), and a preset is a toggle: tapping it again takes back what
//! it documented (retracted or cleared, kept in the audit trail).

use crate::workflow::Pad;
use rettpad_record::MissionState;
use rettpad_record::catalog::{self, Collection, Scope};
use rettpad_record::text::Notice;
use rettpad_record::{EntryId, Payload, Target, Value};

/// A preset's fields as (key, value) pairs.
pub type PresetFields = [(String, Value)];

impl Pad {
    /// The entry an edit of collection `c` goes to on the quick page.
    pub fn quick_entry(&self, st: &MissionState, c: Collection) -> Option<EntryId> {
        st.entries_of(self.cursor.patient?, c).next().map(|e| e.id)
    }

    /// Puts the entry that an edit of `key` on the quick page goes to in
    /// view (none yet: the edit creates it).
    pub fn focus_quick(&mut self, key: &str) {
        let Some(Scope::Entry(c)) = catalog::field(key).map(|d| d.scope) else {
            return;
        };
        self.cursor.entry = self.state().and_then(|st| self.quick_entry(&st, c));
    }

    /// Whether preset `fields` of collection `c` is documented: for findings
    /// in the first finding, otherwise as an entry of its own.
    pub fn preset_done(&self, st: &MissionState, c: Collection, fields: &PresetFields) -> bool {
        self.preset_entry(st, c, fields).is_some()
    }

    fn preset_entry(
        &self,
        st: &MissionState,
        c: Collection,
        fields: &PresetFields,
    ) -> Option<EntryId> {
        let matches = |e: &&rettpad_record::state::EntryState| {
            fields.iter().all(|(k, v)| e.get(k) == Some(v))
        };
        let p = self.cursor.patient?;
        if c == Collection::Finding {
            st.entries_of(p, c).next().filter(matches).map(|e| e.id)
        } else {
            // The latest, so a take-back undoes the last tap.
            st.entries_of(p, c).filter(matches).last().map(|e| e.id)
        }
    }

    /// A preset tapped on the quick page: documents it, or takes it back
    /// when it is documented (a drug entry is retracted with `reason`, a
    /// finding's values are cleared).
    pub fn toggle_preset(
        &mut self,
        c: Collection,
        fields: &PresetFields,
        reason: &str,
    ) -> Result<(), Notice> {
        let Some(st) = self.state() else {
            return Err(Notice::new("Kein Einsatz geöffnet.", "No mission open."));
        };
        match (self.preset_entry(&st, c, fields), c) {
            (Some(e), Collection::Finding) => {
                for (k, _) in fields {
                    self.apply(Payload::Clear {
                        target: Target::Entry(e),
                        field: k.clone(),
                    })?;
                }
                Ok(())
            }
            (Some(e), _) => {
                self.cursor.entry = Some(e);
                self.retract_entry(reason)
            }
            (None, Collection::Finding) => {
                self.cursor.entry = self.quick_entry(&st, c);
                self.apply_preset(c, fields.to_vec())
            }
            (None, _) => self.add_entry(c, fields.to_vec()),
        }
    }
}
