//! Pairing records: which device a pad talks to (protocol, Bluetooth
//! address, RFCOMM channel), its pairing PIN and the identity it must
//! report. They come from configuration or from a MIFARE Classic tag fixed
//! to the device, read through PC/SC ([`read`], [`read_pcsc`]).
//!
//! # Record format (version 1)
//! 96 bytes in the data blocks of two consecutive sectors (default sectors
//! 1 and 2: blocks 4, 5, 6, 8, 9, 10), both opened with the key from
//! `[pairing] mifare_key` (key A by default). Multi-byte numbers are
//! little-endian; text is printable ASCII, zero padded.
//!
//! | offset | len | field |
//! |---|---|---|
//! | 0 | 4 | magic `RPPR` |
//! | 4 | 1 | version = 1 |
//! | 5 | 1 | protocol: 1 IntelliVue, 2 Datex S/5, 3 BLE health |
//! | 6 | 6 | Bluetooth address, most significant byte first (as printed) |
//! | 12 | 1 | RFCOMM channel 1–30 (0 for BLE) |
//! | 13 | 1 | PIN length 0–16 |
//! | 14 | 16 | PIN |
//! | 30 | 1 | serial length 0–24 |
//! | 31 | 24 | expected serial |
//! | 55 | 1 | model length 0–24 |
//! | 56 | 24 | expected model |
//! | 80 | 14 | reserved, zero |
//! | 94 | 2 | CRC-16/X-25 (IBM-SDLC, as IntelliVue's FCS) over bytes 0–93 |
//!
//! The PIN is a [`PairingPin`]: zeroized on drop, redacted in `Debug`, no
//! `Display`; only the Bluetooth pairing agent may call
//! [`PairingPin::expose`]. It never reaches the UI or a log.

use crate::DeviceConfig;
use crate::config::DeviceLink;
use crc::{CRC_16_IBM_SDLC, Crc};
use rettpad_card::Transport;
use rettpad_card::error::CardError;
use rettpad_card::mifare::{self, KeyType, MifareError, MifareKey};
use serde::{Deserialize, Serialize};
use std::fmt;
use zeroize::Zeroizing;

pub const MAGIC: [u8; 4] = *b"RPPR";
pub const VERSION: u8 = 1;
pub const RECORD_LEN: usize = 96;
const PIN_MAX: usize = 16;
const TEXT_MAX: usize = 24;
const CRC: Crc<u16> = Crc::<u16>::new(&CRC_16_IBM_SDLC);

/// The device protocol a record or the configuration names
/// (`protocol = "intellivue" | "datex" | "ble"`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DeviceProtocol {
    IntelliVue,
    Datex,
    Ble,
}

impl DeviceProtocol {
    fn code(self) -> u8 {
        match self {
            DeviceProtocol::IntelliVue => 1,
            DeviceProtocol::Datex => 2,
            DeviceProtocol::Ble => 3,
        }
    }

    fn from_code(c: u8) -> Option<DeviceProtocol> {
        match c {
            1 => Some(DeviceProtocol::IntelliVue),
            2 => Some(DeviceProtocol::Datex),
            3 => Some(DeviceProtocol::Ble),
            _ => None,
        }
    }

    /// The `protocol` value in [`DeviceConfig`].
    pub fn config_name(self) -> &'static str {
        match self {
            DeviceProtocol::IntelliVue => "intellivue",
            DeviceProtocol::Datex => "datex",
            DeviceProtocol::Ble => "ble",
        }
    }
}

/// A Bluetooth device address, most significant byte first.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct BtAddr(pub [u8; 6]);

impl BtAddr {
    /// `AA:BB:CC:DD:EE:FF` (hex, either case; `-` also accepted).
    pub fn parse(s: &str) -> Option<BtAddr> {
        let mut a = [0u8; 6];
        let mut parts = s.split([':', '-']);
        for b in &mut a {
            let p = parts.next()?;
            if p.len() != 2 {
                return None;
            }
            *b = u8::from_str_radix(p, 16).ok()?;
        }
        parts.next().is_none().then_some(BtAddr(a))
    }
}

