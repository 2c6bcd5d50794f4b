//! Probes for the benchmarks: cold start to the PIN screen, and the live
//! page's CPU share while a monitor streams.

use super::*;

/// Peak resident memory of this process in KiB (Linux `VmHWM`).
pub fn peak_rss_kib() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

/// Cold-start probe for the benchmark: opens a real vault in `dir`, builds
/// the UI and renders the PIN screen once, then returns.
pub fn startup_probe(dir: &Path) -> Result<(), Error> {
    use_headless_platform()?;
    let clock: SharedClock = rettpad_clock::SystemClock::shared();
    let keys = Arc::new(rettpad_vault::FileKeyProvider::new(dir.join("device.key")));
    let store = SharedStore::new(Store::open(
        &dir.join("data"),
        keys,
        clock.clone(),
        StoreOptions::default(),
    )?);
    let (ui, _ctrl) = demo_app(clock, store)?;
    ui.show()?;
    slint::platform::update_timers_and_animations();
    let frame = ui.window().take_snapshot()?;
    if frame.width() == 0 {
        return Err("empty frame".into());
    }
    Ok(())
}

/// What the live page cost while streaming.
pub struct LiveProbe {
    pub cpu_ms: f64,
    pub wall_ms: f64,
    pub frames: u64,
    pub samples: u64,
    /// Pixels repainted per frame (the bounding box of each frame's dirty
    /// region), on average, and the window's pixels.
    pub dirty_px: u64,
    pub window_px: u64,
}

/// This process's CPU time (user + system) in ms.
fn cpu_ms() -> f64 {
    // SAFETY: getrusage only writes into the struct we pass.
    let mut u: libc::rusage = unsafe { std::mem::zeroed() };
    if unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut u) } != 0 {
        return 0.0;
    }
    let ms = |t: libc::timeval| t.tv_sec as f64 * 1e3 + t.tv_usec as f64 / 1e3;
    ms(u.ru_utime) + ms(u.ru_stime)
}

