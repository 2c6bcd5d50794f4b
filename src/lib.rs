//! rettpad: the emergency protocol pad. See ARCHITECTURE.md for the code map.

#[cfg(feature = "gui")]
pub mod app;
pub mod card;
pub mod clock;
pub mod config;
pub mod crypto;
pub mod demo;
pub mod devices;
pub mod export;
pub mod gateway;
pub mod handover;
pub mod hwserial;
pub mod logging;
pub mod pki;
pub mod record;
#[cfg(feature = "gui")]
pub mod report;
pub mod sample;
pub mod session;
pub mod transfer;
pub mod vault;
