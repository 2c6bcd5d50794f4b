//! rettpad: the emergency protocol pad. See ARCHITECTURE.md for the code map.

pub mod clock;
pub mod crypto;
