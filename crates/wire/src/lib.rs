//! Links: one byte-stream trait over a serial tty (`/dev/rfcommN`, a PTY)
//! and TCP on loopback. Knows no protocol: device drivers and the handover
//! run over it.
//!
//! TCP is for the simulator only: non-loopback addresses are refused, so
//! patient data never leaves the pad unencrypted this way.

use std::io::{ErrorKind, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

#[derive(Debug, thiserror::Error)]
pub enum LinkError {
    #[error("cannot open {what}: {source}")]
    Open {
        what: String,
        #[source]
        source: std::io::Error,
    },
    #[error("TCP links are for the simulator on loopback only, not {0}")]
    NotLoopback(SocketAddr),
    #[error("the link was closed by the other side")]
    Closed,
    #[error("link i/o error: {0}")]
    Io(#[from] std::io::Error),
    /// Pairing through the BlueZ agent before an RFCOMM connect failed.
    #[error("bluetooth pairing failed: {0}")]
    Pairing(String),
}

impl LinkError {
    /// The crew's text, static so a device state can carry it.
    pub fn text(&self) -> rettpad_text::Text {
        let (de, en) = match self {
            LinkError::Open { .. } => (
                "Verbindung zum Gerät kann nicht geöffnet werden. Gerät eingeschaltet und gekoppelt?",
                "Cannot open the connection to the device. Is it switched on and paired?",
            ),
            LinkError::NotLoopback(_) => (
                "Unzulässige Geräteverbindung (nur Simulator lokal).",
                "Device connection not allowed (the simulator only on this machine).",
            ),
            LinkError::Pairing(_) => (
                "Bluetooth-Kopplung mit dem Gerät fehlgeschlagen. PIN der Kopplungskarte richtig, Gerät an und in Reichweite?",
                "Bluetooth pairing with the device failed. Is the pairing card's PIN right, the device on and in range?",
            ),
            LinkError::Closed | LinkError::Io(_) => (
                "Verbindung zum Gerät unterbrochen; es wird neu verbunden.",
                "Connection to the device lost; reconnecting.",
            ),
        };
        rettpad_text::t(de, en)
    }
}

impl rettpad_text::UserMessage for LinkError {
    fn message(&self, lang: rettpad_text::Lang) -> String {
        self.text().message(lang)
    }
}

impl From<serialport::Error> for LinkError {
    fn from(e: serialport::Error) -> Self {
        LinkError::Io(e.into())
    }
}

pub trait Link: Send {
    /// Waits up to `timeout` for bytes. `Ok(0)`: nothing arrived in time.
    /// A closed link is `Err(LinkError::Closed)`.
    fn recv(&mut self, buf: &mut [u8], timeout: Duration) -> Result<usize, LinkError>;
    fn send(&mut self, bytes: &[u8]) -> Result<(), LinkError>;
}

// A borrowed or boxed link is a link (the handover wraps links).
impl<L: Link + ?Sized> Link for &mut L {
    fn recv(&mut self, buf: &mut [u8], timeout: Duration) -> Result<usize, LinkError> {
        (**self).recv(buf, timeout)
    }

    fn send(&mut self, bytes: &[u8]) -> Result<(), LinkError> {
        (**self).send(bytes)
    }
}

impl<L: Link + ?Sized> Link for Box<L> {
    fn recv(&mut self, buf: &mut [u8], timeout: Duration) -> Result<usize, LinkError> {
        (**self).recv(buf, timeout)
    }

    fn send(&mut self, bytes: &[u8]) -> Result<(), LinkError> {
        (**self).send(bytes)
    }
}

/// Serial line settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SerialSettings {
    pub baud: u32,
    pub even_parity: bool,
    pub rts_cts: bool,
}

impl SerialSettings {
    /// IntelliVue MIB: 115200 8N1, no flow control.
    pub const INTELLIVUE: SerialSettings = SerialSettings {
        baud: 115_200,
        even_parity: false,
        rts_cts: false,
    };
    /// Datex S/5: 19200 8E1, RTS/CTS.
    pub const DATEX: SerialSettings = SerialSettings {
        baud: 19_200,
        even_parity: true,
        rts_cts: true,
    };
}

/// A serial tty in raw mode (`serialport` without libudev).
pub struct SerialLink {
    port: serialport::TTYPort,
}

impl SerialLink {
    pub fn open(path: &str, s: SerialSettings) -> Result<SerialLink, LinkError> {
        let port = serialport::new(path, s.baud)
            .data_bits(serialport::DataBits::Eight)
            .stop_bits(serialport::StopBits::One)
            .parity(if s.even_parity {
                serialport::Parity::Even
            } else {
                serialport::Parity::None
            })
            .flow_control(if s.rts_cts {
                serialport::FlowControl::Hardware
            } else {
                serialport::FlowControl::None
            })
            .timeout(Duration::from_millis(50))
            .open_native()
            .map_err(|e| LinkError::Open {
                what: path.to_string(),
                source: e.into(),
            })?;
        Ok(SerialLink { port })
    }

    /// An already open port (e.g. one end of `TTYPort::pair()`, which is raw).
    pub fn from_port(port: serialport::TTYPort) -> SerialLink {
        SerialLink { port }
    }
}

fn map_read(r: std::io::Result<usize>) -> Result<usize, LinkError> {
    match r {
        Ok(0) => Err(LinkError::Closed),
        Ok(n) => Ok(n),
        Err(e)
            if matches!(
                e.kind(),
                ErrorKind::TimedOut | ErrorKind::WouldBlock | ErrorKind::Interrupted
            ) =>
        {
            Ok(0)
        }
        // A PTY whose other end closed reports EIO; a socket reports reset.
        Err(e)
            if e.raw_os_error() == Some(5)
                || e.kind() == ErrorKind::ConnectionReset
                || e.kind() == ErrorKind::BrokenPipe =>
        {
            Err(LinkError::Closed)
        }
        Err(e) => Err(LinkError::Io(e)),
    }
}

impl Link for SerialLink {
    fn recv(&mut self, buf: &mut [u8], timeout: Duration) -> Result<usize, LinkError> {
        use serialport::SerialPort;
        self.port
            .set_timeout(timeout.max(Duration::from_millis(1)))?;
        map_read(self.port.read(buf))
    }

    fn send(&mut self, bytes: &[u8]) -> Result<(), LinkError> {
        self.port
            .write_all(bytes)
            .map_err(|e| match e.raw_os_error() {
                Some(5) => LinkError::Closed,
                _ => LinkError::Io(e),
            })
    }
}

/// TCP to the simulator on loopback.
pub struct TcpLink {
    stream: TcpStream,
}

impl TcpLink {
    pub fn connect(addr: SocketAddr) -> Result<TcpLink, LinkError> {
        if !addr.ip().is_loopback() {
            return Err(LinkError::NotLoopback(addr));
        }
        let stream = TcpStream::connect_timeout(&addr, Duration::from_secs(2)).map_err(|e| {
            LinkError::Open {
                what: addr.to_string(),
                source: e,
            }
        })?;
        stream.set_nodelay(true)?;
        Ok(TcpLink { stream })
    }

    pub fn from_stream(stream: TcpStream) -> TcpLink {
        TcpLink { stream }
    }
}

impl Link for TcpLink {
    fn recv(&mut self, buf: &mut [u8], timeout: Duration) -> Result<usize, LinkError> {
        self.stream
            .set_read_timeout(Some(timeout.max(Duration::from_millis(1))))?;
        map_read(self.stream.read(buf))
    }

    fn send(&mut self, bytes: &[u8]) -> Result<(), LinkError> {
        self.stream.write_all(bytes).map_err(|e| match e.kind() {
            ErrorKind::BrokenPipe | ErrorKind::ConnectionReset => LinkError::Closed,
            _ => LinkError::Io(e),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tcp_refuses_non_loopback() {
        let addr: SocketAddr = "192.0.2.1:24105".parse().unwrap();
        assert!(matches!(
            TcpLink::connect(addr),
            Err(LinkError::NotLoopback(_))
        ));
    }

    #[test]
    fn pty_pair_is_raw_and_carries_binary() {
        let (master, slave) = serialport::TTYPort::pair().unwrap();
        let mut a = SerialLink::from_port(master);
        let mut b = SerialLink::from_port(slave);
        // bytes a cooked tty would mangle: CR, ^C, ^D, ^S, DEL
        let data = [0x0D, 0x03, 0x04, 0x13, 0x7F, 0xC0, 0x0A];
        a.send(&data).unwrap();
        let mut got = Vec::new();
        let mut buf = [0u8; 64];
        for _ in 0..20 {
            let n = b.recv(&mut buf, Duration::from_millis(50)).unwrap();
            got.extend_from_slice(&buf[..n]);
            if got.len() >= data.len() {
                break;
            }
        }
        assert_eq!(got, data);
        // nothing echoed back
        assert_eq!(a.recv(&mut buf, Duration::from_millis(50)).unwrap(), 0);
    }
}
