//! `rettpad-gateway provision …`: the operator's commands around
//! [`crate::fleet`] and [`crate::fleet_keys`] (docs/fleet.md). Each reads
//! `gateway.toml` and the gateway's tables directly; the running gateway
//! need not be stopped.

use crate::GatewayConfig;
use crate::config::FleetEntry;
use crate::dispatch::{Dispatcher, rfc3339};
use crate::fleet::{self, DAY_MS, Group, PadRow};
use crate::fleet_keys;
use crate::private::{self, Existing};
use rettpad_provision::command::Action;
use rettpad_provision::keys::Purpose;
use rettpad_provision::package::{PartName, Target};
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

pub const USAGE: &str =
    "  rettpad-gateway provision keys --org ORG [--days 365] [--config gateway.toml]
  rettpad-gateway provision certify --purpose packages|commands [--days 365] [--root FILE]
  rettpad-gateway provision build --from DIR --to TARGET [--expires-days N] --out FILE
  rettpad-gateway provision publish FILE --to TARGET
  rettpad-gateway provision command lock|unlock|wipe --serial S --reason TEXT [--issuer NAME]
  rettpad-gateway provision status [--json]
    TARGET: all | SERIAL[,SERIAL...] | station:NAME | type:NAME";

pub(crate) fn opt(args: &[String], name: &str) -> Option<String> {
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1))
        .cloned()
}

fn need(args: &[String], name: &str) -> Result<String, String> {
    opt(args, name).ok_or_else(|| format!("{name} is required\nusage:\n{USAGE}"))
}

fn days(args: &[String], name: &str, default: u32) -> Result<u32, String> {
    match opt(args, name) {
        None => Ok(default),
        Some(d) => d.parse().map_err(|_| format!("{name} {d}: not a number")),
    }
}

pub fn now_ms() -> i64 {
    use rettpad_clock::Clock;
    rettpad_clock::SystemClock::new().wall_ms()
}

/// `provision …`; `args` start after `provision`.
pub fn main(args: &[String]) -> ExitCode {
    match run(args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("rettpad-gateway: {e}");
            ExitCode::from(1)
        }
    }
}

fn run(args: &[String]) -> Result<(), String> {
    let config = PathBuf::from(opt(args, "--config").unwrap_or_else(|| "gateway.toml".into()));
    let cfg = GatewayConfig::load(&config).map_err(|e| e.to_string())?;
    let rest = args.get(1..).unwrap_or_default();
    match args.first().map(String::as_str) {
        Some("keys") => keys(&config, &cfg, rest),
        Some("certify") => certify(&config, &cfg, rest),
        Some("build") => build(&cfg, rest),
        Some("publish") => publish(&cfg, rest),
        Some("command") => command(&cfg, rest),
        Some("status") => status(&cfg, rest),
        _ => Err(format!("usage:\n{USAGE}")),
    }
}

fn fleet_of(cfg: &GatewayConfig) -> Result<&FleetEntry, String> {
    cfg.fleet.as_ref().ok_or_else(|| {
        "gateway.toml has no [fleet] section; run `rettpad-gateway provision keys --org ORG` first"
            .to_string()
    })
}

/// The gateway's tables, as `serve` opens them.
fn open(cfg: &GatewayConfig) -> Result<Dispatcher, String> {
    private::dir(&cfg.data_dir, Existing::Narrow)?;
    let key = crate::keyring::secret_key(cfg, &cfg.storage_key)?;
    Dispatcher::open(cfg, key)
}

fn dir_of(config: &Path) -> Result<PathBuf, String> {
    config
        .canonicalize()
        .map_err(|e| format!("{}: {e}", config.display()))?
        .parent()
        .map(Path::to_path_buf)
        .ok_or_else(|| format!("{}: no directory", config.display()))
}

