//! Idle connected pads on one gateway process (issue 14): every pad holds
//! the permanent channel (SSE over mTLS, its own client certificate and TLS
//! session), the gateway sends keep-alives. Reports, per step, the
//! gateway's resident memory and its CPU share while only keep-alives flow.
//! Targets at 10,000 pads: RSS < 1 GiB, CPU < 10 %.
//!
//! Run: `cargo bench -p rettpad-gateway --bench idle_pads`
//! (`RETTPAD_IDLE_PADS=1000,5000,10000`, `RETTPAD_IDLE_SECS=60`,
//! `RETTPAD_KEEPALIVE_SECS=25`). The load generator runs in this process;
//! only the gateway process is measured.

#[path = "../tests/common/mod.rs"]
mod common;
use common::*;

use rettpad_gateway::GatewayConfig;
use rettpad_pki as pki;
use std::net::SocketAddr;
use std::path::Path;
use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

fn env_or<T: std::str::FromStr>(k: &str, d: T) -> T {
    std::env::var(k)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(d)
}

/// (utime + stime) ticks and RSS in KiB of `pid`.
fn proc_stats(pid: u32) -> (u64, u64) {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    let after = stat.rsplit_once(')').map(|x| x.1).unwrap_or("");
    let f: Vec<&str> = after.split_whitespace().collect();
    let ticks = f.get(11).and_then(|v| v.parse::<u64>().ok()).unwrap_or(0)
        + f.get(12).and_then(|v| v.parse::<u64>().ok()).unwrap_or(0);
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    let rss = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
        .unwrap_or(0);
    (ticks, rss)
}

struct Load {
    connected: AtomicUsize,
    failed: AtomicUsize,
    bytes: AtomicU64,
}

async fn pad(addr: SocketAddr, cfg: Arc<rustls::ClientConfig>, i: usize, load: Arc<Load>) {
    let serial = format!("LOAD-{i:05}");
    let run = async {
        let tcp = tokio::net::TcpStream::connect(addr).await.ok()?;
        let name = rustls::pki_types::ServerName::try_from("localhost").ok()?;
        let mut tls = tokio_rustls::TlsConnector::from(cfg)
            .connect(name, tcp)
            .await
            .ok()?;
        let req = format!(
            "GET /v1/channel HTTP/1.1\r\nHost: localhost\r\nx-rettpad-serial: {serial}\r\n\
             x-rettpad-call-sign: LOAD {i:05}\r\nlast-event-id: 0\r\naccept: text/event-stream\r\n\r\n"
        );
        tls.write_all(req.as_bytes()).await.ok()?;
        let mut buf = vec![0u8; 2048];
        let n = tls.read(&mut buf).await.ok()?;
        if n == 0 || !buf.starts_with(b"HTTP/1.1 200") {
            return None;
        }
        load.connected.fetch_add(1, Ordering::Relaxed);
        loop {
            match tls.read(&mut buf).await {
                Ok(0) | Err(_) => return Some(()),
                Ok(n) => {
                    load.bytes.fetch_add(n as u64, Ordering::Relaxed);
                }
            }
        }
    };
    if run.await.is_none() {
        load.failed.fetch_add(1, Ordering::Relaxed);
    }
}

fn client_configs(dir: &Path, n: usize) -> Vec<Arc<rustls::ClientConfig>> {
    let trust = pki::Trust::load(&dir.join("ca.pem"), &[]).unwrap();
    (0..n)
        .map(|i| {
            let s = format!("LOAD-{i:05}");
            let id = pki::Identity::load(
                &dir.join("load").join(format!("{s}.pem")),
                &dir.join("load").join(format!("{s}.key")),
            )
            .unwrap();
            Arc::new(pki::client_config(&id, &trust, pki::Versions::Tls13Only).unwrap())
        })
        .collect()
}

