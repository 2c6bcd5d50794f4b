//! The reference gateway (`rettpad-gateway`): receives sealed packets from
//! pads over mTLS, verifies and stores them (sealed at rest), answers with
//! a signed receipt, and serves the hospitals' arrival board and mailboxes.
//! The pad never links this code into its hot paths; it shares only the
//! packet format in `transfer`.
//!
//! - [`config`] — `gateway.toml`.
//! - [`store`] — the `GatewayStore` trait and the SQLite default.
//! - [`intake`] — the logic without sockets.
//! - [`archiver`] — files accepted packets into the back office's archive (`rettpad-backoffice`).
//! - [`board`] — the arrival board page.
//! - [`dispatch`] — dispatch centres' messages into the pads' channel queues (no sockets).
//! - `channel_http` — the pad channel (SSE), the pads' status and the dispatch API.
//! - [`mqtt`] — dispatch centres' MQTT feeds into the same dispatcher.
//! - [`report`] — the documented times back to the centres (outbox, sender).
//! - [`fleet`] — provisioning packages, remote commands, pads' status (no sockets);
//!   [`fleet_keys`] — the organisation's keys on disk; `fleet_cli` — `provision …`.
//! - `server` — axum + axum-server (rustls) listeners.
//! - [`conn`] — pad connections: identity, per-pad limit, idle and header clocks.
//! - `hospital` — the hospital client (`rettpad-gateway hospital fetch`).
//! - `init` — test/demo PKI and configurations.
//! - [`private`] — secret files and directories, created with their final mode.
//! - `local` — an in-process gateway for the demo.
//! - [`web`] + [`web_pages`] — the back office's web client (sign-in, missions, reason gate, access log);
//!   [`web_admin`] users and stations, [`web_edits`] the crew's edits, [`web_tls`] the certificate factor.
//! - [`backup`] — encrypted backups, restore and the replay of the originals (`backup_cli`).
//! - [`backup_pg`] — an archive on PostgreSQL: base backup, encrypted WAL archive, point-in-time restore.

pub mod archiver;
pub mod backoffice_cli;
pub mod backup;
pub mod backup_cli;
pub mod backup_pg;
pub mod board;
pub mod channel_http;
pub mod config;
pub mod conn;
pub mod dispatch;
pub mod fleet;
pub mod fleet_cli;
pub mod fleet_keys;
pub mod hospital;
pub mod init;
pub mod intake;
pub mod keyring;
pub mod local;
pub mod mqtt;
pub mod private;
pub mod report;
pub mod server;
pub mod store;
pub mod web;
pub mod web_admin;
pub mod web_edits;
pub mod web_pages;
pub mod web_tls;

pub use config::GatewayConfig;
pub use intake::{Device, Gateway, IntakeError};
pub use store::{GatewayStore, SqliteStore};