fn keys(config: &Path, cfg: &GatewayConfig, args: &[String]) -> Result<(), String> {
    let org = need(args, "--org")?;
    let days = days(args, "--days", 365)?;
    if let Some(f) = &cfg.fleet {
        return Err(format!(
            "refusing to overwrite: gateway.toml already has [fleet] for organisation {}",
            f.org
        ));
    }
    let dir = dir_of(config)?;
    let now = now_ms();
    let c = fleet_keys::create(&dir, &org, days, now)?;
    let mut f = std::fs::OpenOptions::new()
        .append(true)
        .open(config)
        .map_err(|e| format!("{}: {e}", config.display()))?;
    std::io::Write::write_all(&mut f, fleet_keys::gateway_section(&c.trust).as_bytes())
        .map_err(|e| format!("{}: {e}", config.display()))?;
    GatewayConfig::load(config).map_err(|e| e.to_string())?;
    eprintln!(
        "WARNING: the organisation's root key is {}.\n\
         Move it to offline storage now (e.g. an encrypted USB stick in a safe) and delete it here.\n\
         Whoever holds it can sign packages and wipe every pad. It is needed only to renew a signing key (provision certify).",
        c.root.display()
    );
    for (key, cert, kc) in &c.keys {
        println!(
            "signing key {} ({}), certificate {}, valid until {}",
            key.display(),
            kc.purposes.first().map_or("", |p| p.name()),
            cert.display(),
            rfc3339(kc.expires_ms)
        );
    }
    println!("gateway.toml: [fleet] added");
    println!("\nAdd this section to every pad's configuration (enrollment):\n");
    print!("{}", fleet_keys::enrollment_section(&c.trust));
    Ok(())
}

fn certify(config: &Path, cfg: &GatewayConfig, args: &[String]) -> Result<(), String> {
    let f = fleet_of(cfg)?;
    let purpose = match need(args, "--purpose")?.as_str() {
        "packages" => Purpose::Packages,
        "commands" => Purpose::Commands,
        p => return Err(format!("--purpose {p}: expected packages or commands")),
    };
    let days = days(args, "--days", 365)?;
    let root = match opt(args, "--root") {
        Some(r) => PathBuf::from(r),
        None => dir_of(config)?.join(fleet_keys::ROOT_FILE),
    };
    let cert = fleet_keys::certify(f, &root, purpose, days, now_ms())?;
    let (key, _) = fleet_keys::paths(f, purpose);
    println!(
        "new {} signing key {} ({}), valid until {}",
        purpose.name(),
        key.display(),
        cert.key_id(),
        rfc3339(cert.expires_ms)
    );
    Ok(())
}

