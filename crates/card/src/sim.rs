//! A simulated card: the same APDU semantics as an eGK G2.1 (SELECT by AID,
//! READ BINARY by SFI or 15-bit offset, 6282 at the end of a file, 6982 for
//! EF.GVD, 6A86 for path selection) or a KVK behind an MKT or ACS reader.
//! It implements [`Transport`] for in-process tests and is what
//! `rettpad-sim card` plays to vpcd. Fixture data only; never real cards.

use super::apdu::{Transport, sw};
use super::data::CardData;
use super::egk::{AID_HCA, AID_ROOT, PD_SIZE, SFI_PD, SFI_STATUS_VD, SFI_VD, VD_SIZE};
use super::error::CardError;
use super::kvk::{self, AID_KVK};
use flate2::Compression;
use flate2::write::GzEncoder;
use std::io::Write;

pub const SAMPLE_PD: &[u8] = include_bytes!(concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/tests/fixtures/egk/pd.xml"
));
pub const SAMPLE_VD: &[u8] = include_bytes!(concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/tests/fixtures/egk/vd.xml"
));
pub const SAMPLE_GVD: &[u8] = include_bytes!(concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/tests/fixtures/egk/gvd.xml"
));

/// eGK G2.1 ATR (T=1, no historical bytes).
pub const ATR_EGK: &[u8] = &[
    0x3B, 0xD0, 0x97, 0xFF, 0x81, 0xB1, 0xFE, 0x45, 0x1F, 0x07, 0x2B,
];
/// SLE4432/42 memory card as PC/SC shows it.
pub const ATR_KVK: &[u8] = &[0x3B, 0x04, 0xA2, 0x13, 0x10, 0x91];
/// Some other processor card.
pub const ATR_OTHER: &[u8] = &[
    0x3B, 0x95, 0x13, 0x81, 0x01, 0x80, 0x73, 0xFF, 0x01, 0x00, 0x0B,
];

/// Damage to play.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Corruption {
    /// EF.PD length field beyond the file.
    Container,
    /// EF.PD gzip with damaged deflate data.
    Gzip,
    /// EF.PD gzip of 256 KiB (inflate cap is 64 KiB).
    ZipBomb,
    /// EF.PD XML not well formed.
    Xml,
    /// KVK check byte wrong.
    Checksum,
}

/// How a KVK is reached.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KvkAccess {
    /// MKT/eHealth-BCS reader: `SELECT D2 76 00 00 01 01` + READ BINARY.
    Mkt,
    /// ACS reader: `FF A4` + `FF B0`.
    Acs,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Faults {
    /// SELECT HCA answers 6283.
    pub blocked: bool,
    pub corrupt: Option<Corruption>,
    /// EF.StatusVD says '1' (update interrupted).
    pub update_interrupted: bool,
    /// Answer this many APDUs, then the link drops (0-byte response in
    /// process; the socket closes in the vpcd emulator).
    pub drop_after: Option<usize>,
}

enum Kind {
    Egk {
        pd: Vec<u8>,
        vd: Vec<u8>,
        status: Vec<u8>,
        root: bool,
        hca: bool,
        current: Option<u8>,
        blocked: bool,
    },
    Kvk {
        mem: Vec<u8>,
        access: KvkAccess,
        selected: bool,
    },
    Other,
}

pub struct SimCard {
    kind: Kind,
    atr: &'static [u8],
    answered: usize,
    drop_after: Option<usize>,
}

fn gz(data: &[u8]) -> Vec<u8> {
    let mut e = GzEncoder::new(Vec::new(), Compression::best());
    // Writing to a Vec cannot fail.
    let _ = e.write_all(data);
    e.finish().unwrap_or_default()
}