impl fmt::Display for BtAddr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let [a, b, c, d, e, g] = self.0;
        write!(f, "{a:02X}:{b:02X}:{c:02X}:{d:02X}:{e:02X}:{g:02X}")
    }
}

impl fmt::Debug for BtAddr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "BtAddr({self})")
    }
}

/// The Bluetooth pairing PIN. Zeroized on drop; `Debug` is redacted; there
/// is no `Display`. In configuration it is a string.
#[derive(Clone, PartialEq, Eq, Default)]
pub struct PairingPin(Zeroizing<String>);

impl PairingPin {
    pub fn new(pin: &str) -> PairingPin {
        PairingPin(Zeroizing::new(pin.to_string()))
    }

    /// The PIN itself, for the Bluetooth pairing agent only: never show it,
    /// never log it.
    pub fn expose(&self) -> &str {
        &self.0
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl fmt::Debug for PairingPin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("PairingPin(<redacted>)")
    }
}

impl Serialize for PairingPin {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for PairingPin {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<PairingPin, D::Error> {
        Ok(PairingPin(Zeroizing::new(String::deserialize(d)?)))
    }
}

/// `[pairing]` in the pad configuration.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PairingConfig {
    /// 12 hex digits; never logged (`Debug` is redacted).
    pub mifare_key: MifareKey,
    #[serde(default)]
    pub key_type: KeyType,
    /// First of the two sectors holding the record (1–14).
    #[serde(default = "default_sector")]
    pub sector: u8,
}

fn default_sector() -> u8 {
    1
}

