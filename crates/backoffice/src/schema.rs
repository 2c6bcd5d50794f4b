//! Versioned migrations, one list for both databases. Each step's tables
//! are written once (`{B}` is the binary type); the tenancy tail differs:
//! row-level security on PostgreSQL, triggers on SQLite.
//!
//! Every tenant table has `org_id` as the first column of its key; keys are
//! UUIDs made where the data is born (the pad's packet and mission ids) plus
//! the organisation, never a sequence two nodes could both hand out.

use crate::db::{APP_ROLE, Db, DbError, Dialect, FOREIGN_WRITE, Tx};

/// Tables that belong to one organisation each.
pub const TENANT_TABLES: &[&str] = &[
    "station",
    "vehicle",
    "pad",
    "archive_key",
    "protocol",
    "identity",
    "medical",
    "free_text",
    "stat",
    "event_log",
    "document",
    "change_log",
    "intake_issue",
    "protocol_crew",
    "identity_grant",
    "audit_event",
    "audit_head",
    "app_user",
    "web_session",
    "crew_edit",
    "qm_build",
    "qm_pseudo",
    "qm_anon",
];

const V1_TENANT_TABLES: &[&str] = &[
    "station",
    "vehicle",
    "pad",
    "archive_key",
    "protocol",
    "identity",
    "medical",
    "free_text",
    "stat",
    "event_log",
    "document",
    "change_log",
    "intake_issue",
];

/// Tables no one may change or delete rows of, not even the owner.
pub const APPEND_ONLY: &[&str] = &["audit_event", "crew_edit"];

struct Migration {
    version: i64,
    name: &'static str,
    tables: &'static str,
    tenant_tables: &'static [&'static str],
}

const MIGRATIONS: &[Migration] = &[V1, V2, V3, V4, V5, V6];

/// The schema version this build migrates to.
pub const LATEST: i64 = MIGRATIONS.len() as i64;

/// The statistics extracts (`crate::qm`): their own tables, apart from the
/// archive, never opened by the reason gate. One row per statistic (a row
/// of `stat` that the level keeps), not per protocol: counts over any
/// dimension are plain `GROUP BY`s, and the rows hold nothing the archive's
/// `stat` rows would not, plus the derived columns of their level.
/// `qm_build` records which protocol went into which extract (idempotence);
/// `qm_anon` has no protocol or patient column (a random row id), so an
/// anonymised row cannot be joined back to its mission.
const V6: Migration = Migration {
    version: 6,
    name: "statistics extracts",
    tenant_tables: &["qm_build", "qm_pseudo", "qm_anon"],
    tables: "
CREATE TABLE qm_build (
    org_id       TEXT NOT NULL REFERENCES org(id),
    protocol_id  TEXT NOT NULL,
    level        TEXT NOT NULL CHECK (level IN ('pseudo', 'anon')),
    recipient    TEXT NOT NULL,
    rows_built   BIGINT NOT NULL,
    built_ms     BIGINT NOT NULL,
    PRIMARY KEY (org_id, protocol_id, level, recipient)
);
CREATE TABLE qm_pseudo (
    org_id       TEXT NOT NULL REFERENCES org(id),
    recipient    TEXT NOT NULL,
    protocol_id  TEXT NOT NULL,
    ord          BIGINT NOT NULL,
    pseudonym    TEXT,
    station_id   TEXT,
    call_sign    TEXT NOT NULL,
    opened_ms    BIGINT,
    hour         BIGINT,
    weekday      BIGINT,
    age_years    BIGINT,
    field        TEXT NOT NULL,
    code         TEXT,
    num          BIGINT,
    PRIMARY KEY (org_id, recipient, protocol_id, ord)
);
CREATE INDEX qm_pseudo_field ON qm_pseudo (org_id, recipient, field, code);
CREATE TABLE qm_anon (
    org_id       TEXT NOT NULL REFERENCES org(id),
    id           TEXT NOT NULL,
    station_id   TEXT,
    call_sign    TEXT NOT NULL,
    hour         BIGINT,
    weekday      BIGINT,
    month        BIGINT,
    age_band     TEXT,
    region       TEXT,
    field        TEXT NOT NULL,
    code         TEXT,
    num          BIGINT,
    PRIMARY KEY (org_id, id)
);
CREATE INDEX qm_anon_field ON qm_anon (org_id, field, code);
",
};

