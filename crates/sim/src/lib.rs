//! Simulators and test material: the vpcd card emulator, sample missions.
//! Never part of a product build; the device and card simulators live in
//! their crates behind the `sim` feature, which this crate turns on.

pub mod dispatch;
pub mod postgres;
pub mod sample;
pub mod vpcd;

pub use rettpad_card::sim as card;
pub use rettpad_devices::{ble_sim, sim as devices};
