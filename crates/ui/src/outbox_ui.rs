//! The status bar's view of the upload; sealing and sending live in the
//! pad core (`rettpad_pad::outbox`), off the UI thread.

use super::*;
use rettpad_transfer::UploadConfig;

impl Controller {
    /// Starts the uploader for `[upload]`. `keep` holds e.g. the demo's
    /// local gateway.
    pub fn attach_upload(&mut self, u: &UploadConfig, keep: Option<Keep>) {
        self.up_keep = keep;
        // The uploader and the permanent channel (dispatch, pre-notices).
        if let Err(n) = self.pad.attach_upload(u, demo_hospitals()) {
            self.set_toast(n.message(self.lang), true);
        }
    }

    pub(super) fn upload_text(&self) -> Option<String> {
        let s = self.pad.outbox().status()?;
        Some(msg::upload_pill(&s).message(self.lang))
    }
}

/// The hospitals the demo gateway knows by name, as (id, name).
#[cfg(feature = "demo")]
fn demo_hospitals() -> Vec<(String, String)> {
    rettpad_gateway::init::DEMO_HOSPITALS
        .iter()
        .map(|(id, n)| ((*id).to_string(), (*n).to_string()))
        .collect()
}

#[cfg(not(feature = "demo"))]
fn demo_hospitals() -> Vec<(String, String)> {
    Vec::new()
}
