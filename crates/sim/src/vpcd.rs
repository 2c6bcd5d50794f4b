//! The simulated card on a real PC/SC stack: a client of vsmartcard's vpcd
//! driver inside pcscd (`rettpad-sim card …`), and a harness that runs
//! pcscd in the foreground for end-to-end tests and the benchmark.
//!
//! vpcd protocol: TCP to 127.0.0.1:35963 (reader "Virtual PCD 00 00"),
//! frames of `u16` big-endian length + bytes in both directions. A 1-byte
//! frame from vpcd is control (`00` off, `01` on, `02` reset: no reply;
//! `04` ATR: reply with the ATR); longer frames are C-APDUs answered with an
//! R-APDU. Connected = card inserted, socket closed = card removed.
//! Debian's vpcd 0.8 sends length and APDU in two writes, so without
//! `TCP_QUICKACK` every APDU waits ~44 ms for a delayed ACK.
//!
//! Test/dev only: vpcd listens on all interfaces; never install it on a pad.

use rettpad_card::mifare::SimMifare;
use rettpad_card::sim::{Corruption, Faults, KvkAccess, SimCard};
use std::io::{self, Read, Write};
use std::net::{Shutdown, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitCode, Stdio};
use std::time::{Duration, Instant};

/// vpcd's first slot ("Virtual PCD 00 00").
pub const VPCD_PORT: u16 = 0x8C7B;
pub const VPCD_READER: &str = "Virtual PCD 00 00";
const VPCD_DRIVER: &str = "/usr/lib/pcsc/drivers/serial/libifdvpcd.so";
const VPCD_CONF: &str = "/etc/reader.conf.d/vpcd";
const PCSCD_PID: &str = "/run/pcscd/pcscd.pid";
const PCSCD_SOCKET: &str = "/run/pcscd/pcscd.comm";

/// How a session with vpcd ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ended {
    /// vpcd closed the connection (pcscd stopped).
    VpcdClosed,
    /// The hold time elapsed and the card was "removed".
    Removed,
    /// The configured link drop fired mid-read.
    Dropped,
}

#[cfg(target_os = "linux")]
fn quickack(s: &TcpStream) {
    use std::os::fd::AsRawFd;
    let one: libc::c_int = 1;
    // SAFETY: a valid socket fd and a c_int option value of the right size.
    unsafe {
        libc::setsockopt(
            s.as_raw_fd(),
            libc::IPPROTO_TCP,
            libc::TCP_QUICKACK,
            (&one as *const libc::c_int).cast(),
            std::mem::size_of::<libc::c_int>() as libc::socklen_t,
        );
    }
}

#[cfg(not(target_os = "linux"))]
fn quickack(_: &TcpStream) {}

/// Connects to vpcd, retrying until `wait` has passed (pcscd may still be
/// loading the driver).
pub fn connect(port: u16, wait: Duration) -> io::Result<TcpStream> {
    let deadline = Instant::now() + wait;
    loop {
        match TcpStream::connect(("127.0.0.1", port)) {
            Ok(s) => {
                s.set_nodelay(true)?;
                return Ok(s);
            }
            Err(e) if Instant::now() >= deadline => return Err(e),
            Err(_) => std::thread::sleep(Duration::from_millis(50)),
        }
    }
}

/// A card vpcd can play: the eGK/KVK [`SimCard`] or a MIFARE Classic
/// pairing tag ([`SimMifare`]).
pub trait VirtualCard {
    fn atr(&self) -> Vec<u8>;
    /// Power off / on / reset.
    fn reset(&mut self);
    fn process(&mut self, capdu: &[u8]) -> Vec<u8>;
    /// True when the next APDU must not be answered (the link drops).
    fn link_drops_now(&self) -> bool;
}

impl VirtualCard for SimCard {
    fn atr(&self) -> Vec<u8> {
        SimCard::atr(self).to_vec()
    }
    fn reset(&mut self) {
        SimCard::reset(self)
    }
    fn process(&mut self, capdu: &[u8]) -> Vec<u8> {
        SimCard::process(self, capdu)
    }
    fn link_drops_now(&self) -> bool {
        SimCard::link_drops_now(self)
    }
}

