//! Slint controllers: bind the `ui/` globals to the core. No business logic
//! lives here: every edit is a `record::Payload` through `Store::apply`, and
//! the UI acknowledges it only after the store returned `Ok` (durable).

mod controller;
pub mod presets;
#[cfg(feature = "demo")]
pub mod screenshot;
pub mod view;

slint::include_modules!();

pub use controller::{Controller, Keep, Page, build};
