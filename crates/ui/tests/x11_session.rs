//! The app as a crew meets it, in a real X server: Xvfb, a small window
//! manager, the `rettpad` binary, mouse clicks and a hardware keyboard
//! through xdotool. Unlock by tapping the PIN, type a crew name, start the
//! shift, create a mission, type the patient's name on the hardware and the
//! given name on the on-screen keyboard; then the vault (not
//! the pixels) must hold what was typed. Needs `cargo xtask deps --test`
//! (xvfb, matchbox-window-manager, xdotool). Every wait is bounded.

use rettpad_clock::SystemClock;
use rettpad_record::keys;
use rettpad_vault::FileKeyProvider;
use rettpad_vault::store::{Store, StoreOptions};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Kills what it holds when the test ends, also on a panic.
struct Proc(Child);

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn spawn(name: &'static str, cmd: &mut Command) -> Proc {
    let child = cmd
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap_or_else(|e| panic!("{name}: {e} (cargo xtask deps --test installs it)"));
    Proc(child)
}

fn wait_until(what: &str, limit: Duration, mut ok: impl FnMut() -> bool) {
    let deadline = Instant::now() + limit;
    while !ok() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

struct X {
    display: String,
}

impl X {
    fn xdotool(&self, args: &[&str]) -> String {
        let out = Command::new("xdotool")
            .args(args)
            .env("DISPLAY", &self.display)
            .output()
            .expect("xdotool (cargo xtask deps --test installs it)");
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// A tap at logical px of the 1280×800 layout (see assets/screenshots).
    fn tap(&self, x: u32, y: u32) {
        self.xdotool(&["mousemove", &x.to_string(), &y.to_string()]);
        self.xdotool(&["click", "1"]);
        // One frame and the UI's change handlers.
        std::thread::sleep(Duration::from_millis(400));
    }

    /// Types on the hardware keyboard, a key every 60 ms.
    fn type_text(&self, text: &str) {
        self.xdotool(&["type", "--delay", "60", text]);
        std::thread::sleep(Duration::from_millis(300));
    }

    fn key(&self, k: &str) {
        self.xdotool(&["key", k]);
        std::thread::sleep(Duration::from_millis(400));
    }
}

/// The app's log (info level by default) says what the session did.
fn log_has(data: &Path, line: &str) -> bool {
    let Ok(dir) = std::fs::read_dir(data.join("logs")) else {
        return false;
    };
    dir.flatten()
        .any(|e| std::fs::read_to_string(e.path()).is_ok_and(|t| t.contains(line)))
}

/// Waits (without acting again) until one log line holds all of `parts`.
fn wait_logged(data: &Path, parts: &[&str]) {
    wait_until(
        &format!("the log line {parts:?}"),
        Duration::from_secs(60),
        || {
            let Ok(dir) = std::fs::read_dir(data.join("logs")) else {
                return false;
            };
            dir.flatten().any(|e| {
                std::fs::read_to_string(e.path())
                    .is_ok_and(|t| t.lines().any(|l| parts.iter().all(|p| l.contains(p))))
            })
        },
    );
}

/// Repeats `act` until the log says `line` (the first taps can arrive
/// before the first frame on a slow machine), at most three times.
fn until_logged(data: &Path, line: &str, mut act: impl FnMut()) {
    for _ in 0..3 {
        act();
        let deadline = Instant::now() + Duration::from_secs(5);
        while Instant::now() < deadline {
            if log_has(data, line) {
                return;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }
    panic!("the app never logged {line:?}");
}

fn shift_json(data: &Path, key: &Path) -> String {
    let store = Store::open(
        data,
        Arc::new(FileKeyProvider::new(key)),
        SystemClock::shared(),
        StoreOptions::default(),
    )
    .expect("the vault opens after the session");
    let raw = store
        .meta_get("session.shift")
        .ok()
        .flatten()
        .unwrap_or_default();
    String::from_utf8_lossy(&raw).into_owned()
}

#[test]
fn a_session_in_a_real_x_server_types_into_the_vault() {
    let tmp = tempfile::tempdir().unwrap();
    let n = 40 + std::process::id() % 200;
    let display = format!(":{n}");
    let _xvfb = spawn(
        "Xvfb",
        Command::new("Xvfb").args([&display, "-screen", "0", "1280x800x24", "-nolisten", "tcp"]),
    );
    let socket = format!("/tmp/.X11-unix/X{n}");
    wait_until("the X server", Duration::from_secs(15), || {
        Path::new(&socket).exists()
    });
    let x = X { display };
    let _wm = spawn(
        "matchbox-window-manager",
        Command::new("matchbox-window-manager")
            .args(["-use_titlebar", "no"])
            .env("DISPLAY", &x.display),
    );
    let data = tmp.path().join("data");
    let key = tmp.path().join("device.key");
    // Debug lines of the pad core say when a field is durable, so the test
    // waits for the app instead of guessing how long a busy machine needs.
    let config = tmp.path().join("rettpad.toml");
    std::fs::write(
        &config,
        "device_serial = \"X11-TEST-01\"\ncall_sign = \"RTW 1/83-1\"\n\
         card_reader = \"off\"\nlog_level = \"info,rettpad_pad=debug\"\n",
    )
    .unwrap();
    let _app = spawn(
        "rettpad",
        Command::new(env!("CARGO_BIN_EXE_rettpad"))
            .arg("--config")
            .arg(&config)
            .arg("--data-dir")
            .arg(&data)
            .arg("--key-file")
            .arg(&key)
            .env("DISPLAY", &x.display)
            .env_remove("WAYLAND_DISPLAY")
            // No GPU in Xvfb: Slint's software renderer.
            .env("SLINT_BACKEND", "winit-software"),
    );
    // A debug build on a loaded 2-core CI machine can take a minute.
    wait_until("the rettpad window", Duration::from_secs(120), || {
        !x.xdotool(&["search", "--onlyvisible", "--name", "rettpad"])
            .trim()
            .is_empty()
    });
    // The first frame and the full-screen switch.
    std::thread::sleep(Duration::from_secs(2));

    // ⌫, PIN 1234 and OK, tapped (lock page, 1280×800).
    until_logged(&data, "session unlocked", || {
        for (x_, y) in [
            (508, 680),
            (508, 391),
            (640, 391),
            (771, 391),
            (508, 487),
            (771, 680),
        ] {
            x.tap(x_, y);
        }
    });
    // Shift page: the first crew member's name and number typed on the
    // hardware keyboard (the on-screen keyboard steps aside for it).
    x.tap(450, 289);
    x.type_text("Anna Berger");
    x.key("Tab");
    x.type_text("4711");
    x.key("Return");
    // "Schicht beginnen", under the qualifications.
    until_logged(&data, "shift started", || x.tap(1150, 581));
    // Missions page: "Neuer Einsatz"; editor: "Patient"; its "Name" field.
    x.tap(316, 727);
    wait_logged(&data, &["mission opened"]);
    // "Patient": the first cell of the section list's second row (the
    // first row holds Einsatz/Zeiten and Kurzerfassung).
    x.tap(83, 221);
    x.tap(890, 342);
    x.type_text("Mustermann");
    x.key("Return");
    wait_logged(&data, &["field saved", keys::patient::FAMILY_NAME]);
    // "Vorname" on the on-screen keyboard: E (a capital by itself) r i k a,
    // then "Fertig" (1280×800, see 07b-on-screen-keyboard.png).
    x.tap(890, 443);
    for (x_, y) in [
        (292, 475),
        (408, 475),
        (872, 475),
        (872, 567),
        (60, 567),
        (945, 752),
    ] {
        x.tap(x_, y);
    }
    wait_logged(&data, &["field saved", keys::patient::GIVEN_NAME]);
    drop(_app);

    let shift = shift_json(&data, &key);
    assert!(
        shift.contains("Anna Berger") && shift.contains("4711"),
        "the typed crew member started the shift: {shift:?}"
    );
    let store = Store::open(
        &data,
        Arc::new(FileKeyProvider::new(&key)),
        SystemClock::shared(),
        StoreOptions::default(),
    )
    .unwrap();
    let missions: Vec<_> = store.mission_ids().collect();
    assert_eq!(missions.len(), 1, "one mission created");
    let st = store.state(missions[0]).expect("its state");
    let field = |k: &str| -> Vec<_> {
        st.patients
            .iter()
            .filter_map(|p| p.get(k).cloned())
            .collect()
    };
    let text = |s: &str| vec![rettpad_record::Value::Text(s.into())];
    assert_eq!(
        field(keys::patient::FAMILY_NAME),
        text("Mustermann"),
        "the name typed on the hardware keyboard is in the record"
    );
    assert_eq!(
        field(keys::patient::GIVEN_NAME),
        text("Erika"),
        "the given name typed on the on-screen keyboard is in the record"
    );
}
