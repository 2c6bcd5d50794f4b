//! Vital signs, events and waveforms from monitors and defibrillators.
//!
//! Layers, from the wire up:
//! - [`link`]: one [`link::Link`] trait over a serial tty (`/dev/rfcommN`,
//!   PTY; `serialport` without libudev) and TCP (loopback only, for the
//!   simulator), and [`link::run`], the loop between a link and a driver.
//! - [`driver`]: the sans-IO [`driver::Driver`] interface (bytes and time
//!   in; bytes to send, observations and status out) and the identity check
//!   against the pairing record.
//! - Protocols, each sans-IO: [`intellivue`] (Philips Data Export over
//!   MIB/RS232: framing, association, MDS create, polls), [`datex`] (GE
//!   Datex-Ohmeda S/5 computer interface: framing, DRI-level negotiation,
//!   PHDB and wave records) and [`ble`] (the
//!   Bluetooth SIG health profiles), on top of [`ieee11073`] (SFLOAT/FLOAT).
//! - [`obs`]: the protocol-neutral observation model.
//! - [`import`]: observations → record payloads (vitals entries, measures).
//! - [`sim`]: `rettpad-sim device`, the device side built from the same
//!   encoders.
//!
//! Invariants:
//! - A frame that fails its checksum, header or length check is dropped
//!   and counted; nothing from it is used. Frame lengths are capped
//!   ([`intellivue::frame::MAX_PAYLOAD`]).
//! - No input panics: every length and count is checked against the bytes
//!   present (property-tested on random input).
//! - Special values (NaN, NRes, ±INF, invalid, not updated, …) stay what
//!   they are in [`obs::Reading`]; none is ever turned into 0. In the
//!   record they become "nicht messbar" or are kept out ([`import`]).
//! - Device time and host time are both kept; neither is rewritten.
//!   Deduplication keys on device time or sequence number, never arrival.
//! - A device whose serial/model does not match the pairing record
//!   delivers nothing (`WrongDevice`).
//! - Logs carry protocol names, counts and state changes only; never a
//!   value, a patient attribute or a PIN.

pub mod ble;
#[cfg(feature = "ble")]
pub mod ble_btleplug;
pub mod ble_driver;
pub mod ble_sim;
pub mod bt_agent;
pub mod datex;
pub mod driver;
pub mod ieee11073;
pub mod import;
pub mod intellivue;
pub mod link;
pub mod live;
pub mod obs;
pub mod pairing;
pub mod rfcomm;
pub mod sim;
pub mod supervisor;

/// The sans-IO driver and the serial line settings for a pairing record's
/// `protocol` (`intellivue`, `datex`), checking identity against `expected`.
/// The supervisor runs the driver over the link (`/dev/rfcommN` with these
/// settings, or TCP to the simulator).
pub fn driver_for(
    protocol: &str,
    expected: driver::Expected,
) -> Result<(Box<dyn driver::Driver>, link::SerialSettings), String> {
    match protocol {
        "intellivue" => Ok((
            Box::new(intellivue::host::Host::new(intellivue::host::HostConfig {
                expected,
                ..Default::default()
            })),
            link::SerialSettings::INTELLIVUE,
        )),
        "datex" => Ok((
            Box::new(datex::host::Host::new(datex::host::HostConfig {
                expected,
                ..Default::default()
            })),
            link::SerialSettings::DATEX,
        )),
        p => Err(format!("protocol {p} is not supported")),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn driver_factory_knows_the_protocols() {
        use super::link::SerialSettings;
        let d = super::driver_for("datex", Default::default()).map(|(_, s)| s);
        assert_eq!(d, Ok(SerialSettings::DATEX));
        let i = super::driver_for("intellivue", Default::default()).map(|(_, s)| s);
        assert_eq!(i, Ok(SerialSettings::INTELLIVUE));
        assert!(super::driver_for("corpuls", Default::default()).is_err());
    }
}
