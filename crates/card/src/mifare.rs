//! MIFARE Classic through a PC/SC reader: the storage-card pseudo-APDUs of
//! PC/SC part 3 (LOAD KEY `FF 82`, GENERAL AUTHENTICATE `FF 86`, READ BINARY
//! `FF B0`, GET DATA UID `FF CA`), sans-IO over any [`Transport`], and
//! [`SimMifare`], a MIFARE Classic 1K as a contactless reader exposes it
//! (for `rettpad-sim card --mifare`).
//!
//! The key is held in [`MifareKey`], which zeroizes and never prints.

use super::apdu::{Response, Transport};
use super::error::CardError;
use serde::{Deserialize, Serialize};
use zeroize::{Zeroize, ZeroizeOnDrop, Zeroizing};

/// PC/SC part 3 ATR of a contactless storage card: `3B 8F 80 01 80 4F 0C
/// A0 00 00 03 06 SS NN NN 00 00 00 00 TCK`, SS = 03 (ISO 14443 A part 3),
/// NN = 00 01 (MIFARE Classic 1K).
pub const ATR_MIFARE_1K: [u8; 20] = [
    0x3B, 0x8F, 0x80, 0x01, 0x80, 0x4F, 0x0C, 0xA0, 0x00, 0x00, 0x03, 0x06, 0x03, 0x00, 0x01, 0x00,
    0x00, 0x00, 0x00, 0x6A,
];

/// Card names (NN) of PC/SC part 3 that are MIFARE Classic.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClassicKind {
    Classic1K,
    Classic4K,
    ClassicMini,
}

/// The MIFARE Classic kind a PC/SC part 3 ATR announces, if any. Lets a
/// card watcher send a MIFARE tag to the pairing reader instead of the eGK
/// path.
pub fn classic_from_atr(atr: &[u8]) -> Option<ClassicKind> {
    let head = [
        0x3B, 0x8F, 0x80, 0x01, 0x80, 0x4F, 0x0C, 0xA0, 0x00, 0x00, 0x03, 0x06,
    ];
    if atr.len() != 20 || atr.get(..12)? != head {
        return None;
    }
    match (atr.get(13)?, atr.get(14)?) {
        (0x00, 0x01) => Some(ClassicKind::Classic1K),
        (0x00, 0x02) => Some(ClassicKind::Classic4K),
        (0x00, 0x26) => Some(ClassicKind::ClassicMini),
        _ => None,
    }
}

/// A 6-byte MIFARE Classic key. Zeroized on drop; `Debug` is redacted and
/// there is no `Display`. In configuration it is 12 hex digits.
#[derive(Clone, PartialEq, Eq, Zeroize, ZeroizeOnDrop)]
pub struct MifareKey([u8; 6]);

impl MifareKey {
    pub fn new(bytes: [u8; 6]) -> MifareKey {
        MifareKey(bytes)
    }

    /// From 12 hex digits (spaces and colons allowed between bytes).
    pub fn from_hex(s: &str) -> Result<MifareKey, &'static str> {
        let clean: Zeroizing<String> = Zeroizing::new(
            s.chars()
                .filter(|c| !matches!(c, ' ' | ':' | '-'))
                .collect(),
        );
        let mut k = [0u8; 6];
        hex::decode_to_slice(clean.as_bytes(), &mut k)
            .map_err(|_| "mifare_key must be 12 hex digits (6 bytes)")?;
        Ok(MifareKey(k))
    }

    pub fn bytes(&self) -> &[u8; 6] {
        &self.0
    }
}

impl std::fmt::Debug for MifareKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("MifareKey(<redacted>)")
    }
}

impl Serialize for MifareKey {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let h = Zeroizing::new(hex::encode_upper(self.0));
        s.serialize_str(&h)
    }
}

impl<'de> Deserialize<'de> for MifareKey {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<MifareKey, D::Error> {
        let s = Zeroizing::new(String::deserialize(d)?);
        MifareKey::from_hex(&s).map_err(serde::de::Error::custom)
    }
}

/// Which of the sector's two keys authenticates.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub enum KeyType {
    #[default]
    A,
    B,
}

impl KeyType {
    fn code(self) -> u8 {
        match self {
            KeyType::A => 0x60,
            KeyType::B => 0x61,
        }
    }
}

