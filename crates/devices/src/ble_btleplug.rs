//! The real radio for [`super::ble_driver::BleDriver`]: `btleplug` (cargo feature `ble`; on
//! Linux it talks to BlueZ over D-Bus, so it needs `libdbus-1-dev` to build
//! and a system bus at run time).
//!
//! [`BleLink`]: scan for the paired address → connect → discover; on the
//! driver's "subscribe": read the Device Information values → subscribe to
//! every supported health measurement → hand each notification/indication
//! to the driver as a seam frame. So `LinkSpec::Ble` runs under the same
//! supervisor (reconnect, backoff, data gap) as the serial protocols.
//! btleplug has no pairing API: bonding (if the device needs it) is done
//! beforehand through BlueZ.

use super::ble;
use super::ble_driver::{GattKind, GattValue, SERVICE_DEVICE_INFORMATION, seam, uuid16};
use super::pairing::BtAddr;
use crate::link::{Link, LinkError};
use btleplug::api::{
    Central, CharPropFlags, Characteristic, Manager as _, Peripheral as _, ScanFilter,
};
use btleplug::platform::{Manager, Peripheral};
use futures::StreamExt;
use std::collections::VecDeque;
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

/// A BLE device as a [`Link`]: GATT values come out as seam frames
/// ([`super::ble_driver::seam`]), so [`BleDriver`] and the supervisor run
/// unchanged over the radio. The driver's "subscribe" frame makes the link
/// read the Device Information values and subscribe to every supported
/// measurement.
pub struct BleLink {
    rt: tokio::runtime::Runtime,
    peripheral: Peripheral,
    chars: Vec<Characteristic>,
    stream: Option<NotificationStream>,
    host: seam::Deframer,
    out: VecDeque<u8>,
    seq: u32,
}

type NotificationStream =
    std::pin::Pin<Box<dyn futures::Stream<Item = btleplug::api::ValueNotification> + Send>>;

impl BleLink {
    /// Scans up to 15 s for the paired address, connects, discovers.
    pub fn open(addr: BtAddr) -> Result<BleLink, LinkError> {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| open(addr, e))?;
        let peripheral = rt.block_on(async {
            let p = find(addr, Duration::from_secs(15)).await?;
            p.connect().await.map_err(|e| open(addr, e))?;
            p.discover_services().await.map_err(|e| open(addr, e))?;
            Ok::<_, LinkError>(p)
        })?;
        let chars = peripheral.characteristics().into_iter().collect();
        Ok(BleLink {
            rt,
            peripheral,
            chars,
            stream: None,
            host: seam::Deframer::new(),
            out: VecDeque::new(),
            seq: 0,
        })
    }

    fn push(&mut self, v: &GattValue) {
        self.seq = self.seq.wrapping_add(1);
        self.out.extend(seam::encode(self.seq, v));
    }

    /// Device Information reads, then subscriptions (once per connection).
    fn subscribe(&mut self) -> Result<(), LinkError> {
        self.seq = 0;
        let p = self.peripheral.clone();
        let mut values = Vec::new();
        self.rt.block_on(async {
            for c in &self.chars {
                let (Some(service), Some(ch)) = (uuid16(&c.service_uuid), uuid16(&c.uuid)) else {
                    continue;
                };
                if service == SERVICE_DEVICE_INFORMATION
                    && c.properties.contains(CharPropFlags::READ)
                    && let Ok(value) = p.read(c).await
                {
                    values.push(GattValue {
                        kind: GattKind::Read,
                        service,
                        characteristic: ch,
                        value,
                    });
                }
            }
            Ok::<_, LinkError>(())
        })?;
        for v in &values {
            self.push(v);
        }
        if self.stream.is_none() {
            let stream = self.rt.block_on(async {
                for c in &self.chars {
                    if uuid16(&c.uuid).is_some_and(|u| MEASUREMENTS.contains(&u))
                        && c.properties
                            .intersects(CharPropFlags::INDICATE | CharPropFlags::NOTIFY)
                    {
                        p.subscribe(c).await.map_err(io)?;
                    }
                }
                p.notifications().await.map_err(io)
            })?;
            self.stream = Some(stream);
        }
        Ok(())
    }

    fn value_of(&self, n: btleplug::api::ValueNotification) -> Option<GattValue> {
        let c = self.chars.iter().find(|c| c.uuid == n.uuid)?;
        let kind = if c.properties.contains(CharPropFlags::INDICATE) {
            GattKind::Indication
        } else {
            GattKind::Notification
        };
        Some(GattValue {
            kind,
            service: uuid16(&c.service_uuid)?,
            characteristic: uuid16(&c.uuid)?,
            value: n.value,
        })
    }
}

impl Link for BleLink {
    fn recv(&mut self, buf: &mut [u8], timeout: Duration) -> Result<usize, LinkError> {
        if self.out.is_empty()
            && let Some(stream) = self.stream.as_mut()
        {
            let next = self
                .rt
                .block_on(async { tokio::time::timeout(timeout, stream.next()).await });
            match next {
                Ok(Some(n)) => {
                    if let Some(v) = self.value_of(n) {
                        self.push(&v);
                    }
                }
                Ok(None) => return Err(LinkError::Closed),
                Err(_) => {
                    let p = &self.peripheral;
                    if !self.rt.block_on(p.is_connected()).unwrap_or(false) {
                        return Err(LinkError::Closed);
                    }
                }
            }
        }
        let n = buf.len().min(self.out.len());
        for (d, s) in buf.iter_mut().zip(self.out.drain(..n)) {
            *d = s;
        }
        Ok(n)
    }

    fn send(&mut self, bytes: &[u8]) -> Result<(), LinkError> {
        let mut frames = Vec::new();
        self.host.push(bytes, &mut frames);
        if frames
            .iter()
            .any(|f| matches!(f, seam::Frame::Subscribe { .. }))
        {
            self.subscribe()?;
        }
        Ok(())
    }
}

impl Drop for BleLink {
    fn drop(&mut self) {
        let p = &self.peripheral;
        let _ = self.rt.block_on(p.disconnect());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// No Bluetooth (and usually no system bus) here: opening must end
    /// with a clear open error, not hang or panic.
    #[test]
    fn no_adapter_is_a_clean_error() {
        match BleLink::open(BtAddr([0, 0x1B, 0xDC, 0x0F, 0x12, 0x34])) {
            Err(LinkError::Open { what, .. }) => assert_eq!(what, "BLE 00:1B:DC:0F:12:34"),
            Err(e) => panic!("unexpected {e}"),
            Ok(_) => panic!("opened without Bluetooth?"),
        }
    }
}
