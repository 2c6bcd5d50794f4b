//! `rettpad-gateway backup` / `backup list` / `restore` (docs/backup.md).

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use crate::backup::{self, Scope};
use crate::backup_pg::{self, EXIT_ABORT_RECOVERY};
use crate::config::GatewayConfig;
use crate::fleet_cli::{now_ms, opt};

pub const USAGE: &str =
    "  rettpad-gateway backup --config FILE            (encrypted, with retention)
  rettpad-gateway backup list --config FILE
  rettpad-gateway restore --config FILE --to TIME [--all] [--pg-data DIR]
      TIME: 2026-12-07T03:00:00Z (UTC) or Unix milliseconds; the gateway must be stopped;
      --all also restores the store of originals (a lost data disk);
      --pg-data: the archive on PostgreSQL is restored (base backup + WAL) into DIR
  rettpad-gateway replay --config FILE --since TIME     (after PostgreSQL runs on the restored DIR)
  rettpad-gateway wal-archive --config FILE PATH NAME   (PostgreSQL archive_command: ... %p %f)
  rettpad-gateway wal-restore --config FILE NAME PATH   (PostgreSQL restore_command: ... %f %p)";

fn config(args: &[String]) -> Result<GatewayConfig, String> {
    let path = opt(args, "--config").ok_or_else(|| format!("--config is required\n{USAGE}"))?;
    GatewayConfig::load(&PathBuf::from(path)).map_err(|e| e.to_string())
}

/// `YYYY-MM-DDTHH:MM[:SS]Z` (UTC) or Unix milliseconds.
pub fn parse_time(s: &str) -> Option<i64> {
    if let Ok(ms) = s.parse::<i64>() {
        return Some(ms);
    }
    let s = s.strip_suffix('Z')?;
    let (date, time) = s.split_once('T')?;
    let mut d = date.splitn(3, '-').map(str::parse::<i64>);
    let (y, m, day) = (d.next()?.ok()?, d.next()?.ok()?, d.next()?.ok()?);
    let mut t = time.splitn(3, ':').map(str::parse::<i64>);
    let (hh, mm) = (t.next()?.ok()?, t.next()?.ok()?);
    let ss = t.next().transpose().ok()?.unwrap_or(0);
    if !(1..=12).contains(&m)
        || !(1..=31).contains(&day)
        || !(0..24).contains(&hh)
        || !(0..60).contains(&mm)
        || !(0..61).contains(&ss)
    {
        return None;
    }
    // Howard Hinnant's days_from_civil.
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let doy = (153 * ((m + 9) % 12) + 2) / 5 + day - 1;
    let days = era * 146_097 + yoe * 365 + yoe / 4 - yoe / 100 + doy - 719_468;
    Some(((days * 24 + hh) * 60 + mm) * 60_000 + ss * 1000)
}