impl VirtualCard for SimMifare {
    fn atr(&self) -> Vec<u8> {
        SimMifare::atr(self).to_vec()
    }
    fn reset(&mut self) {
        SimMifare::reset(self)
    }
    fn process(&mut self, capdu: &[u8]) -> Vec<u8> {
        SimMifare::process(self, capdu)
    }
    fn link_drops_now(&self) -> bool {
        SimMifare::link_drops_now(self)
    }
}

/// Plays `card` on an open vpcd connection until vpcd closes it, `hold`
/// elapses (then the socket is closed: removal) or the card's link drop
/// fires. A vpcd that closes the socket ends it cleanly.
pub fn serve(
    stream: TcpStream,
    card: &mut dyn VirtualCard,
    hold: Option<Duration>,
) -> io::Result<Ended> {
    let mut s = stream;
    let timer = match hold {
        Some(h) => {
            let c = s.try_clone()?;
            let (tx, rx) = std::sync::mpsc::channel::<()>();
            let t = std::thread::spawn(move || {
                if rx.recv_timeout(h).is_err() {
                    let _ = c.shutdown(Shutdown::Both);
                    return true;
                }
                false
            });
            Some((tx, t))
        }
        None => None,
    };
    let r = serve_loop(&mut s, card);
    let _ = s.shutdown(Shutdown::Both);
    let timed_out = match timer {
        Some((tx, t)) => {
            let _ = tx.send(());
            t.join().unwrap_or(false)
        }
        None => false,
    };
    match r {
        Ok(Ended::VpcdClosed) if timed_out => Ok(Ended::Removed),
        Err(_) if timed_out => Ok(Ended::Removed),
        other => other,
    }
}

fn serve_loop(s: &mut TcpStream, card: &mut dyn VirtualCard) -> io::Result<Ended> {
    loop {
        let mut len = [0u8; 2];
        quickack(s);
        match s.read_exact(&mut len) {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => return Ok(Ended::VpcdClosed),
            Err(e) => return Err(e),
        }
        let mut msg = vec![0u8; usize::from(u16::from_be_bytes(len))];
        quickack(s);
        s.read_exact(&mut msg)?;
        let reply = match (msg.len(), msg.first()) {
            (1, Some(0x00..=0x02)) => {
                card.reset();
                None
            }
            (1, Some(0x04)) => Some(card.atr()),
            (0 | 1, _) => None,
            _ => {
                if card.link_drops_now() {
                    return Ok(Ended::Dropped);
                }
                Some(card.process(&msg))
            }
        };
        if let Some(r) = reply {
            let mut frame = (r.len() as u16).to_be_bytes().to_vec();
            frame.extend_from_slice(&r);
            s.write_all(&frame)?;
        }
    }
}

const USAGE: &str = "usage: rettpad-sim card [--kvk [--acs] | --other] [--pd FILE --vd FILE] \
[--hold SECS] [--drop-after N] [--blocked] [--update-interrupted] \
[--corrupt container|gzip|zip-bomb|xml|checksum] [--port N] [--wait SECS]
       rettpad-sim card --mifare [--mifare-key HEX12] [--mifare-proto intellivue|ble]
[--mifare-corrupt crc|magic] [--mifare-staff UID8] [--hold SECS] [--drop-after N]

Plays a simulated eGK (default: the sample fixtures), KVK or other card to
vpcd in a running pcscd. Connecting inserts the card; after --hold SECS the
card is removed (default: it stays until pcscd goes away). --drop-after N
breaks the link after N APDUs, like a card pulled mid-read. Prints
INSERTED and then REMOVED, VPCD-CLOSED or DROPPED.
--mifare plays a MIFARE Classic 1K pairing tag as a contactless PC/SC
reader shows it (sectors 1-2 hold the sample pairing record, opened by
--mifare-key, default A0A1A2A3A4A5). --mifare-staff UID8 plays a staff card
instead: no pairing record, the 4-byte UID given in hex.";

/// `rettpad-sim card …`.
pub fn main(args: &[String]) -> ExitCode {
    match run_cli(args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(msg) => {
            eprintln!("rettpad-sim card: {msg}\n\n{USAGE}");
            ExitCode::from(2)
        }
    }
}

