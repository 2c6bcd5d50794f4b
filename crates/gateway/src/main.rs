//! Reference gateway: receives sealed packets from pads (mTLS), answers with
//! signed receipts, keeps originals sealed at rest for the retention period
//! and serves the hospitals' arrival board and mailboxes.

use rettpad_gateway::GatewayConfig;
use rettpad_gateway::init::{InitOptions, init};
use rettpad_transfer::HpkeSecretKey;
use std::io::Write;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

const USAGE: &str = "usage:
  rettpad-gateway serve --config gateway.toml [--listen ADDR] [--hospital-listen ADDR]
  rettpad-gateway init --dir DIR [--port 8443] [--hospital-port 8080] [--load-pads N]
  rettpad-gateway hospital fetch --url http://127.0.0.1:8080 --hospital ID
                                 --token-file FILE --key-file FILE --out DIR";

fn usage() -> String {
    format!(
        "{USAGE}\n{}\n{}\n{}\n{}",
        rettpad_gateway::fleet_cli::USAGE,
        rettpad_gateway::backoffice_cli::USAGE,
        rettpad_gateway::backup_cli::USAGE,
        rettpad_gateway::keyring::USAGE
    )
}

fn opt(args: &[String], name: &str) -> Option<String> {
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1))
        .cloned()
}

fn fail(msg: impl std::fmt::Display) -> ExitCode {
    eprintln!("rettpad-gateway: {msg}");
    ExitCode::from(1)
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .try_init();
    match (
        args.first().map(String::as_str),
        args.get(1).map(String::as_str),
    ) {
        (Some("serve"), _) => serve(&args[1..]),
        (Some("init"), _) => init_cmd(&args[1..]),
        (Some("hospital"), Some("fetch")) => fetch(&args[2..]),
        (Some("provision"), _) => rettpad_gateway::fleet_cli::main(&args[1..]),
        (Some("backoffice"), _) => match rettpad_gateway::backoffice_cli::main(&args[1..]) {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => fail(e),
        },
        (Some("keys"), _) => match rettpad_gateway::keyring::cli(&args[1..]) {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => fail(e),
        },
        (Some(cmd @ ("wal-archive" | "wal-restore")), _) => {
            rettpad_gateway::backup_cli::wal(cmd, &args[1..])
        }
        (Some(cmd @ ("backup" | "restore" | "replay")), _) => {
            match rettpad_gateway::backup_cli::main(cmd, &args[1..]) {
                Ok(()) => ExitCode::SUCCESS,
                Err(e) => fail(e),
            }
        }
        _ => {
            eprintln!("{}", usage());
            ExitCode::from(2)
        }
    }
}

fn serve(args: &[String]) -> ExitCode {
    let Some(path) = opt(args, "--config") else {
        return fail(usage());
    };
    let mut cfg = match GatewayConfig::load(&PathBuf::from(path)) {
        Ok(c) => c,
        Err(e) => return fail(e),
    };
    for (flag, slot) in [
        ("--listen", &mut cfg.listen),
        ("--hospital-listen", &mut cfg.hospital_listen),
    ] {
        if let Some(a) = opt(args, flag) {
            match a.parse::<SocketAddr>() {
                Ok(a) => *slot = a,
                Err(e) => return fail(format!("{flag} {a}: {e}")),
            }
        }
    }
    if let Err(e) = cfg.validate() {
        return fail(e);
    }
    let rt = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => return fail(e),
    };
    let res = rt.block_on(rettpad_gateway::server::serve(
        cfg,
        |b| {
            // Tests and scripts wait for this line.
            println!(
                "ready pads={} hospitals={} dispatch={} backoffice={}",
                b.pads,
                b.hospitals,
                b.dispatch.map(|a| a.to_string()).unwrap_or_else(|| "-".into()),
                b.backoffice.map(|a| a.to_string()).unwrap_or_else(|| "-".into())
            );
            let _ = std::io::stdout().flush();
        },
        async {
            let mut term =
                tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).ok();
            tokio::select! {
                _ = tokio::signal::ctrl_c() => {}
                _ = async { match term.as_mut() { Some(t) => { t.recv().await; } None => std::future::pending().await } } => {}
            }
        },
    ));
    match res {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => fail(e),
    }
}

fn init_cmd(args: &[String]) -> ExitCode {
    let Some(dir) = opt(args, "--dir") else {
        return fail(usage());
    };
    let port = |flag: &str, d: u16| -> Result<u16, String> {
        opt(args, flag)
            .map(|p| p.parse::<u16>().map_err(|e| format!("{flag} {p}: {e}")))
            .unwrap_or(Ok(d))
    };
    let (p, hp) = match (port("--port", 8443), port("--hospital-port", 8080)) {
        (Ok(a), Ok(b)) => (a, b),
        (Err(e), _) | (_, Err(e)) => return fail(e),
    };
    let load_pads = match opt(args, "--load-pads").map(|n| n.parse::<usize>()) {
        None => 0,
        Some(Ok(n)) => n,
        Some(Err(e)) => return fail(format!("--load-pads: {e}")),
    };
    let o = InitOptions {
        dir: PathBuf::from(dir),
        listen: SocketAddr::from(([127, 0, 0, 1], p)),
        hospital_listen: SocketAddr::from(([127, 0, 0, 1], hp)),
        load_pads,
    };
    match init(&o) {
        Ok(r) => {
            println!("gateway config: {}", r.gateway_config.display());
            for p in r.pad_configs {
                println!("pad config: {}", p.display());
            }
            ExitCode::SUCCESS
        }
        Err(e) => fail(e),
    }
}

fn fetch(args: &[String]) -> ExitCode {
    let (Some(url), Some(h), Some(tf), Some(kf), Some(out)) = (
        opt(args, "--url"),
        opt(args, "--hospital"),
        opt(args, "--token-file"),
        opt(args, "--key-file"),
        opt(args, "--out"),
    ) else {
        return fail(usage());
    };
    let token = match std::fs::read_to_string(&tf) {
        Ok(t) => t.trim().to_string(),
        Err(e) => return fail(format!("{tf}: {e}")),
    };
    let key = match std::fs::read_to_string(&kf)
        .map_err(|e| e.to_string())
        .and_then(|k| HpkeSecretKey::from_hex(&k).map_err(|e| e.to_string()))
    {
        Ok(k) => k,
        Err(e) => return fail(format!("{kf}: {e}")),
    };
    match rettpad_gateway::hospital::fetch(&url, &h, &token, &key, &PathBuf::from(out)) {
        Ok(r) => {
            for (id, p) in &r.written {
                println!("fetched {id} -> {}", p.display());
            }
            for (id, p) in &r.ecgs {
                println!("ECG en route {id} -> {}", p.display());
            }
            for (id, e) in &r.failed {
                eprintln!("failed {id}: {e}");
            }
            println!(
                "{} new, {} already here, {} failed",
                r.written.len(),
                r.skipped,
                r.failed.len()
            );
            if r.failed.is_empty() {
                ExitCode::SUCCESS
            } else {
                ExitCode::from(1)
            }
        }
        Err(e) => fail(e),
    }
}
