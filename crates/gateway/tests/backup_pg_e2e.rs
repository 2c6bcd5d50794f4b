//! The archive on PostgreSQL: a real private cluster archives its WAL
//! through `rettpad-gateway wal-archive` (sealed under the backup key), a
//! base backup is taken and sealed, rows are committed in batches with
//! their wall times, and a point-in-time restore into a new data directory
//! holds exactly the rows committed before the target. Then one archived
//! segment in the middle is deleted: the restore to the latest time stops
//! at the gap, says so, and holds the rows before it. Also: a tampered
//! segment is refused by `wal-restore`, a different file under an
//! archived name by `wal-archive`, and no file of the backup directory
//! holds the plaintext.

use rettpad_gateway::GatewayConfig;
use rettpad_gateway::backup::seal_file;
use rettpad_gateway::backup_pg::{
    self, PgTools, RestoreOptions, SealedBase, archive_command, restore_to,
};
use rettpad_gateway::init::{InitOptions, init};
use rettpad_sim::postgres::{SUPERUSER, TempCluster, bindir, share_with_server};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, Instant};
use uuid::Uuid;

const GW: &str = env!("CARGO_BIN_EXE_rettpad-gateway");
const CANARY: &str = "CANARY-Zebrafisch-4711";
const DB: &str = "pitr";

fn now_ms() -> i64 {
    rettpad_gateway::fleet_cli::now_ms()
}

fn wal_cli(config: &Path, args: &[&str]) -> Output {
    let (cmd, rest) = args.split_first().unwrap();
    Command::new(GW)
        .arg(cmd)
        .arg("--config")
        .arg(config)
        .args(rest)
        .output()
        .unwrap()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// Rows per batch in a cluster: `batch|count` lines.
fn batches(c: &TempCluster) -> String {
    c.psql(
        DB,
        "SELECT batch, count(*) FROM protocols GROUP BY batch ORDER BY batch",
    )
    .unwrap()
}

fn wait_archived(wal: &Path, seg: &str) {
    let deadline = Instant::now() + Duration::from_secs(60);
    while !wal.join(format!("{seg}.entry")).exists() {
        assert!(Instant::now() < deadline, "{seg} not archived");
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            out.extend(files_under(&p));
        } else {
            out.push(p);
        }
    }
    out
}

fn contains(hay: &[u8], needle: &[u8]) -> bool {
    hay.windows(needle.len()).any(|w| w == needle)
}