fn run_cli(args: &[String]) -> Result<(), String> {
    let mut f = Faults::default();
    let (mut kvk, mut acs, mut other) = (false, false, false);
    let (mut pd, mut vd): (Option<PathBuf>, Option<PathBuf>) = (None, None);
    let mut hold = None;
    let mut port = VPCD_PORT;
    let mut wait = Duration::from_secs(10);
    let mut mifare: Option<MifareOpts> = None;
    let mut it = args.iter();
    let num = |v: Option<&String>, what: &str| -> Result<u64, String> {
        v.and_then(|s| s.parse().ok())
            .ok_or_else(|| format!("{what} needs a number"))
    };
    while let Some(a) = it.next() {
        match a.as_str() {
            "--kvk" => kvk = true,
            "--acs" => acs = true,
            "--other" => other = true,
            "--blocked" => f.blocked = true,
            "--update-interrupted" => f.update_interrupted = true,
            "--zip-bomb" => f.corrupt = Some(Corruption::ZipBomb),
            "--pd" => pd = it.next().map(PathBuf::from),
            "--vd" => vd = it.next().map(PathBuf::from),
            "--hold" => hold = Some(Duration::from_secs_f64(num(it.next(), "--hold")? as f64)),
            "--hold-ms" => hold = Some(Duration::from_millis(num(it.next(), "--hold-ms")?)),
            "--drop-after" => f.drop_after = Some(num(it.next(), "--drop-after")? as usize),
            "--port" => {
                port = u16::try_from(num(it.next(), "--port")?).map_err(|_| "bad --port")?
            }
            "--wait" => wait = Duration::from_secs(num(it.next(), "--wait")?),
            "--corrupt" => {
                f.corrupt = Some(match it.next().map(String::as_str) {
                    Some("container") => Corruption::Container,
                    Some("gzip") => Corruption::Gzip,
                    Some("zip-bomb") => Corruption::ZipBomb,
                    Some("xml") => Corruption::Xml,
                    Some("checksum") => Corruption::Checksum,
                    _ => return Err("--corrupt needs container|gzip|zip-bomb|xml|checksum".into()),
                })
            }
            "--mifare" => {
                mifare.get_or_insert_with(MifareOpts::default);
            }
            "--mifare-key" => {
                let k = it.next().ok_or("--mifare-key needs 12 hex digits")?;
                let k = rettpad_card::mifare::MifareKey::from_hex(k)?;
                mifare.get_or_insert_with(MifareOpts::default).key = *k.bytes();
            }
            "--mifare-proto" => {
                mifare.get_or_insert_with(MifareOpts::default).ble =
                    match it.next().map(String::as_str) {
                        Some("ble") => true,
                        Some("intellivue") => false,
                        _ => return Err("--mifare-proto needs intellivue|ble".into()),
                    }
            }
            "--mifare-staff" => {
                let h = it.next().ok_or("--mifare-staff needs 8 hex digits")?;
                let uid: [u8; 4] = hex_bytes(h)
                    .and_then(|b| b.try_into().ok())
                    .ok_or("--mifare-staff needs 8 hex digits")?;
                mifare.get_or_insert_with(MifareOpts::default).staff = Some(uid);
            }
            "--mifare-corrupt" => {
                mifare.get_or_insert_with(MifareOpts::default).corrupt =
                    match it.next().map(String::as_str) {
                        Some("crc") => Some(40),
                        Some("magic") => Some(0),
                        _ => return Err("--mifare-corrupt needs crc|magic".into()),
                    }
            }
            "-h" | "--help" => {
                println!("{USAGE}");
                return Ok(());
            }
            other => return Err(format!("unknown option {other}")),
        }
    }
    if let Some(m) = mifare {
        let mut tag = m.tag()?;
        tag.drop_after(f.drop_after);
        return play(port, wait, &mut tag, hold);
    }
    let mut card = if other {
        SimCard::other()
    } else if kvk {
        let access = if acs { KvkAccess::Acs } else { KvkAccess::Mkt };
        SimCard::kvk(&rettpad_card::kvk::sample_fields(), access, f)
    } else {
        match (pd, vd) {
            (None, None) => SimCard::sample_egk(f),
            (Some(p), Some(v)) => {
                let p = std::fs::read(&p).map_err(|e| format!("{}: {e}", p.display()))?;
                let v = std::fs::read(&v).map_err(|e| format!("{}: {e}", v.display()))?;
                SimCard::egk(&p, &v, f)?
            }
            _ => return Err("--pd and --vd go together".into()),
        }
    };
    play(port, wait, &mut card, hold)
}