/// Benchmark probe: the live page for `seconds` of real time while a
/// monitor streams 3 ECG leads at 500 Hz, pleth, capnogram and numerics, drawn
/// 10 times a second like the app does. Frames are rendered by Slint's
/// software renderer into one reused buffer, as on the kiosk's screen:
/// only what changed since the last frame is repainted.
pub fn live_probe(seconds: u64) -> Result<LiveProbe, Error> {
    use rettpad_devices::ieee11073::Decimal;
    use rettpad_devices::obs::{
        HostTime, MeasStatus, Metric, Numeric, Observation, Reading, Scale, Timestamps, Unit,
        WaveChunk,
    };
    let window = use_headless_platform_with(Screen::default(), RepaintBufferType::ReusedBuffer)?;
    let size = window.size();
    let (w, h) = (size.width as usize, size.height as usize);
    let mut buffer =
        vec![slint::platform::software_renderer::PremultipliedRgbaColor::default(); w * h];
    let mut dirty_px = 0u64;
    let dir = tempfile_dir("live-probe")?;
    let clock: SharedClock = rettpad_clock::SystemClock::shared();
    let store = SharedStore::new(Store::open(
        &dir,
        Arc::new(MemoryKeyProvider::new()),
        clock.clone(),
        StoreOptions::default(),
    )?);
    let (ui, ctrl) = demo_app(clock.clone(), store)?;
    ui.show()?;
    ui.global::<LockAdapter>().invoke_unlock("1234".into());
    ctrl.borrow_mut().settle_unlock();
    let login = ui.global::<LoginAdapter>();
    login.invoke_set_name(0, "Anna Berger".into());
    login.invoke_set_number(0, "4711".into());
    login.invoke_start();
    ui.global::<MissionsAdapter>().invoke_create();
    ctrl.borrow_mut().show_demo_live("Monitor", &[]);
    let ts = |ms: i64| Timestamps {
        device: None,
        host: HostTime {
            wall_ms: ms,
            mono_ms: ms.max(0) as u64,
        },
        seq: None,
    };
    let leads = [0x0101u32, 0x0102, 0x013D];
    let mut ecg: Vec<rettpad_devices::sim::Ecgsyn> = (0..leads.len() as u64)
        .map(|i| rettpad_devices::sim::Ecgsyn::new(80.0, i + 1))
        .collect();
    let (mut frames, mut samples) = (0u64, 0u64);
    let start = std::time::Instant::now();
    let cpu0 = cpu_ms();
    let mut tick = 0u64;
    while start.elapsed() < Duration::from_secs(seconds) {
        let now = clock.wall_ms();
        let mut obs = Vec::new();
        for (i, &code) in leads.iter().enumerate() {
            let Some(synth) = ecg.get_mut(i) else {
                continue;
            };
            obs.push(Observation::Wave(WaveChunk {
                channel: Metric::Other((2 << 16) | code),
                t0: ts(now - 100),
                sample_period_us: 2_000,
                scale: Some(Scale {
                    lower_abs: Reading::Value(Decimal::int(0)),
                    upper_abs: Reading::Value(Decimal::int(1)),
                    lower_raw: 0,
                    upper_raw: 1000,
                }),
                unit: Unit::MilliVolt,
                samples: (0..50)
                    .map(|_| (synth.next_mv(500) * 1000.0) as i32)
                    .collect(),
                status: MeasStatus::default(),
            }));
            samples += 50;
        }
        // Pleth at 125 Hz and the capnogram at 62.5 Hz, as the default
        // IntelliVue wave list brings them.
        let np = if tick.is_multiple_of(2) { 13 } else { 12 };
        let nc = if tick.is_multiple_of(4) { 7 } else { 6 };
        for (code, period, n, unit) in [
            (0x4BB4u32, 8_000u32, np, Unit::Dimensionless),
            (0x50AC, 16_000, nc, Unit::MmHg),
        ] {
            let t = tick as f64 / 10.0;
            obs.push(Observation::Wave(WaveChunk {
                channel: Metric::Other((2 << 16) | code),
                t0: ts(now - 100),
                sample_period_us: period,
                scale: Some(Scale {
                    lower_abs: Reading::Value(Decimal::int(0)),
                    upper_abs: Reading::Value(Decimal::int(100)),
                    lower_raw: 0,
                    upper_raw: 1000,
                }),
                unit,
                samples: (0..n)
                    .map(|i| {
                        let ts = t + f64::from(i) * f64::from(period) / 1e6;
                        let v = if code == 0x50AC {
                            38.0 * rettpad_devices::sim::capno_level((ts * 14.0 / 60.0).fract())
                        } else {
                            80.0 * rettpad_devices::sim::pleth_level((ts * 80.0 / 60.0).fract())
                        };
                        (v * 10.0) as i32
                    })
                    .collect(),
                status: MeasStatus::default(),
            }));
            samples += n as u64;
        }
        if tick.is_multiple_of(10) {
            for (m, v) in [
                (Metric::HeartRate, 80),
                (Metric::SpO2, 97),
                (Metric::RespRate, 14),
            ] {
                obs.push(Observation::Numeric(Numeric {
                    metric: m,
                    reading: Reading::Value(Decimal::int(v)),
                    unit: Unit::PerMin,
                    status: MeasStatus::default(),
                    time: ts(now),
                    episodic: false,
                }));
            }
        }
        ctrl.borrow_mut().feed_live(&obs);
        // As the app's timers: the whole state once a second, the live
        // page's own frame every 100 ms.
        if tick.is_multiple_of(10) {
            let mut c = ctrl.borrow_mut();
            c.tick();
            c.refresh(&ui);
        }
        ctrl.borrow_mut().live_frame(&ui);
        slint::platform::update_timers_and_animations();
        window.draw_if_needed(|r| {
            let region = r.render(&mut buffer, w);
            let s = region.bounding_box_size();
            dirty_px += u64::from(s.width) * u64::from(s.height);
        });
        frames += 1;
        tick += 1;
        let next = Duration::from_millis(100 * tick);
        if let Some(wait) = next.checked_sub(start.elapsed()) {
            std::thread::sleep(wait);
        }
    }
    let wall_ms = start.elapsed().as_secs_f64() * 1e3;
    let cpu = cpu_ms() - cpu0;
    if ui.global::<AppState>().get_page() != crate::Page::Live.id() {
        return Err("the live page was not shown".into());
    }
    drop(ui);
    let _ = std::fs::remove_dir_all(&dir);
    Ok(LiveProbe {
        cpu_ms: cpu,
        wall_ms,
        frames,
        samples,
        dirty_px: dirty_px / frames.max(1),
        window_px: (w * h) as u64,
    })
}
