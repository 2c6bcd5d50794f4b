//! What the headless core reports on its tick, shown on the pages.

use super::*;

impl Controller {
    pub(super) fn on_pad_event(&mut self, e: PadEvent) {
        match e {
            PadEvent::Locked if self.page != Page::Lock => {
                self.keypad = None;
                self.page = Page::Lock;
                self.lock_message = (msg::LOCKED_AFTER_INACTIVITY.message(self.lang), false);
            }
            PadEvent::SealFailed(_, n) => self.set_toast(n.message(self.lang), true),
            PadEvent::Dispatched(a) => self.dispatched(&a),
            PadEvent::ChannelRefused(n) | PadEvent::PreNoticeFailed(_, n) => {
                self.set_toast(n.message(self.lang), true)
            }
            PadEvent::PreNotified(_) => self.set_toast(msg::PRENOTIFIED.message(self.lang), false),
            PadEvent::Provisioned(r) => {
                let parts: Vec<String> = r
                    .parts
                    .iter()
                    .map(|(p, v)| format!("{} {v}", p.name()))
                    .collect();
                self.set_toast(
                    msg::provisioned(&parts.join(", ")).message(self.lang),
                    false,
                )
            }
            PadEvent::ProvisionRefused(n) => self.set_toast(n.message(self.lang), true),
            PadEvent::RemoteLocked { reason } => {
                self.keypad = None;
                self.page = Page::Lock;
                self.lock_message = (msg::remote_locked(&reason).message(self.lang), true);
            }
            PadEvent::RemoteUnlocked => {
                self.lock_message = (msg::REMOTE_UNLOCKED.message(self.lang), false)
            }
            PadEvent::RemoteWiped(n) => {
                self.keypad = None;
                self.page = Page::Lock;
                self.wiped = true;
                self.lock_message = (n.message(self.lang), true);
            }
            PadEvent::OfflineLocked => {
                self.keypad = None;
                self.page = Page::Lock;
                let e = rettpad_pad::session::SessionError::OfflineLocked;
                self.lock_message = (e.message(self.lang), true);
            }
            PadEvent::Locked | PadEvent::Queued(_) => {}
        }
    }
}