/// `--mifare…` options.
struct MifareOpts {
    key: [u8; 6],
    ble: bool,
    /// Byte of the record to flip (CRC then fails, or the magic).
    corrupt: Option<usize>,
    /// A staff card with this UID: no pairing record.
    staff: Option<[u8; 4]>,
}

impl Default for MifareOpts {
    fn default() -> Self {
        MifareOpts {
            key: [0xA0, 0xA1, 0xA2, 0xA3, 0xA4, 0xA5],
            ble: false,
            corrupt: None,
            staff: None,
        }
    }
}

impl MifareOpts {
    fn tag(&self) -> Result<SimMifare, String> {
        use rettpad_devices::pairing::{self, DeviceProtocol, PairingPin};
        if let Some(uid) = self.staff {
            // Factory keys; the pairing key does not open it.
            return Ok(SimMifare::blank(uid));
        }
        let mut rec = pairing::sample_record();
        if self.ble {
            rec.protocol = DeviceProtocol::Ble;
            rec.channel = 0;
            rec.pin = PairingPin::default();
        }
        let mut data = pairing::encode(&rec).map_err(|e| e.to_string())?;
        if let Some(i) = self.corrupt
            && let Some(b) = data.get_mut(i)
        {
            *b ^= 0x01;
        }
        let mut tag = SimMifare::blank([0x04, 0xA2, 0x5B, 0x11]);
        tag.set_keys(1, &self.key, &[0xFF; 6]);
        tag.set_keys(2, &self.key, &[0xFF; 6]);
        tag.write_data(1, &data[..]);
        Ok(tag)
    }
}

fn hex_bytes(s: &str) -> Option<Vec<u8>> {
    s.len()
        .is_multiple_of(2)
        .then(|| {
            (0..s.len())
                .step_by(2)
                .map(|i| s.get(i..i + 2).and_then(|b| u8::from_str_radix(b, 16).ok()))
                .collect::<Option<Vec<u8>>>()
        })
        .flatten()
}

fn play(
    port: u16,
    wait: Duration,
    card: &mut dyn VirtualCard,
    hold: Option<Duration>,
) -> Result<(), String> {
    let s = connect(port, wait).map_err(|e| format!("cannot reach vpcd on port {port}: {e}"))?;
    println!("INSERTED");
    let _ = io::stdout().flush();
    let ended = serve(s, card, hold).map_err(|e| format!("vpcd link: {e}"))?;
    println!(
        "{}",
        match ended {
            Ended::Removed => "REMOVED",
            Ended::VpcdClosed => "VPCD-CLOSED",
            Ended::Dropped => "DROPPED",
        }
    );
    Ok(())
}

/// Serialises everything that uses the machine's single pcscd, across
/// threads and processes (nextest runs each test in its own process).
pub struct PcscdLock {
    _file: std::fs::File,
}

impl PcscdLock {
    pub fn acquire() -> io::Result<PcscdLock> {
        let path = std::env::temp_dir().join("rettpad-pcscd.lock");
        let file = std::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(path)?;
        flock(&file)?;
        Ok(PcscdLock { _file: file })
    }
}

