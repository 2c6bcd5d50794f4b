//! RFCOMM sockets (Bluetooth Serial Port Profile) without `/dev/rfcommN`:
//! config link `rfcomm:AA:BB:CC:DD:EE:FF:CHANNEL`.
//!
//! [`parse_link`] is always built (configuration is checked on every
//! build); [`RfcommLink`] needs cargo feature `rfcomm` (`bluer` with only
//! its `rfcomm` feature: a kernel socket, no D-Bus). Pairing with the PIN
//! happens before, through BlueZ's agent; a remote hang-up shows as EOF.

use super::pairing::BtAddr;
use super::supervisor::LinkSpec;
use crate::link::{Link, LinkError, SerialSettings};

/// RFCOMM channels are 1–30.
pub const CHANNELS: std::ops::RangeInclusive<u8> = 1..=30;

/// `rfcomm:AA:BB:CC:DD:EE:FF:1` → address and channel.
pub fn parse_link(s: &str) -> Result<(BtAddr, u8), String> {
    let rest = s
        .strip_prefix("rfcomm:")
        .ok_or_else(|| format!("not an rfcomm link: {s}"))?;
    let (addr, ch) = rest
        .rsplit_once(':')
        .ok_or_else(|| format!("rfcomm link needs ADDRESS:CHANNEL: {s}"))?;
    let addr = BtAddr::parse(addr).ok_or_else(|| format!("bad Bluetooth address in {s}"))?;
    let ch: u8 = ch
        .parse()
        .ok()
        .filter(|c| CHANNELS.contains(c))
        .ok_or_else(|| format!("RFCOMM channel must be 1-30 in {s}"))?;
    Ok((addr, ch))
}

/// Opens an RFCOMM link for the supervisor; without the `rfcomm` feature
/// a clear error (the configuration is valid, the build lacks support).
pub fn open(addr: BtAddr, channel: u8) -> Result<Box<dyn Link>, LinkError> {
    #[cfg(feature = "rfcomm")]
    {
        super::bt_agent::pair_before_connect(addr)
            .map_err(|e| LinkError::Pairing(e.to_string()))?;
        Ok(Box::new(RfcommLink::connect(
            addr,
            channel,
            std::time::Duration::from_secs(10),
        )?))
    }
    #[cfg(not(feature = "rfcomm"))]
    {
        Err(LinkError::Open {
            what: format!("rfcomm {addr} channel {channel}"),
            source: std::io::Error::new(
                std::io::ErrorKind::Unsupported,
                "this build has no RFCOMM support (cargo feature rfcomm)",
            ),
        })
    }
}

/// Opens a BLE device as a link (cargo feature `ble`); without the
/// feature a clear error.
pub fn open_ble(addr: BtAddr) -> Result<Box<dyn Link>, LinkError> {
    #[cfg(feature = "ble")]
    {
        Ok(Box::new(super::ble_btleplug::BleLink::open(addr)?))
    }
    #[cfg(not(feature = "ble"))]
    {
        Err(LinkError::Open {
            what: format!("BLE {addr}"),
            source: std::io::Error::new(
                std::io::ErrorKind::Unsupported,
                "this build has no BLE support (cargo feature ble)",
            ),
        })
    }
}

impl LinkSpec {
    /// A [`DeviceConfig::link`](crate::DeviceConfig) value:
    /// `tcp:127.0.0.1:PORT`, `rfcomm:AA:BB:CC:DD:EE:FF:CH`,
    /// `ble:AA:BB:CC:DD:EE:FF`, or a tty path.
    /// (`sim` is the app's business: it starts the simulator first.)
    pub fn from_config(link: &str, settings: SerialSettings) -> Result<LinkSpec, String> {
        let link = crate::DeviceLink::try_from(link.to_string())?;
        LinkSpec::from_link(&link, settings)
    }

    /// How to reach a configured device; `sim` has no link of its own.
    pub fn from_link(
        link: &crate::DeviceLink,
        settings: SerialSettings,
    ) -> Result<LinkSpec, String> {
        use crate::DeviceLink as L;
        Ok(match link {
            L::Serial(path) => LinkSpec::Serial {
                path: path.clone(),
                settings,
            },
            L::Tcp(a) => LinkSpec::Tcp(*a),
            L::Rfcomm { addr, channel } => LinkSpec::Rfcomm {
                addr: *addr,
                channel: *channel,
            },
            L::Ble(a) => LinkSpec::Ble(*a),
            L::Sim => return Err("link `sim` is the demo simulator, not a device".into()),
        })
    }
}

#[cfg(feature = "rfcomm")]
pub use imp::RfcommLink;

#[cfg(feature = "rfcomm")]
mod imp {
    use super::super::pairing::BtAddr;
    use crate::link::{Link, LinkError};
    use std::time::Duration;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    /// A connected RFCOMM stream, driven by its own current-thread runtime
    /// so it fits the blocking [`Link`] loop.
    pub struct RfcommLink {
        rt: tokio::runtime::Runtime,
        stream: bluer::rfcomm::Stream,
    }

    fn open_err(addr: BtAddr, channel: u8, e: std::io::Error) -> LinkError {
        LinkError::Open {
            what: format!("rfcomm {addr} channel {channel}"),
            source: e,
        }
    }

