//! One code path over two databases: PostgreSQL in production, SQLite as the
//! embedded default. Queries are written once with `$1…` placeholders and
//! values of [`Val`]; the dialects differ only in the migrations.
//!
//! Tenancy is enforced here, in one place: every transaction carries a
//! [`Scope`] (the organisations the caller may see). On PostgreSQL it is the
//! transaction-local setting `app.orgs`, read by the row-level-security
//! policies of every tenant table while the pool runs as the non-owner role
//! `rettpad_app`; on SQLite the same function `app_org_visible` is a
//! connection function that reads the scope, and triggers refuse a write
//! outside it. Reads go through the `v_*` views, which filter by the same
//! function in both databases.

use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use rusqlite::functions::FunctionFlags;

/// The role the PostgreSQL pool runs as: not the owner, so row-level
/// security applies (owners and superusers bypass it).
pub const APP_ROLE: &str = "rettpad_app";

#[derive(Debug, thiserror::Error)]
pub enum DbError {
    #[error("database: {0}")]
    Db(String),
    /// A write outside the caller's organisations (row-level security or
    /// the SQLite trigger refused it).
    #[error("refused: row of another organisation")]
    Foreign,
    #[error("unique key exists: {0}")]
    Duplicate(String),
    #[error("column {0}: {1}")]
    Column(usize, &'static str),
    #[error("{0}")]
    Invalid(String),
}

fn pg_err(e: postgres::Error) -> DbError {
    if let Some(db) = e.as_db_error() {
        let code = db.code().code();
        if code == "42501" {
            return DbError::Foreign;
        }
        if code == "23505" {
            return DbError::Duplicate(db.constraint().unwrap_or("").to_string());
        }
        return DbError::Db(format!("{} ({code})", db.message()));
    }
    DbError::Db(e.to_string())
}

fn lite_err(e: rusqlite::Error) -> DbError {
    let s = e.to_string();
    if s.contains(FOREIGN_WRITE) {
        return DbError::Foreign;
    }
    if let rusqlite::Error::SqliteFailure(f, _) = &e
        && (f.extended_code == rusqlite::ffi::SQLITE_CONSTRAINT_PRIMARYKEY
            || f.extended_code == rusqlite::ffi::SQLITE_CONSTRAINT_UNIQUE)
    {
        return DbError::Duplicate(s);
    }
    DbError::Db(s)
}

/// What a transaction's closure may fail with: a database error or one of
/// the caller's own (which ends the transaction without a retry).
pub trait TxError: From<DbError> {
    fn db(&self) -> Option<&DbError>;
}

impl TxError for DbError {
    fn db(&self) -> Option<&DbError> {
        Some(self)
    }
}

/// The message of the SQLite triggers that refuse a foreign write.
pub(crate) const FOREIGN_WRITE: &str = "cross-organisation write refused";

#[derive(Debug, Clone, PartialEq)]
pub enum Val {
    Null,
    Int(i64),
    Text(String),
    Bytes(Vec<u8>),
}

impl From<i64> for Val {
    fn from(v: i64) -> Val {
        Val::Int(v)
    }
}
impl From<bool> for Val {
    fn from(v: bool) -> Val {
        Val::Int(i64::from(v))
    }
}
impl From<&str> for Val {
    fn from(v: &str) -> Val {
        Val::Text(v.to_string())
    }
}
impl From<String> for Val {
    fn from(v: String) -> Val {
        Val::Text(v)
    }
}
impl From<&String> for Val {
    fn from(v: &String) -> Val {
        Val::Text(v.clone())
    }
}
impl From<Vec<u8>> for Val {
    fn from(v: Vec<u8>) -> Val {
        Val::Bytes(v)
    }
}
impl From<&[u8]> for Val {
    fn from(v: &[u8]) -> Val {
        Val::Bytes(v.to_vec())
    }
}
impl From<uuid::Uuid> for Val {
    fn from(v: uuid::Uuid) -> Val {
        Val::Text(v.to_string())
    }
}
impl<T: Into<Val>> From<Option<T>> for Val {
    fn from(v: Option<T>) -> Val {
        v.map_or(Val::Null, Into::into)
    }
}

/// `params![a, b]` → `&[Val]`.
#[macro_export]
macro_rules! params {
    // Borrows its arguments (clones them into values).
    ($($v:expr),* $(,)?) => {
        &[$($crate::db::Val::from(::std::borrow::ToOwned::to_owned(&$v))),*] as &[$crate::db::Val]
    };
}

#[derive(Debug, Clone)]
pub struct Row(Vec<Val>);

impl Row {
    pub fn int(&self, i: usize) -> Result<i64, DbError> {
        match self.0.get(i) {
            Some(Val::Int(v)) => Ok(*v),
            _ => Err(DbError::Column(i, "integer expected")),
        }
    }
    pub fn opt_int(&self, i: usize) -> Result<Option<i64>, DbError> {
        match self.0.get(i) {
            Some(Val::Null) => Ok(None),
            _ => self.int(i).map(Some),
        }
    }
    pub fn text(&self, i: usize) -> Result<String, DbError> {
        match self.0.get(i) {
            Some(Val::Text(v)) => Ok(v.clone()),
            _ => Err(DbError::Column(i, "text expected")),
        }
    }
    pub fn opt_text(&self, i: usize) -> Result<Option<String>, DbError> {
        match self.0.get(i) {
            Some(Val::Null) => Ok(None),
            _ => self.text(i).map(Some),
        }
    }
    pub fn bytes(&self, i: usize) -> Result<Vec<u8>, DbError> {
        match self.0.get(i) {
            Some(Val::Bytes(v)) => Ok(v.clone()),
            _ => Err(DbError::Column(i, "bytes expected")),
        }
    }
    pub fn opt_bytes(&self, i: usize) -> Result<Option<Vec<u8>>, DbError> {
        match self.0.get(i) {
            Some(Val::Null) => Ok(None),
            _ => self.bytes(i).map(Some),
        }
    }
}

/// The organisations a transaction may see and write. Organisation ids are
/// plain slugs (a-z, 0-9, `-`, `_`, `.`), so a comma list is unambiguous.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Scope {
    orgs: Vec<String>,
}

