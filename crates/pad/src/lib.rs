//! The headless pad: typed configuration, the crew's session (shift, PIN,
//! lock, wipe), the peripherals (card watcher, handover service), close →
//! seal → queue, and the headless demo. No Slint: the UI crate drives it.

pub mod close;
pub mod config;
pub mod demo;
pub mod handover_io;
pub mod handover_service;
pub mod intake;
pub mod outbox;
pub mod pairing_store;
pub mod print;
pub mod session;
pub mod watcher;
pub mod workflow;

pub use handover_service::{HandoverConfig, Service, ServiceConfig, ServiceEvent};
pub use workflow::{Cursor, Pad, PadEvent, Unlock};
