//! The back office: the protocol archive behind the gateway, on PostgreSQL
//! (production) or SQLite (the embedded default), one code path for both.
//! No UI toolkit, no sockets: the gateway feeds it and serves its pages.

pub mod access;
pub mod admin;
pub mod archive;
pub mod auth;
pub mod db;
pub mod edits;
pub mod qm;
pub mod schema;
pub mod search;
pub mod split;
pub mod users;

pub use archive::{Archive, ArchiveError, Filed, Incoming, Issue, ShredReport, Summary};
pub use db::{Db, DbError, Dialect, Scope};

pub(crate) fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}