/// Why a storage-card command failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MifareError {
    /// The reader or card refused the pseudo-APDUs (CLA FF / INS unknown):
    /// not a contactless storage card.
    #[error("not a MIFARE Classic card (status word {sw:04X})")]
    NotMifare { sw: u16 },
    /// GENERAL AUTHENTICATE failed: the key does not open the sector.
    #[error("authentication of block {block} failed (status word {sw:04X})")]
    AuthFailed { block: u8, sw: u16 },
    /// READ BINARY refused or short.
    #[error("read of block {block} failed (status word {sw:04X}, {len} bytes)")]
    Read { block: u8, sw: u16, len: usize },
    #[error(transparent)]
    Card(#[from] CardError),
}

fn run<T: Transport + ?Sized>(t: &mut T, capdu: &[u8]) -> Result<Response, MifareError> {
    Ok(Response::parse(&t.transmit(capdu)?)?)
}

fn not_supported(sw: u16) -> bool {
    matches!(sw, 0x6D00 | 0x6E00 | 0x6A81 | 0x6A86 | 0x6B00 | 0x6981)
}

/// LOAD KEY into the reader's volatile key slot `slot`.
pub fn load_key<T: Transport + ?Sized>(
    t: &mut T,
    slot: u8,
    key: &MifareKey,
) -> Result<(), MifareError> {
    let mut c = Zeroizing::new(vec![0xFF, 0x82, 0x00, slot, 0x06]);
    c.extend_from_slice(key.bytes());
    let r = run(t, &c)?;
    match r.sw {
        0x9000 => Ok(()),
        sw => Err(MifareError::NotMifare { sw }),
    }
}

/// GENERAL AUTHENTICATE for `block` with the key in `slot`.
pub fn authenticate<T: Transport + ?Sized>(
    t: &mut T,
    block: u8,
    key_type: KeyType,
    slot: u8,
) -> Result<(), MifareError> {
    let c = [
        0xFF,
        0x86,
        0x00,
        0x00,
        0x05,
        0x01,
        0x00,
        block,
        key_type.code(),
        slot,
    ];
    let r = run(t, &c)?;
    match r.sw {
        0x9000 => Ok(()),
        sw if not_supported(sw) => Err(MifareError::NotMifare { sw }),
        sw => Err(MifareError::AuthFailed { block, sw }),
    }
}

/// READ BINARY of one 16-byte block (the sector must be authenticated).
pub fn read_block<T: Transport + ?Sized>(t: &mut T, block: u8) -> Result<[u8; 16], MifareError> {
    let r = run(t, &[0xFF, 0xB0, 0x00, block, 0x10])?;
    if r.sw != 0x9000 || r.data.len() != 16 {
        return Err(MifareError::Read {
            block,
            sw: r.sw,
            len: r.data.len(),
        });
    }
    let mut b = [0u8; 16];
    b.copy_from_slice(&r.data);
    Ok(b)
}

/// GET DATA: the card's UID (4 or 7 bytes).
pub fn uid<T: Transport + ?Sized>(t: &mut T) -> Result<Vec<u8>, MifareError> {
    let r = run(t, &[0xFF, 0xCA, 0x00, 0x00, 0x00])?;
    match r.sw {
        0x9000 if (4..=10).contains(&r.data.len()) => Ok(r.data),
        sw => Err(MifareError::NotMifare { sw }),
    }
}

/// The first data block of a MIFARE Classic 1K sector (sectors 0..16).
pub fn sector_first_block(sector: u8) -> u8 {
    sector.saturating_mul(4)
}

/// A simulated MIFARE Classic 1K behind a PC/SC contactless reader: 16
/// sectors of 4 blocks, key A and key B in each sector trailer, volatile
/// key slots 0 and 1 in the "reader". Reading a trailer shows key A as
/// zeros, like the real chip.
#[derive(Clone)]
pub struct SimMifare {
    blocks: [[u8; 16]; 64],
    slots: [Option<[u8; 6]>; 2],
    authed: Option<u8>,
    answered: usize,
    drop_after: Option<usize>,
}

impl std::fmt::Debug for SimMifare {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SimMifare")
            .field("authed", &self.authed)
            .field("answered", &self.answered)
            .finish_non_exhaustive()
    }
}

