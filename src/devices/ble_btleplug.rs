//! The real radio for [`BleDriver`]: `btleplug` (cargo feature `ble`; on
//! Linux it talks to BlueZ over D-Bus, so it needs `libdbus-1-dev` to build
//! and a system bus at run time).
//!
//! Scan for the paired address → connect → discover → read the Device
//! Information values → subscribe to every supported health measurement →
//! feed each notification/indication to the driver until `stop`, the
//! device disconnects, or it is the wrong device. btleplug has no pairing
//! API: bonding (if the device needs it) is done beforehand through BlueZ.

use super::ble;
use super::ble_driver::{BleDriver, GattKind, GattValue, SERVICE_DEVICE_INFORMATION, uuid16};
use super::driver::{Action, Driver};
use super::link::{Event, Exit, LinkError, host_time};
use super::pairing::BtAddr;
use crate::clock::Clock;
use btleplug::api::{Central, CharPropFlags, Manager as _, Peripheral as _, ScanFilter};
use btleplug::platform::{Manager, Peripheral};
use futures::StreamExt;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

/// Characteristics the driver decodes.
const MEASUREMENTS: [u16; 6] = [
    ble::UUID_HEART_RATE_MEASUREMENT,
    ble::UUID_BLOOD_PRESSURE_MEASUREMENT,
    ble::UUID_PLX_SPOT_CHECK,
    ble::UUID_PLX_CONTINUOUS,
    ble::UUID_TEMPERATURE_MEASUREMENT,
    ble::UUID_GLUCOSE_MEASUREMENT,
];

fn io(e: impl std::fmt::Display) -> LinkError {
    LinkError::Io(std::io::Error::other(e.to_string()))
}

fn open(addr: BtAddr, e: impl std::fmt::Display) -> LinkError {
    LinkError::Open {
        what: format!("BLE {addr}"),
        source: std::io::Error::other(e.to_string()),
    }
}

