//! APDUs: building short commands, splitting responses, and the exchange
//! rules every command goes through (61xx GET RESPONSE, 6Cxx re-send, R-APDUs
//! shorter than two bytes). Only short APDUs: Le ≤ 0xFC per READ BINARY,
//! because many readers do not support extended length.

use super::error::CardError;

/// The largest chunk one READ BINARY asks for.
pub const CHUNK: usize = 0xFC;
/// The largest offset READ BINARY can address without SFI (15 bits).
pub const MAX_OFFSET: usize = 0x7FFF;
/// At most this many GET RESPONSE rounds for one command.
const MAX_GET_RESPONSE: usize = 16;

/// Sends one C-APDU and returns the raw R-APDU (data ‖ SW1 SW2). The real
/// implementation is [`super::pcsc_io::PcscTransport`]; tests use
/// [`super::sim::SimCard`].
pub trait Transport {
    fn transmit(&mut self, capdu: &[u8]) -> Result<Vec<u8>, CardError>;
}

impl<T: Transport + ?Sized> Transport for &mut T {
    fn transmit(&mut self, capdu: &[u8]) -> Result<Vec<u8>, CardError> {
        (**self).transmit(capdu)
    }
}

/// Status words the reader acts on.
pub mod sw {
    pub const OK: u16 = 0x9000;
    pub const EOF_WARNING: u16 = 0x6282;
    pub const CORRUPT_DATA: u16 = 0x6281;
    pub const DEACTIVATED: u16 = 0x6283;
    pub const TERMINATED: u16 = 0x6285;
    pub const WRONG_LENGTH: u16 = 0x6700;
    pub const WRONG_FILE_TYPE: u16 = 0x6981;
    pub const SECURITY: u16 = 0x6982;
    pub const NO_CURRENT_EF: u16 = 0x6986;
    pub const FUNC_NOT_SUPPORTED: u16 = 0x6A81;
    pub const NOT_FOUND: u16 = 0x6A82;
    pub const WRONG_P1P2: u16 = 0x6A86;
    pub const OFFSET_TOO_BIG: u16 = 0x6B00;
    pub const INS_NOT_SUPPORTED: u16 = 0x6D00;
    pub const CLA_NOT_SUPPORTED: u16 = 0x6E00;
}

/// A response: data and status word.
#[derive(Clone, PartialEq, Eq)]
pub struct Response {
    pub data: Vec<u8>,
    pub sw: u16,
}

impl std::fmt::Debug for Response {
    /// Status word and length only: the data may be personal.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Response({} bytes, {:04X})", self.data.len(), self.sw)
    }
}

impl Response {
    /// Splits an R-APDU. Fewer than two bytes is a transport failure.
    pub fn parse(rapdu: &[u8]) -> Result<Response, CardError> {
        match rapdu.len() {
            0 | 1 => Err(CardError::ShortResponse { len: rapdu.len() }),
            n => Ok(Response {
                data: rapdu[..n - 2].to_vec(),
                sw: u16::from_be_bytes([rapdu[n - 2], rapdu[n - 1]]),
            }),
        }
    }
}

/// SELECT by AID (P1 = 04). The eGK is selected with `p2 = 0x0C` (no FCP
/// returned); the KVK/MKT select uses `p2 = 0x00`.
pub fn select_aid(aid: &[u8], p2: u8) -> Vec<u8> {
    let mut c = Vec::with_capacity(5 + aid.len());
    c.extend_from_slice(&[0x00, 0xA4, 0x04, p2, aid.len() as u8]);
    c.extend_from_slice(aid);
    c
}

/// READ BINARY by short file identifier: `P1 = 0x80 | sfi`, `P2 = offset`.
/// `le` 0 means 256.
pub fn read_binary_sfi(sfi: u8, offset: u8, le: u8) -> Vec<u8> {
    vec![0x00, 0xB0, 0x80 | (sfi & 0x1F), offset, le]
}

