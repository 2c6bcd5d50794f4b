//! The headless pad: typed configuration, the crew's session (shift, PIN,
//! lock, wipe), the peripherals (card watcher, handover service), close →
//! seal → queue, and the headless demo. No Slint: the UI crate drives it.

pub mod channel;
pub mod close;
pub mod config;
pub mod demo;
pub mod dispatch;
pub mod events;
pub mod fleet;
pub mod handover_io;
pub mod handover_service;
pub mod intake;
pub mod outbox;
pub mod pairing_store;
pub mod prenotify;
pub mod print;
pub mod quick;
pub mod session;
pub mod staff;
pub mod typing;
pub mod watcher;
pub mod workflow;

pub use handover_service::{HandoverConfig, Service, ServiceConfig, ServiceEvent};
pub use workflow::{Cursor, Pad, PadEvent, Unlock};

/// The crew's text of an error, with its technical detail logged in English
/// (the crew's text leaves the detail out).
pub(crate) fn logged(
    e: &(impl rettpad_text::UserMessage + std::fmt::Display),
    what: &str,
) -> rettpad_text::Notice {
    tracing::warn!(error = %e, "{what}");
    rettpad_text::Notice::of(e)
}