/// One decoded pairing record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PairingRecord {
    pub protocol: DeviceProtocol,
    pub address: BtAddr,
    /// RFCOMM channel for SPP devices; 0 for BLE.
    pub channel: u8,
    pub pin: PairingPin,
    pub serial: Option<String>,
    pub model: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PairingError {
    #[error("no [pairing] mifare_key configured")]
    NoKey,
    #[error("the configured key does not open the pairing sectors")]
    WrongKey,
    #[error("not a pairing card ({0})")]
    NotPairingCard(&'static str),
    #[error("pairing record version {0} is not supported")]
    UnsupportedVersion(u8),
    #[error("pairing record fails its CRC")]
    Corrupt,
    #[error("pairing record field invalid: {0}")]
    BadField(&'static str),
    #[error("card removed during the read")]
    Removed,
    #[error("card reader: {0}")]
    Reader(CardError),
}

/// The UI's text. Never contains the key or the PIN.
impl rettpad_text::UserMessage for PairingError {
    fn message(&self, lang: rettpad_text::Lang) -> String {
        let (de, en) = match self {
            PairingError::NoKey => (
                "Kopplungskarten sind nicht eingerichtet (kein Schlüssel konfiguriert). Bitte den Administrator verständigen.",
                "Pairing cards are not set up (no key configured). Please call the administrator.",
            ),
            PairingError::WrongKey => (
                "Kopplungskarte lässt sich mit dem konfigurierten Schlüssel nicht lesen (falscher Schlüssel oder fremde Karte).",
                "The pairing card cannot be read with the configured key (wrong key or a foreign card).",
            ),
            PairingError::NotPairingCard(_) => (
                "Diese Karte ist keine Kopplungskarte eines Medizingeräts.",
                "This card is not a medical device's pairing card.",
            ),
            PairingError::UnsupportedVersion(_) => (
                "Kopplungskarte hat ein unbekanntes Format. Bitte den Administrator verständigen.",
                "The pairing card has an unknown format. Please call the administrator.",
            ),
            PairingError::Corrupt | PairingError::BadField(_) => (
                "Kopplungskarte ist beschädigt (Prüfsumme falsch). Gerät bitte von Hand koppeln.",
                "The pairing card is damaged (checksum wrong). Please pair the device by hand.",
            ),
            PairingError::Removed => (
                "Karte wurde während des Lesens entfernt. Bitte erneut auflegen und liegen lassen.",
                "The card was removed while reading. Please place it again and leave it there.",
            ),
            PairingError::Reader(CardError::NoService(_)) => (
                "Kartenleser-Dienst nicht verfügbar. Gerät bitte von Hand koppeln.",
                "Card reader service not available. Please pair the device by hand.",
            ),
            PairingError::Reader(CardError::NoReader) => (
                "Kein Kartenleser angeschlossen. Gerät bitte von Hand koppeln.",
                "No card reader attached. Please pair the device by hand.",
            ),
            PairingError::Reader(_) => (
                "Kartenleser meldet einen Fehler. Karte erneut auflegen oder Gerät von Hand koppeln.",
                "The card reader reports an error. Place the card again or pair the device by hand.",
            ),
        };
        lang.pick(de, en).into()
    }
}

impl PairingError {}

impl From<CardError> for PairingError {
    fn from(e: CardError) -> Self {
        match e {
            CardError::Removed | CardError::ShortResponse { .. } => PairingError::Removed,
            e => PairingError::Reader(e),
        }
    }
}

impl From<MifareError> for PairingError {
    fn from(e: MifareError) -> Self {
        match e {
            MifareError::NotMifare { .. } => PairingError::NotPairingCard("no MIFARE Classic"),
            MifareError::AuthFailed { .. } | MifareError::Read { sw: 0x6982, .. } => {
                PairingError::WrongKey
            }
            MifareError::Read { .. } => PairingError::Reader(CardError::UnknownCard),
            MifareError::Card(c) => c.into(),
        }
    }
}

fn text(b: &[u8], what: &'static str) -> Result<Option<String>, PairingError> {
    let (&len, rest) = b.split_first().ok_or(PairingError::BadField(what))?;
    let len = usize::from(len);
    let (s, pad) = rest
        .split_at_checked(len)
        .ok_or(PairingError::BadField(what))?;
    if len > TEXT_MAX || pad.iter().any(|&c| c != 0) || !s.iter().all(|c| (0x20..0x7F).contains(c))
    {
        return Err(PairingError::BadField(what));
    }
    Ok((len > 0).then(|| String::from_utf8_lossy(s).into_owned()))
}

/// Decodes the 96 record bytes.
pub fn decode(b: &[u8]) -> Result<PairingRecord, PairingError> {
    let b: &[u8; RECORD_LEN] = b.try_into().map_err(|_| PairingError::BadField("length"))?;
    if b[..4] != MAGIC {
        return Err(PairingError::NotPairingCard("no pairing magic"));
    }
    if b[4] != VERSION {
        return Err(PairingError::UnsupportedVersion(b[4]));
    }
    let crc = u16::from_le_bytes([b[94], b[95]]);
    if CRC.checksum(&b[..94]) != crc {
        return Err(PairingError::Corrupt);
    }
    let protocol = DeviceProtocol::from_code(b[5]).ok_or(PairingError::BadField("protocol"))?;
    let mut addr = [0u8; 6];
    addr.copy_from_slice(&b[6..12]);
    let channel = b[12];
    match protocol {
        DeviceProtocol::Ble if channel != 0 => return Err(PairingError::BadField("channel")),
        DeviceProtocol::IntelliVue | DeviceProtocol::Datex if !(1..=30).contains(&channel) => {
            return Err(PairingError::BadField("channel"));
        }
        _ => {}
    }
    let pin_len = usize::from(b[13]);
    let pin_area = &b[14..30];
    if pin_len > PIN_MAX
        || pin_area[pin_len..].iter().any(|&c| c != 0)
        || !pin_area[..pin_len].iter().all(|c| (0x21..0x7F).contains(c))
    {
        return Err(PairingError::BadField("pin"));
    }
    let pin = PairingPin(Zeroizing::new(
        String::from_utf8_lossy(&pin_area[..pin_len]).into_owned(),
    ));
    let serial = text(&b[30..55], "serial")?;
    let model = text(&b[55..80], "model")?;
    if b[80..94].iter().any(|&c| c != 0) {
        return Err(PairingError::BadField("reserved"));
    }
    Ok(PairingRecord {
        protocol,
        address: BtAddr(addr),
        channel,
        pin,
        serial,
        model,
    })
}

/// Encodes a record (for writing tags and for the simulator). Fields that
/// do not fit the format are an error, never truncated.
pub fn encode(r: &PairingRecord) -> Result<Zeroizing<[u8; RECORD_LEN]>, PairingError> {
    let mut b = Zeroizing::new([0u8; RECORD_LEN]);
    b[..4].copy_from_slice(&MAGIC);
    b[4] = VERSION;
    b[5] = r.protocol.code();
    b[6..12].copy_from_slice(&r.address.0);
    b[12] = r.channel;
    let pin = r.pin.expose().as_bytes();
    if pin.len() > PIN_MAX {
        return Err(PairingError::BadField("pin"));
    }
    b[13] = pin.len() as u8;
    b[14..14 + pin.len()].copy_from_slice(pin);
    for (at, v, what) in [(30, &r.serial, "serial"), (55, &r.model, "model")] {
        let s = v.as_deref().unwrap_or("").as_bytes();
        if s.len() > TEXT_MAX {
            return Err(PairingError::BadField(what));
        }
        b[at] = s.len() as u8;
        b[at + 1..at + 1 + s.len()].copy_from_slice(s);
    }
    let crc = CRC.checksum(&b[..94]).to_le_bytes();
    b[94..].copy_from_slice(&crc);
    // Validate what we wrote with the reader's own rules.
    decode(&b[..])?;
    Ok(b)
}

/// Reads the record from a MIFARE Classic tag over `t` (sans-IO: any
/// [`Transport`]). `sector` is the first of the two record sectors.
pub fn read<T: Transport + ?Sized>(
    t: &mut T,
    key: &MifareKey,
    key_type: KeyType,
    sector: u8,
) -> Result<PairingRecord, PairingError> {
    if !(1..=14).contains(&sector) {
        return Err(PairingError::BadField("sector"));
    }
    mifare::load_key(t, 0, key)?;
    let mut data = Zeroizing::new(Vec::with_capacity(RECORD_LEN));
    for s in [sector, sector + 1] {
        let first = mifare::sector_first_block(s);
        mifare::authenticate(t, first, key_type, 0)?;
        for block in first..first + 3 {
            data.extend_from_slice(&mifare::read_block(t, block)?);
            // Stop early on a tag that is not ours.
            if data.len() == 16 && data[..4] != MAGIC {
                return Err(PairingError::NotPairingCard("no pairing magic"));
            }
        }
    }
    decode(&data)
}

/// Reads a pairing tag in `reader` through pcscd, inside a transaction.
/// Logs only the outcome class, never key, PIN or address.
pub fn read_pcsc(
    ctx: &pcsc::Context,
    reader: &std::ffi::CStr,
    cfg: &PairingConfig,
) -> Result<PairingRecord, PairingError> {
    use rettpad_card::pcsc_io::{PcscTransport, map_err};
    let r = (|| {
        let mut card = ctx
            .connect(reader, pcsc::ShareMode::Shared, pcsc::Protocols::ANY)
            .map_err(map_err)?;
        let result = match card.transaction() {
            Ok(tx) => {
                let mut t = PcscTransport::new(&tx);
                let r = read(&mut t, &cfg.mifare_key, cfg.key_type, cfg.sector);
                if let Err((_, e)) = tx.end(pcsc::Disposition::LeaveCard) {
                    tracing::debug!(error = %e, "end transaction");
                }
                r
            }
            Err(e) => Err(map_err(e).into()),
        };
        if let Err((_, e)) = card.disconnect(pcsc::Disposition::LeaveCard) {
            tracing::debug!(error = %e, "disconnect");
        }
        result
    })();
    match &r {
        Ok(rec) => tracing::info!(protocol = rec.protocol.config_name(), "pairing card read"),
        Err(e) => tracing::info!(error = %e, "pairing card read failed"),
    }
    r
}

/// "Kopplungskarte auflegen": reads the first reader that holds a pairing
/// tag (a fresh PC/SC context each call, so a restarted pcscd is fine).
/// `None` config = the pad has no tag key: [`PairingError::NoKey`].
pub fn read_any_reader(cfg: Option<&PairingConfig>) -> Result<PairingRecord, PairingError> {
    let cfg = cfg.ok_or(PairingError::NoKey)?;
    let ctx = rettpad_card::pcsc_io::establish()?;
    let readers = rettpad_card::pcsc_io::readers(&ctx)?;
    let mut last = PairingError::Reader(CardError::Removed);
    for r in &readers {
        match read_pcsc(&ctx, r, cfg) {
            Ok(rec) => return Ok(rec),
            Err(e) => last = e,
        }
    }
    Err(last)
}

impl PairingRecord {
    /// The link for [`DeviceConfig::link`]: RFCOMM for SPP devices, BLE
    /// for BLE ones.
    pub fn device_link(&self) -> DeviceLink {
        match self.protocol {
            DeviceProtocol::Ble => DeviceLink::Ble(self.address),
            _ => DeviceLink::Rfcomm {
                addr: self.address,
                channel: self.channel,
            },
        }
    }

    /// The link as written in the configuration (`rfcomm:ADDR:CHANNEL`,
    /// `ble:ADDR`).
    pub fn link(&self) -> String {
        self.device_link().to_string()
    }

    /// The paired device as configuration (label chosen by the crew or the
    /// model). Carries the PIN for the pairing agent; its `Debug` is
    /// redacted.
    pub fn to_device_config(&self, label: &str) -> DeviceConfig {
        DeviceConfig {
            label: label.to_string(),
            protocol: self.protocol,
            link: self.device_link(),
            serial: self.serial.clone(),
            model: self.model.clone(),
            address: Some(self.address.to_string()),
            pin: (!self.pin.is_empty()).then(|| self.pin.clone()),
            waves: None,
        }
    }
}

/// The record the simulator and the tests put on a tag.
pub fn sample_record() -> PairingRecord {
    PairingRecord {
        protocol: DeviceProtocol::IntelliVue,
        address: BtAddr([0x00, 0x1B, 0xDC, 0x0F, 0x12, 0x34]),
        channel: 1,
        pin: PairingPin::new("8642"),
        serial: Some("DE00000001".into()),
        model: Some("MP30".into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rettpad_card::mifare::SimMifare;
    use rettpad_text::{Lang, UserMessage};

    struct T(SimMifare, usize);
    impl Transport for T {
        fn transmit(&mut self, c: &[u8]) -> Result<Vec<u8>, CardError> {
            if self.0.link_drops_now() {
                return Err(CardError::Removed);
            }
            self.1 += 1;
            Ok(self.0.process(c))
        }
    }

    const KEY: [u8; 6] = [0xA0, 0xA1, 0xA2, 0xA3, 0xA4, 0xA5];

    fn tag(data: &[u8]) -> SimMifare {
        let mut c = SimMifare::blank([9, 8, 7, 6]);
        c.set_keys(1, &KEY, &[0xFF; 6]);
        c.set_keys(2, &KEY, &[0xFF; 6]);
        c.write_data(1, data);
        c
    }

    fn key() -> MifareKey {
        MifareKey::new(KEY)
    }

    #[test]
    fn round_trip_through_a_tag() {
        let rec = sample_record();
        let bytes = encode(&rec).unwrap();
        let mut t = T(tag(&bytes[..]), 0);
        let got = read(&mut t, &key(), KeyType::A, 1).unwrap();
        assert_eq!(got, rec);
        // load key, 2 × (auth + 3 reads)
        assert_eq!(t.1, 9);
        let dc = got.to_device_config("Monitor");
        assert_eq!(dc.link.to_string(), "rfcomm:00:1B:DC:0F:12:34:1");
        assert_eq!(dc.protocol, DeviceProtocol::IntelliVue);
        assert_eq!(dc.address.as_deref(), Some("00:1B:DC:0F:12:34"));
        assert_eq!(dc.serial.as_deref(), Some("DE00000001"));
        assert_eq!(dc.pin.as_ref().map(PairingPin::expose), Some("8642"));
    }

    #[test]
    fn pin_never_in_debug() {
        let rec = sample_record();
        let all = format!(
            "{rec:?} {:?} {:?} {:?}",
            rec.to_device_config("x"),
            rec.pin,
            PairingError::WrongKey
        );
        assert!(!all.contains("8642"), "{all}");
        assert!(all.contains("redacted"));
        for e in [
            PairingError::WrongKey,
            PairingError::Corrupt,
            PairingError::Removed,
            PairingError::NotPairingCard("x"),
        ] {
            assert!(!e.message(Lang::De).contains("8642"));
        }
    }

    #[test]
    fn ble_record_link() {
        let rec = PairingRecord {
            protocol: DeviceProtocol::Ble,
            channel: 0,
            pin: PairingPin::default(),
            ..sample_record()
        };
        let b = encode(&rec).unwrap();
        let got = decode(&b[..]).unwrap();
        assert_eq!(got.link(), "ble:00:1B:DC:0F:12:34");
        assert_eq!(got.to_device_config("Oxi").pin, None);
    }

    #[test]
    fn wrong_key() {
        let bytes = encode(&sample_record()).unwrap();
        let mut t = T(tag(&bytes[..]), 0);
        let e = read(&mut t, &MifareKey::new([0xFF; 6]), KeyType::A, 1).unwrap_err();
        assert_eq!(e, PairingError::WrongKey);
        assert!(e.message(Lang::De).contains("Schlüssel"));
    }

    #[test]
    fn every_flipped_bit_is_refused() {
        let bytes = encode(&sample_record()).unwrap();
        for i in 0..RECORD_LEN * 8 {
            let mut b = *bytes;
            b[i / 8] ^= 1 << (i % 8);
            assert!(decode(&b).is_err(), "bit {i} flipped was accepted");
        }
        let mut b = *bytes;
        b[40] ^= 0x01;
        assert_eq!(decode(&b), Err(PairingError::Corrupt));
    }

    #[test]
    fn not_a_pairing_card() {
        let mut t = T(tag(&[0x55; 96]), 0);
        assert!(matches!(
            read(&mut t, &key(), KeyType::A, 1),
            Err(PairingError::NotPairingCard(_))
        ));
        // stopped after the first block
        assert_eq!(t.1, 3);
    }

    #[test]
    fn removed_mid_read() {
        let bytes = encode(&sample_record()).unwrap();
        let mut c = tag(&bytes[..]);
        c.drop_after(Some(4));
        let mut t = T(c, 0);
        assert_eq!(
            read(&mut t, &key(), KeyType::A, 1),
            Err(PairingError::Removed)
        );
    }

    #[test]
    fn fields_are_checked() {
        let long = PairingRecord {
            serial: Some("X".repeat(25)),
            ..sample_record()
        };
        assert_eq!(encode(&long), Err(PairingError::BadField("serial")));
        let pin = PairingRecord {
            pin: PairingPin::new(&"1".repeat(17)),
            ..sample_record()
        };
        assert_eq!(encode(&pin), Err(PairingError::BadField("pin")));
        let ch = PairingRecord {
            channel: 0,
            ..sample_record()
        };
        assert_eq!(encode(&ch), Err(PairingError::BadField("channel")));
        // a wrong length, a future version
        assert!(decode(&[0u8; 95]).is_err());
        let mut b = *encode(&sample_record()).unwrap();
        b[4] = 2;
        assert_eq!(decode(&b), Err(PairingError::UnsupportedVersion(2)));
    }

    #[test]
    fn addresses() {
        let a = BtAddr::parse("00:1b:dc:0f:12:34").unwrap();
        assert_eq!(a.to_string(), "00:1B:DC:0F:12:34");
        assert_eq!(BtAddr::parse("00-1B-DC-0F-12-34"), Some(a));
        for bad in [
            "",
            "00:1B:DC:0F:12",
            "00:1B:DC:0F:12:34:56",
            "0:1B:DC:0F:12:34",
            "GG:1B:DC:0F:12:34",
        ] {
            assert_eq!(BtAddr::parse(bad), None, "{bad}");
        }
    }

    #[test]
    fn config_section() {
        let c: PairingConfig = toml::from_str("mifare_key = \"A0A1A2A3A4A5\"\n").unwrap();
        assert_eq!(c.mifare_key, key());
        assert_eq!((c.key_type, c.sector), (KeyType::A, 1));
        assert!(!format!("{c:?}").contains("A0A1"));
        assert!(toml::from_str::<PairingConfig>("mifare_key = \"A0\"\n").is_err());
    }
}
