//! Signed provisioning for a fleet of pads, sans-IO: no files, no sockets,
//! no clock. The gateway builds and signs; the pad verifies and decides;
//! both sides do their own IO around these functions.
//!
//! - [`keys`]: the trust chain. An organisation **root** key, kept offline,
//!   signs a [`keys::KeyCert`] for an online **signing** key with a purpose
//!   (packages or commands) and an expiry. A pad trusts only the root it
//!   was enrolled with ([`keys::Trust`]), so a leaked signing key is
//!   rotated, not re-enrolled.
//! - [`signed`]: the framing shared by packages and commands:
//!   `magic | cert | payload | signature`, the signature over everything
//!   before it. Signatures are checked before any payload is parsed.
//! - [`package`]: a provisioning package of independent parts, each with
//!   its own monotonic version, so one part (the staff list) can be
//!   updated alone. [`package::verify`] applies the rollback, target and
//!   expiry rules against what the pad has applied.
//! - [`parts`]: the typed parts and their validation.
//! - [`command`]: remote lock, unlock and wipe, bound to one serial, with a
//!   per-pad sequence number (replay-proof).

pub mod command;
pub mod error;
pub mod keys;
pub mod package;
pub mod parts;
pub mod signed;

pub use error::ProvisionError;
pub use keys::{KeyCert, Purpose, RootKey, SigningKey, Trust};
pub use package::{Applied, Builder, Header, PartName, Target, Verified};

/// Upper bound of a package on the wire and on a USB stick.
pub const MAX_PACKAGE_BYTES: usize = 16 * 1024 * 1024;

/// Hex SHA-256.
pub fn sha256_hex(data: &[u8]) -> String {
    use sha2::Digest;
    hex::encode(sha2::Sha256::digest(data))
}
