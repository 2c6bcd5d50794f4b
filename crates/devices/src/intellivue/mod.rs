//! Philips IntelliVue Data Export over MIB/RS232 (115200 8N1, no flow
//! control): [`frame`] (framing, transparency, FCS-16), [`pdu`] (session and
//! remote-operation PDUs), [`host`] (the pad's sans-IO driver) and
//! [`monitor`] (the simulated monitor built from the same encoders);
//! [`waves`] names the waves and checks the priority list's limits.

pub mod frame;
pub mod host;
#[cfg(any(test, feature = "sim"))]
pub mod monitor;
pub mod pdu;
pub mod waves;