/// READ BINARY on the current EF with a 15-bit offset.
pub fn read_binary(offset: u16, le: u8) -> Vec<u8> {
    let [hi, lo] = (offset & 0x7FFF).to_be_bytes();
    vec![0x00, 0xB0, hi, lo, le]
}

/// GET RESPONSE for `le` bytes.
pub fn get_response(le: u8) -> Vec<u8> {
    vec![0x00, 0xC0, 0x00, 0x00, le]
}

/// Sends `capdu`, following 61xx (GET RESPONSE, bounded) and 6Cxx (re-send
/// once with the card's Le). Logs status words and lengths only.
pub fn exchange<T: Transport + ?Sized>(t: &mut T, capdu: &[u8]) -> Result<Response, CardError> {
    let mut r = Response::parse(&t.transmit(capdu)?)?;
    if r.sw >> 8 == 0x6C && capdu.len() >= 5 {
        let mut again = capdu.to_vec();
        let last = again.len() - 1;
        again[last] = (r.sw & 0xFF) as u8;
        r = Response::parse(&t.transmit(&again)?)?;
    }
    let mut data = std::mem::take(&mut r.data);
    let mut rounds = 0;
    while r.sw >> 8 == 0x61 {
        rounds += 1;
        if rounds > MAX_GET_RESPONSE {
            return Err(CardError::Status {
                cmd: "GET RESPONSE",
                sw: r.sw,
            });
        }
        r = Response::parse(&t.transmit(&get_response((r.sw & 0xFF) as u8))?)?;
        data.append(&mut r.data);
    }
    tracing::trace!(
        ins = capdu.get(1).copied().unwrap_or(0),
        sw = format_args!("{:04X}", r.sw),
        len = data.len(),
        "apdu"
    );
    Ok(Response { data, sw: r.sw })
}

/// Reads `len` bytes of the EF with short file identifier `sfi`, starting at
/// `offset`, in chunks of at most [`CHUNK`]. The first command selects the EF
/// by SFI (at offset 0 when `offset` > 255, which makes the EF current); the
/// rest use 15-bit offsets on the current EF. Never selects by path.
///
/// Returns fewer bytes than asked when the card reports the end of the file
/// (6282, or 6B00 after the first chunk). Other status words are errors.
pub fn read_ef<T: Transport + ?Sized>(
    t: &mut T,
    sfi: u8,
    offset: usize,
    len: usize,
) -> Result<Vec<u8>, CardError> {
    if offset + len > MAX_OFFSET + 1 {
        return Err(CardError::Container("read beyond the 15-bit offset range"));
    }
    let mut out = Vec::with_capacity(len);
    let mut pos = offset;
    if offset > 0xFF {
        // Make the EF current without reading what we don't need.
        let r = exchange(t, &read_binary_sfi(sfi, 0, 1))?;
        check_read(r.sw)?;
    }
    let mut first = true;
    while out.len() < len {
        let n = (len - out.len()).min(CHUNK) as u8;
        let cmd = if first && offset <= 0xFF {
            read_binary_sfi(sfi, pos as u8, n)
        } else {
            read_binary(pos as u16, n)
        };
        let r = exchange(t, &cmd)?;
        let got = r.data.len();
        if r.sw == sw::OFFSET_TOO_BIG && !first {
            break;
        }
        check_read(r.sw)?;
        first = false;
        if got > usize::from(n) {
            return Err(CardError::Container("card returned more bytes than asked"));
        }
        out.extend_from_slice(&r.data);
        pos += got;
        if r.sw == sw::EOF_WARNING || got == 0 {
            break;
        }
    }
    Ok(out)
}