/// Reads and validates `DIR/<part>.toml` for every part present. Any other
/// `.toml` there is refused: a misspelt part would otherwise be left out.
pub fn read_parts(dir: &Path) -> Result<Vec<(PartName, Vec<u8>)>, String> {
    let rd = std::fs::read_dir(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    for e in rd {
        let p = e.map_err(|e| format!("{}: {e}", dir.display()))?.path();
        let stem = p.file_stem().and_then(|s| s.to_str()).unwrap_or_default();
        if p.extension().is_some_and(|x| x == "toml") && PartName::parse(stem).is_none() {
            return Err(format!(
                "{} is not a part file (expected settings, device, hospitals, staff, catalog or pki .toml)",
                p.display()
            ));
        }
    }
    let mut out = Vec::new();
    for part in PartName::ALL {
        let path = dir.join(format!("{}.toml", part.name()));
        let text = match std::fs::File::open(&path) {
            Ok(f) => {
                let mut s = String::new();
                f.take(rettpad_provision::MAX_PACKAGE_BYTES as u64)
                    .read_to_string(&mut s)
                    .map_err(|e| format!("{}: {e}", path.display()))?;
                s
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
            Err(e) => return Err(format!("{}: {e}", path.display())),
        };
        let bytes = rettpad_provision::parts::from_toml(part, &text)
            .map_err(|e| format!("{}: {e}", path.display()))?;
        out.push((part, bytes));
    }
    if out.is_empty() {
        return Err(format!("{}: no part files (<part>.toml)", dir.display()));
    }
    Ok(out)
}

fn build(cfg: &GatewayConfig, args: &[String]) -> Result<(), String> {
    let f = fleet_of(cfg)?;
    let from = PathBuf::from(need(args, "--from")?);
    let group = Group::parse(&need(args, "--to")?)?;
    let out = PathBuf::from(need(args, "--out")?);
    let now = now_ms();
    let expires = match opt(args, "--expires-days") {
        None => None,
        Some(_) => Some(now + i64::from(days(args, "--expires-days", 0)?) * DAY_MS),
    };
    let target = group.target(&cfg.pads)?;
    let parts = read_parts(&from)?;
    let key = fleet_keys::load_signing(f, Purpose::Packages, now)?;
    let d = open(cfg)?;
    let (bytes, header) = fleet::build(&d, f, &key, parts, target, expires, now)?;
    // It holds the staff list and the PIN hash.
    private::write(&out, &bytes)?;
    println!(
        "package {} for {}: {} ({} bytes{}) -> {}",
        header.package_id,
        match &header.target {
            Target::All => "all pads".to_string(),
            Target::Serials(s) => s.join(", "),
        },
        header
            .parts
            .iter()
            .map(|p| format!("{} v{}", p.name.name(), p.version))
            .collect::<Vec<_>>()
            .join(", "),
        bytes.len(),
        header
            .expires_ms
            .map(|t| format!(", expires {}", rfc3339(t)))
            .unwrap_or_default(),
        out.display()
    );
    if let Err(e) = fleet::check_fits_channel(rettpad_channel::Kind::Provisioning, &bytes) {
        eprintln!("warning: {e}");
    }
    Ok(())
}

fn publish(cfg: &GatewayConfig, args: &[String]) -> Result<(), String> {
    let f = fleet_of(cfg)?;
    let file = args
        .first()
        .filter(|a| !a.starts_with("--"))
        .map(PathBuf::from)
        .ok_or_else(|| format!("publish needs the package FILE\nusage:\n{USAGE}"))?;
    let serials = Group::parse(&need(args, "--to")?)?.resolve(&cfg.pads)?;
    let mut bytes = Vec::new();
    std::fs::File::open(&file)
        .and_then(|h| {
            h.take(rettpad_provision::MAX_PACKAGE_BYTES as u64 + 1)
                .read_to_end(&mut bytes)
        })
        .map_err(|e| format!("{}: {e}", file.display()))?;
    let now = now_ms();
    let header = fleet::check_package(f, &bytes, now).map_err(|e| {
        format!(
            "{} does not verify against the root of organisation {}: {e}. Nothing was published.",
            file.display(),
            f.org
        )
    })?;
    for s in &serials {
        if !header.target.includes(s) {
            eprintln!(
                "warning: package {} is not addressed to {s}; that pad will refuse it (not_for_this_pad)",
                header.package_id
            );
        }
    }
    let d = open(cfg)?;
    let queued = fleet::publish(&d, &bytes, &header, &serials, now)?;
    println!(
        "package {} queued for {} pad(s): {}",
        header.package_id,
        queued.len(),
        serials.join(", ")
    );
    println!("a connected pad gets it within one keep-alive; see `provision status`");
    Ok(())
}

fn issuer_default() -> String {
    std::env::var("SUDO_USER")
        .or_else(|_| std::env::var("USER"))
        .ok()
        .filter(|u| !u.trim().is_empty())
        .unwrap_or_else(|| "operator".into())
}

fn command(cfg: &GatewayConfig, args: &[String]) -> Result<(), String> {
    let f = fleet_of(cfg)?;
    let action = match args.first().map(String::as_str) {
        Some("lock") => Action::Lock,
        Some("unlock") => Action::Unlock,
        Some("wipe") => Action::Wipe,
        _ => return Err(format!("command: lock, unlock or wipe\nusage:\n{USAGE}")),
    };
    let serial = need(args, "--serial")?;
    let reason = need(args, "--reason")?;
    let issuer = opt(args, "--issuer").unwrap_or_else(issuer_default);
    let now = now_ms();
    let key = fleet_keys::load_signing(f, Purpose::Commands, now)?;
    let d = open(cfg)?;
    let i = fleet::issue_command(&d, cfg, &key, action, &serial, &reason, &issuer, now)?;
    println!(
        "{} for {serial} queued: command {} seq {}{}",
        action.name(),
        i.command.cmd_id,
        i.command.seq,
        i.command
            .not_after_ms
            .map(|t| format!(", valid until {}", rfc3339(t)))
            .unwrap_or_default()
    );
    Ok(())
}

fn age(now_ms: i64, at_ms: i64) -> String {
    let s = (now_ms - at_ms).max(0) / 1000;
    match s {
        0..120 => format!("{s} s ago"),
        120..7200 => format!("{} min ago", s / 60),
        7200..172_800 => format!("{} h ago", s / 3600),
        _ => format!("{} d ago", s / 86_400),
    }
}

fn or_dash(v: Option<String>) -> String {
    v.unwrap_or_else(|| "-".into())
}

/// One line of `provision status`; columns as in [`STATUS_HEADER`].
pub fn format_row(r: &PadRow, now_ms: i64) -> String {
    let s = r.status.as_ref();
    let parts = r
        .parts
        .iter()
        .map(|p| {
            let v = |x: Option<u64>| x.map_or("-".into(), |v| v.to_string());
            let mark = if p.published.is_some_and(|x| Some(x) != p.applied) {
                " (pending)"
            } else {
                ""
            };
            format!("{} {}/{}{mark}", p.part, v(p.applied), v(p.published))
        })
        .collect::<Vec<_>>()
        .join(", ");
    let queued = |q: &Option<fleet::Queued>| {
        q.as_ref().map(|q| {
            format!(
                "{} {}",
                q.what,
                if q.delivered { "delivered" } else { "queued" }
            )
        })
    };
    let mut queue = format!("{} pending", r.queued);
    if r.dropped > 0 {
        queue.push_str(&format!(", {} dropped", r.dropped));
    }
    [
        r.serial.clone(),
        r.call_sign.clone(),
        or_dash(r.station.clone()),
        r.last_seen_ms.map_or("never".into(), |t| age(now_ms, t)),
        match r.connected {
            Some(true) => "connected".into(),
            Some(false) => "not connected".into(),
            None => "-".into(),
        },
        or_dash(s.map(|s| s.app_version.clone())),
        if parts.is_empty() { "-".into() } else { parts },
        or_dash(s.map(|s| s.outbox_pending.to_string())),
        or_dash(s.map(|s| s.open_missions.to_string())),
        or_dash(s.map(|s| if s.remote_locked { "locked" } else { "no" }.into())),
        or_dash(s.and_then(|s| s.last_refusal.clone())),
        or_dash(queued(&r.last_package)),
        or_dash(queued(&r.last_command)),
        queue,
    ]
    .join(" | ")
}

pub const STATUS_HEADER: &str = "serial | call sign | station | last seen | channel | app | parts applied/published | outbox | open missions | remote lock | last refusal | last package | last command | channel queue";

fn status(cfg: &GatewayConfig, args: &[String]) -> Result<(), String> {
    let d = open(cfg)?;
    let rows = fleet::pad_rows(&d, cfg)?;
    if args.iter().any(|a| a == "--json") {
        println!(
            "{}",
            serde_json::to_string_pretty(&rows).map_err(|e| e.to_string())?
        );
        return Ok(());
    }
    let now = now_ms();
    println!("{STATUS_HEADER}");
    for r in &rows {
        println!("{}", format_row(r, now));
    }
    Ok(())
}
