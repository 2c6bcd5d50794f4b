//! The kiosk app. Until the Slint UI lands it runs the headless core demo.

use rettpad::clock::SystemClock;
use rettpad::config::Config;
use std::os::unix::fs::DirBuilderExt;
use std::path::PathBuf;
use std::process::ExitCode;

const USAGE: &str = "usage: rettpad [--config FILE] [--data-dir DIR] [--key-file FILE]";

fn main() -> ExitCode {
    let mut args = std::env::args().skip(1);
    let (mut config, mut data_dir, mut key_file) = (None, None, None);
    while let Some(a) = args.next() {
        let mut val = |name: &str| {
            args.next()
                .map(PathBuf::from)
                .ok_or(format!("{name} needs a value"))
        };
        let r = match a.as_str() {
            "--config" => val("--config").map(|v| config = Some(v)),
            "--data-dir" => val("--data-dir").map(|v| data_dir = Some(v)),
            "--key-file" => val("--key-file").map(|v| key_file = Some(v)),
            "-h" | "--help" => {
                println!("{USAGE}");
                return ExitCode::SUCCESS;
            }
            other => Err(format!("unknown argument {other}")),
        };
        if let Err(e) = r {
            eprintln!("{e}\n{USAGE}");
            return ExitCode::from(2);
        }
    }
    let cfg = match config.as_deref().map(Config::load).transpose() {
        Ok(c) => c.unwrap_or_else(Config::demo),
        Err(e) => {
            eprintln!("{}\n{e}", e.user_message_de());
            return ExitCode::from(2);
        }
    };
    let dir = match cfg.data_dir(data_dir.as_deref()) {
        Ok(d) => d,
        Err(e) => {
            eprintln!("{}\n{e}", e.user_message_de());
            return ExitCode::from(2);
        }
    };
    let key = cfg.key_file(key_file.as_deref());
    // Private before anything (the log directory) is created inside it.
    if let Err(e) = std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(&dir)
    {
        eprintln!(
            "Datenverzeichnis kann nicht angelegt werden.\ncannot create {}: {e}",
            dir.display()
        );
        return ExitCode::FAILURE;
    }
    let _log = match rettpad::logging::init(&dir.join("logs"), &cfg.log_level) {
        Ok(g) => Some(g),
        Err(e) => {
            eprintln!("{}\n{e}", e.user_message_de());
            None
        }
    };
    let mut out = std::io::stdout();
    match rettpad::demo::run(&cfg, &dir, &key, SystemClock::shared(), &mut out) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}