impl SimCard {
    /// An eGK with the given PD and VD XML (as on the card: ISO-8859-15).
    pub fn egk(pd_xml: &[u8], vd_xml: &[u8], f: Faults) -> Result<SimCard, String> {
        let pd_gz = match f.corrupt {
            Some(Corruption::ZipBomb) => gz(&vec![0u8; 256 * 1024]),
            Some(Corruption::Xml) => {
                let text = String::from_utf8_lossy(pd_xml).replace("</Nachname>", "</Name>");
                let bytes: Vec<u8> = text
                    .chars()
                    .map(|c| if (c as u32) < 256 { c as u8 } else { b'?' })
                    .collect();
                gz(&bytes)
            }
            Some(Corruption::Gzip) => {
                let mut g = gz(pd_xml);
                let mid = g.len() / 2;
                for b in &mut g[mid..mid + 8] {
                    *b ^= 0x5A;
                }
                g
            }
            _ => gz(pd_xml),
        };
        if pd_gz.len() > PD_SIZE - 2 {
            return Err(format!(
                "EF.PD payload {} bytes > {}",
                pd_gz.len(),
                PD_SIZE - 2
            ));
        }
        let l = if f.corrupt == Some(Corruption::Container) {
            0x0400
        } else {
            pd_gz.len() as u16
        };
        let mut pd = l.to_be_bytes().to_vec();
        pd.extend_from_slice(&pd_gz);
        pd.resize(PD_SIZE, 0);

        let vd_gz = gz(vd_xml);
        let gvd_gz = gz(SAMPLE_GVD);
        let start = 8usize;
        let end = start + vd_gz.len() - 1;
        let gstart = end + 1;
        let gend = gstart + gvd_gz.len() - 1;
        if gend >= VD_SIZE {
            return Err(format!("EF.VD payload {} bytes too large", vd_gz.len()));
        }
        let mut vd = Vec::with_capacity(VD_SIZE);
        for x in [start, end, gstart, gend] {
            vd.extend_from_slice(&(x as u16).to_be_bytes());
        }
        vd.extend_from_slice(&vd_gz);
        vd.extend_from_slice(&gvd_gz);
        vd.resize(VD_SIZE, 0);

        let mut status = vec![if f.update_interrupted { b'1' } else { b'0' }];
        status.extend_from_slice(b"20261122103000");
        status.extend_from_slice(&[0x00, 0x50, 0x02, 0x00, 0x00, 0x00, 0x30, 0x00, 0x00, 0x04]);

        Ok(SimCard {
            kind: Kind::Egk {
                pd,
                vd,
                status,
                root: false,
                hca: false,
                current: None,
                blocked: f.blocked,
            },
            atr: ATR_EGK,
            answered: 0,
            drop_after: f.drop_after,
        })
    }

    /// An eGK with raw file images (for fuzzing and container tests).
    pub fn egk_files(status: Vec<u8>, pd: Vec<u8>, vd: Vec<u8>) -> SimCard {
        SimCard {
            kind: Kind::Egk {
                pd,
                vd,
                status,
                root: false,
                hca: false,
                current: None,
                blocked: false,
            },
            atr: ATR_EGK,
            answered: 0,
            drop_after: None,
        }
    }

    /// The sample eGK from the fixtures.
    pub fn sample_egk(f: Faults) -> SimCard {
        // The embedded fixtures fit the files (checked by a unit test).
        SimCard::egk(SAMPLE_PD, SAMPLE_VD, f).unwrap_or_else(|_| SimCard::other())
    }

    /// A KVK with `fields` (see [`kvk::sample_fields`]).
    pub fn kvk(fields: &[(u8, &str)], access: KvkAccess, f: Faults) -> SimCard {
        let mut t = kvk::build_template(fields);
        if f.corrupt == Some(Corruption::Checksum)
            && let Some(last) = t.last_mut()
        {
            *last ^= 0x01;
        }
        SimCard {
            kind: Kind::Kvk {
                mem: kvk::build_memory(&t),
                access,
                selected: false,
            },
            atr: ATR_KVK,
            answered: 0,
            drop_after: f.drop_after,
        }
    }

    /// A processor card that is neither eGK nor KVK.
    pub fn other() -> SimCard {
        SimCard {
            kind: Kind::Other,
            atr: ATR_OTHER,
            answered: 0,
            drop_after: None,
        }
    }