impl Scope {
    pub fn org(org: &str) -> Scope {
        Scope {
            orgs: vec![org.to_string()],
        }
    }
    pub fn orgs<S: AsRef<str>>(orgs: impl IntoIterator<Item = S>) -> Scope {
        Scope {
            orgs: orgs.into_iter().map(|o| o.as_ref().to_string()).collect(),
        }
    }
    /// No organisation: tenant tables show nothing and refuse every write.
    pub fn none() -> Scope {
        Scope::default()
    }
    /// The organisations, as given.
    pub fn org_ids(&self) -> &[String] {
        &self.orgs
    }

    pub fn contains(&self, org: &str) -> bool {
        self.orgs.iter().any(|o| o == org)
    }
    fn csv(&self) -> String {
        self.orgs
            .iter()
            .filter(|o| check_org_id(o).is_ok())
            .cloned()
            .collect::<Vec<_>>()
            .join(",")
    }
}

/// An organisation id as keys, packages and the archive use it.
pub fn check_org_id(org: &str) -> Result<(), DbError> {
    let ok = (1..=64).contains(&org.len())
        && org
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"-_.".contains(&b));
    if ok {
        Ok(())
    } else {
        Err(DbError::Invalid(
            "organisation ids are 1-64 characters of a-z, 0-9, -, _ and .".into(),
        ))
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dialect {
    Sqlite,
    Postgres,
}

/// A transaction of either database.
pub enum Tx<'a> {
    Sqlite(rusqlite::Transaction<'a>),
    Postgres(postgres::Transaction<'a>, &'a mut StmtCache),
}

/// Prepared statements of one PostgreSQL connection, by SQL text (saves
/// the prepare round trip on every repeat).
pub type StmtCache = std::collections::HashMap<String, postgres::Statement>;

/// A pooled PostgreSQL connection with its statement cache.
struct PgConn {
    client: postgres::Client,
    cache: StmtCache,
}

fn pg_stmt(
    t: &mut postgres::Transaction<'_>,
    cache: &mut StmtCache,
    sql: &str,
) -> Result<postgres::Statement, DbError> {
    if let Some(s) = cache.get(sql) {
        return Ok(s.clone());
    }
    let s = t.prepare(sql).map_err(pg_err)?;
    if cache.len() > 512 {
        cache.clear();
    }
    cache.insert(sql.to_string(), s.clone());
    Ok(s)
}

/// `$1` → `?1` for SQLite (outside string literals).
fn lite_sql(sql: &str) -> String {
    let mut out = String::with_capacity(sql.len());
    let mut quoted = false;
    for c in sql.chars() {
        if c == '\'' {
            quoted = !quoted;
        }
        out.push(if c == '$' && !quoted { '?' } else { c });
    }
    out
}

fn lite_val(v: &Val) -> rusqlite::types::Value {
    match v {
        Val::Null => rusqlite::types::Value::Null,
        Val::Int(i) => rusqlite::types::Value::Integer(*i),
        Val::Text(s) => rusqlite::types::Value::Text(s.clone()),
        Val::Bytes(b) => rusqlite::types::Value::Blob(b.clone()),
    }
}

/// NULL of whatever type the server expects.
#[derive(Debug)]
struct PgNull;
impl postgres::types::ToSql for PgNull {
    fn to_sql(
        &self,
        _: &postgres::types::Type,
        _: &mut postgres::types::private::BytesMut,
    ) -> Result<postgres::types::IsNull, Box<dyn std::error::Error + Sync + Send>> {
        Ok(postgres::types::IsNull::Yes)
    }
    fn accepts(_: &postgres::types::Type) -> bool {
        true
    }
    postgres::types::to_sql_checked!();
}

fn pg_params(params: &[Val]) -> Vec<Box<dyn postgres::types::ToSql + Sync>> {
    params
        .iter()
        .map(|v| -> Box<dyn postgres::types::ToSql + Sync> {
            match v {
                Val::Null => Box::new(PgNull),
                Val::Int(i) => Box::new(*i),
                Val::Text(s) => Box::new(s.clone()),
                Val::Bytes(b) => Box::new(b.clone()),
            }
        })
        .collect()
}

fn pg_row(r: &postgres::Row) -> Result<Row, DbError> {
    use postgres::types::Type;
    let mut out = Vec::with_capacity(r.len());
    for (i, c) in r.columns().iter().enumerate() {
        let t = c.type_();
        let v = if *t == Type::INT8 {
            r.try_get::<_, Option<i64>>(i).map(|v| v.map(Val::Int))
        } else if *t == Type::INT4 {
            r.try_get::<_, Option<i32>>(i)
                .map(|v| v.map(|v| Val::Int(i64::from(v))))
        } else if *t == Type::INT2 {
            r.try_get::<_, Option<i16>>(i)
                .map(|v| v.map(|v| Val::Int(i64::from(v))))
        } else if *t == Type::BOOL {
            r.try_get::<_, Option<bool>>(i)
                .map(|v| v.map(|v| Val::Int(i64::from(v))))
        } else if *t == Type::BYTEA {
            r.try_get::<_, Option<Vec<u8>>>(i)
                .map(|v| v.map(Val::Bytes))
        } else {
            r.try_get::<_, Option<String>>(i).map(|v| v.map(Val::Text))
        };
        out.push(v.map_err(pg_err)?.unwrap_or(Val::Null));
    }
    Ok(Row(out))
}

impl Tx<'_> {
    pub fn dialect(&self) -> Dialect {
        match self {
            Tx::Sqlite(_) => Dialect::Sqlite,
            Tx::Postgres(..) => Dialect::Postgres,
        }
    }

    /// Runs a statement; returns the rows it changed.
    pub fn exec(&mut self, sql: &str, params: &[Val]) -> Result<u64, DbError> {
        match self {
            Tx::Sqlite(t) => {
                let mut st = t.prepare_cached(&lite_sql(sql)).map_err(lite_err)?;
                let n = st
                    .execute(rusqlite::params_from_iter(params.iter().map(lite_val)))
                    .map_err(lite_err)?;
                Ok(n as u64)
            }
            Tx::Postgres(t, cache) => {
                let st = pg_stmt(t, cache, sql)?;
                let p = pg_params(params);
                let refs: Vec<&(dyn postgres::types::ToSql + Sync)> =
                    p.iter().map(|b| b.as_ref()).collect();
                t.execute(&st, &refs).map_err(pg_err)
            }
        }
    }

    pub fn query(&mut self, sql: &str, params: &[Val]) -> Result<Vec<Row>, DbError> {
        match self {
            Tx::Sqlite(t) => {
                let mut st = t.prepare_cached(&lite_sql(sql)).map_err(lite_err)?;
                let n = st.column_count();
                let mut rows = st
                    .query(rusqlite::params_from_iter(params.iter().map(lite_val)))
                    .map_err(lite_err)?;
                let mut out = Vec::new();
                while let Some(r) = rows.next().map_err(lite_err)? {
                    let mut v = Vec::with_capacity(n);
                    for i in 0..n {
                        v.push(match r.get_ref(i).map_err(lite_err)? {
                            rusqlite::types::ValueRef::Null => Val::Null,
                            rusqlite::types::ValueRef::Integer(i) => Val::Int(i),
                            rusqlite::types::ValueRef::Real(f) => Val::Int(f as i64),
                            rusqlite::types::ValueRef::Text(t) => {
                                Val::Text(String::from_utf8_lossy(t).into_owned())
                            }
                            rusqlite::types::ValueRef::Blob(b) => Val::Bytes(b.to_vec()),
                        });
                    }
                    out.push(Row(v));
                }
                Ok(out)
            }
            Tx::Postgres(t, cache) => {
                let st = pg_stmt(t, cache, sql)?;
                let p = pg_params(params);
                let refs: Vec<&(dyn postgres::types::ToSql + Sync)> =
                    p.iter().map(|b| b.as_ref()).collect();
                t.query(&st, &refs)
                    .map_err(pg_err)?
                    .iter()
                    .map(pg_row)
                    .collect()
            }
        }
    }

    /// Inserts `rows` into `table` with multi-row statements (one round
    /// trip per chunk instead of per row).
    pub fn insert_rows(
        &mut self,
        table: &str,
        cols: &[&str],
        rows: &[Vec<Val>],
    ) -> Result<(), DbError> {
        let per = (900 / cols.len().max(1)).max(1);
        for chunk in rows.chunks(per) {
            let mut sql = format!("INSERT INTO {table} ({}) VALUES ", cols.join(", "));
            let mut params = Vec::with_capacity(chunk.len() * cols.len());
            for (i, r) in chunk.iter().enumerate() {
                if r.len() != cols.len() {
                    return Err(DbError::Invalid(format!(
                        "{table}: row of {} values",
                        r.len()
                    )));
                }
                sql.push_str(if i == 0 { "(" } else { ", (" });
                for j in 0..cols.len() {
                    if j > 0 {
                        sql.push_str(", ");
                    }
                    sql.push_str(&format!("${}", params.len() + j + 1));
                }
                sql.push(')');
                params.extend(r.iter().cloned());
            }
            self.exec(&sql, &params)?;
        }
        Ok(())
    }

    pub fn query_opt(&mut self, sql: &str, params: &[Val]) -> Result<Option<Row>, DbError> {
        Ok(self.query(sql, params)?.into_iter().next())
    }

    /// Runs several statements without parameters (migrations).
    pub fn batch(&mut self, sql: &str) -> Result<(), DbError> {
        match self {
            Tx::Sqlite(t) => t.execute_batch(sql).map_err(lite_err),
            Tx::Postgres(t, _) => t.batch_execute(sql).map_err(pg_err),
        }
    }
}

