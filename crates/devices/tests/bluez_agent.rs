//! The BlueZ pairing agent over a real D-Bus: a private `dbus-daemon`, a
//! fake bluetoothd (this file, with the `dbus` crate) that owns
//! `org.bluez`, and our `PairingAgent` registering with it.
//!
//! What the fake provides is the minimum bluer uses: `AgentManager1`
//! (Register/RequestDefault/UnregisterAgent) on `/org/bluez`,
//! `ObjectManager.GetManagedObjects` on `/` (adapter `hci0` and its
//! devices), `Adapter1` discovery calls, `Device1.Pair` (which, like
//! bluetoothd, asks the registered agent for the PIN or a confirmation)
//! and `Properties.Set` for `Trusted`. Agent requests are sent from the
//! connection that owns `org.bluez`, as bluetoothd does.
//!
//! Each case runs in a child process of this test binary with
//! `DBUS_SYSTEM_BUS_ADDRESS` set for the child only: libdbus reads the
//! variable once per process, and `set_var` in a threaded test binary is
//! unsound.
#![cfg(feature = "bluez-agent")]

use dbus::Message;
use dbus::arg::{PropMap, RefArg, Variant};
use dbus::blocking::Connection;
use dbus::channel::{Channel, MatchingReceiver, Sender};
use dbus::message::MatchRule;
use dbus::strings::Path;
use rettpad_devices::bt_agent::{
    BtPairError, Decision, DeviceKind, PairingAgent, PairingAgentPolicy, SPP_UUID,
};
use rettpad_devices::pairing::{BtAddr, PairingPin, sample_record};
use rettpad_text::{Lang, UserMessage};
use std::collections::HashMap;
use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

const CHILD: &str = "RETTPAD_BLUEZ_AGENT_CHILD";
const REJECTED: &str = "org.bluez.Error.Rejected";

// ---------------------------------------------------------------- the bus

struct Bus {
    child: Child,
    address: String,
    _dir: tempfile::TempDir,
}

impl Bus {
    /// A private bus that allows everything (it is ours alone).
    fn start() -> Bus {
        let dir = tempfile::tempdir().expect("tempdir");
        let conf = dir.path().join("bus.conf");
        let sock = dir.path().join("bus");
        std::fs::write(
            &conf,
            format!(
                r#"<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>custom</type>
  <listen>unix:path={}</listen>
  <auth>EXTERNAL</auth>
  <policy context="default">
    <allow user="*"/>
    <allow own="*"/>
    <allow send_destination="*"/>
    <allow receive_sender="*"/>
  </policy>
</busconfig>
"#,
                sock.display()
            ),
        )
        .expect("write bus config");
        let mut child = Command::new("dbus-daemon")
            .arg(format!("--config-file={}", conf.display()))
            .args(["--nofork", "--nopidfile", "--print-address"])
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("dbus-daemon (cargo xtask deps --test installs it)");
        let mut line = String::new();
        let out = child.stdout.take().expect("stdout");
        BufReader::new(out)
            .read_line(&mut line)
            .expect("bus address");
        let address = line.trim().to_string();
        assert!(address.starts_with("unix:"), "dbus-daemon said {line:?}");
        Bus {
            child,
            address,
            _dir: dir,
        }
    }
}