    pub fn atr(&self) -> &'static [u8] {
        self.atr
    }

    /// APDUs answered so far.
    pub fn answered(&self) -> usize {
        self.answered
    }

    /// True when the next APDU must not be answered (the link drops).
    pub fn link_drops_now(&self) -> bool {
        self.drop_after.is_some_and(|n| self.answered >= n)
    }

    /// Power off / on / reset: selections are lost.
    pub fn reset(&mut self) {
        match &mut self.kind {
            Kind::Egk {
                root, hca, current, ..
            } => {
                *root = false;
                *hca = false;
                *current = None;
            }
            Kind::Kvk { selected, .. } => *selected = false,
            Kind::Other => {}
        }
    }

    /// Answers one C-APDU with an R-APDU (data ‖ SW1 SW2).
    pub fn process(&mut self, c: &[u8]) -> Vec<u8> {
        self.answered += 1;
        let r = self.answer(c);
        tracing::trace!(
            ins = c.get(1).copied().unwrap_or(0),
            sw = format_args!("{:02X}{:02X}", r[r.len() - 2], r[r.len() - 1]),
            "sim apdu"
        );
        r
    }

    fn answer(&mut self, c: &[u8]) -> Vec<u8> {
        let swv = |s: u16| s.to_be_bytes().to_vec();
        if c.len() < 4 {
            return swv(sw::WRONG_LENGTH);
        }
        let (cla, ins, p1, p2) = (c[0], c[1], c[2], c[3]);
        match &mut self.kind {
            Kind::Other => swv(if cla == 0x00 {
                sw::NOT_FOUND
            } else {
                sw::CLA_NOT_SUPPORTED
            }),
            Kind::Kvk {
                mem,
                access,
                selected,
            } => match (cla, ins, *access) {
                (0x00, 0xA4, KvkAccess::Mkt) => {
                    if p1 == 0x04 && c.get(5..) == Some(&AID_KVK[..]) {
                        *selected = true;
                        swv(sw::OK)
                    } else {
                        swv(sw::NOT_FOUND)
                    }
                }
                (0x00, 0xB0, KvkAccess::Mkt) if *selected => {
                    let Some(le) = short_le(c) else {
                        return swv(sw::WRONG_LENGTH);
                    };
                    let off = usize::from(u16::from_be_bytes([p1 & 0x7F, p2]));
                    read_slice(mem, off, le)
                }
                (0x00, 0xB0, KvkAccess::Mkt) => swv(sw::NO_CURRENT_EF),
                (0xFF, 0xA4, KvkAccess::Acs) if c.get(5) == Some(&0x06) => {
                    *selected = true;
                    swv(sw::OK)
                }
                (0xFF, 0xB0, KvkAccess::Acs) if *selected => {
                    let le = usize::from(*c.get(4).unwrap_or(&0));
                    let end = (usize::from(p2) + le).min(mem.len());
                    let mut r = mem.get(usize::from(p2)..end).unwrap_or(&[]).to_vec();
                    r.extend_from_slice(&sw::OK.to_be_bytes());
                    r
                }
                (0x00, _, _) => swv(sw::INS_NOT_SUPPORTED),
                _ => swv(sw::CLA_NOT_SUPPORTED),
            },
            Kind::Egk {
                pd,
                vd,
                status,
                root,
                hca,
                current,
                blocked,
            } => {
                if cla != 0x00 {
                    return swv(sw::CLA_NOT_SUPPORTED);
                }
                match ins {
                    0xA4 => {
                        let data = c.get(5..5 + usize::from(*c.get(4).unwrap_or(&0)));
                        match (p1, data) {
                            (0x04, Some(aid)) if aid == AID_ROOT => {
                                *root = true;
                                *hca = false;
                                *current = None;
                                swv(sw::OK)
                            }
                            (0x04, Some(aid)) if aid == AID_HCA => {
                                if *blocked {
                                    return swv(sw::DEACTIVATED);
                                }
                                *hca = true;
                                *current = None;
                                swv(sw::OK)
                            }
                            (0x04, _) => swv(sw::NOT_FOUND),
                            // G2.1 refuses selection by path.
                            (0x08 | 0x09, _) => swv(sw::WRONG_P1P2),
                            _ => swv(sw::WRONG_P1P2),
                        }
                    }
                    0xB0 => {
                        let Some(le) = short_le(c) else {
                            return swv(sw::WRONG_LENGTH);
                        };
                        let off = if p1 & 0x80 != 0 {
                            let sfi = p1 & 0x1F;
                            if !*hca {
                                return swv(sw::NOT_FOUND);
                            }
                            match sfi {
                                SFI_PD | SFI_VD | SFI_STATUS_VD => *current = Some(sfi),
                                0x03 => return swv(sw::SECURITY),
                                _ => return swv(sw::NOT_FOUND),
                            }
                            usize::from(p2)
                        } else {
                            usize::from(u16::from_be_bytes([p1 & 0x7F, p2]))
                        };
                        let file = match *current {
                            Some(SFI_PD) => pd,
                            Some(SFI_VD) => vd,
                            Some(SFI_STATUS_VD) => status,
                            _ => return swv(sw::NO_CURRENT_EF),
                        };
                        let _ = root;
                        read_slice(file, off, le)
                    }
                    _ => swv(sw::INS_NOT_SUPPORTED),
                }
            }
        }
    }
}