struct LiteConn {
    conn: rusqlite::Connection,
    scope: Arc<Mutex<String>>,
}

enum Inner {
    Sqlite {
        pool: Pool<LiteConn>,
        path: String,
    },
    Postgres {
        pool: Pool<PgConn>,
        conn_str: String,
    },
}

/// A small blocking pool: at most `max` connections, made on demand.
struct Pool<C> {
    idle: Mutex<Vec<C>>,
    open: Mutex<usize>,
    freed: Condvar,
    max: usize,
}

impl<C> Pool<C> {
    fn new(max: usize) -> Pool<C> {
        Pool {
            idle: Mutex::new(Vec::new()),
            open: Mutex::new(0),
            freed: Condvar::new(),
            max: max.max(1),
        }
    }

    fn take(&self, make: impl FnOnce() -> Result<C, DbError>) -> Result<C, DbError> {
        loop {
            if let Some(c) = lock(&self.idle).pop() {
                return Ok(c);
            }
            let mut open = lock(&self.open);
            if *open < self.max {
                *open += 1;
                drop(open);
                return make().inspect_err(|_| *lock(&self.open) -= 1);
            }
            // Wait for a connection to come back (or a slot to free).
            let _ = self
                .freed
                .wait_timeout(open, Duration::from_millis(50))
                .map_err(|_| ());
        }
    }