impl Drop for Bus {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Runs test `name` again in a child process with the bus address set.
fn in_child(name: &str, bus_address: &str) {
    let exe = std::env::current_exe().expect("test binary");
    let out = Command::new(exe)
        .args([name, "--exact", "--nocapture", "--test-threads=1"])
        .env(CHILD, "1")
        .env("DBUS_SYSTEM_BUS_ADDRESS", bus_address)
        .output()
        .expect("run child");
    let text = format!(
        "{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    eprintln!("{text}");
    assert!(out.status.success(), "child failed:\n{text}");
    // The child really ran the case (a filter typo would run nothing).
    assert!(text.contains("1 passed"), "{text}");
}

fn is_child() -> bool {
    std::env::var_os(CHILD).is_some()
}

// ---------------------------------------------------------- fake bluetoothd

fn dev_path(a: BtAddr) -> String {
    format!("/org/bluez/hci0/dev_{}", a.to_string().replace(':', "_"))
}

/// How the fake pairs a device: legacy PIN (the agent must give this
/// one) or SSP numeric comparison.
#[derive(Clone)]
enum Pairing {
    Pin(&'static str),
    Confirm,
}

#[derive(Clone)]
struct FakeDev {
    addr: BtAddr,
    pairing: Pairing,
}

#[derive(Default)]
struct Seen {
    /// (sender, object path, capability) of RegisterAgent.
    agent: Option<(String, String, String)>,
    default_agent: Option<String>,
    unregistered: Option<String>,
    paired: Vec<BtAddr>,
    trusted: Vec<BtAddr>,
    discovery_started: bool,
    registrations: usize,
    /// RequestPinCode calls made by Device1.Pair.
    pin_requests: usize,
}

type Job = Box<dyn FnOnce(&Connection) + Send>;

struct FakeBluez {
    seen: Arc<Mutex<Seen>>,
    jobs: mpsc::Sender<Job>,
    stop: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

fn error(m: &Message, name: &str, text: &str) -> Message {
    let name = dbus::strings::ErrorName::new(name).expect("error name");
    let text = std::ffi::CString::new(text).expect("text");
    m.error(&name, &text)
}

fn v<T: RefArg + 'static>(x: T) -> Box<dyn RefArg> {
    Box::new(x)
}

fn props(items: Vec<(&str, Box<dyn RefArg>)>) -> PropMap {
    items
        .into_iter()
        .map(|(k, v)| (k.to_string(), Variant(v)))
        .collect()
}

impl FakeBluez {
    fn start(address: &str, devices: Vec<FakeDev>) -> FakeBluez {
        Self::start_with(address, devices, true)
    }

    /// `adapter: false`: bluetoothd runs but the pad has no radio.
    fn start_with(address: &str, devices: Vec<FakeDev>, adapter: bool) -> FakeBluez {
        let mut ch = Channel::open_private(address).expect("connect to private bus");
        ch.register().expect("hello");
        let conn = Connection::from(ch);
        conn.request_name("org.bluez", false, true, true)
            .expect("own org.bluez");
        let seen = Arc::new(Mutex::new(Seen::default()));
        let s = seen.clone();
        conn.start_receive(
            MatchRule::new_method_call(),
            Box::new(move |m: Message, c: &Connection| {
                let reply = handle(&m, c, &devices, adapter, &s);
                let _ = c.send(reply);
                true
            }),
        );
        let (jobs, rx) = mpsc::channel::<Job>();
        let stop = Arc::new(AtomicBool::new(false));
        let st = stop.clone();
        // One thread does all D-Bus work of the fake: dbus-rs forbids
        // calling a connection from another thread while it processes.
        let thread = std::thread::spawn(move || {
            while !st.load(Ordering::Relaxed) {
                if conn.process(Duration::from_millis(10)).is_err() {
                    break;
                }
                while let Ok(job) = rx.try_recv() {
                    job(&conn);
                }
            }
        });
        FakeBluez {
            seen,
            jobs,
            stop,
            thread: Some(thread),
        }
    }

    fn seen<T>(&self, f: impl FnOnce(&Seen) -> T) -> T {
        f(&self.seen.lock().expect("seen"))
    }

    /// Calls `member` on the registered agent from org.bluez's connection,
    /// as bluetoothd would. `Err` is the D-Bus error name.
    fn call_agent(
        &self,
        member: &'static str,
        args: impl FnOnce(Message) -> Message + Send + 'static,
    ) -> Result<Message, String> {
        let (sender, path, _) = self.seen(|s| s.agent.clone()).expect("agent registered");
        let (tx, rx) = mpsc::channel();
        self.jobs
            .send(Box::new(move |c: &Connection| {
                let m = Message::new_method_call(sender, path, "org.bluez.Agent1", member)
                    .expect("method call");
                let r = c
                    .channel()
                    .send_with_reply_and_block(args(m), Duration::from_secs(5))
                    .map_err(|e| e.name().unwrap_or("?").to_string());
                let _ = tx.send(r);
            }))
            .expect("fake alive");
        rx.recv_timeout(Duration::from_secs(10))
            .expect("agent answered")
    }

    fn wait_for(&self, what: &str, f: impl Fn(&Seen) -> bool) {
        let end = Instant::now() + Duration::from_secs(5);
        while !self.seen(&f) {
            assert!(Instant::now() < end, "fake bluetoothd never saw {what}");
            std::thread::sleep(Duration::from_millis(10));
        }
    }
}

impl Drop for FakeBluez {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// bluetoothd's side of one method call.
fn handle(
    m: &Message,
    c: &Connection,
    devices: &[FakeDev],
    adapter: bool,
    state: &Mutex<Seen>,
) -> Message {
    let iface = m.interface().map(|i| i.to_string()).unwrap_or_default();
    let member = m.member().map(|i| i.to_string()).unwrap_or_default();
    let path = m.path().map(|p| p.to_string()).unwrap_or_default();
    let mut seen = state.lock().expect("seen");
    match (iface.as_str(), member.as_str()) {
        ("org.bluez.AgentManager1", "RegisterAgent") => {
            let Ok((p, cap)) = m.read2::<Path, &str>() else {
                return error(m, "org.bluez.Error.InvalidArguments", "args");
            };
            let sender = m.sender().map(|s| s.to_string()).unwrap_or_default();
            seen.agent = Some((sender, p.to_string(), cap.to_string()));
            seen.registrations += 1;
            m.method_return()
        }
        ("org.bluez.AgentManager1", "RequestDefaultAgent") => {
            let p = m.read1::<Path>().map(|p| p.to_string()).unwrap_or_default();
            if seen.agent.as_ref().map(|a| &a.1) != Some(&p) {
                return error(m, "org.bluez.Error.DoesNotExist", "no such agent");
            }
            seen.default_agent = Some(p);
            m.method_return()
        }
        ("org.bluez.AgentManager1", "UnregisterAgent") => {
            seen.unregistered = m.read1::<Path>().ok().map(|p| p.to_string());
            m.method_return()
        }
        ("org.freedesktop.DBus.ObjectManager", "GetManagedObjects") if path == "/" => {
            let mut objects: HashMap<Path<'static>, HashMap<String, PropMap>> = HashMap::new();
            if !adapter {
                return m.method_return().append1(objects);
            }
            let adapter = props(vec![
                ("Address", v("00:11:22:33:44:55".to_string())),
                ("Powered", v(true)),
            ]);
            objects.insert(
                Path::from("/org/bluez/hci0"),
                HashMap::from([("org.bluez.Adapter1".to_string(), adapter)]),
            );
            for d in devices {
                let p = props(vec![
                    ("Address", v(d.addr.to_string())),
                    ("Adapter", v(Path::from("/org/bluez/hci0"))),
                    ("Paired", v(seen.paired.contains(&d.addr))),
                    ("Trusted", v(seen.trusted.contains(&d.addr))),
                ]);
                objects.insert(
                    Path::from(dev_path(d.addr)),
                    HashMap::from([("org.bluez.Device1".to_string(), p)]),
                );
            }
            m.method_return().append1(objects)
        }
        ("org.bluez.Adapter1", "SetDiscoveryFilter" | "StopDiscovery") => m.method_return(),
        ("org.bluez.Adapter1", "StartDiscovery") => {
            seen.discovery_started = true;
            m.method_return()
        }
        ("org.bluez.Device1", "Pair") => {
            let Some(d) = devices.iter().find(|d| dev_path(d.addr) == path) else {
                return error(m, "org.freedesktop.DBus.Error.UnknownObject", "no device");
            };
            if seen.paired.contains(&d.addr) {
                return error(m, "org.bluez.Error.AlreadyExists", "Already Exists");
            }
            let Some((sender, agent, _)) = seen.agent.clone() else {
                return error(m, "org.bluez.Error.AuthenticationRejected", "no agent");
            };
            if matches!(d.pairing, Pairing::Pin(_)) {
                seen.pin_requests += 1;
            }
            drop(seen);
            let call = |member: &str| {
                Message::new_method_call(&sender, &agent, "org.bluez.Agent1", member)
                    .expect("call")
                    .append1(Path::from(dev_path(d.addr)))
            };
            let asked = match d.pairing {
                Pairing::Pin(_) => call("RequestPinCode"),
                Pairing::Confirm => call("RequestConfirmation").append1(123_456u32),
            };
            // Blocking inside the handler is what bluetoothd's pairing
            // amounts to: Pair answers after the agent did.
            let answer = c
                .channel()
                .send_with_reply_and_block(asked, Duration::from_secs(5));
            let ok = match (&d.pairing, &answer) {
                (_, Err(e)) if e.name() == Some(REJECTED) => {
                    return error(m, "org.bluez.Error.AuthenticationRejected", "rejected");
                }
                (_, Err(_)) => {
                    return error(m, "org.bluez.Error.AuthenticationCanceled", "canceled");
                }
                (Pairing::Pin(want), Ok(r)) => r.read1::<&str>().ok() == Some(*want),
                (Pairing::Confirm, Ok(_)) => true,
            };
            if !ok {
                return error(m, "org.bluez.Error.AuthenticationFailed", "wrong PIN");
            }
            state.lock().expect("seen").paired.push(d.addr);
            m.method_return()
        }
        ("org.freedesktop.DBus.Properties", "Set") => {
            let Ok((i, name, v)) = m.read3::<&str, &str, Variant<bool>>() else {
                return error(m, "org.bluez.Error.InvalidArguments", "args");
            };
            match devices.iter().find(|d| dev_path(d.addr) == path) {
                Some(d) if i == "org.bluez.Device1" && name == "Trusted" && v.0 => {
                    seen.trusted.push(d.addr);
                    m.method_return()
                }
                _ => error(m, "org.bluez.Error.InvalidArguments", "property"),
            }
        }
        _ => error(
            m,
            "org.freedesktop.DBus.Error.UnknownMethod",
            "not in the fake",
        ),
    }
}

// ------------------------------------------------------------------ cases

fn monitor() -> BtAddr {
    sample_record().address // PIN 8642 (legacy PIN pairing)
}
fn keypad_dev() -> BtAddr {
    BtAddr([0x00, 0x80, 0x25, 0x00, 0x00, 0x07]) // PIN 123456 (passkey)
}
fn wrong_pin_dev() -> BtAddr {
    BtAddr([0x00, 0x80, 0x25, 0x00, 0x00, 0x08]) // we hold 1111, it wants 2222
}
fn ssp_dev() -> BtAddr {
    BtAddr([0x00, 0x80, 0x25, 0x00, 0x00, 0x09]) // numeric comparison
}
fn absent_dev() -> BtAddr {
    BtAddr([0x00, 0x80, 0x25, 0x00, 0x00, 0x0A]) // known to us, never in range
}
fn stranger() -> BtAddr {
    BtAddr([0xDE, 0xAD, 0xBE, 0xEF, 0x00, 0x42])
}

fn policy() -> PairingAgentPolicy {
    let mut p = PairingAgentPolicy::new();
    p.add_record(&sample_record());
    p.add(
        keypad_dev(),
        DeviceKind::Spp,
        Some(PairingPin::new("123456")),
    );
    p.add(
        wrong_pin_dev(),
        DeviceKind::Spp,
        Some(PairingPin::new("1111")),
    );
    p.add(
        ssp_dev(),
        DeviceKind::Spp,
        Some(PairingPin::new("SSP-ONLY")),
    );
    p.add(absent_dev(), DeviceKind::Spp, Some(PairingPin::new("0000")));
    p
}

fn on(a: BtAddr) -> impl FnOnce(Message) -> Message + Send + 'static {
    move |m| m.append1(Path::from(dev_path(a)))
}

#[test]
fn agent_answers_bluez_over_dbus() {
    if !is_child() {
        let bus = Bus::start();
        return in_child("agent_answers_bluez_over_dbus", &bus.address);
    }
    let addr = std::env::var("DBUS_SYSTEM_BUS_ADDRESS").expect("bus address");
    let fake = FakeBluez::start(
        &addr,
        vec![
            FakeDev {
                addr: monitor(),
                pairing: Pairing::Pin("8642"),
            },
            FakeDev {
                addr: wrong_pin_dev(),
                pairing: Pairing::Pin("2222"),
            },
            FakeDev {
                addr: ssp_dev(),
                pairing: Pairing::Confirm,
            },
            FakeDev {
                addr: stranger(),
                pairing: Pairing::Pin("0000"),
            },
        ],
    );
    let agent = PairingAgent::start(policy()).expect("agent registers");

    // Registration: capability and default agent.
    let (_, path, cap) = fake.seen(|s| s.agent.clone()).expect("RegisterAgent");
    assert_eq!(cap, "KeyboardDisplay");
    assert_eq!(fake.seen(|s| s.default_agent.clone()), Some(path.clone()));

    // RequestPinCode: the PIN for a known device, Rejected for others.
    let r = fake
        .call_agent("RequestPinCode", on(monitor()))
        .expect("PIN");
    assert_eq!(r.read1::<&str>().ok(), Some("8642"));
    assert_eq!(
        fake.call_agent("RequestPinCode", on(stranger()))
            .err()
            .as_deref(),
        Some(REJECTED)
    );
    // A path that names no device is refused too (bluer checks it).
    let bad = fake.call_agent("RequestPinCode", |m| {
        m.append1(Path::from("/org/bluez/hci0"))
    });
    assert_eq!(bad.err().as_deref(), Some(REJECTED));

    // RequestPasskey: numeric PINs as u32, others refused.
    let r = fake
        .call_agent("RequestPasskey", on(keypad_dev()))
        .expect("passkey");
    assert_eq!(r.read1::<u32>().ok(), Some(123_456));
    let r = fake
        .call_agent("RequestPasskey", on(monitor()))
        .expect("passkey");
    assert_eq!(r.read1::<u32>().ok(), Some(8642));
    for a in [ssp_dev(), stranger()] {
        assert_eq!(
            fake.call_agent("RequestPasskey", on(a)).err().as_deref(),
            Some(REJECTED),
            "{a}"
        );
    }

    // AuthorizeService: SPP of a known SPP device only.
    let svc = |a: BtAddr, u: &'static str| {
        fake.call_agent("AuthorizeService", move |m| {
            m.append1(Path::from(dev_path(a))).append1(u)
        })
    };
    assert!(svc(monitor(), "00001101-0000-1000-8000-00805f9b34fb").is_ok());
    assert_eq!(SPP_UUID.to_string(), "00001101-0000-1000-8000-00805f9b34fb");
    for (a, u) in [
        (monitor(), "00001105-0000-1000-8000-00805f9b34fb"),
        (stranger(), "00001101-0000-1000-8000-00805f9b34fb"),
        (monitor(), "not-a-uuid"),
    ] {
        assert_eq!(svc(a, u).err().as_deref(), Some(REJECTED), "{a} {u}");
    }

    // Outside a pairing the pad started: no confirmation, no display.
    let confirm = fake.call_agent("RequestConfirmation", |m| {
        m.append1(Path::from(dev_path(monitor())))
            .append1(123_456u32)
    });
    assert_eq!(confirm.err().as_deref(), Some(REJECTED));
    let display = fake.call_agent("DisplayPasskey", |m| {
        m.append1(Path::from(dev_path(monitor())))
            .append1(123_456u32)
            .append1(0u16)
    });
    assert_eq!(display.err().as_deref(), Some(REJECTED));
    let display = fake.call_agent("DisplayPinCode", |m| {
        m.append1(Path::from(dev_path(monitor()))).append1("0000")
    });
    assert_eq!(display.err().as_deref(), Some(REJECTED));

    // pair_device: bluetoothd asks our agent for the PIN, then Trusted.
    agent
        .pair_device(monitor(), Duration::from_secs(10))
        .expect("paired");
    assert_eq!(fake.seen(|s| s.trusted.clone()), vec![monitor()]);
    // Numeric comparison: accepted only because we started this pairing.
    agent
        .pair_device(ssp_dev(), Duration::from_secs(10))
        .expect("paired by confirmation");
    assert!(fake.seen(|s| s.trusted.contains(&ssp_dev())));
    // The window closed with the call.
    let confirm = fake.call_agent("RequestConfirmation", |m| {
        m.append1(Path::from(dev_path(ssp_dev()))).append1(1u32)
    });
    assert_eq!(confirm.err().as_deref(), Some(REJECTED));
    // The device wants another PIN than ours.
    assert_eq!(
        agent.pair_device(wrong_pin_dev(), Duration::from_secs(10)),
        Err(BtPairError::AuthFailed(wrong_pin_dev()))
    );
    // Not one of ours: refused before bluetoothd is asked.
    let e = agent
        .pair_device(stranger(), Duration::from_secs(10))
        .unwrap_err();
    assert_eq!(e, BtPairError::UnknownDevice(stranger()));
    assert!(e.message_de().contains("nicht bekannt"));
    // Ours, but bluetoothd never sees it: a search, then "not in range".
    let t0 = Instant::now();
    let e = agent
        .pair_device(absent_dev(), Duration::from_millis(1500))
        .unwrap_err();
    assert_eq!(e, BtPairError::NotInRange(absent_dev()));
    assert!(e.message_de().contains("nicht in Reichweite"));
    assert!(fake.seen(|s| s.discovery_started));
    // The 1.5 s bound holds (bluer's own call timeout would be 120 s).
    assert!(t0.elapsed() < Duration::from_secs(10));
    assert!(!fake.seen(|s| s.trusted.contains(&stranger())));

    // What the UI can show; none of it holds a PIN.
    let recent = agent.recent_decisions();
    assert!(recent.contains(&Decision::PinGiven(monitor())));
    assert!(
        recent
            .iter()
            .any(|d| matches!(d, Decision::UnknownDevice(_, a) if *a == stranger()))
    );
    let text: String = recent
        .iter()
        .map(|d| format!("{d} {d:?} {}", d.message_de()))
        .collect();
    for pin in ["8642", "123456", "1111"] {
        assert!(!text.contains(pin), "{pin} in {text}");
    }

    agent.stop();
    fake.wait_for("UnregisterAgent", |s| {
        s.unregistered.as_deref() == Some(&path)
    });
}

#[test]
fn without_a_bus_start_fails_cleanly() {
    if !is_child() {
        let dir = tempfile::tempdir().expect("tempdir");
        let nowhere = format!("unix:path={}", dir.path().join("no-bus").display());
        return in_child("without_a_bus_start_fails_cleanly", &nowhere);
    }
    let e = PairingAgent::start(policy()).expect_err("no bus");
    eprintln!("without a bus: {e}");
    assert!(matches!(e, BtPairError::Unavailable(_)), "{e:?}");
    assert!(e.message_de().contains("Bluetooth nicht verfügbar"), "{e}");
}

#[test]
fn bus_without_bluetoothd_fails_cleanly() {
    if !is_child() {
        let bus = Bus::start();
        return in_child("bus_without_bluetoothd_fails_cleanly", &bus.address);
    }
    let e = PairingAgent::start(policy()).expect_err("nobody owns org.bluez");
    eprintln!("without bluetoothd: {e}");
    assert!(matches!(e, BtPairError::Unavailable(_)), "{e:?}");
    assert!(e.message_de().contains("Bluetooth nicht verfügbar"), "{e}");
}

#[test]
fn no_adapter_is_a_clear_error() {
    if !is_child() {
        let bus = Bus::start();
        return in_child("no_adapter_is_a_clear_error", &bus.address);
    }
    let addr = std::env::var("DBUS_SYSTEM_BUS_ADDRESS").expect("bus address");
    let _fake = FakeBluez::start_with(&addr, Vec::new(), false);
    let agent = PairingAgent::start(policy()).expect("agent registers without a radio");
    let e = agent
        .pair_device(monitor(), Duration::from_secs(5))
        .unwrap_err();
    assert_eq!(e, BtPairError::NoAdapter);
    assert!(e.message_de().contains("kein Bluetooth-Adapter"), "{e}");
}

#[test]
fn rfcomm_open_pairs_through_the_pads_agent_first() {
    if !is_child() {
        let bus = Bus::start();
        return in_child(
            "rfcomm_open_pairs_through_the_pads_agent_first",
            &bus.address,
        );
    }
    use rettpad_devices::bt_agent;
    use rettpad_devices::link::LinkError;
    let addr = std::env::var("DBUS_SYSTEM_BUS_ADDRESS").expect("bus address");
    let fake = FakeBluez::start(
        &addr,
        vec![
            FakeDev {
                addr: monitor(),
                pairing: Pairing::Pin("8642"),
            },
            FakeDev {
                addr: wrong_pin_dev(),
                pairing: Pairing::Pin("2222"),
            },
        ],
    );
    assert!(bt_agent::global().is_none());
    // What the app does at start: the tag's record becomes a known device.
    bt_agent::ensure_global(|p| p.add_record(&sample_record())).expect("agent");
    // A second call only teaches it another device: one registration.
    bt_agent::ensure_global(|p| {
        p.add(
            wrong_pin_dev(),
            DeviceKind::Spp,
            Some(PairingPin::new("1111")),
        )
    })
    .expect("update");
    assert_eq!(fake.seen(|s| s.registrations), 1);

    // The supervisor's connect: paired and trusted with the record's PIN
    // first; the socket itself then fails (this kernel has no Bluetooth).
    let e = rettpad_devices::rfcomm::open(monitor(), 1)
        .err()
        .expect("no radio here");
    assert!(!matches!(e, LinkError::Pairing(_)), "{e}");
    assert!(fake.seen(|s| s.paired.contains(&monitor()) && s.trusted.contains(&monitor())));
    // Bonded already: the next connect does not pair again.
    let _ = rettpad_devices::rfcomm::open(monitor(), 1);
    assert_eq!(fake.seen(|s| s.pin_requests), 1);

    // A device that wants another PIN: a pairing error the UI can name.
    let e = rettpad_devices::rfcomm::open(wrong_pin_dev(), 1)
        .err()
        .expect("refused");
    assert!(matches!(e, LinkError::Pairing(_)), "{e}");
    assert!(
        e.message(Lang::De).contains("Kopplung"),
        "{}",
        e.message(Lang::De)
    );
    assert!(!e.to_string().contains("1111") && !e.to_string().contains("2222"));
    // Not one of the pad's devices: bluetoothd is not asked to pair it.
    let e = rettpad_devices::rfcomm::open(stranger(), 1)
        .err()
        .expect("no radio here");
    assert!(!matches!(e, LinkError::Pairing(_)), "{e}");
    assert!(!fake.seen(|s| s.paired.contains(&stranger())));
}