/// Le of a short case-2 APDU (`CLA INS P1 P2 Le`), 0 meaning 256. `None`
/// for other forms (extended length is refused like many readers do).
fn short_le(c: &[u8]) -> Option<usize> {
    match c.len() {
        5 => Some(match c[4] {
            0 => 256,
            n => usize::from(n),
        }),
        _ => None,
    }
}

fn read_slice(file: &[u8], off: usize, le: usize) -> Vec<u8> {
    if off >= file.len() {
        return sw::OFFSET_TOO_BIG.to_be_bytes().to_vec();
    }
    let end = (off + le).min(file.len());
    let mut r = file[off..end].to_vec();
    let s = if end - off < le {
        sw::EOF_WARNING
    } else {
        sw::OK
    };
    r.extend_from_slice(&s.to_be_bytes());
    r
}

impl Transport for SimCard {
    fn transmit(&mut self, capdu: &[u8]) -> Result<Vec<u8>, CardError> {
        if self.link_drops_now() {
            // What the application sees through pcscd when vpcd's peer goes away.
            return Ok(Vec::new());
        }
        Ok(self.process(capdu))
    }
}

/// One fuzz input through every parser that sees card bytes: the first
/// four bytes give the lengths of EF.StatusVD and EF.PD images, the rest is
/// EF.VD; the images are read through the full APDU flow. The whole input
/// is also parsed as a KVK memory image and as XML. Must never panic.
pub fn fuzz_one(data: &[u8]) {
    let n = |i: usize| usize::from(data.get(i).copied().unwrap_or(0));
    let (a, b) = (n(0) % 64, (n(1) << 8 | n(2)) % 2048);
    let rest = data.get(3..).unwrap_or(&[]);
    let (status, rest) = rest.split_at(a.min(rest.len()));
    let (pd, vd) = rest.split_at(b.min(rest.len()));
    let mut card = SimCard::egk_files(status.to_vec(), pd.to_vec(), vd.to_vec());
    let _ = super::read_card(&mut card, ATR_EGK);
    let _ = kvk::parse(data);
    if let Ok(text) = super::vsd::decode_text(data) {
        let _ = super::vsd::parse_doc(&text);
    }
    if let Ok(xml) = super::vsd::gunzip_limited(data, super::vsd::INFLATE_LIMIT) {
        let _ = super::vsd::decode_text(&xml).and_then(|t| super::vsd::parse_doc(&t));
    }
}

