//! UI figures (issue 3): cold start to the visible PIN screen (release
//! build, software renderer, a real vault) and the peak RSS of the process
//! while it runs the standard mission headless. Run: `cargo bench --bench ui`.

use std::process::Command;
use std::time::{Duration, Instant};

fn main() {
    let exe = env!("CARGO_BIN_EXE_rettpad");
    let mut starts: Vec<Duration> = Vec::new();
    for i in 0..15 {
        let dir = tempfile::tempdir().expect("tmp");
        let t = Instant::now();
        let out = Command::new(exe)
            .arg("--startup-probe")
            .arg(dir.path())
            .output()
            .expect("run rettpad");
        let took = t.elapsed();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        if i > 0 {
            starts.push(took); // the first run warms the page cache
        }
    }
    starts.sort();
    let ms = |d: Duration| d.as_secs_f64() * 1e3;
    println!(
        "cold start to PIN screen (process spawn .. first frame, fresh vault, {} runs): median {:.0} ms, max {:.0} ms",
        starts.len(),
        ms(starts[starts.len() / 2]),
        ms(starts[starts.len() - 1])
    );

    let dir = tempfile::tempdir().expect("tmp");
    let out = Command::new(exe)
        .arg("--screenshot")
        .arg(dir.path())
        .env("RETTPAD_REPORT_RSS", "1")
        .output()
        .expect("run rettpad");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let err = String::from_utf8_lossy(&out.stderr);
    let kib: u64 = err
        .lines()
        .find_map(|l| l.strip_prefix("peak_rss_kib="))
        .and_then(|v| v.parse().ok())
        .expect("peak RSS reported");
    println!(
        "peak RSS while scripting the standard mission and rendering 26 screens: {:.1} MiB",
        kib as f64 / 1024.0
    );
}
