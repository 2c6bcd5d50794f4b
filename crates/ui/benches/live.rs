//! Live monitor page (issues 5 and 19): the CPU share of the whole process
//! while the page shows a monitor streaming 3 ECG leads at 500 Hz, pleth
//! (125 Hz), the capnogram (62.5 Hz) and numerics, drawn 10 times a second
//! with the software renderer into a reused buffer (waves in sweep mode:
//! a frame repaints only what changed). Run: `cargo bench --bench live`.

use std::process::Command;

fn main() {
    let exe = env!("CARGO_BIN_EXE_rettpad");
    let secs = 20;
    let out = Command::new(exe)
        .args(["--live-probe", &secs.to_string()])
        .output()
        .expect("run rettpad");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8_lossy(&out.stdout);
    let line = text
        .lines()
        .find(|l| l.starts_with("live_probe"))
        .expect("probe line");
    let field = |k: &str| -> f64 {
        line.split_whitespace()
            .find_map(|w| w.strip_prefix(&format!("{k}=")))
            .and_then(|v| v.parse().ok())
            .expect(k)
    };
    let (cpu, wall, frames, samples, dirty, window) = (
        field("cpu_ms"),
        field("wall_ms"),
        field("frames"),
        field("samples"),
        field("dirty_px"),
        field("window_px"),
    );
    println!(
        "live page, 3 ECG leads at 500 Hz + pleth + capnogram + numerics, 10 software frames/s (sweep, partial repaint), {secs} s: \
         CPU {:.1} % of one core ({cpu:.0} ms CPU in {wall:.0} ms; {frames:.0} frames, {samples:.0} samples, {:.1} ms CPU per frame; \
         {:.1} % of the window repainted per frame on average)",
        100.0 * cpu / wall,
        cpu / frames.max(1.0),
        100.0 * dirty / window.max(1.0)
    );
}