async fn find(addr: BtAddr, scan_for: Duration) -> Result<Peripheral, LinkError> {
    let manager = Manager::new().await.map_err(|e| open(addr, e))?;
    let central = manager
        .adapters()
        .await
        .map_err(|e| open(addr, e))?
        .into_iter()
        .next()
        .ok_or_else(|| open(addr, "no Bluetooth adapter"))?;
    // BlueZ merges scan filters across clients: filter by address ourselves.
    central
        .start_scan(ScanFilter::default())
        .await
        .map_err(|e| open(addr, e))?;
    let want = btleplug::api::BDAddr::from(addr.0);
    let deadline = tokio::time::Instant::now() + scan_for;
    loop {
        for p in central.peripherals().await.map_err(|e| open(addr, e))? {
            if p.address() == want {
                let _ = central.stop_scan().await;
                return Ok(p);
            }
        }
        if tokio::time::Instant::now() >= deadline {
            let _ = central.stop_scan().await;
            return Err(open(addr, "device not found while scanning"));
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

fn flush(out: &mut Vec<Action>, sink: &mut dyn FnMut(Event)) {
    for a in out.drain(..) {
        match a {
            // Nothing is written to BLE health devices here.
            Action::Send(_) => {}
            Action::Emit(o) => sink(Event::Observation(o)),
            Action::Status(s) => sink(Event::Status(s)),
        }
    }
}

async fn session(
    addr: BtAddr,
    driver: &mut BleDriver,
    clock: &dyn Clock,
    stop: &AtomicBool,
    sink: &mut dyn FnMut(Event),
) -> Result<Exit, LinkError> {
    let p = find(addr, Duration::from_secs(15)).await?;
    p.connect().await.map_err(|e| open(addr, e))?;
    p.discover_services().await.map_err(|e| open(addr, e))?;
    let mut out = Vec::new();
    driver.connected(host_time(clock), &mut out);
    let chars = p.characteristics();
    for c in chars
        .iter()
        .filter(|c| uuid16(&c.service_uuid) == Some(SERVICE_DEVICE_INFORMATION))
    {
        if let (Some(ch), true) = (uuid16(&c.uuid), c.properties.contains(CharPropFlags::READ))
            && let Ok(value) = p.read(c).await
        {
            let v = GattValue {
                kind: GattKind::Read,
                service: SERVICE_DEVICE_INFORMATION,
                characteristic: ch,
                value,
            };
            driver.on_gatt(&v, host_time(clock), &mut out);
        }
    }
    driver.identity_complete(host_time(clock), &mut out);
    flush(&mut out, sink);
    if driver.wrong_device() {
        let _ = p.disconnect().await;
        return Ok(Exit::WrongDevice);
    }
    let mut kinds = Vec::new();
    for c in &chars {
        let Some(ch) = uuid16(&c.uuid) else { continue };
        if !MEASUREMENTS.contains(&ch) {
            continue;
        }
        let kind = if c.properties.contains(CharPropFlags::INDICATE) {
            GattKind::Indication
        } else if c.properties.contains(CharPropFlags::NOTIFY) {
            GattKind::Notification
        } else {
            continue;
        };
        p.subscribe(c).await.map_err(io)?;
        kinds.push((c.uuid, uuid16(&c.service_uuid).unwrap_or(0), ch, kind));
    }
    let mut stream = p.notifications().await.map_err(io)?;
    loop {
        if stop.load(Ordering::Relaxed) {
            let _ = p.disconnect().await;
            return Ok(Exit::Stopped);
        }
        match tokio::time::timeout(Duration::from_millis(100), stream.next()).await {
            Err(_) => {
                if !p.is_connected().await.unwrap_or(false) {
                    driver.on_link_lost(host_time(clock));
                    return Ok(Exit::LinkLost(LinkError::Closed));
                }
            }
            Ok(None) => {
                driver.on_link_lost(host_time(clock));
                return Ok(Exit::LinkLost(LinkError::Closed));
            }
            Ok(Some(n)) => {
                if let Some(&(_, service, ch, kind)) = kinds.iter().find(|k| k.0 == n.uuid) {
                    let v = GattValue {
                        kind,
                        service,
                        characteristic: ch,
                        value: n.value,
                    };
                    driver.on_gatt(&v, host_time(clock), &mut out);
                }
            }
        }
        driver.on_tick(host_time(clock), &mut out);
        flush(&mut out, sink);
    }
}

/// One BLE session on the calling thread (its own current-thread tokio
/// runtime). The supervisor calls it again after `LinkLost`; the same
/// driver keeps its deduplication keys and records the gap.
pub fn run(
    addr: BtAddr,
    driver: &mut BleDriver,
    clock: &dyn Clock,
    stop: &AtomicBool,
    sink: &mut dyn FnMut(Event),
) -> Exit {
    let rt = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => return Exit::LinkLost(LinkError::Io(e)),
    };
    match rt.block_on(session(addr, driver, clock, stop, sink)) {
        Ok(exit) => exit,
        Err(e) => {
            tracing::info!(error = %e, "BLE session ended");
            Exit::LinkLost(e)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::SystemClock;
    use crate::devices::ble_driver::BleConfig;

    /// No Bluetooth (and usually no system bus) here: a session must end
    /// with a clear open error, not hang or panic.
    #[test]
    fn no_adapter_is_a_clean_error() {
        let mut d = BleDriver::new(Default::default(), BleConfig::default());
        let stop = AtomicBool::new(false);
        let exit = run(
            BtAddr([0, 0x1B, 0xDC, 0x0F, 0x12, 0x34]),
            &mut d,
            &SystemClock::new(),
            &stop,
            &mut |_| {},
        );
        match exit {
            Exit::LinkLost(LinkError::Open { what, .. }) => {
                assert_eq!(what, "BLE 00:1B:DC:0F:12:34")
            }
            other => panic!("unexpected {other:?}"),
        }
    }
}