fn main() {
    if std::env::args().any(|a| a == "--list") {
        return;
    }
    let steps: Vec<usize> = std::env::var("RETTPAD_IDLE_PADS")
        .unwrap_or_else(|_| "1000,5000,10000".into())
        .split(',')
        .filter_map(|s| s.trim().parse().ok())
        .collect();
    let secs: u64 = env_or("RETTPAD_IDLE_SECS", 60);
    let keepalive: u64 = env_or("RETTPAD_KEEPALIVE_SECS", 25);
    let max = steps.iter().copied().max().unwrap_or(0);
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("pki");
    let port = free_port();
    let t = Instant::now();
    let ok = Command::new(GW)
        .args(["init", "--dir"])
        .arg(&dir)
        .args(["--port", &port.to_string(), "--hospital-port", "0"])
        .args(["--load-pads", &max.to_string()])
        .stdout(std::process::Stdio::null())
        .status()
        .unwrap();
    assert!(ok.success());
    println!(
        "PKI with {max} pad certificates: {:.1} s",
        t.elapsed().as_secs_f64()
    );
    let cfg_path = dir.join("gateway.toml");
    let mut cfg = GatewayConfig::load(&cfg_path).unwrap();
    cfg.channel.keepalive_secs = keepalive;
    cfg.limits.idle_timeout_secs = 600;
    std::fs::write(&cfg_path, cfg.to_toml()).unwrap();
    let configs = client_configs(&dir, max);
    let pki_dir = Pki {
        _tmp: tempfile::tempdir().unwrap(),
        dir: dir.clone(),
        port,
    };
    // SAFETY: single-threaded here; the gateway child inherits it.
    unsafe { std::env::set_var("RUST_LOG", "warn") };
    let gw = Gw::start(&pki_dir);
    let pid = gw.child.id();
    let addr = SocketAddr::from(([127, 0, 0, 1], port));
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    let load = Arc::new(Load {
        connected: AtomicUsize::new(0),
        failed: AtomicUsize::new(0),
        bytes: AtomicU64::new(0),
    });
    let (ticks0, rss0) = proc_stats(pid);
    println!("gateway idle: RSS {} MiB", rss0 / 1024);
    let _ = ticks0;
    println!(
        "| pads | connect time | gateway RSS | gateway CPU (keep-alives only) | keep-alive bytes/pad/min |"
    );
    println!("|---|---|---|---|---|");
    let mut started = 0;
    for &n in &steps {
        let t = Instant::now();
        let _g = rt.enter();
        // Handshakes in waves of 200, so the accept queue is not the test.
        while started < n {
            let wave = (n - started).min(200);
            for (i, c) in configs.iter().enumerate().skip(started).take(wave) {
                rt.spawn(pad(addr, c.clone(), i, load.clone()));
            }
            started += wave;
            let until = Instant::now() + Duration::from_secs(60);
            while load.connected.load(Ordering::Relaxed) + load.failed.load(Ordering::Relaxed)
                < started
                && Instant::now() < until
            {
                std::thread::sleep(Duration::from_millis(20));
            }
        }
        let connect = t.elapsed();
        let failed = load.failed.load(Ordering::Relaxed);
        assert_eq!(failed, 0, "pads refused or failed");
        // Settle, then measure only keep-alives.
        std::thread::sleep(Duration::from_secs(2));
        let (c0, _) = proc_stats(pid);
        let b0 = load.bytes.load(Ordering::Relaxed);
        let w = Instant::now();
        std::thread::sleep(Duration::from_secs(secs));
        let (c1, rss) = proc_stats(pid);
        let b1 = load.bytes.load(Ordering::Relaxed);
        let cpu = (c1 - c0) as f64 / 100.0 / w.elapsed().as_secs_f64() * 100.0;
        let per_pad_min = (b1 - b0) as f64 / n as f64 / (w.elapsed().as_secs_f64() / 60.0);
        println!(
            "| {n} | {:.1} s | {} MiB | {cpu:.1} % of one core | {per_pad_min:.0} B |",
            connect.as_secs_f64(),
            rss / 1024
        );
    }
    drop(gw);
    drop(rt);
}