/// The sample eGK, parsed (for tests and the demo).
pub fn sample_egk_data() -> CardData {
    let mut card = SimCard::sample_egk(Faults::default());
    let atr = card.atr();
    match super::read_card(&mut card, atr) {
        Ok(d) => d,
        Err(e) => unreachable!("the embedded sample card does not read: {e}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::CardKind;
    use crate::error::CardWarning;
    use crate::read_card;
    use rettpad_text::{Lang, UserMessage};

    /// Records every command and status word passing through.
    struct Spy<'a>(&'a mut SimCard, Vec<(Vec<u8>, u16)>);

    impl Transport for Spy<'_> {
        fn transmit(&mut self, c: &[u8]) -> Result<Vec<u8>, CardError> {
            let r = self.0.transmit(c)?;
            let s = if r.len() >= 2 {
                u16::from_be_bytes([r[r.len() - 2], r[r.len() - 1]])
            } else {
                0
            };
            self.1.push((c.to_vec(), s));
            Ok(r)
        }
    }

    fn read(card: &mut SimCard) -> Result<CardData, CardError> {
        let atr = card.atr();
        read_card(card, atr)
    }

    #[test]
    fn normal_egk_read_uses_short_sfi_apdus_only() {
        let mut card = SimCard::sample_egk(Faults::default());
        let mut spy = Spy(&mut card, Vec::new());
        let d = read_card(&mut spy, ATR_EGK).unwrap();
        assert_eq!(d.kind, CardKind::Egk);
        assert_eq!(d.person.family_name, "Großmann");
        assert!(d.warnings.is_empty());
        let cmds = &spy.1;
        assert_eq!(cmds[0].0[..5], [0x00, 0xA4, 0x04, 0x0C, 0x07]);
        assert_eq!(cmds[1].0[..5], [0x00, 0xA4, 0x04, 0x0C, 0x06]);
        for (c, s) in cmds {
            assert!(c.len() <= 12, "short APDU only");
            assert_ne!(c[2] & 0xFC, 0x08, "never select by path");
            if c[1] == 0xB0 {
                assert!(c[4] <= 0xFC && c[4] != 0, "Le {:#x}", c[4]);
            }
            assert_eq!(*s, 0x9000);
        }
        // 2 SELECT + StatusVD + PD header + PD + VD header + VD.
        assert!(cmds.len() <= 11, "{} APDUs", cmds.len());
    }

    #[test]
    fn edge_fixtures_through_the_card() {
        let pd = std::fs::read(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/fixtures/egk/pd_edge.xml"
        ))
        .unwrap();
        let vd = std::fs::read(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/fixtures/egk/vd_edge.xml"
        ))
        .unwrap();
        let mut card = SimCard::egk(&pd, &vd, Faults::default()).unwrap();
        let d = read(&mut card).unwrap();
        assert_eq!(d.person.birth_date.map(|b| (b.month, b.day)), Some((0, 0)));
        assert_eq!(d.person.full_family_name(), "Freiherr Öztürk-Ñúñez");
    }

    #[test]
    fn faults_give_their_errors() {
        let cases = [
            (
                Faults {
                    blocked: true,
                    ..Faults::default()
                },
                CardError::Blocked { sw: 0x6283 },
            ),
            (
                Faults {
                    corrupt: Some(Corruption::Container),
                    ..Faults::default()
                },
                CardError::Container("EF.PD length out of range"),
            ),
            (
                Faults {
                    corrupt: Some(Corruption::ZipBomb),
                    ..Faults::default()
                },
                CardError::ZipBomb { limit: 64 * 1024 },
            ),
            (
                Faults {
                    corrupt: Some(Corruption::Xml),
                    ..Faults::default()
                },
                CardError::Xml("ill-formed document"),
            ),
        ];
        for (f, want) in cases {
            let mut card = SimCard::sample_egk(f);
            assert_eq!(read(&mut card).unwrap_err(), want, "{f:?}");
            let msg = want.message(Lang::De);
            assert!(msg.contains("Ersatzverfahren"), "{msg}");
        }
        let mut card = SimCard::sample_egk(Faults {
            corrupt: Some(Corruption::Gzip),
            ..Faults::default()
        });
        assert!(matches!(read(&mut card), Err(CardError::Gzip(_))));
        assert!(
            CardError::Blocked { sw: 0x6283 }
                .message(Lang::De)
                .starts_with("Gesundheitskarte gesperrt.")
        );
    }

    #[test]
    fn interrupted_update_is_a_warning_not_a_failure() {
        let mut card = SimCard::sample_egk(Faults {
            update_interrupted: true,
            ..Faults::default()
        });
        let d = read(&mut card).unwrap();
        assert_eq!(d.warnings, vec![CardWarning::UpdateInterrupted]);
    }

    #[test]
    fn link_drop_at_every_step_is_a_short_response() {
        let total = {
            let mut c = SimCard::sample_egk(Faults::default());
            read(&mut c).unwrap();
            c.answered()
        };
        for n in 0..total {
            let mut card = SimCard::sample_egk(Faults {
                drop_after: Some(n),
                ..Faults::default()
            });
            assert_eq!(
                read(&mut card).unwrap_err(),
                CardError::ShortResponse { len: 0 },
                "drop after {n}"
            );
        }
    }

    #[test]
    fn kvk_by_atr_via_mkt_and_acs_and_checksum() {
        for access in [KvkAccess::Mkt, KvkAccess::Acs] {
            let mut card = SimCard::kvk(&kvk::sample_fields(), access, Faults::default());
            let d = read(&mut card).unwrap();
            assert_eq!(d.kind, CardKind::Kvk);
            assert_eq!(d.person.given_name, "Käthe");
            // Routed by ATR: no eGK SELECT was sent.
            let mut card = SimCard::kvk(&kvk::sample_fields(), access, Faults::default());
            let mut spy = Spy(&mut card, Vec::new());
            read_card(&mut spy, ATR_KVK).unwrap();
            assert!(
                spy.1
                    .iter()
                    .all(|(c, _)| c.get(5..12) != Some(&AID_ROOT[..]))
            );
            // A KVK behind an ATR we do not route still reads (eGK SELECT fails first).
            let mut card = SimCard::kvk(&kvk::sample_fields(), access, Faults::default());
            assert!(read_card(&mut card, ATR_OTHER).is_ok());
        }
        let mut card = SimCard::kvk(
            &kvk::sample_fields(),
            KvkAccess::Mkt,
            Faults {
                corrupt: Some(Corruption::Checksum),
                ..Faults::default()
            },
        );
        let e = read(&mut card).unwrap_err();
        assert_eq!(e, CardError::KvkChecksum);
        assert!(
            e.message(Lang::De)
                .starts_with("Karte beschädigt (Prüfsumme).")
        );
    }

    #[test]
    fn unknown_card() {
        let mut card = SimCard::other();
        let e = read(&mut card).unwrap_err();
        assert_eq!(e, CardError::UnknownCard);
        assert!(e.message(Lang::De).contains("keine eGK/KVK"));
    }

    #[test]
    fn sim_semantics() {
        let mut c = SimCard::sample_egk(Faults::default());
        // READ BINARY before any selection.
        assert_eq!(c.process(&[0x00, 0xB0, 0x81, 0x00, 0x02]), [0x6A, 0x82]);
        assert_eq!(c.process(&[0x00, 0xB0, 0x00, 0x00, 0x02]), [0x69, 0x86]);
        c.process(&crate::apdu::select_aid(&AID_ROOT, 0x0C));
        c.process(&crate::apdu::select_aid(&AID_HCA, 0x0C));
        // EF.GVD needs a PIN.
        assert_eq!(c.process(&[0x00, 0xB0, 0x83, 0x00, 0x02]), [0x69, 0x82]);
        // Path selection is refused.
        assert_eq!(
            c.process(&[0x00, 0xA4, 0x08, 0x0C, 0x04, 0xD0, 0x01, 0xD0, 0x01]),
            [0x6A, 0x86]
        );
        // Extended length is refused.
        assert_eq!(
            c.process(&[0x00, 0xB0, 0x81, 0x00, 0x00, 0x00, 0x00]),
            [0x67, 0x00]
        );
        // End of file.
        let r = c.process(&[0x00, 0xB0, 0x8C, 0x10, 0x20]);
        assert_eq!(r.len(), 25 - 16 + 2);
        assert_eq!(r[r.len() - 2..], [0x62, 0x82]);
        assert_eq!(c.process(&[0x00, 0xB0, 0x00, 0x40, 0x01]), [0x6B, 0x00]);
        // Too-short commands and other classes.
        assert_eq!(c.process(&[0x00, 0xB0]), [0x67, 0x00]);
        assert_eq!(c.process(&[0x80, 0xB0, 0x00, 0x00, 0x01]), [0x6E, 0x00]);
        c.reset();
        assert_eq!(c.process(&[0x00, 0xB0, 0x00, 0x00, 0x02]), [0x69, 0x86]);
    }

    #[test]
    fn oversized_payloads_are_refused_by_the_builder() {
        // Incompressible: xorshift bytes.
        let mut x = 0x9E37_79B9_7F4A_7C15u64;
        let big: Vec<u8> = (0..4000)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                x as u8
            })
            .collect();
        assert!(SimCard::egk(&big, SAMPLE_VD, Faults::default()).is_err());
        assert!(SimCard::egk(SAMPLE_PD, SAMPLE_VD, Faults::default()).is_ok());
    }
}