/// The crew's overlay on an archived protocol (seed §2.7.1): a personal
/// remark and the few rescue-technical corrections. The archived record
/// stays as filed; this table is append-only and the newest row of a
/// (protocol, user, kind, field) supersedes the older ones, which stay as
/// history. `value` is sealed under the key of `key_year` (the protocol's
/// year key when written), so the year's shred erases it too.
const V5: Migration = Migration {
    version: 5,
    name: "crew edits",
    tenant_tables: &["crew_edit"],
    tables: "
CREATE TABLE crew_edit (
    org_id       TEXT NOT NULL,
    id           TEXT NOT NULL,
    protocol_id  TEXT NOT NULL,
    user_id      TEXT NOT NULL,
    login        TEXT NOT NULL,
    kind         TEXT NOT NULL CHECK (kind IN ('remark', 'correction')),
    field        TEXT NOT NULL,
    key_year     BIGINT NOT NULL,
    value        {B} NOT NULL,
    created_ms   BIGINT NOT NULL,
    PRIMARY KEY (org_id, id),
    FOREIGN KEY (org_id, protocol_id) REFERENCES protocol (org_id, id)
);
CREATE INDEX crew_edit_protocol ON crew_edit (org_id, protocol_id, kind, created_ms);
",
};

/// The list's order in the index: a page is an index walk, not a sort.
const V4: Migration = Migration {
    version: 4,
    name: "list indexes",
    tenant_tables: &[],
    tables: "
CREATE INDEX protocol_page ON protocol (org_id, received_ms DESC, id DESC);
CREATE INDEX protocol_station_page ON protocol (org_id, station_id, received_ms DESC, id DESC);
DROP INDEX protocol_list;
",
};

/// Back-office users and their sessions.
const V3: Migration = Migration {
    version: 3,
    name: "users",
    tenant_tables: &["app_user", "web_session"],
    tables: "
CREATE TABLE app_user (
    org_id       TEXT NOT NULL REFERENCES org(id),
    id           TEXT NOT NULL,
    login        TEXT NOT NULL,
    given_name   TEXT NOT NULL,
    family_name  TEXT NOT NULL,
    role         TEXT NOT NULL,
    stations     TEXT NOT NULL DEFAULT '',
    district     TEXT NOT NULL DEFAULT '',
    staff_id     TEXT,
    phc          TEXT NOT NULL,
    account      TEXT NOT NULL,
    created_ms   BIGINT NOT NULL,
    PRIMARY KEY (org_id, id),
    UNIQUE (org_id, login)
);
-- Only the hash of a session token is stored.
CREATE TABLE web_session (
    org_id      TEXT NOT NULL,
    id          TEXT NOT NULL,
    user_id     TEXT NOT NULL,
    csrf        TEXT NOT NULL,
    created_ms  BIGINT NOT NULL,
    seen_ms     BIGINT NOT NULL,
    PRIMARY KEY (org_id, id)
);
",
};