#[test]
fn wal_archive_point_in_time_restore_and_a_gap() {
    let Some(bin) = bindir() else {
        panic!("PostgreSQL server binaries not found");
    };
    let started = Instant::now();
    let t = tempfile::tempdir().unwrap();
    let gwdir = t.path().join("gw");
    let rep = init(&InitOptions {
        dir: gwdir.clone(),
        listen: SocketAddr::from(([127, 0, 0, 1], 0)),
        hospital_listen: SocketAddr::from(([127, 0, 0, 1], 0)),
        load_pads: 0,
    })
    .unwrap();
    let conf = rep.gateway_config;
    let exe = Path::new(GW);

    // The cluster archives every finished segment through our binary. As
    // root it runs as `postgres`, so that user gets the gateway's files.
    share_with_server(t.path()).unwrap();
    let archive_cmd = archive_command(exe, &conf);
    // 1 MiB segments: a debug build seals 16 MiB in about two seconds.
    let pg = TempCluster::start_initdb(
        &["--wal-segsize=1"],
        &[
            ("wal_level", "replica"),
            ("archive_mode", "on"),
            ("archive_command", &archive_cmd),
        ],
    )
    .unwrap();
    let url = pg.create_database(DB).unwrap();
    let mut cfg = GatewayConfig::load(&conf).unwrap();
    cfg.archive.url = Some(url.clone());
    std::fs::write(&conf, cfg.to_toml()).unwrap();
    share_with_server(t.path()).unwrap();
    let cfg = GatewayConfig::load(&conf).unwrap();
    assert_eq!(
        backup_pg::pg_archive_url(&cfg).as_deref(),
        Some(url.as_str())
    );
    let backups = cfg.backup.as_ref().unwrap().dir.clone();
    let wal = backup_pg::wal_dir(&cfg).unwrap();

    pg.psql(
        DB,
        &format!(
            "CREATE TABLE protocols (batch int, n int, note text); \
             INSERT INTO protocols VALUES (-1, 0, '{CANARY} before the base');"
        ),
    )
    .unwrap();

    // The base backup, sealed the way `backup` seals its files.
    let tools = PgTools::new(&bin);
    let scratch = gwdir.join("data").join(".pgbase");
    std::fs::create_dir_all(&scratch).unwrap();
    let t0 = Instant::now();
    let base = backup_pg::base_backup(&tools, &url, &scratch, now_ms).unwrap();
    let base_secs = t0.elapsed().as_secs_f64();
    let names: Vec<&str> = base.files.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(names, [backup_pg::BASE_MANIFEST, backup_pg::BASE_TAR]);
    assert_eq!(base.info.timeline, 1);
    assert!(base.info.start_ms <= base.info.end_ms);
    assert!(
        base.info.pg_version.parse::<u32>().is_ok(),
        "{:?}",
        base.info
    );
    // pg_basebackup returned only once the WAL the base needs was archived.
    wait_archived(&wal, &base.info.start_wal);
    let key = backup_pg::backup_key(&cfg).unwrap();
    let id = Uuid::now_v7();
    let bdir = backups.join(id.to_string());
    std::fs::create_dir_all(&bdir).unwrap();
    let mut sealed = Vec::new();
    for (name, plain) in &base.files {
        let enc = bdir.join(format!("{name}.enc"));
        sealed.push((seal_file(&key, id, name, plain, &enc).unwrap(), enc));
    }
    std::fs::remove_dir_all(&scratch).unwrap();
    let sealed_base = SealedBase {
        id,
        info: base.info.clone(),
        files: sealed,
    };

    // Four committed batches, a second apart, each ending its segment.
    let mut before = Vec::new();
    let mut after = Vec::new();
    let mut segs = Vec::new();
    for k in 0..4 {
        before.push(now_ms());
        let seg = pg
            .psql(
                DB,
                &format!(
                    "BEGIN; INSERT INTO protocols SELECT {k}, g, '{CANARY} batch {k}' \
                     FROM generate_series(1, 50) g; COMMIT; \
                     SELECT pg_walfile_name(pg_switch_wal());"
                ),
            )
            .unwrap();
        after.push(now_ms());
        let seg = seg.lines().last().unwrap().trim().to_string();
        assert_eq!(seg.len(), 24, "{seg}");
        segs.push(seg);
        std::thread::sleep(Duration::from_millis(1_100));
    }
    for s in &segs {
        wait_archived(&wal, s);
    }
    let archiver = pg
        .psql(
            DB,
            "SELECT archived_count, failed_count FROM pg_stat_archiver",
        )
        .unwrap();
    assert!(archiver.ends_with("|0"), "archive failures: {archiver}");
    assert_eq!(
        batches(&pg),
        "-1|1\n0|50\n1|50\n2|50\n3|50",
        "the live cluster"
    );

    // Nothing in the backup directory is readable: the canary is in the
    // rows of every segment and the base, and in no file.
    let all = files_under(&backups);
    assert!(all.len() >= 2 + 2 * segs.len(), "{all:?}");
    for f in &all {
        let bytes = std::fs::read(f).unwrap();
        assert!(
            !contains(&bytes, CANARY.as_bytes()),
            "plaintext in {}",
            f.display()
        );
    }

    // WAL older than the base is of no use to any restore: pruned, and
    // the restores below prove nothing they need went.
    let pruned = backup_pg::prune_wal(&cfg, &base.info.start_wal).unwrap();
    assert!(
        pruned.iter().all(|n| n[8..24] < base.info.start_wal[8..]),
        "{pruned:?}"
    );
    let opts = RestoreOptions {
        exe: exe.to_path_buf(),
        config: conf.clone(),
        db_user: SUPERUSER.into(),
        timeout: Duration::from_secs(120),
    };

    // A target before the base was complete is refused up front.
    let e = restore_to(
        &cfg,
        &tools,
        &sealed_base,
        Some(base.info.start_ms - 1),
        &t.path().join("early"),
        &opts,
    )
    .unwrap_err();
    assert!(e.to_string().contains("before base backup"), "{e}");

    // Point in time: between batch 1 and batch 2.
    let target = (after[1] + before[2]) / 2;
    assert!(before[2] - after[1] >= 1_000);
    let t1 = Instant::now();
    let r = restore_to(
        &cfg,
        &tools,
        &sealed_base,
        Some(target),
        &t.path().join("pitr1"),
        &opts,
    )
    .unwrap();
    let pitr_secs = t1.elapsed().as_secs_f64();
    assert!(r.target_reached, "{r:?}");
    assert!(r.gap.is_none(), "{r:?}");
    assert_eq!(r.attempts, 1);
    assert_eq!(r.timeline, 2);
    let reached = r.reached_ms.unwrap();
    assert!(
        (before[1]..=target).contains(&reached),
        "{reached} not within batch 1's commit and the target"
    );
    {
        let restored = TempCluster::start_existing(&r.data_dir, &[]).unwrap();
        assert_eq!(
            batches(&restored),
            "-1|1\n0|50\n1|50",
            "exactly the rows before the target"
        );
    }
    assert!(
        !t.path().join(".pitr1.restore").exists(),
        "run directory left"
    );

    // "Now", everything archived: the WAL ends before the target (the
    // live segment is not archived yet), so the replay runs to its end,
    // all four batches are back, and the result says the target was not
    // reached although nothing is missing.
    let t3 = Instant::now();
    let r = restore_to(
        &cfg,
        &tools,
        &sealed_base,
        Some(now_ms()),
        &t.path().join("latest"),
        &opts,
    )
    .unwrap();
    let latest_secs = t3.elapsed().as_secs_f64();
    assert!(!r.target_reached, "{r:?}");
    assert!(r.gap.is_none(), "{r:?}");
    assert_eq!(r.attempts, 2);
    assert!(
        (before[3]..=after[3]).contains(&r.reached_ms.unwrap()),
        "{r:?}"
    );
    {
        let restored = TempCluster::start_existing(&r.data_dir, &[]).unwrap();
        assert_eq!(batches(&restored), "-1|1\n0|50\n1|50\n2|50\n3|50");
    }

    // wal-restore opens a segment; the canary proves the plaintext check
    // above was not vacuous.
    let plain3 = t.path().join("seg3");
    let o = wal_cli(&conf, &["wal-restore", &segs[3], &plain3.to_string_lossy()]);
    assert!(o.status.success(), "{}", stderr(&o));
    let seg3 = std::fs::read(&plain3).unwrap();
    assert!(contains(&seg3, CANARY.as_bytes()));

    // The same content again under its name: accepted (PostgreSQL retries
    // after a crash). Different content: refused, the archive unchanged.
    let o = wal_cli(&conf, &["wal-archive", &plain3.to_string_lossy(), &segs[3]]);
    assert!(o.status.success(), "{}", stderr(&o));
    let mut other = seg3.clone();
    other[100] ^= 1;
    let other_path = t.path().join("other");
    std::fs::write(&other_path, &other).unwrap();
    let enc3 = wal.join(format!("{}.enc", segs[3]));
    let enc3_before = std::fs::read(&enc3).unwrap();
    let o = wal_cli(
        &conf,
        &["wal-archive", &other_path.to_string_lossy(), &segs[3]],
    );
    assert!(!o.status.success());
    assert!(stderr(&o).contains("different content"), "{}", stderr(&o));
    assert_eq!(std::fs::read(&enc3).unwrap(), enc3_before);

    // A tampered segment: refused with a message, nothing written.
    let mut bad = enc3_before.clone();
    let mid = bad.len() / 2;
    bad[mid] ^= 1;
    std::fs::write(&enc3, &bad).unwrap();
    let out = t.path().join("tampered");
    let o = wal_cli(&conf, &["wal-restore", &segs[3], &out.to_string_lossy()]);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    assert!(stderr(&o).contains("damaged"), "{}", stderr(&o));
    assert!(stderr(&o).contains(&segs[3]), "{}", stderr(&o));
    assert!(!out.exists());
    std::fs::write(&enc3, &enc3_before).unwrap();
    // Missing: PostgreSQL's end of the archive (status 1). No key or
    // configuration: the recovery must stop, not promote (status > 125).
    let o = wal_cli(
        &conf,
        &[
            "wal-restore",
            "0000000100000000000000FF",
            &out.to_string_lossy(),
        ],
    );
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("not in the archive"), "{}", stderr(&o));
    let o = wal_cli(
        &t.path().join("nonexistent.toml"),
        &["wal-restore", &segs[3], &out.to_string_lossy()],
    );
    assert_eq!(
        o.status.code(),
        Some(i32::from(backup_pg::EXIT_ABORT_RECOVERY))
    );
    let o = wal_cli(
        &conf,
        &["wal-restore", "../../etc/passwd", &out.to_string_lossy()],
    );
    assert!(!o.status.success());

    // The gap: batch 2's segment is lost. The restore to the latest time
    // stops at the end of batch 1, reports the gap, never the target.
    for ext in ["enc", "entry"] {
        std::fs::remove_file(wal.join(format!("{}.{ext}", segs[2]))).unwrap();
    }
    let latest = now_ms();
    let t2 = Instant::now();
    let r = restore_to(
        &cfg,
        &tools,
        &sealed_base,
        Some(latest),
        &t.path().join("pitr2"),
        &opts,
    )
    .unwrap();
    let gap_secs = t2.elapsed().as_secs_f64();
    assert!(!r.target_reached, "{r:?}");
    assert_eq!(r.attempts, 2);
    let gap = r.gap.clone().expect("the gap is reported");
    assert_eq!(gap.missing, segs[2]);
    assert!(!gap.damaged);
    assert!(gap.later_segments >= 1, "{gap:?}");
    assert_eq!(gap.last_archived.as_deref(), Some(segs[3].as_str()));
    assert!(
        gap.to_string().contains("missing from the archive"),
        "{gap}"
    );
    assert_eq!(r.last_segment, segs[1]);
    let reached = r.reached_ms.unwrap();
    assert!(
        (before[1]..before[2]).contains(&reached),
        "stopped at {reached}, batch 1 committed in {}..{}",
        before[1],
        after[1]
    );
    {
        let restored = TempCluster::start_existing(&r.data_dir, &[]).unwrap();
        assert_eq!(
            batches(&restored),
            "-1|1\n0|50\n1|50",
            "the rows before the gap"
        );
    }
    // A damaged base is refused before anything is extracted.
    let tar_enc = &sealed_base
        .files
        .iter()
        .find(|(fe, _)| fe.name == backup_pg::BASE_TAR)
        .unwrap()
        .1;
    let good = std::fs::read(tar_enc).unwrap();
    let mut bad = good.clone();
    let mid = bad.len() / 2;
    bad[mid] ^= 1;
    std::fs::write(tar_enc, &bad).unwrap();
    let e = restore_to(
        &cfg,
        &tools,
        &sealed_base,
        None,
        &t.path().join("pitr4"),
        &opts,
    )
    .unwrap_err();
    assert!(e.to_string().contains("does not open"), "{e}");
    assert!(
        std::fs::read_dir(t.path().join("pitr4"))
            .unwrap()
            .next()
            .is_none(),
        "extracted from a damaged base"
    );
    std::fs::write(tar_enc, &good).unwrap();

    // The same through the commands: `backup` takes the base backup of
    // the archive's cluster (after the gap, which therefore does not
    // matter), a batch follows in the WAL only, `restore --pg-data`
    // restores base and WAL, `replay` runs against the restored cluster.
    let o = wal_cli(&conf, &["backup"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let seg5 = pg
        .psql(
            DB,
            &format!(
                "BEGIN; INSERT INTO protocols SELECT 5, g, '{CANARY} batch 5' \
                 FROM generate_series(1, 50) g; COMMIT; \
                 SELECT pg_walfile_name(pg_switch_wal());"
            ),
        )
        .unwrap();
    wait_archived(&wal, seg5.lines().last().unwrap().trim());
    let o = wal_cli(&conf, &["restore", "--to", &now_ms().to_string()]);
    assert!(stderr(&o).contains("--pg-data"), "{}", stderr(&o));
    let dir = t.path().join("cli");
    let o = wal_cli(
        &conf,
        &[
            "restore",
            "--to",
            &now_ms().to_string(),
            "--pg-data",
            &dir.to_string_lossy(),
        ],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let out = String::from_utf8_lossy(&o.stdout).into_owned();
    assert!(
        out.contains("archive restored from base backup") && out.contains("replay --config"),
        "{out}"
    );
    assert!(!out.contains("GAP"), "{out}");
    {
        let restored = TempCluster::start_existing(&dir, &[]).unwrap();
        assert_eq!(
            batches(&restored),
            "-1|1\n0|50\n1|50\n2|50\n3|50\n5|50",
            "the base from `backup` and the WAL after it"
        );
        let mut c2 = cfg.clone();
        c2.archive.url = Some(restored.conn_string(DB));
        let conf2 = t.path().join("restored.toml");
        std::fs::write(&conf2, c2.to_toml()).unwrap();
        let o = wal_cli(&conf2, &["replay", "--since", "0"]);
        assert!(o.status.success(), "{}", stderr(&o));
        assert!(String::from_utf8_lossy(&o.stdout).contains(" 0 missing"));
    }

    eprintln!(
        "timings: base backup {base_secs:.2}s, restore to a time {pitr_secs:.2}s, to now {latest_secs:.2}s, across a gap (two starts) {gap_secs:.2}s, whole test {:.1}s",
        started.elapsed().as_secs_f64()
    );
    drop(pg);
}
