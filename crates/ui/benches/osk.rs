//! Issue 20's figure: from a tap on a text field to the frame that shows the
//! on-screen keyboard (software renderer, 1280×800, the patient page). One
//! iteration: pointer press and release on the "Name" field, the change
//! handlers and timers a frame runs, and the full render of that frame.
//! Run: `cargo bench -p rettpad-ui --bench osk`.

use criterion::{Criterion, criterion_group, criterion_main};
use rettpad_clock::{SharedClock, TestClock};
use rettpad_pad::config::Config;
use rettpad_pad::session::Session;
use rettpad_record::Section;
use rettpad_record::keys;
use rettpad_ui::{EditorAdapter, LockAdapter, LoginAdapter, MissionsAdapter, OskAdapter};
use rettpad_vault::MemoryKeyProvider;
use rettpad_vault::store::{SharedStore, Store, StoreOptions};
use slint::ComponentHandle;
use slint::platform::software_renderer::{
    MinimalSoftwareWindow, PremultipliedRgbaColor, RepaintBufferType,
};
use slint::platform::{Platform, PointerEventButton, WindowAdapter, WindowEvent};
use std::rc::Rc;
use std::sync::Arc;
use std::time::{Duration, Instant};

struct Headless(Rc<MinimalSoftwareWindow>);

impl Platform for Headless {
    fn create_window_adapter(&self) -> Result<Rc<dyn WindowAdapter>, slint::PlatformError> {
        Ok(self.0.clone())
    }
}

const W: u32 = 1280;
const H: u32 = 800;
/// Inside the patient page's "Name" field at 1280×800 (see the screenshot
/// 07-section-patient).
const NAME_FIELD: (f32, f32) = (900.0, 342.0);

fn render(window: &MinimalSoftwareWindow, buf: &mut [PremultipliedRgbaColor]) {
    window.request_redraw();
    window.draw_if_needed(|r| {
        r.render(buf, W as usize);
    });
}

fn tap_to_keyboard(c: &mut Criterion) {
    let window = MinimalSoftwareWindow::new(RepaintBufferType::NewBuffer);
    window.set_size(slint::PhysicalSize::new(W, H));
    slint::platform::set_platform(Box::new(Headless(window.clone()))).expect("headless platform");
    let dir = tempfile::tempdir().expect("tmp");
    let clock: SharedClock = TestClock::new(1_795_305_600_000);
    let store = SharedStore::new(
        Store::open(
            dir.path(),
            Arc::new(MemoryKeyProvider::new()),
            clock.clone(),
            StoreOptions::default(),
        )
        .expect("vault"),
    );
    let cfg = Config::demo();
    let session = Session::new(
        cfg.session_config().expect("config"),
        clock.clone(),
        store.clone(),
        store.clone(),
    )
    .expect("session");
    let (ui, ctrl) = rettpad_ui::build(cfg, clock, store, session).expect("ui");
    ui.show().expect("show");
    window.set_size(slint::PhysicalSize::new(W, H));
    ui.global::<LockAdapter>().invoke_unlock("1234".into());
    ctrl.borrow_mut().settle_unlock();
    let login = ui.global::<LoginAdapter>();
    login.invoke_set_name(0, "Anna Berger".into());
    login.invoke_set_number(0, "4711".into());
    login.invoke_start();
    ui.global::<MissionsAdapter>().invoke_create();
    ui.global::<EditorAdapter>()
        .invoke_select_section(rettpad_ui::view::page_of(Section::Patient) as i32);
    let mut buf = vec![PremultipliedRgbaColor::default(); (W * H) as usize];
    slint::platform::update_timers_and_animations();
    render(&window, &mut buf);
    let at = slint::LogicalPosition::new(NAME_FIELD.0, NAME_FIELD.1);
    let osk = ui.global::<OskAdapter>();
    c.bench_function("tap on a text field to the keyboard's frame", |b| {
        b.iter_custom(|iters| {
            let mut total = Duration::ZERO;
            for _ in 0..iters {
                let t = Instant::now();
                window.dispatch_event(WindowEvent::PointerPressed {
                    position: at,
                    button: PointerEventButton::Left,
                });
                window.dispatch_event(WindowEvent::PointerReleased {
                    position: at,
                    button: PointerEventButton::Left,
                });
                slint::platform::update_timers_and_animations();
                render(&window, &mut buf);
                total += t.elapsed();
                assert_eq!(
                    osk.get_field(),
                    keys::patient::FAMILY_NAME,
                    "the tap hit the field"
                );
                // The frame shows the keyboard: its panel at the bottom, not the page.
                let px = buf[((H - 4) * W + W / 2) as usize];
                assert!(px.red < 250 || px.blue < 250, "no keyboard in the frame");
                // Keyboard away again, outside the measured time.
                ui.invoke_release_focus();
                osk.set_field("".into());
                slint::platform::update_timers_and_animations();
                render(&window, &mut buf);
            }
            total
        })
    });
}

criterion_group!(benches, tap_to_keyboard);
criterion_main!(benches);
