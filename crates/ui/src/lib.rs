//! Slint controllers: bind the `ui/` globals to the core. No business logic
//! lives here: every edit is a `record::Payload` through `Store::apply`, and
//! the UI acknowledges it only after the store returned `Ok` (durable).

mod controller;
pub mod keyboard;
mod msg;
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

/// The window the pad shows when it cannot start: the lock screen with the
/// reason in the crew's language and no PIN pad. No controller runs behind
/// it, so nothing can be documented on a pad that would not keep it.
pub fn fault_window(
    why: &dyn rettpad_text::UserMessage,
    lang: rettpad_text::Lang,
) -> Result<AppWindow, slint::PlatformError> {
    use slint::ComponentHandle;
    let ui = AppWindow::new()?;
    // The bundled catalogue translates the `.slint` text.
    // German is the source language: the empty code selects it.
    let code = if lang == rettpad_text::Lang::En {
        "en"
    } else {
        ""
    };
    if let Err(e) = slint::select_bundled_translation(code) {
        tracing::warn!(error = %e, "language switch failed");
    }
    let app = ui.global::<AppState>();
    app.set_page(Page::Lock.id());
    let lock = ui.global::<LockAdapter>();
    lock.set_fault(true);
    lock.set_message(why.message(lang).into());
    lock.set_message_error(true);
    Ok(ui)
}

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