fn check_read(sw: u16) -> Result<(), CardError> {
    match sw {
        sw::OK | sw::EOF_WARNING => Ok(()),
        sw::CORRUPT_DATA => Err(CardError::Container("card reports corrupt data (6281)")),
        other => Err(CardError::Status {
            cmd: "READ BINARY",
            sw: other,
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::VecDeque;

    /// Answers from a script and records the commands.
    pub(crate) struct Script {
        pub answers: VecDeque<Result<Vec<u8>, CardError>>,
        pub sent: Vec<Vec<u8>>,
    }

    impl Script {
        pub fn new(answers: Vec<&[u8]>) -> Script {
            Script {
                answers: answers.into_iter().map(|a| Ok(a.to_vec())).collect(),
                sent: Vec::new(),
            }
        }
    }

    impl Transport for Script {
        fn transmit(&mut self, capdu: &[u8]) -> Result<Vec<u8>, CardError> {
            self.sent.push(capdu.to_vec());
            self.answers
                .pop_front()
                .unwrap_or(Err(CardError::Reader("script exhausted".into())))
        }
    }

    #[test]
    fn builds_commands() {
        assert_eq!(
            select_aid(&[0xD2, 0x76, 0x00, 0x00, 0x01, 0x02], 0x0C),
            [
                0x00, 0xA4, 0x04, 0x0C, 0x06, 0xD2, 0x76, 0x00, 0x00, 0x01, 0x02
            ]
        );
        assert_eq!(
            read_binary_sfi(0x0C, 0, 0x19),
            [0x00, 0xB0, 0x8C, 0x00, 0x19]
        );
        assert_eq!(read_binary(0x1FE, 0xCA), [0x00, 0xB0, 0x01, 0xFE, 0xCA]);
        assert_eq!(read_binary(0xFFFF, 1), [0x00, 0xB0, 0x7F, 0xFF, 1]);
    }

    #[test]
    fn short_responses_are_transport_errors() {
        assert_eq!(
            Response::parse(&[]),
            Err(CardError::ShortResponse { len: 0 })
        );
        assert_eq!(
            Response::parse(&[0x90]),
            Err(CardError::ShortResponse { len: 1 })
        );
        let r = Response::parse(&[1, 2, 0x90, 0x00]).unwrap();
        assert_eq!((r.data.as_slice(), r.sw), (&[1u8, 2][..], 0x9000));
        assert_eq!(format!("{r:?}"), "Response(2 bytes, 9000)");
    }

    #[test]
    fn get_response_chain_is_followed_and_bounded() {
        let mut t = Script::new(vec![&[1, 0x61, 0x02], &[2, 3, 0x90, 0x00]]);
        let r = exchange(&mut t, &read_binary_sfi(1, 0, 3)).unwrap();
        assert_eq!(r.data, [1, 2, 3]);
        assert_eq!(r.sw, 0x9000);
        assert_eq!(t.sent[1], get_response(2));

        let endless: Vec<&[u8]> = vec![&[0x61, 0x01]; 40];
        let mut t = Script::new(endless);
        assert!(matches!(
            exchange(&mut t, &read_binary_sfi(1, 0, 3)),
            Err(CardError::Status {
                cmd: "GET RESPONSE",
                ..
            })
        ));
        assert_eq!(t.sent.len(), MAX_GET_RESPONSE + 1);
    }

    #[test]
    fn wrong_le_is_resent_once() {
        let mut t = Script::new(vec![&[0x6C, 0x02], &[7, 8, 0x90, 0x00]]);
        let r = exchange(&mut t, &read_binary_sfi(1, 0, 0x10)).unwrap();
        assert_eq!(r.data, [7, 8]);
        assert_eq!(t.sent[1], read_binary_sfi(1, 0, 2));
        // A second 6Cxx is not followed again.
        let mut t = Script::new(vec![&[0x6C, 0x02], &[0x6C, 0x01]]);
        assert_eq!(
            exchange(&mut t, &read_binary_sfi(1, 0, 0x10)).unwrap().sw,
            0x6C01
        );
        assert_eq!(t.sent.len(), 2);
    }

    #[test]
    fn read_ef_chunks_and_uses_offsets_after_the_first_sfi_read() {
        let chunk1 = [[0xAAu8; CHUNK].as_slice(), &[0x90, 0x00]].concat();
        let chunk2 = [[0xBBu8; 6].as_slice(), &[0x90, 0x00]].concat();
        let mut t = Script::new(vec![&chunk1, &chunk2]);
        let d = read_ef(&mut t, 0x01, 2, CHUNK + 6).unwrap();
        assert_eq!(d.len(), CHUNK + 6);
        assert_eq!(t.sent[0], read_binary_sfi(1, 2, CHUNK as u8));
        assert_eq!(t.sent[1], read_binary((2 + CHUNK) as u16, 6));
    }

    #[test]
    fn read_ef_beyond_255_makes_the_ef_current_first() {
        let mut t = Script::new(vec![&[0x00, 0x90, 0x00], &[1, 2, 3, 0x90, 0x00]]);
        let d = read_ef(&mut t, 0x02, 0x178, 3).unwrap();
        assert_eq!(d, [1, 2, 3]);
        assert_eq!(t.sent[0], read_binary_sfi(2, 0, 1));
        assert_eq!(t.sent[1], read_binary(0x178, 3));
    }

    #[test]
    fn read_ef_stops_at_end_of_file() {
        let mut t = Script::new(vec![&[1, 2, 0x62, 0x82]]);
        assert_eq!(read_ef(&mut t, 1, 0, 10).unwrap(), [1, 2]);
        let chunk1 = [[0u8; CHUNK].as_slice(), &[0x90, 0x00]].concat();
        let mut t = Script::new(vec![&chunk1, &[0x6B, 0x00]]);
        assert_eq!(read_ef(&mut t, 1, 0, 300).unwrap().len(), CHUNK);
        // 6B00 on the very first read is an error, not an empty file.
        let mut t = Script::new(vec![&[0x6B, 0x00]]);
        assert_eq!(
            read_ef(&mut t, 1, 0, 10),
            Err(CardError::Status {
                cmd: "READ BINARY",
                sw: 0x6B00
            })
        );
        // An empty 9000 answer ends the loop instead of spinning.
        let mut t = Script::new(vec![&[0x90, 0x00]]);
        assert_eq!(read_ef(&mut t, 1, 0, 10).unwrap(), Vec::<u8>::new());
    }

    #[test]
    fn read_ef_error_status_words() {
        for (sw, want) in [
            (
                [0x69, 0x82],
                CardError::Status {
                    cmd: "READ BINARY",
                    sw: 0x6982,
                },
            ),
            (
                [0x67, 0x00],
                CardError::Status {
                    cmd: "READ BINARY",
                    sw: 0x6700,
                },
            ),
            (
                [0x6A, 0x82],
                CardError::Status {
                    cmd: "READ BINARY",
                    sw: 0x6A82,
                },
            ),
            (
                [0x62, 0x81],
                CardError::Container("card reports corrupt data (6281)"),
            ),
        ] {
            let mut t = Script::new(vec![&sw]);
            assert_eq!(read_ef(&mut t, 1, 0, 10), Err(want));
        }
        // More data than asked is refused.
        let long = [[0u8; 11].as_slice(), &[0x90, 0x00]].concat();
        let mut t = Script::new(vec![&long]);
        assert!(matches!(
            read_ef(&mut t, 1, 0, 10),
            Err(CardError::Container(_))
        ));
        // Transport errors pass through.
        let mut t = Script::new(vec![&[]]);
        assert_eq!(
            read_ef(&mut t, 1, 0, 10),
            Err(CardError::ShortResponse { len: 0 })
        );
        // Offsets beyond 15 bits are refused before sending anything.
        let mut t = Script::new(vec![]);
        assert!(read_ef(&mut t, 1, 0x7FF0, 0x20).is_err());
        assert!(t.sent.is_empty());
    }
}