/// The reason gate and its audit trail.
const V2: Migration = Migration {
    version: 2,
    name: "access",
    tenant_tables: &[
        "protocol_crew",
        "identity_grant",
        "audit_event",
        "audit_head",
    ],
    tables: "
-- Whose mission: the crew sees its own protocols.
CREATE TABLE protocol_crew (
    org_id       TEXT NOT NULL,
    protocol_id  TEXT NOT NULL,
    staff_id     TEXT NOT NULL,
    PRIMARY KEY (org_id, protocol_id, staff_id),
    FOREIGN KEY (org_id, protocol_id) REFERENCES protocol (org_id, id)
);
CREATE INDEX protocol_crew_staff ON protocol_crew (org_id, staff_id);
-- A typed reason opens one protocol's identity to one user's session for
-- a short time.
CREATE TABLE identity_grant (
    org_id       TEXT NOT NULL,
    id           TEXT NOT NULL,
    user_id      TEXT NOT NULL,
    session      TEXT NOT NULL,
    protocol_id  TEXT NOT NULL,
    audit_id     TEXT NOT NULL,
    granted_ms   BIGINT NOT NULL,
    expires_ms   BIGINT NOT NULL,
    PRIMARY KEY (org_id, id)
);
CREATE INDEX identity_grant_user ON identity_grant (org_id, user_id, protocol_id);
-- Append-only and hash-chained per organisation (the auditor's view).
CREATE TABLE audit_event (
    org_id       TEXT NOT NULL,
    seq          BIGINT NOT NULL,
    id           TEXT NOT NULL,
    at_ms        BIGINT NOT NULL,
    user_id      TEXT NOT NULL,
    login        TEXT NOT NULL,
    role         TEXT NOT NULL,
    session      TEXT NOT NULL,
    action       TEXT NOT NULL,
    protocol_id  TEXT,
    category     TEXT,
    reason       TEXT,
    outcome      TEXT NOT NULL,
    prev_hash    TEXT NOT NULL,
    hash         TEXT NOT NULL,
    PRIMARY KEY (org_id, seq)
);
CREATE INDEX audit_event_protocol ON audit_event (org_id, protocol_id);
-- The head of each organisation's chain: locked while appending, so two
-- nodes never fork it.
CREATE TABLE audit_head (
    org_id  TEXT NOT NULL PRIMARY KEY,
    seq     BIGINT NOT NULL,
    hash    TEXT NOT NULL
);
",
};

const V1: Migration = Migration {
    version: 1,
    name: "archive",
    tenant_tables: V1_TENANT_TABLES,
    tables: "
CREATE TABLE org (
    id          TEXT PRIMARY KEY,
    name        TEXT NOT NULL,
    district    TEXT NOT NULL DEFAULT '',
    created_ms  BIGINT NOT NULL
);
CREATE TABLE station (
    org_id  TEXT NOT NULL REFERENCES org(id),
    id      TEXT NOT NULL,
    name    TEXT NOT NULL,
    PRIMARY KEY (org_id, id)
);
CREATE TABLE vehicle (
    org_id        TEXT NOT NULL REFERENCES org(id),
    call_sign     TEXT NOT NULL,
    station_id    TEXT,
    vehicle_type  TEXT,
    PRIMARY KEY (org_id, call_sign)
);
CREATE TABLE pad (
    org_id     TEXT NOT NULL REFERENCES org(id),
    serial     TEXT NOT NULL,
    call_sign  TEXT NOT NULL,
    seen_ms    BIGINT NOT NULL,
    PRIMARY KEY (org_id, serial)
);
-- One data key per organisation and year of treatment: every protocol of a
-- year expires on the same day, so destroying that key erases the year.
CREATE TABLE archive_key (
    org_id       TEXT NOT NULL REFERENCES org(id),
    year         BIGINT NOT NULL,
    key_id       TEXT NOT NULL,
    wrapped      {B},
    created_ms   BIGINT NOT NULL,
    shredded_ms  BIGINT,
    PRIMARY KEY (org_id, year)
);
CREATE TABLE protocol (
    org_id          TEXT NOT NULL REFERENCES org(id),
    id              TEXT NOT NULL,
    mission_id      TEXT NOT NULL,
    node            TEXT NOT NULL,
    device_serial   TEXT NOT NULL,
    call_sign       TEXT NOT NULL,
    station_id      TEXT,
    els_number      TEXT,
    opened_ms       BIGINT,
    handed_over_ms  BIGINT,
    closed_ms       BIGINT,
    received_ms     BIGINT NOT NULL,
    archived_ms     BIGINT NOT NULL,
    year            BIGINT NOT NULL,
    retain_until_ms BIGINT NOT NULL,
    legal_hold      BIGINT NOT NULL DEFAULT 0,
    key_year        BIGINT NOT NULL,
    packet_sha256   TEXT NOT NULL,
    pdf_sha256      TEXT,
    receipt         TEXT NOT NULL,
    patients        BIGINT NOT NULL,
    changes         BIGINT NOT NULL,
    shredded_ms     BIGINT,
    PRIMARY KEY (org_id, id)
);
CREATE INDEX protocol_list ON protocol (org_id, received_ms);
CREATE INDEX protocol_mission ON protocol (org_id, mission_id);
CREATE INDEX protocol_year ON protocol (org_id, key_year);
CREATE TABLE identity (
    org_id       TEXT NOT NULL,
    protocol_id  TEXT NOT NULL,
    patient_id   TEXT NOT NULL,
    sealed       {B} NOT NULL,
    PRIMARY KEY (org_id, protocol_id, patient_id),
    FOREIGN KEY (org_id, protocol_id) REFERENCES protocol (org_id, id)
);
CREATE TABLE medical (
    org_id       TEXT NOT NULL,
    protocol_id  TEXT NOT NULL,
    sealed       {B} NOT NULL,
    PRIMARY KEY (org_id, protocol_id),
    FOREIGN KEY (org_id, protocol_id) REFERENCES protocol (org_id, id)
);
CREATE TABLE free_text (
    org_id       TEXT NOT NULL,
    protocol_id  TEXT NOT NULL,
    sealed       {B} NOT NULL,
    PRIMARY KEY (org_id, protocol_id),
    FOREIGN KEY (org_id, protocol_id) REFERENCES protocol (org_id, id)
);
-- Coded values only (no identity, no free text): what QM counts. No
-- foreign key: rows are written and deleted only with their protocol, in
-- its transaction, and the key check costs more than the row.
CREATE TABLE stat (
    org_id       TEXT NOT NULL,
    protocol_id  TEXT NOT NULL,
    patient_id   TEXT NOT NULL,
    field        TEXT NOT NULL,
    ord          BIGINT NOT NULL,
    code         TEXT,
    num          BIGINT,
    PRIMARY KEY (org_id, protocol_id, ord)
);
CREATE INDEX stat_field ON stat (org_id, field, code);
CREATE TABLE event_log (
    org_id       TEXT NOT NULL,
    protocol_id  TEXT NOT NULL,
    events       BIGINT NOT NULL,
    digest       TEXT NOT NULL,
    chain_issues BIGINT NOT NULL,
    sealed       {B} NOT NULL,
    PRIMARY KEY (org_id, protocol_id),
    FOREIGN KEY (org_id, protocol_id) REFERENCES protocol (org_id, id)
);
CREATE TABLE document (
    org_id       TEXT NOT NULL,
    protocol_id  TEXT NOT NULL,
    kind         TEXT NOT NULL,
    sha256       TEXT NOT NULL,
    size         BIGINT NOT NULL,
    sealed       {B} NOT NULL,
    PRIMARY KEY (org_id, protocol_id, kind),
    FOREIGN KEY (org_id, protocol_id) REFERENCES protocol (org_id, id)
);
-- The §630f list: every change after the handover, values sealed.
CREATE TABLE change_log (
    org_id       TEXT NOT NULL,
    protocol_id  TEXT NOT NULL,
    ord          BIGINT NOT NULL,
    at_ms        BIGINT NOT NULL,
    author       TEXT NOT NULL,
    what         TEXT NOT NULL,
    field        TEXT,
    sealed       {B} NOT NULL,
    PRIMARY KEY (org_id, protocol_id, ord),
    FOREIGN KEY (org_id, protocol_id) REFERENCES protocol (org_id, id)
);
-- Packets the archive could not open or file: kept and reported.
CREATE TABLE intake_issue (
    org_id       TEXT NOT NULL REFERENCES org(id),
    packet_id    TEXT NOT NULL,
    node         TEXT NOT NULL,
    received_ms  BIGINT NOT NULL,
    reported_ms  BIGINT NOT NULL,
    reason       TEXT NOT NULL,
    PRIMARY KEY (org_id, packet_id)
);
",
};

fn tenancy_sql(d: Dialect, t: &str) -> String {
    match d {
        Dialect::Postgres => format!(
            "ALTER TABLE {t} ENABLE ROW LEVEL SECURITY;
             ALTER TABLE {t} FORCE ROW LEVEL SECURITY;
             CREATE POLICY {t}_org ON {t}
                 USING (app_org_visible(org_id)) WITH CHECK (app_org_visible(org_id));
             GRANT SELECT, INSERT, UPDATE, DELETE ON {t} TO {APP_ROLE};
             CREATE VIEW v_{t} WITH (security_invoker = true) AS
                 SELECT * FROM {t} WHERE app_org_visible(org_id);
             -- UPDATE for row locks (FOR UPDATE); the base table decides.
             GRANT SELECT, UPDATE ON v_{t} TO {APP_ROLE};
            "
        ),
        Dialect::Sqlite => format!(
            "CREATE TRIGGER {t}_org_ins BEFORE INSERT ON {t}
                 WHEN NOT app_org_visible(NEW.org_id)
                 BEGIN SELECT RAISE(ABORT, '{FOREIGN_WRITE}'); END;
             CREATE TRIGGER {t}_org_upd BEFORE UPDATE ON {t}
                 WHEN NOT app_org_visible(OLD.org_id) OR NOT app_org_visible(NEW.org_id)
                 BEGIN SELECT RAISE(ABORT, '{FOREIGN_WRITE}'); END;
             CREATE TRIGGER {t}_org_del BEFORE DELETE ON {t}
                 WHEN NOT app_org_visible(OLD.org_id)
                 BEGIN SELECT RAISE(ABORT, '{FOREIGN_WRITE}'); END;
             CREATE VIEW v_{t} AS SELECT * FROM {t} WHERE app_org_visible(org_id);
            "
        ),
    }
}

fn append_only_sql(d: Dialect, t: &str) -> String {
    match d {
        Dialect::Postgres => format!(
            "REVOKE UPDATE, DELETE ON {t} FROM {APP_ROLE};
             CREATE OR REPLACE FUNCTION refuse_change() RETURNS trigger LANGUAGE plpgsql AS
                 $f$ BEGIN RAISE EXCEPTION 'append-only table'; END $f$;
             CREATE TRIGGER {t}_append_only BEFORE UPDATE OR DELETE ON {t}
                 FOR EACH ROW EXECUTE FUNCTION refuse_change();"
        ),
        Dialect::Sqlite => format!(
            "CREATE TRIGGER {t}_no_update BEFORE UPDATE ON {t}
                 BEGIN SELECT RAISE(ABORT, 'append-only table'); END;
             CREATE TRIGGER {t}_no_delete BEFORE DELETE ON {t}
                 BEGIN SELECT RAISE(ABORT, 'append-only table'); END;"
        ),
    }
}

/// Creates the app role and the scope function (PostgreSQL). Idempotent and
/// safe when two nodes start at once.
const PG_PRELUDE: &str = "
DO $$ BEGIN
    CREATE ROLE rettpad_app NOLOGIN;
EXCEPTION WHEN duplicate_object OR unique_violation THEN NULL;
END $$;
CREATE OR REPLACE FUNCTION app_org_visible(org text) RETURNS boolean
    LANGUAGE sql STABLE
    AS $f$ SELECT org = ANY (string_to_array(coalesce(current_setting('app.orgs', true), ''), ',')) $f$;
";

/// Brings the database to the newest version. Two nodes starting at once
/// serialise on a lock; a database newer than this build is refused.
pub fn migrate(db: &Db) -> Result<(), DbError> {
    let d = db.dialect();
    db.owner_tx(|tx| {
        if d == Dialect::Postgres {
            tx.batch("SELECT pg_advisory_xact_lock(7261001)")?;
            tx.batch(PG_PRELUDE)?;
            // The owner must be able to act as the app role.
            let _ = tx.batch(&format!("GRANT {APP_ROLE} TO CURRENT_USER"));
        }
        tx.batch(
            "CREATE TABLE IF NOT EXISTS schema_version (
                 version    BIGINT PRIMARY KEY,
                 name       TEXT NOT NULL,
                 applied_ms BIGINT NOT NULL)",
        )?;
        let current = tx
            .query_opt("SELECT max(version) FROM schema_version", &[])?
            .map(|r| r.opt_int(0))
            .transpose()?
            .flatten()
            .unwrap_or(0);
        let newest = MIGRATIONS.last().map_or(0, |m| m.version);
        if current > newest {
            return Err(DbError::Invalid(format!(
                "the archive database is at version {current}, newer than this build ({newest})"
            )));
        }
        for m in MIGRATIONS.iter().filter(|m| m.version > current) {
            apply(tx, d, m)?;
        }
        Ok(())
    })
}

fn apply(tx: &mut Tx<'_>, d: Dialect, m: &Migration) -> Result<(), DbError> {
    let blob = match d {
        Dialect::Postgres => "BYTEA",
        Dialect::Sqlite => "BLOB",
    };
    tx.batch(&m.tables.replace("{B}", blob))?;
    for t in m.tenant_tables {
        tx.batch(&tenancy_sql(d, t))?;
        if APPEND_ONLY.contains(t) {
            tx.batch(&append_only_sql(d, t))?;
        }
    }
    if d == Dialect::Postgres {
        tx.batch(&format!(
            "GRANT SELECT, INSERT ON org TO {APP_ROLE}; GRANT SELECT ON schema_version TO {APP_ROLE}"
        ))?;
    }
    tx.exec(
        "INSERT INTO schema_version (version, name, applied_ms) VALUES ($1, $2, $3)",
        crate::params![m.version, m.name, crate::now_ms()],
    )?;
    Ok(())
}
