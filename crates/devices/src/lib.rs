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
#[cfg(any(test, feature = "sim"))]
pub mod ble_sim;
pub mod bt_agent;
mod config;
pub use config::{DeviceConfig, DeviceLink};
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
#[cfg(any(test, feature = "sim"))]
pub mod sim;
pub mod supervisor;

/// The sans-IO driver and the serial line settings for a pairing record's
/// `protocol` (`intellivue`, `datex`), checking identity against `expected`
/// and exporting `waves` (config names; `None` = the driver's default).
/// The supervisor runs the driver over the link (`/dev/rfcommN` with these
/// settings, or TCP to the simulator).
pub fn driver_for(
    protocol: pairing::DeviceProtocol,
    expected: driver::Expected,
    waves: Option<&[String]>,
) -> Result<(Box<dyn driver::Driver>, link::SerialSettings), String> {
    match protocol {
        pairing::DeviceProtocol::IntelliVue => {
            let mut cfg = intellivue::host::HostConfig {
                expected,
                ..Default::default()
            };
            if let Some(w) = waves {
                cfg.wave_priority = intellivue::waves::selection(w).map_err(|e| e.to_string())?;
            }
            Ok((
                Box::new(intellivue::host::Host::new(cfg)),
                link::SerialSettings::INTELLIVUE,
            ))
        }
        pairing::DeviceProtocol::Datex => {
            let mut cfg = datex::host::HostConfig {
                expected,
                ..Default::default()
            };
            if let Some(w) = waves {
                cfg.waves = datex::record::wave_selection(w)?;
            }
            Ok((
                Box::new(datex::host::Host::new(cfg)),
                link::SerialSettings::DATEX,
            ))
        }
        pairing::DeviceProtocol::Ble => {
            Err("BLE devices use the BLE driver, not a serial link".into())
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::pairing::DeviceProtocol;

    #[test]
    fn driver_factory_knows_the_protocols() {
        use crate::link::SerialSettings;
        let d = super::driver_for(DeviceProtocol::Datex, Default::default(), None).map(|(_, s)| s);
        assert_eq!(d, Ok(SerialSettings::DATEX));
        let i =
            super::driver_for(DeviceProtocol::IntelliVue, Default::default(), None).map(|(_, s)| s);
        assert_eq!(i, Ok(SerialSettings::INTELLIVUE));
        assert!(super::driver_for(DeviceProtocol::Ble, Default::default(), None).is_err());
    }

    #[test]
    fn a_wave_list_the_device_cannot_export_is_refused_before_connecting() {
        let names = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        let too_many = names(&["I", "II", "III", "V1"]);
        let e = super::driver_for(
            DeviceProtocol::IntelliVue,
            Default::default(),
            Some(&too_many),
        )
        .err()
        .unwrap_or_default();
        assert!(e.contains("at most 3"), "{e}");
        let ok = names(&["II", "Pleth"]);
        assert!(
            super::driver_for(DeviceProtocol::IntelliVue, Default::default(), Some(&ok)).is_ok()
        );
        let dx = names(&["ECG1", "pleth"]);
        assert!(super::driver_for(DeviceProtocol::Datex, Default::default(), Some(&dx)).is_ok());
        let bad = names(&["ECG1", "Pleth", "EEG"]);
        let e = super::driver_for(DeviceProtocol::Datex, Default::default(), Some(&bad))
            .err()
            .unwrap_or_default();
        assert!(e.contains("EEG"), "{e}");
    }
}