    fn give(&self, c: C) {
        lock(&self.idle).push(c);
        self.freed.notify_one();
    }

    /// A broken connection is dropped; its slot frees.
    fn discard(&self) {
        *lock(&self.open) -= 1;
        self.freed.notify_one();
    }
}

pub(crate) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

pub struct Db {
    inner: Inner,
}

impl Drop for Db {
    /// The synchronous PostgreSQL client blocks on closing, which panics
    /// on an async runtime's thread: close them on a thread of their own.
    fn drop(&mut self) {
        if let Inner::Postgres { pool, .. } = &self.inner {
            let idle = std::mem::take(&mut *lock(&pool.idle));
            if !idle.is_empty() {
                let _ = std::thread::Builder::new()
                    .name("db-close".into())
                    .spawn(move || drop(idle));
            }
        }
    }
}

impl std::fmt::Debug for Db {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Db")
            .field("dialect", &self.dialect())
            .finish_non_exhaustive()
    }
}

impl Db {
    /// `sqlite:PATH` or a PostgreSQL connection string (`postgres://…` or
    /// `host=… dbname=…`). Runs the migrations.
    pub fn open(url: &str) -> Result<Db, DbError> {
        let inner = if let Some(path) = url.strip_prefix("sqlite:") {
            Inner::Sqlite {
                pool: Pool::new(4),
                path: path.to_string(),
            }
        } else {
            Inner::Postgres {
                pool: Pool::new(16),
                conn_str: url.to_string(),
            }
        };
        let db = Db { inner };
        crate::schema::migrate(&db)?;
        Ok(db)
    }