/// Transport configuration access bits (FF 07 80, GPB 69): key A reads and
/// authenticates everything; the factory default.
const ACCESS_DEFAULT: [u8; 4] = [0xFF, 0x07, 0x80, 0x69];

impl SimMifare {
    /// A blank card: UID `uid`, every sector's keys A and B = `FF…FF` (the
    /// factory default).
    pub fn blank(uid: [u8; 4]) -> SimMifare {
        let mut blocks = [[0u8; 16]; 64];
        let bcc = uid.iter().fold(0, |a, b| a ^ b);
        blocks[0][..4].copy_from_slice(&uid);
        blocks[0][4] = bcc;
        blocks[0][5..8].copy_from_slice(&[0x08, 0x04, 0x00]);
        let mut s = SimMifare {
            blocks,
            slots: [None, None],
            authed: None,
            answered: 0,
            drop_after: None,
        };
        for sector in 0..16 {
            s.set_keys(sector, &[0xFF; 6], &[0xFF; 6]);
        }
        s
    }

    /// Sets key A and key B of `sector` (default access bits).
    pub fn set_keys(&mut self, sector: u8, a: &[u8; 6], b: &[u8; 6]) {
        if let Some(t) = self.blocks.get_mut(usize::from(sector) * 4 + 3) {
            t[..6].copy_from_slice(a);
            t[6..10].copy_from_slice(&ACCESS_DEFAULT);
            t[10..].copy_from_slice(b);
        }
    }

    /// Writes `data` into the data blocks of `sector` and the following
    /// sectors (skipping trailers and block 0).
    pub fn write_data(&mut self, sector: u8, data: &[u8]) {
        let mut block = usize::from(sector_first_block(sector)).max(1);
        for chunk in data.chunks(16) {
            if block % 4 == 3 {
                block += 1;
            }
            let Some(b) = self.blocks.get_mut(block) else {
                return;
            };
            b.fill(0);
            b[..chunk.len()].copy_from_slice(chunk);
            block += 1;
        }
    }

    /// After `n` answered APDUs the link drops (a card pulled mid-read).
    pub fn drop_after(&mut self, n: Option<usize>) {
        self.drop_after = n;
    }