#[cfg(unix)]
fn flock(f: &std::fs::File) -> io::Result<()> {
    use std::os::fd::AsRawFd;
    // SAFETY: a valid fd; the lock is released when the file is closed.
    let r = unsafe { libc::flock(f.as_raw_fd(), libc::LOCK_EX) };
    if r == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

#[cfg(not(unix))]
fn flock(_: &std::fs::File) -> io::Result<()> {
    Ok(())
}

/// pcscd running in the foreground, owned by a test or the benchmark.
/// Dropping it stops pcscd (SIGTERM, then SIGKILL).
pub struct Pcscd {
    child: Option<Child>,
    log: PathBuf,
}

fn pcscd_binary() -> Option<PathBuf> {
    let sbin = Path::new("/usr/sbin/pcscd");
    if sbin.exists() {
        return Some(sbin.to_path_buf());
    }
    std::env::var_os("PATH").and_then(|p| {
        std::env::split_paths(&p)
            .map(|d| d.join("pcscd"))
            .find(|p| p.exists())
    })
}

fn pid_alive(pid: i32) -> bool {
    // SAFETY: signal 0 only checks for existence.
    pid > 0 && unsafe { libc::kill(pid, 0) } == 0
}

impl Pcscd {
    /// Starts `pcscd -f` with the vpcd driver and waits until vpcd's reader
    /// is listed. Fails with an explanation when pcscd cannot run here.
    pub fn start() -> Result<Pcscd, String> {
        let bin = pcscd_binary().ok_or(
            "pcscd is not installed; run `cargo xtask deps --test` (as root) to install pcscd and vsmartcard-vpcd",
        )?;
        if !Path::new(VPCD_DRIVER).exists() || !Path::new(VPCD_CONF).exists() {
            return Err(format!(
                "the vpcd driver ({VPCD_DRIVER}, {VPCD_CONF}) is missing; run `cargo xtask deps --test` (as root)"
            ));
        }
        // SAFETY: plain getter.
        if unsafe { libc::geteuid() } != 0 {
            return Err(
                "pcscd must run as root (it owns /run/pcscd and ignores PCSCLITE_CSOCK_NAME); run the card end-to-end tests as root, as CI does"
                    .into(),
            );
        }
        if let Ok(pid) = std::fs::read_to_string(PCSCD_PID)
            && let Ok(pid) = pid.trim().parse::<i32>()
            && pid_alive(pid)
        {
            return Err(format!(
                "another pcscd (pid {pid}) is running; these tests need their own: stop it (e.g. `kill {pid}`) and run again"
            ));
        }
        let log = std::env::temp_dir().join(format!("rettpad-pcscd-{}.log", std::process::id()));
        let out = std::fs::File::create(&log).map_err(|e| format!("{}: {e}", log.display()))?;
        let err = out.try_clone().map_err(|e| e.to_string())?;
        let mut cmd = Command::new(&bin);
        cmd.arg("-f");
        if std::env::var_os("RETTPAD_PCSCD_APDU_LOG").is_some() {
            cmd.args(["-a", "-d"]);
        }
        let child = cmd
            .stdin(Stdio::null())
            .stdout(out)
            .stderr(err)
            .spawn()
            .map_err(|e| format!("cannot start {}: {e}", bin.display()))?;
        let mut d = Pcscd {
            child: Some(child),
            log,
        };
        d.wait_ready(Duration::from_secs(15))?;
        Ok(d)
    }

    fn wait_ready(&mut self, limit: Duration) -> Result<(), String> {
        let deadline = Instant::now() + limit;
        loop {
            if let Some(c) = self.child.as_mut()
                && let Ok(Some(status)) = c.try_wait()
            {
                self.child = None;
                return Err(format!(
                    "pcscd exited at start ({status}); its log:\n{}",
                    self.log_tail()
                ));
            }
            if Path::new(PCSCD_SOCKET).exists()
                && let Ok(ctx) = pcsc::Context::establish(pcsc::Scope::User)
                && let Ok(names) = ctx.list_readers_owned()
                && names.iter().any(|n| n.to_string_lossy() == VPCD_READER)
            {
                return Ok(());
            }
            if Instant::now() >= deadline {
                return Err(format!(
                    "pcscd did not list \"{VPCD_READER}\" within {limit:?}; its log:\n{}",
                    self.log_tail()
                ));
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    /// The last lines of pcscd's output, for failure messages.
    pub fn log_tail(&self) -> String {
        let text = std::fs::read_to_string(&self.log).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        lines[lines.len().saturating_sub(20)..].join("\n")
    }

    /// Stops pcscd: SIGTERM, up to 5 s, then SIGKILL.
    pub fn stop(&mut self) {
        let Some(mut c) = self.child.take() else {
            return;
        };
        if let Ok(pid) = i32::try_from(c.id()) {
            // SAFETY: our own child's pid.
            unsafe { libc::kill(pid, libc::SIGTERM) };
        }
        let deadline = Instant::now() + Duration::from_secs(5);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = c.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = c.kill();
        let _ = c.wait();
    }

    /// Kills pcscd with SIGKILL (a crash), leaving its pid file behind.
    pub fn kill_hard(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

impl Drop for Pcscd {
    fn drop(&mut self) {
        self.stop();
        let _ = std::fs::remove_file(&self.log);
    }
}