    pub fn dialect(&self) -> Dialect {
        match self.inner {
            Inner::Sqlite { .. } => Dialect::Sqlite,
            Inner::Postgres { .. } => Dialect::Postgres,
        }
    }

    fn lite_open(path: &str) -> Result<LiteConn, DbError> {
        let conn = rusqlite::Connection::open(path).map_err(lite_err)?;
        conn.busy_timeout(Duration::from_secs(30))
            .map_err(lite_err)?;
        conn.execute_batch(
            "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL; PRAGMA foreign_keys=ON;",
        )
        .map_err(lite_err)?;
        let scope = Arc::new(Mutex::new(String::new()));
        let s = Arc::clone(&scope);
        conn.create_scalar_function(
            "app_org_visible",
            1,
            FunctionFlags::SQLITE_UTF8,
            move |ctx| {
                let org: Option<String> = ctx.get(0)?;
                let scope = lock(&s);
                Ok(org.is_some_and(|o| scope.split(',').any(|v| !v.is_empty() && v == o)))
            },
        )
        .map_err(lite_err)?;
        Ok(LiteConn { conn, scope })
    }

    fn pg_connect(conn_str: &str, as_app: bool) -> Result<PgConn, DbError> {
        let mut c = postgres::Client::connect(conn_str, postgres::NoTls).map_err(pg_err)?;
        if as_app {
            c.batch_execute(&format!("SET ROLE {APP_ROLE}"))
                .map_err(pg_err)?;
        }
        Ok(PgConn {
            client: c,
            cache: StmtCache::new(),
        })
    }

