//! The kiosk app. Kept thin: parse arguments, set up logging and the vault,
//! hand over to `app`.

use rettpad_clock::{SharedClock, SystemClock};
use rettpad_pad::config::Config;
use rettpad_pad::session::Session;
use rettpad_text::{Lang, UserMessage};
use rettpad_ui::{self as app, AppState};
use rettpad_vault::FileKeyProvider;
use rettpad_vault::store::{SharedStore, Store, StoreOptions};
use slint::ComponentHandle;
use std::os::unix::fs::DirBuilderExt;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

#[cfg(feature = "demo")]
use app::screenshot;

/// Without the `demo` feature (the product build) there are no simulators
/// to render demo pages or probes with.
#[cfg(not(feature = "demo"))]
mod screenshot {
    use std::path::{Path, PathBuf};
    const NOT_BUILT: &str = "this build has no simulators (cargo feature `demo`)";
    pub struct LiveProbe {
        pub cpu_ms: f64,
        pub wall_ms: f64,
        pub frames: u64,
        pub samples: u64,
        pub dirty_px: u64,
        pub window_px: u64,
    }
    pub fn render_all(_: &Path) -> Result<Vec<PathBuf>, String> {
        Err(NOT_BUILT.into())
    }
    pub struct Screen;
    impl std::str::FromStr for Screen {
        type Err = String;
        fn from_str(_: &str) -> Result<Self, String> {
            Ok(Screen)
        }
    }
    pub fn render_all_at(_: &Path, _: Screen) -> Result<Vec<PathBuf>, String> {
        Err(NOT_BUILT.into())
    }
    pub fn live_probe(_: u64) -> Result<LiveProbe, String> {
        Err(NOT_BUILT.into())
    }
    pub fn startup_probe(_: &Path) -> Result<(), String> {
        Err(NOT_BUILT.into())
    }
}

const USAGE: &str = "usage: rettpad [--config FILE] [--data-dir DIR] [--key-file FILE] [--screenshot DIR [--size WxH[@SCALE]]] [--headless-demo] [--provision FILE]";

#[derive(Default)]
struct Args {
    config: Option<PathBuf>,
    data_dir: Option<PathBuf>,
    key_file: Option<PathBuf>,
    screenshot: Option<PathBuf>,
    size: Option<screenshot::Screen>,
    startup_probe: Option<PathBuf>,
    live_probe: Option<u64>,
    headless_demo: bool,
    provision: Option<PathBuf>,
}

fn parse_args() -> Result<Option<Args>, String> {
    let mut a = Args::default();
    let mut it = std::env::args().skip(1);
    while let Some(arg) = it.next() {
        let mut val = |name: &str| {
            it.next()
                .map(PathBuf::from)
                .ok_or(format!("{name} needs a value"))
        };
        match arg.as_str() {
            "--config" => a.config = Some(val("--config")?),
            "--data-dir" => a.data_dir = Some(val("--data-dir")?),
            "--key-file" => a.key_file = Some(val("--key-file")?),
            "--screenshot" => a.screenshot = Some(val("--screenshot")?),
            "--size" => {
                let v = val("--size")?;
                a.size = Some(
                    v.to_str()
                        .ok_or("--size needs WxH")?
                        .parse()
                        .map_err(|e: String| e)?,
                );
            }
            "--headless-demo" => a.headless_demo = true,
            "--provision" => a.provision = Some(val("--provision")?),
            "--startup-probe" => a.startup_probe = Some(val("--startup-probe")?),
            "--live-probe" => {
                let secs = val("--live-probe")?;
                a.live_probe = Some(
                    secs.to_str()
                        .and_then(|s| s.parse().ok())
                        .ok_or("--live-probe needs seconds")?,
                );
            }
            "-h" | "--help" => return Ok(None),
            other => return Err(format!("unknown argument {other}")),
        }
    }
    Ok(Some(a))
}

fn has_display() -> bool {
    ["DISPLAY", "WAYLAND_DISPLAY", "SLINT_BACKEND"]
        .iter()
        .any(|v| std::env::var_os(v).is_some_and(|x| !x.is_empty()))
}

/// The pad cannot start. The log gets the English line with the detail (the
/// file, the key, the allowed values); a kiosk shows the crew's text on the
/// lock screen instead of vanishing, and keeps showing it.
fn cannot_start(e: &(impl UserMessage + std::fmt::Display), code: u8) -> ExitCode {
    eprintln!("rettpad cannot start: {e}");
    tracing::error!(error = %e, "rettpad cannot start");
    if has_display() {
        match app::fault_window(e, Lang::De) {
            Ok(ui) => {
                ui.window().set_fullscreen(true);
                if let Err(err) = ui.run() {
                    eprintln!("fault screen failed: {err}");
                }
            }
            Err(err) => eprintln!("fault screen failed: {err}"),
        }
    } else {
        eprintln!("{}", e.message(Lang::De));
    }
    ExitCode::from(code)
}

