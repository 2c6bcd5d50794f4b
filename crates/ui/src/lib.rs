//! Slint controllers: bind the `ui/` globals to the core. No business logic
//! lives here: every edit is a `record::Payload` through `Store::apply`, and
//! the UI acknowledges it only after the store returned `Ok` (durable).

mod controller;
pub mod keyboard;
pub mod presets;
#[cfg(feature = "demo")]
pub mod screenshot;
pub mod view;

slint::include_modules!();

pub use controller::{Controller, Keep, Page};

use rettpad_clock::SharedClock;
use rettpad_pad::config::Config;
use rettpad_pad::session::Session;
use rettpad_vault::store::SharedStore;
use std::cell::RefCell;
use std::rc::Rc;

/// The window and its controller, with the on-screen keyboard wired.
pub fn build(
    cfg: Config,
    clock: SharedClock,
    store: SharedStore,
    session: Session,
) -> Result<(AppWindow, Rc<RefCell<Controller>>), slint::PlatformError> {
    let words = keyboard::Words::new(&cfg.hospitals);
    let (ui, ctrl) = controller::build(cfg, clock, store, session)?;
    keyboard::attach(&ui, words);
    Ok((ui, ctrl))
}
