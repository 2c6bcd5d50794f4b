//! The longest UI-thread stall while closing a mission (close → render →
//! seal → upload) and while printing (render, preview, the job): every
//! callback and every timer tick the UI thread runs is timed, and the
//! longest is reported. Target: < 16 ms (one frame at 60 Hz). The sealing,
//! rendering and printing run on workers; these numbers show what is left
//! on the UI thread. Run: `cargo bench -p rettpad-ui --bench stall`.

use rettpad_clock::{SharedClock, SystemClock};
use rettpad_pad::config::Config;
use rettpad_pad::session::Session;
use rettpad_ui::{self as app, AppWindow, Controller};
use rettpad_vault::MemoryKeyProvider;
use rettpad_vault::store::{SharedStore, Store, StoreOptions};
use slint::ComponentHandle;
use std::cell::RefCell;
use std::rc::Rc;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Times each UI-thread step; keeps the longest per phase.
struct Stalls {
    worst: Duration,
    steps: usize,
}

impl Stalls {
    fn new() -> Stalls {
        Stalls {
            worst: Duration::ZERO,
            steps: 0,
        }
    }

    fn time<T>(&mut self, f: impl FnOnce() -> T) -> T {
        let t = Instant::now();
        let r = f();
        self.worst = self.worst.max(t.elapsed());
        self.steps += 1;
        r
    }
}

/// One frame's worth of the app's timer work: tick, then refresh.
fn frame(ui: &AppWindow, ctrl: &Rc<RefCell<Controller>>, s: &mut Stalls) {
    s.time(|| {
        let mut c = ctrl.borrow_mut();
        c.tick();
        c.refresh(ui);
    });
    std::thread::sleep(Duration::from_millis(16));
}

fn main() {
    i_slint_backend_testing::init_no_event_loop();
    let gw_dir = tempfile::tempdir().expect("tmp");
    let gw = rettpad_gateway::local::start(gw_dir.path()).expect("local gateway");
    let mut rounds = Vec::new();
    for _ in 0..5 {
        rounds.push(round(&gw.upload));
    }
    let ms = |d: Duration| d.as_secs_f64() * 1e3;
    let worst = |f: fn(&(Stalls, Stalls)) -> &Stalls| {
        rounds.iter().map(|r| f(r).worst).max().unwrap_or_default()
    };
    let (close, print) = (worst(|r| &r.0), worst(|r| &r.1));
    println!(
        "longest UI-thread stall while closing (close, render, seal, upload; {} rounds, {} steps each): {:.1} ms",
        rounds.len(),
        rounds[0].0.steps,
        ms(close)
    );
    println!(
        "longest UI-thread stall while printing (open, render, preview, PCL job; {} rounds, {} steps each): {:.1} ms",
        rounds.len(),
        rounds[0].1.steps,
        ms(print)
    );
}

fn round(upload: &rettpad_transfer::UploadConfig) -> (Stalls, Stalls) {
    let dir = tempfile::tempdir().expect("tmp");
    let clock: SharedClock = SystemClock::shared();
    let store = Store::open(
        dir.path(),
        Arc::new(MemoryKeyProvider::new()),
        clock.clone(),
        StoreOptions::default(),
    )
    .expect("store");
    let store = SharedStore::new(store);
    // The standard sample mission, as if handed over to this pad.
    let sample = rettpad_sim::sample::standard();
    let m = sample.mission();
    store
        .lock()
        .merge(m, &sample.events)
        .expect("sample merged");
    for s in &sample.strips {
        store
            .lock()
            .merge_strip(m, &s.encode())
            .expect("strip merged");
    }
    // The vehicle's mobile printer on a PTY that swallows the job.
    let (mut master, slave) = serialport::TTYPort::pair().expect("pty pair");
    let mut cfg = Config::demo();
    cfg.devices.clear();
    if let Some(p) = cfg.printers.mobile.as_mut() {
        p.path = serialport::SerialPort::name(&slave).expect("pty name");
    }
    std::thread::spawn(move || {
        use std::io::Read;
        let mut buf = [0u8; 65536];
        let _ = serialport::SerialPort::set_timeout(&mut master, Duration::from_millis(200));
        let end = Instant::now() + Duration::from_secs(120);
        while Instant::now() < end {
            let _ = master.read(&mut buf);
        }
    });
    let session = Session::new(
        cfg.session_config().expect("session config"),
        clock.clone(),
        store.clone(),
        store.clone(),
    )
    .expect("session");
    let (ui, ctrl) = app::build(cfg, clock, store.clone(), session).expect("ui");
    ui.window().set_size(slint::PhysicalSize::new(1280, 800));
    ui.show().expect("show");
    ctrl.borrow_mut().attach_upload(upload, None);
    ui.global::<app::LockAdapter>().invoke_unlock("1234".into());
    ctrl.borrow_mut().settle_unlock();
    let login = ui.global::<app::LoginAdapter>();
    login.invoke_set_name(0, "Anna Berger".into());
    login.invoke_set_number(0, "4711".into());
    login.invoke_start();
    ui.global::<app::MissionsAdapter>()
        .invoke_open(m.to_string().into());
    assert_eq!(ctrl.borrow().mission(), Some(m), "sample mission open");

    // Printing: open the dialog, wait for the preview, print on the PTY.
    let mut print = Stalls::new();
    print.time(|| ui.global::<app::EditorAdapter>().invoke_print());
    let p = ui.global::<app::PrintAdapter>();
    let end = Instant::now() + Duration::from_secs(60);
    while p.get_busy() && Instant::now() < end {
        frame(&ui, &ctrl, &mut print);
    }
    let mobile = (0..slint::Model::row_count(&p.get_printers()))
        .find(|i| {
            slint::Model::row_data(&p.get_printers(), *i).is_some_and(|n| n.contains("mobil"))
        })
        .expect("mobile printer offered") as i32;
    print.time(|| p.invoke_print(mobile));
    while p.get_status() != "Gedruckt." && Instant::now() < end {
        assert!(!p.get_status_error(), "{}", p.get_status());
        frame(&ui, &ctrl, &mut print);
    }
    assert_eq!(p.get_status(), "Gedruckt.");
    print.time(|| p.invoke_close());

    // Closing: the close callback, then frames until the gateway's receipt
    // removed the mission from the pad.
    let mut close = Stalls::new();
    close.time(|| ui.global::<app::EditorAdapter>().invoke_to_close());
    close.time(|| ui.global::<app::CloseAdapter>().invoke_close());
    let end = Instant::now() + Duration::from_secs(60);
    while store.lock().state(m).is_some() && Instant::now() < end {
        frame(&ui, &ctrl, &mut close);
    }
    assert!(
        store.lock().state(m).is_none(),
        "closed, sealed, uploaded and deleted after the receipt"
    );
    (close, print)
}