fn main() -> ExitCode {
    let args = match parse_args() {
        Ok(Some(a)) => a,
        Ok(None) => {
            println!("{USAGE}");
            return ExitCode::SUCCESS;
        }
        Err(e) => {
            eprintln!("{e}\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    if let Some(dir) = &args.screenshot {
        return screenshots(dir, args.size);
    }
    if let Some(secs) = args.live_probe {
        return match screenshot::live_probe(secs) {
            Ok(p) => {
                println!(
                    "live_probe cpu_ms={:.0} wall_ms={:.0} frames={} samples={} dirty_px={} window_px={}",
                    p.cpu_ms, p.wall_ms, p.frames, p.samples, p.dirty_px, p.window_px
                );
                ExitCode::SUCCESS
            }
            Err(e) => {
                eprintln!("live probe failed: {e}");
                ExitCode::FAILURE
            }
        };
    }
    if let Some(dir) = &args.startup_probe {
        return match screenshot::startup_probe(dir) {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("startup probe failed: {e}");
                ExitCode::FAILURE
            }
        };
    }
    let cfg = match args.config.as_deref().map(Config::load).transpose() {
        Ok(c) => c.unwrap_or_else(Config::demo),
        Err(e) => return cannot_start(&e, 2),
    };
    let dir = match cfg.data_dir(args.data_dir.as_deref()) {
        Ok(d) => d,
        Err(e) => return cannot_start(&e, 2),
    };
    let key = cfg.key_file(args.key_file.as_deref());
    // Private before anything (the log directory) is created inside it.
    if let Err(e) = std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(&dir)
    {
        let e = rettpad_pad::config::ConfigError::CreateDataDir {
            path: dir.clone(),
            source: e,
        };
        return cannot_start(&e, 1);
    }
    let _log = match rettpad_logging::init(&dir.join("logs"), &cfg.log_level) {
        Ok(g) => Some(g),
        Err(e) => {
            eprintln!("{}\n{e}", e.message(Lang::De));
            None
        }
    };
    if let Some(file) = &args.provision {
        return provision(&cfg, &dir, &key, file);
    }
    if args.headless_demo || !has_display() {
        if !args.headless_demo {
            let shots = PathBuf::from("target/demo-shots");
            println!(
                "Kein Bildschirm gefunden (DISPLAY/WAYLAND_DISPLAY nicht gesetzt): die Seiten werden nach {} gerendert,\n\
                 danach folgt der Ablauf ohne Oberfläche.\n",
                shots.display()
            );
            match screenshot::render_all(&shots) {
                Ok(files) => println!("{} Bildschirmfotos geschrieben.\n", files.len()),
                Err(e) => eprintln!("Bildschirmfotos fehlgeschlagen: {e}"),
            }
        }
        let mut out = std::io::stdout();
        return match rettpad_pad::demo::run(&cfg, &dir, &key, SystemClock::shared(), &mut out) {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("error: {e}");
                ExitCode::FAILURE
            }
        };
    }
    let demo = args.config.is_none();
    run_kiosk(cfg, &dir, &key, demo)
}

/// `--provision FILE`: the package into the vault, or a clear refusal; the
/// configuration in the vault stays as it was on any refusal.
fn provision(cfg: &Config, dir: &Path, key: &Path, file: &Path) -> ExitCode {
    let clock: SharedClock = SystemClock::shared();
    let store = match Store::open(
        dir,
        Arc::new(FileKeyProvider::new(key)),
        clock.clone(),
        StoreOptions::default(),
    ) {
        Ok(s) => SharedStore::new(s),
        Err(e) => return cannot_start(&e, 1),
    };
    match rettpad_pad::fleet::apply_file(&store, cfg, file, clock.wall_ms()) {
        Ok(r) => {
            let parts: Vec<String> = r
                .parts
                .iter()
                .map(|(p, v)| format!("{} {v}", p.name()))
                .collect();
            println!(
                "Paket {} installiert: {}. Es gilt ab dem nächsten Start, eine neue PIN ab der nächsten Sperre.",
                r.package_id,
                parts.join(", ")
            );
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("{}", e.message(Lang::De));
            ExitCode::from(2)
        }
    }
}

fn screenshots(dir: &Path, size: Option<screenshot::Screen>) -> ExitCode {
    let res = match size {
        Some(s) => screenshot::render_all_at(dir, s),
        None => screenshot::render_all(dir),
    };
    match res {
        Ok(files) => {
            for f in files {
                println!("{}", f.display());
            }
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("screenshot failed: {e}");
            ExitCode::FAILURE
        }
    }
}