    /// A read-write transaction in `scope`; committed when `f` returns Ok.
    /// Retried (up to 5 times) when PostgreSQL reports a serialization
    /// failure or a deadlock, so `f` may run more than once.
    pub fn tx<T, E: TxError>(
        &self,
        scope: &Scope,
        mut f: impl FnMut(&mut Tx<'_>) -> Result<T, E>,
    ) -> Result<T, E> {
        self.run(scope, false, false, &mut f)
    }

    /// A read-only transaction in `scope`.
    pub fn read<T, E: TxError>(
        &self,
        scope: &Scope,
        mut f: impl FnMut(&mut Tx<'_>) -> Result<T, E>,
    ) -> Result<T, E> {
        self.run(scope, true, false, &mut f)
    }

    /// A transaction as the owner (migrations only): no role switch.
    pub(crate) fn owner_tx<T>(
        &self,
        mut f: impl FnMut(&mut Tx<'_>) -> Result<T, DbError>,
    ) -> Result<T, DbError> {
        self.run(&Scope::none(), false, true, &mut f)
    }

    fn run<T, E: TxError>(
        &self,
        scope: &Scope,
        read_only: bool,
        owner: bool,
        f: &mut dyn FnMut(&mut Tx<'_>) -> Result<T, E>,
    ) -> Result<T, E> {
        match &self.inner {
            Inner::Sqlite { pool, path } => {
                let mut c = pool.take(|| Db::lite_open(path)).map_err(E::from)?;
                *lock(&c.scope) = scope.csv();
                let behavior = if read_only {
                    rusqlite::TransactionBehavior::Deferred
                } else {
                    rusqlite::TransactionBehavior::Immediate
                };
                let res = (|| -> Result<T, E> {
                    let t = c
                        .conn
                        .transaction_with_behavior(behavior)
                        .map_err(lite_err)?;
                    let mut tx = Tx::Sqlite(t);
                    let v = f(&mut tx)?;
                    match tx {
                        Tx::Sqlite(t) => t.commit().map_err(lite_err)?,
                        Tx::Postgres(..) => {}
                    }
                    Ok(v)
                })();
                lock(&c.scope).clear();
                pool.give(c);
                res
            }
            Inner::Postgres { pool, conn_str } => {
                let mut attempt = 0;
                loop {
                    attempt += 1;
                    let mut c = if owner {
                        Db::pg_connect(conn_str, false).map_err(E::from)?
                    } else {
                        pool.take(|| Db::pg_connect(conn_str, true))
                            .map_err(E::from)?
                    };
                    let res = Db::pg_attempt(&mut c, scope, read_only, f);
                    if !owner {
                        if c.client.is_closed() {
                            pool.discard();
                        } else {
                            pool.give(c);
                        }
                    }
                    let retry = matches!(
                        res.as_ref().err().and_then(TxError::db),
                        Some(DbError::Db(m)) if m.contains("(40001)") || m.contains("(40P01)")
                    );
                    if retry && attempt < 5 {
                        continue;
                    }
                    return res;
                }
            }
        }
    }

    fn pg_attempt<T, E: TxError>(
        c: &mut PgConn,
        scope: &Scope,
        read_only: bool,
        f: &mut dyn FnMut(&mut Tx<'_>) -> Result<T, E>,
    ) -> Result<T, E> {
        let PgConn { client, cache } = c;
        let mut t = client
            .build_transaction()
            .read_only(read_only)
            .start()
            .map_err(pg_err)?;
        // Transaction-local: it ends with this transaction and never
        // reaches the next user of the pooled connection.
        t.execute("SELECT set_config('app.orgs', $1, true)", &[&scope.csv()])
            .map_err(pg_err)?;
        let mut tx = Tx::Postgres(t, cache);
        let v = f(&mut tx)?;
        match tx {
            Tx::Postgres(t, _) => t.commit().map_err(pg_err)?,
            Tx::Sqlite(_) => {}
        }
        Ok(v)
    }
}