    impl RfcommLink {
        /// Connects (the device must already be paired), waiting at most
        /// `timeout`.
        pub fn connect(addr: BtAddr, channel: u8, timeout: Duration) -> Result<Self, LinkError> {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .map_err(|e| open_err(addr, channel, e))?;
            let sa = bluer::rfcomm::SocketAddr::new(bluer::Address::new(addr.0), channel);
            let stream = rt
                .block_on(async {
                    tokio::time::timeout(timeout, bluer::rfcomm::Stream::connect(sa)).await
                })
                .map_err(|_| {
                    open_err(
                        addr,
                        channel,
                        std::io::Error::new(std::io::ErrorKind::TimedOut, "connect timed out"),
                    )
                })?
                .map_err(|e| open_err(addr, channel, e))?;
            Ok(RfcommLink { rt, stream })
        }
    }

    impl Link for RfcommLink {
        fn recv(&mut self, buf: &mut [u8], timeout: Duration) -> Result<usize, LinkError> {
            let stream = &mut self.stream;
            match self
                .rt
                .block_on(async { tokio::time::timeout(timeout, stream.read(buf)).await })
            {
                Err(_) => Ok(0),
                Ok(Ok(0)) => Err(LinkError::Closed),
                Ok(Ok(n)) => Ok(n),
                Ok(Err(e))
                    if matches!(
                        e.kind(),
                        std::io::ErrorKind::ConnectionReset
                            | std::io::ErrorKind::BrokenPipe
                            | std::io::ErrorKind::NotConnected
                    ) =>
                {
                    Err(LinkError::Closed)
                }
                Ok(Err(e)) => Err(LinkError::Io(e)),
            }
        }

        fn send(&mut self, bytes: &[u8]) -> Result<(), LinkError> {
            let stream = &mut self.stream;
            self.rt
                .block_on(async { stream.write_all(bytes).await })
                .map_err(|e| match e.kind() {
                    std::io::ErrorKind::BrokenPipe | std::io::ErrorKind::ConnectionReset => {
                        LinkError::Closed
                    }
                    _ => LinkError::Io(e),
                })
        }
    }

    #[cfg(test)]
    mod tests {
        use super::*;

        /// No Bluetooth here: connecting must fail cleanly (address family
        /// unsupported, or no such device), not hang or panic.
        #[test]
        fn connect_without_bluetooth_fails_cleanly() {
            let r = RfcommLink::connect(
                BtAddr([0x00, 0x1B, 0xDC, 0x0F, 0x12, 0x34]),
                1,
                Duration::from_millis(500),
            );
            match r {
                Err(LinkError::Open { what, .. }) => {
                    assert_eq!(what, "rfcomm 00:1B:DC:0F:12:34 channel 1")
                }
                Err(e) => panic!("unexpected error {e}"),
                Ok(_) => panic!("connected without Bluetooth?"),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn link_syntax() {
        let (a, ch) = parse_link("rfcomm:00:1b:dc:0f:12:34:1").unwrap();
        assert_eq!((a.to_string().as_str(), ch), ("00:1B:DC:0F:12:34", 1));
        assert_eq!(parse_link("rfcomm:00:1B:DC:0F:12:34:30").unwrap().1, 30);
        for bad in [
            "rfcomm:00:1B:DC:0F:12:34",
            "rfcomm:00:1B:DC:0F:12:34:0",
            "rfcomm:00:1B:DC:0F:12:34:31",
            "rfcomm:00:1B:DC:0F:12:1",
            "rfcomm:00:1B:DC:0F:12:34:x",
            "/dev/rfcomm0",
            "rfcomm:",
        ] {
            assert!(parse_link(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn config_links() {
        let s = SerialSettings::INTELLIVUE;
        assert!(matches!(
            LinkSpec::from_config("rfcomm:00:1B:DC:0F:12:34:3", s),
            Ok(LinkSpec::Rfcomm { channel: 3, .. })
        ));
        assert!(matches!(
            LinkSpec::from_config("tcp:127.0.0.1:9", s),
            Ok(LinkSpec::Tcp(_))
        ));
        assert!(matches!(
            LinkSpec::from_config("/dev/rfcomm0", s),
            Ok(LinkSpec::Serial { .. })
        ));
        assert!(matches!(
            LinkSpec::from_config("ble:00:1B:DC:0F:12:34", s),
            Ok(LinkSpec::Ble(_))
        ));
        assert!(LinkSpec::from_config("ble:00:1B", s).is_err());
        assert!(LinkSpec::from_config("bluetooth", s).is_err());
        assert!(LinkSpec::from_config("rfcomm:zz", s).is_err());
    }

    #[cfg(not(feature = "rfcomm"))]
    #[test]
    fn without_the_feature_opening_says_so() {
        let Err(e) = open(BtAddr([1, 2, 3, 4, 5, 6]), 1) else {
            panic!("opened without support")
        };
        assert!(e.to_string().contains("feature rfcomm"), "{e}");
    }

    #[cfg(not(feature = "ble"))]
    #[test]
    fn without_the_ble_feature_opening_says_so() {
        let Err(e) = open_ble(BtAddr([1, 2, 3, 4, 5, 6])) else {
            panic!("opened without support")
        };
        assert!(e.to_string().contains("feature ble"), "{e}");
    }
}