/// The demo's dispatch centre: 20 s after start it alarms the demo pad's
/// vehicle and sends its statuses every 20 s, so a newcomer sees a mission
/// arrive and its times fill in. `RETTPAD_DEMO_DISPATCH=0` turns it off.
#[cfg(feature = "demo")]
fn demo_dispatch(g: &rettpad_gateway::local::LocalGateway, call_sign: &str) {
    if std::env::var_os("RETTPAD_DEMO_DISPATCH").is_some_and(|v| v == "0") {
        return;
    }
    let Some(api) = g.bound.dispatch else { return };
    let (id, _) = rettpad_gateway::init::DEMO_CENTRE;
    let Ok(token) = std::fs::read_to_string(g.dir.join(format!("centre-{id}.token"))) else {
        return;
    };
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    let o = rettpad_sim::dispatch::Options {
        api,
        token: token.trim().to_string(),
        centre: id.into(),
        units: vec![call_sign.to_string()],
        number: format!("R 1.1 DEMO {}", secs % 100_000),
        step: std::time::Duration::from_secs(20),
        faults: false,
        cancel: false,
    };
    let _ = std::thread::Builder::new()
        .name("demo-dispatch".into())
        .spawn(move || {
            std::thread::sleep(std::time::Duration::from_secs(20));
            let r = rettpad_sim::dispatch::run(&o, |what, code, _| {
                tracing::info!(step = what, status = code, "demo dispatch");
            });
            if let Err(e) = r {
                tracing::warn!(error = %e, "demo dispatch stopped");
            }
        });
}

fn run_kiosk(cfg: Config, dir: &Path, key: &Path, demo: bool) -> ExitCode {
    // The demo uploads for real: to a gateway on loopback in this process.
    let (upload, gateway): (Option<rettpad_transfer::UploadConfig>, Option<app::Keep>) =
        match (&cfg.upload, demo) {
            (Some(u), _) => (Some(u.clone()), None),
            #[cfg(feature = "demo")]
            (None, true) => match rettpad_gateway::local::start(&dir.join("demo-gateway")) {
                Ok(g) => {
                    println!(
                        "Demo-Gateway: {} – Ankunftstafel: {}",
                        g.upload.gateway_url,
                        g.board_url()
                    );
                    demo_dispatch(&g, &cfg.call_sign);
                    (Some(g.upload.clone()), Some(Box::new(g)))
                }
                Err(e) => {
                    eprintln!("Demo-Gateway nicht gestartet: {e}");
                    (None, None)
                }
            },
            _ => (None, None),
        };
    // The demo organisation enrolls the demo pad and provisions its staff
    // list, so the shift login offers it.
    #[cfg(feature = "demo")]
    let cfg = if demo && cfg.fleet.is_none() && gateway.is_some() {
        match rettpad_gateway::local::demo_fleet(&dir.join("demo-gateway")) {
            Ok(t) => Config {
                fleet: Some(t),
                ..cfg
            },
            Err(e) => {
                tracing::warn!(error = %e, "demo fleet not set up");
                cfg
            }
        }
    } else {
        cfg
    };
    let clock: SharedClock = SystemClock::shared();
    let opts = StoreOptions {
        snapshot_every: cfg.snapshot_every,
        ..Default::default()
    };
    let store = match Store::open(
        dir,
        Arc::new(FileKeyProvider::new(key)),
        clock.clone(),
        opts,
    ) {
        Ok(s) => SharedStore::new(s),
        // The vault stays untouched; the crew documents on paper meanwhile.
        Err(e) => return cannot_start(&e, 1),
    };
    let session_cfg = match cfg.session_config() {
        Ok(c) => c,
        Err(e) => return cannot_start(&e, 1),
    };
    let session = match Session::new(session_cfg, clock.clone(), store.clone(), store.clone()) {
        Ok(s) => s,
        Err(e) => return cannot_start(&e, 1),
    };
    let (ui, ctrl) = match app::build(cfg, clock, store, session) {
        Ok(x) => x,
        Err(e) => {
            eprintln!("Die Oberfläche kann nicht starten: {e}");
            return ExitCode::FAILURE;
        }
    };
    ctrl.borrow_mut().attach_from_config();
    if let Some(u) = &upload {
        ctrl.borrow_mut().attach_upload(u, gateway);
    }
    ui.window().set_fullscreen(true);
    // Idle lock, clock and retries of not-yet-durable edits, once a second.
    let ctrl_frames = ctrl.clone();
    let timer = slint::Timer::default();
    let weak = ui.as_weak();
    timer.start(
        slint::TimerMode::Repeated,
        Duration::from_secs(1),
        move || {
            if let Some(ui) = weak.upgrade() {
                let mut c = ctrl.borrow_mut();
                if c.store().lock().pending() > 0 {
                    let _ = c.store().lock().retry_pending();
                }
                c.tick();
                c.refresh(&ui);
                let _ = ui.global::<AppState>();
            }
        },
    );
    // The live monitor page draws the ECG at 10 frames per second.
    let frames = slint::Timer::default();
    let (weak, ctrl2) = (ui.as_weak(), ctrl_frames);
    frames.start(
        slint::TimerMode::Repeated,
        Duration::from_millis(100),
        move || {
            if let Some(ui) = weak.upgrade() {
                ctrl2.borrow_mut().live_frame(&ui);
            }
        },
    );
    match ui.run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("Die Oberfläche ist beendet: {e}");
            ExitCode::FAILURE
        }
    }
}