pub fn main(cmd: &str, args: &[String]) -> Result<(), String> {
    let cfg = config(args)?;
    let now = now_ms();
    match (cmd, args.first().map(String::as_str)) {
        ("backup", Some("list")) => {
            for (id, ms) in backup::list(&cfg).map_err(|e| e.to_string())? {
                println!("{id}  {}", rettpad_record::text::date_time_text(ms));
            }
            Ok(())
        }
        ("backup", _) => {
            let r = backup::backup(&cfg, now).map_err(|e| e.to_string())?;
            println!(
                "backup {} written: {} bytes of databases, {} packets; {} old backup(s) removed",
                r.id,
                r.bytes,
                r.packets,
                r.removed.len()
            );
            Ok(())
        }
        ("restore", _) => {
            let to = opt(args, "--to").ok_or_else(|| format!("--to is required\n{USAGE}"))?;
            let to = parse_time(&to).ok_or_else(|| format!("--to {to}: not a time\n{USAGE}"))?;
            let scope = if args.iter().any(|a| a == "--all") {
                Scope::All
            } else {
                Scope::Archive
            };
            let config_path = PathBuf::from(opt(args, "--config").unwrap_or_default());
            let pg_data = opt(args, "--pg-data").map(PathBuf::from);
            let target = pg_data.as_deref().map(|data| backup::PgTarget {
                data,
                config: &config_path,
            });
            let r = backup::restore(&cfg, to, scope, target, now).map_err(|e| e.to_string())?;
            if let Some(pg) = &r.pg {
                let reached = pg.reached_ms.map_or(
                    "no transaction since the base".into(),
                    rettpad_record::text::date_time_text,
                );
                let how = if pg.target_reached {
                    format!("to the target; last transaction {reached}")
                } else {
                    format!(
                        "to the end of the archived WAL ({}); last transaction {reached}",
                        pg.last_segment
                    )
                };
                println!(
                    "archive restored from base backup {} into {} {how}",
                    r.backup,
                    pg.data_dir.display()
                );
                if let Some(gap) = &pg.gap {
                    println!("GAP: {gap}");
                }
                println!(
                    "next: start PostgreSQL on {} (the archive URL must reach it), then\n  rettpad-gateway replay --config {} --since {}",
                    pg.data_dir.display(),
                    config_path.display(),
                    r.replay_since_ms
                );
                return Ok(());
            }
            println!(
                "restored {} from backup {} ({}); {} original(s) filed again; {} receipted since, {} missing, {} unfileable (reported)",
                r.restored.join(", "),
                r.backup,
                rettpad_record::text::date_time_text(r.backup_ms),
                r.replayed,
                r.receipted,
                r.missing.len(),
                r.failed
            );
            if r.missing.is_empty() {
                Ok(())
            } else {
                Err(format!(
                    "{} receipted packet(s) not in the archive: {:?}",
                    r.missing.len(),
                    r.missing
                ))
            }
        }
        ("replay", _) => {
            let since =
                opt(args, "--since").ok_or_else(|| format!("--since is required\n{USAGE}"))?;
            let since = parse_time(&since)
                .ok_or_else(|| format!("--since {since}: not a time\n{USAGE}"))?;
            let (queued, receipted, missing, failed) =
                backup::replay(&cfg, since, now).map_err(|e| e.to_string())?;
            println!(
                "{queued} original(s) filed again; {receipted} receipted since, {} missing, {failed} unfileable (reported)",
                missing.len()
            );
            if missing.is_empty() {
                Ok(())
            } else {
                Err(format!(
                    "{} receipted packet(s) not in the archive: {missing:?}",
                    missing.len()
                ))
            }
        }
        _ => Err(USAGE.into()),
    }
}

/// The arguments that are not `--config FILE`.
fn positional(args: &[String]) -> Vec<&str> {
    let mut out = Vec::new();
    let mut it = args.iter();
    while let Some(a) = it.next() {
        if a == "--config" {
            it.next();
        } else {
            out.push(a.as_str());
        }
    }
    out
}

/// `wal-archive PATH NAME` / `wal-restore NAME PATH`, run by PostgreSQL.
/// Quiet on success; the server log gets the reason of a failure. A
/// non-zero status makes PostgreSQL keep the segment and retry
/// (`wal-archive`) or take the segment for the end of the archive
/// (`wal-restore`); a `wal-restore` that cannot work at all exits with
/// [`EXIT_ABORT_RECOVERY`] so the recovery stops instead.
pub fn wal(cmd: &str, args: &[String]) -> ExitCode {
    let fatal = if cmd == "wal-restore" {
        EXIT_ABORT_RECOVERY
    } else {
        1
    };
    let fail = |code: u8, msg: String| {
        eprintln!("rettpad-gateway {cmd}: {msg}");
        ExitCode::from(code)
    };
    let cfg = match config(args) {
        Ok(c) => c,
        Err(e) => return fail(fatal, e),
    };
    let (res, ends) = match (cmd, positional(args).as_slice()) {
        ("wal-archive", [path, name]) => {
            let r = backup_pg::wal_archive(&cfg, Path::new(path), name);
            (r.map(|_| ()), false)
        }
        ("wal-restore", [name, path]) => {
            let r = backup_pg::wal_restore(&cfg, name, Path::new(path));
            let ends = r.as_ref().err().is_some_and(|e| e.ends_archive());
            (r, ends)
        }
        _ => return fail(fatal, format!("expected two arguments\n{USAGE}")),
    };
    match res {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => fail(if ends { 1 } else { fatal }, e.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::parse_time;

    #[test]
    fn times_parse_as_utc() {
        assert_eq!(parse_time("1970-01-01T00:00:00Z"), Some(0));
        assert_eq!(parse_time("2026-12-07T03:00Z"), Some(1_796_612_400_000));
        assert_eq!(parse_time("1796612400000"), Some(1_796_612_400_000));
        for bad in [
            "2026-13-01T00:00Z",
            "2026-12-07 03:00",
            "gestern",
            "2026-12-07T25:00Z",
        ] {
            assert_eq!(parse_time(bad), None, "{bad}");
        }
    }
}