    pub fn atr(&self) -> &'static [u8] {
        &ATR_MIFARE_1K
    }

    pub fn link_drops_now(&self) -> bool {
        self.drop_after.is_some_and(|n| self.answered >= n)
    }

    /// RF field off/on: authentication is lost; the reader keeps its keys.
    pub fn reset(&mut self) {
        self.authed = None;
    }

    /// Answers one pseudo-APDU with an R-APDU (data ‖ SW1 SW2).
    pub fn process(&mut self, c: &[u8]) -> Vec<u8> {
        self.answered += 1;
        let sw = |s: u16| s.to_be_bytes().to_vec();
        let (Some(&cla), Some(&ins)) = (c.first(), c.get(1)) else {
            return sw(0x6700);
        };
        if cla != 0xFF {
            return sw(0x6E00);
        }
        let p1 = c.get(2).copied().unwrap_or(0);
        let p2 = c.get(3).copied().unwrap_or(0);
        match ins {
            0xCA => {
                let mut r = self.blocks[0][..4].to_vec();
                r.extend_from_slice(&[0x90, 0x00]);
                r
            }
            0x82 => {
                if c.len() != 11 || c.get(4) != Some(&6) || p1 != 0x00 {
                    return sw(0x6700);
                }
                let Some(slot) = self.slots.get_mut(usize::from(p2)) else {
                    return sw(0x6986);
                };
                let mut k = [0u8; 6];
                k.copy_from_slice(&c[5..11]);
                *slot = Some(k);
                sw(0x9000)
            }
            0x86 => {
                if c.len() != 10 || c[4] != 5 || c[5] != 0x01 || c[6] != 0x00 {
                    return sw(0x6700);
                }
                let (block, kt, slot) = (c[7], c[8], c[9]);
                if block >= 64 {
                    return sw(0x6A82);
                }
                let Some(Some(key)) = self.slots.get(usize::from(slot)).copied() else {
                    return sw(0x6986);
                };
                let trailer = &self.blocks[usize::from(block / 4) * 4 + 3];
                let want = match kt {
                    0x60 => &trailer[..6],
                    0x61 => &trailer[10..],
                    _ => return sw(0x6A86),
                };
                if want == key {
                    self.authed = Some(block / 4);
                    sw(0x9000)
                } else {
                    // A failed authentication halts the chip.
                    self.authed = None;
                    sw(0x6300)
                }
            }
            0xB0 => {
                if p1 != 0 || p2 >= 64 || c.len() != 5 {
                    return sw(0x6B00);
                }
                if self.authed != Some(p2 / 4) {
                    return sw(0x6982);
                }
                let le = usize::from(c[4]);
                if le != 16 && le != 0 {
                    return sw(0x6C10);
                }
                let mut r = self.blocks[usize::from(p2)].to_vec();
                if p2 % 4 == 3 {
                    r[..6].fill(0);
                }
                r.extend_from_slice(&[0x90, 0x00]);
                r
            }
            _ => sw(0x6D00),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    struct T(SimMifare);
    impl Transport for T {
        fn transmit(&mut self, c: &[u8]) -> Result<Vec<u8>, CardError> {
            Ok(self.0.process(c))
        }
    }

    #[test]
    fn atr_checksum_and_kind() {
        let tck = ATR_MIFARE_1K[1..19].iter().fold(0u8, |a, b| a ^ b);
        assert_eq!(tck, ATR_MIFARE_1K[19]);
        assert_eq!(
            classic_from_atr(&ATR_MIFARE_1K),
            Some(ClassicKind::Classic1K)
        );
        assert_eq!(classic_from_atr(&[0x3B, 0x04, 0, 0, 0, 0]), None);
        assert_eq!(classic_from_atr(&ATR_MIFARE_1K[..19]), None);
    }

    #[test]
    fn key_hex_and_redaction() {
        let k = MifareKey::from_hex("a0:a1:a2:a3:a4:a5").unwrap();
        assert_eq!(k.bytes(), &[0xA0, 0xA1, 0xA2, 0xA3, 0xA4, 0xA5]);
        let dbg = format!("{k:?}");
        assert!(!dbg.contains("A0") && !dbg.contains("a0"), "{dbg}");
        assert!(MifareKey::from_hex("A0A1A2A3A4").is_err());
        assert!(MifareKey::from_hex("A0A1A2A3A4A5A6").is_err());
        assert!(MifareKey::from_hex("ZZA1A2A3A4A5").is_err());
    }

    #[test]
    fn sim_auth_and_read() {
        let mut card = SimMifare::blank([1, 2, 3, 4]);
        card.set_keys(1, &[0x11; 6], &[0x22; 6]);
        card.write_data(1, b"hello pairing");
        let mut t = T(card);
        assert_eq!(uid(&mut t).unwrap(), vec![1, 2, 3, 4]);
        // not authenticated yet
        assert!(matches!(
            read_block(&mut t, 4),
            Err(MifareError::Read { sw: 0x6982, .. })
        ));
        load_key(&mut t, 0, &MifareKey::new([0x33; 6])).unwrap();
        assert_eq!(
            authenticate(&mut t, 4, KeyType::A, 0),
            Err(MifareError::AuthFailed {
                block: 4,
                sw: 0x6300
            })
        );
        load_key(&mut t, 0, &MifareKey::new([0x11; 6])).unwrap();
        authenticate(&mut t, 4, KeyType::A, 0).unwrap();
        let b = read_block(&mut t, 4).unwrap();
        assert_eq!(&b[..13], b"hello pairing");
        // trailer: key A reads as zeros
        let tr = read_block(&mut t, 7).unwrap();
        assert_eq!(&tr[..6], &[0; 6]);
        assert_eq!(&tr[10..], &[0x22; 6]);
        // other sector needs its own authentication
        assert!(read_block(&mut t, 8).is_err());
    }

    #[test]
    fn contact_card_refuses_pseudo_apdus() {
        struct Egk;
        impl Transport for Egk {
            fn transmit(&mut self, _: &[u8]) -> Result<Vec<u8>, CardError> {
                Ok(vec![0x6E, 0x00])
            }
        }
        assert_eq!(
            load_key(&mut Egk, 0, &MifareKey::new([0; 6])),
            Err(MifareError::NotMifare { sw: 0x6E00 })
        );
    }
}
