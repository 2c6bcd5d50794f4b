//! IntelliVue Data Export PDUs (big-endian): the session layer
//! (association, release, abort) and the remote-operation layer (MDS create
//! event, single and extended polls, their results).
//!
//! Every length and count from the wire is checked against the bytes that
//! are actually there; a PDU that does not add up is an error, never a
//! partial result.

use super::super::ieee11073::{self, Reading};
use super::super::obs::{DeviceTime, alarm_text, civil_time};

// Session-layer SPDU types.
pub const CN_SPDU: u8 = 0x0D;
pub const AC_SPDU: u8 = 0x0E;
pub const RF_SPDU: u8 = 0x0C;
pub const FN_SPDU: u8 = 0x09;
pub const DN_SPDU: u8 = 0x0A;
pub const AB_SPDU: u8 = 0x19;

pub const SESSION_ID: u16 = 0xE100;
pub const P_CONTEXT_ID: u16 = 2;

pub const ROIV: u16 = 1;
pub const RORS: u16 = 2;
pub const ROER: u16 = 3;
pub const RORLS: u16 = 5;

pub const CMD_EVENT_REPORT: u16 = 0;
pub const CMD_CONFIRMED_EVENT_REPORT: u16 = 1;
pub const CMD_CONFIRMED_SET: u16 = 5;
pub const CMD_CONFIRMED_ACTION: u16 = 7;

pub const NOM_PART_OBJ: u16 = 1;
pub const NOM_MOC_VMO_METRIC_NU: u16 = 6;
pub const NOM_MOC_VMO_METRIC_SA_RT: u16 = 9;
pub const NOM_MOC_VMS_MDS: u16 = 33;
pub const NOM_MOC_VMO_AL_MON: u16 = 54;
pub const NOM_NOTI_MDS_CREAT: u16 = 0x0D06;
pub const NOM_ACT_POLL_MDIB_DATA: u16 = 0x0C16;
pub const NOM_ACT_POLL_MDIB_DATA_EXT: u16 = 0xF13B;

pub const NOM_ATTR_NU_CMPD_VAL_OBS: u16 = 0x094B;
pub const NOM_ATTR_NU_VAL_OBS: u16 = 0x0950;
pub const NOM_ATTR_ID_LABEL: u16 = 0x0924;
pub const NOM_ATTR_ID_MODEL: u16 = 0x0928;
pub const NOM_ATTR_ID_PROD_SPECN: u16 = 0x092D;
pub const NOM_ATTR_SA_CMPD_VAL_OBS: u16 = 0x0967;
pub const NOM_ATTR_SA_SPECN: u16 = 0x096D;
pub const NOM_ATTR_SA_VAL_OBS: u16 = 0x096E;
pub const NOM_ATTR_SCALE_SPECN_I16: u16 = 0x096F;
pub const NOM_ATTR_SYS_ID: u16 = 0x0984;
pub const NOM_ATTR_TIME_ABS: u16 = 0x0987;
pub const NOM_ATTR_TIME_PD_SAMP: u16 = 0x098D;
pub const NOM_ATTR_TIME_REL: u16 = 0x098F;
pub const NOM_ATTR_TIME_PD_POLL: u16 = 0xF13E;
/// TextIdList of the real-time sample arrays the monitor exports, in
/// priority order (settable with a confirmed SET on the MDS).
pub const NOM_ATTR_POLL_RTSA_PRIO_LIST: u16 = 0xF23A;
/// AttributeModEntry.modify_operator: replace the whole value.
pub const MOD_REPLACE: u16 = 0;

/// ProductionSpec entry: spec type "serial number", component "product".
pub const PROD_SPEC_SERIAL_NUMBER: u16 = 1;
pub const ID_COMP_PRODUCT: u16 = 8;

/// RelativeTime ticks per second (1 tick = 125 µs).
pub const TICKS_PER_SECOND: u32 = 8000;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PduError {
    #[error("PDU ends early at offset {at}")]
    Truncated { at: usize },
    #[error("PDU length field disagrees with its content at offset {at}")]
    BadLength { at: usize },
    #[error("unknown session PDU type {0:#04x}")]
    UnknownSpdu(u8),
    #[error("unexpected session id / context {0:#06x}")]
    BadSession(u16),
}

/// A bounds-checked big-endian reader.
#[derive(Debug, Clone, Copy)]
pub struct Rd<'a> {
    b: &'a [u8],
    pos: usize,
}

impl<'a> Rd<'a> {
    pub fn new(b: &'a [u8]) -> Self {
        Rd { b, pos: 0 }
    }
    pub fn remaining(&self) -> usize {
        self.b.len() - self.pos
    }
    pub fn take(&mut self, n: usize) -> Result<&'a [u8], PduError> {
        if self.remaining() < n {
            return Err(PduError::Truncated { at: self.pos });
        }
        let s = &self.b[self.pos..self.pos + n];
        self.pos += n;
        Ok(s)
    }
    pub fn u8(&mut self) -> Result<u8, PduError> {
        Ok(self.take(1)?[0])
    }
    pub fn u16(&mut self) -> Result<u16, PduError> {
        let s = self.take(2)?;
        Ok(u16::from_be_bytes([s[0], s[1]]))
    }
    pub fn u32(&mut self) -> Result<u32, PduError> {
        let s = self.take(4)?;
        Ok(u32::from_be_bytes([s[0], s[1], s[2], s[3]]))
    }
    /// A `length u16` followed by exactly that many bytes, as a sub-reader.
    pub fn sized(&mut self) -> Result<Rd<'a>, PduError> {
        let n = usize::from(self.u16()?);
        Ok(Rd::new(self.take(n)?))
    }
    pub fn rest(&mut self) -> &'a [u8] {
        let s = &self.b[self.pos..];
        self.pos = self.b.len();
        s
    }
    pub fn end(&self) -> Result<(), PduError> {
        if self.remaining() == 0 {
            Ok(())
        } else {
            Err(PduError::BadLength { at: self.pos })
        }
    }
}

fn put16(o: &mut Vec<u8>, v: u16) {
    o.extend_from_slice(&v.to_be_bytes());
}
fn put32(o: &mut Vec<u8>, v: u32) {
    o.extend_from_slice(&v.to_be_bytes());
}
/// Appends `length u16` + body. Bodies are built by our own encoders and
/// stay far below 64 KiB (frames are capped at 4 KiB).
fn put_sized(o: &mut Vec<u8>, body: &[u8]) {
    put16(o, u16::try_from(body.len()).unwrap_or(u16::MAX));
    o.extend_from_slice(body);
}

/// One attribute value assertion.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ava {
    pub id: u16,
    pub value: Vec<u8>,
}

impl Ava {
    pub fn new(id: u16, value: Vec<u8>) -> Ava {
        Ava { id, value }
    }
}

/// AttributeList = count u16, length u16, AVA{id u16, length u16, value}.
pub fn read_attr_list(r: &mut Rd<'_>) -> Result<Vec<Ava>, PduError> {
    let count = r.u16()?;
    let mut body = r.sized()?;
    let mut out = Vec::with_capacity(usize::from(count).min(64));
    for _ in 0..count {
        let id = body.u16()?;
        let v = body.sized()?;
        out.push(Ava {
            id,
            value: v.b.to_vec(),
        });
    }
    body.end()?;
    Ok(out)
}

pub fn write_attr_list(o: &mut Vec<u8>, attrs: &[Ava]) {
    let mut body = Vec::new();
    for a in attrs {
        put16(&mut body, a.id);
        put_sized(&mut body, &a.value);
    }
    put16(o, u16::try_from(attrs.len()).unwrap_or(u16::MAX));
    put_sized(o, &body);
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObservationPoll {
    pub handle: u16,
    pub attrs: Vec<Ava>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SingleContextPoll {
    pub context: u16,
    pub polls: Vec<ObservationPoll>,
}

/// A (single or extended) poll result.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PollReply {
    pub ext: bool,
    pub poll_number: u16,
    /// Extended polls only.
    pub sequence: Option<u16>,
    pub rel_time: u32,
    pub abs_time: [u8; 8],
    pub obj_partition: u16,
    pub obj_code: u16,
    pub attr_group: u16,
    pub contexts: Vec<SingleContextPoll>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PollRequest {
    pub ext: bool,
    pub poll_number: u16,
    pub obj_partition: u16,
    pub obj_code: u16,
    pub attr_group: u16,
    /// Extended polls: NOM_ATTR_TIME_PD_POLL, how long the monitor keeps
    /// sending (RelativeTime ticks).
    pub period_ticks: Option<u32>,
}

/// A decoded Data Export message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Pdu {
    AssociationRequest,
    AssociationAccept,
    AssociationRefuse,
    ReleaseRequest,
    ReleaseResponse,
    Abort,
    MdsCreateEvent {
        invoke_id: u16,
        event_time: u32,
        attrs: Vec<Ava>,
    },
    MdsCreateResult {
        invoke_id: u16,
    },
    PollRequest {
        invoke_id: u16,
        req: PollRequest,
    },
    PollReply {
        invoke_id: u16,
        /// RORLS linked state (1 first, 2 middle, 3 last) and count.
        linked: Option<(u8, u8)>,
        reply: PollReply,
    },
    /// Confirmed SET on the MDS: (modify operator, attribute) pairs.
    SetRequest {
        invoke_id: u16,
        mods: Vec<(u16, Ava)>,
    },
    /// The attributes as the monitor now holds them.
    SetResult {
        invoke_id: u16,
        attrs: Vec<Ava>,
    },
    Error {
        invoke_id: u16,
        error: u16,
    },
    /// A well-formed operation we do not act on.
    Other {
        ro_type: u16,
        command: u16,
    },
}

/// Session-layer length indicator: one byte, or FF + u16.
fn put_li(o: &mut Vec<u8>, n: usize) {
    if n < 255 {
        o.push(n as u8);
    } else {
        o.push(0xFF);
        put16(o, u16::try_from(n).unwrap_or(u16::MAX));
    }
}

fn read_li(r: &mut Rd<'_>) -> Result<usize, PduError> {
    let b = r.u8()?;
    if b == 0xFF {
        Ok(usize::from(r.u16()?))
    } else {
        Ok(usize::from(b))
    }
}

const SESSION_PARAMS: [u8; 14] = [
    0x05, 0x08, 0x13, 0x01, 0x00, 0x16, 0x01, 0x02, 0x80, 0x00, 0x14, 0x02, 0x00, 0x02,
];

/// The fixed ACSE/presentation part of the association request, up to the
/// user-information tag (Data Export guide, association request).
const PRES_PREFIX: [u8; 130] = [
    0x31, 0x80, 0xA0, 0x80, 0x80, 0x01, 0x01, 0x00, 0x00, 0xA2, 0x80, 0xA0, 0x03, 0x00, 0x00, 0x01,
    0xA4, 0x80, 0x30, 0x80, 0x02, 0x01, 0x01, 0x06, 0x04, 0x52, 0x01, 0x00, 0x01, 0x30, 0x80, 0x06,
    0x02, 0x51, 0x01, 0x00, 0x00, 0x00, 0x00, 0x30, 0x80, 0x02, 0x01, 0x02, 0x06, 0x0C, 0x2A, 0x86,
    0x48, 0xCE, 0x14, 0x02, 0x01, 0x00, 0x00, 0x00, 0x01, 0x01, 0x30, 0x80, 0x06, 0x0C, 0x2A, 0x86,
    0x48, 0xCE, 0x14, 0x02, 0x01, 0x00, 0x00, 0x00, 0x02, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
    0x61, 0x80, 0x30, 0x80, 0x02, 0x01, 0x01, 0xA0, 0x80, 0x60, 0x80, 0xA1, 0x80, 0x06, 0x0C, 0x2A,
    0x86, 0x48, 0xCE, 0x14, 0x02, 0x01, 0x00, 0x00, 0x00, 0x03, 0x01, 0x00, 0x00, 0xBE, 0x80, 0x28,
    0x80, 0x06, 0x0C, 0x2A, 0x86, 0x48, 0xCE, 0x14, 0x02, 0x01, 0x00, 0x00, 0x00, 0x01, 0x01, 0x02,
    0x01, 0x02,
];

/// Release request / response (fixed PDUs).
pub const RLRQ: [u8; 26] = [
    0x09, 0x18, 0xC1, 0x16, 0x61, 0x80, 0x30, 0x80, 0x02, 0x01, 0x01, 0xA0, 0x80, 0x62, 0x80, 0x80,
    0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
];
pub const RLRE: [u8; 26] = [
    0x0A, 0x18, 0xC1, 0x16, 0x61, 0x80, 0x30, 0x80, 0x02, 0x01, 0x01, 0xA0, 0x80, 0x63, 0x80, 0x80,
    0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
];

/// Poll profile parameters the host announces.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PollProfile {
    /// Minimum poll period (RelativeTime ticks).
    pub min_poll_period: u32,
    pub max_mtu_rx: u32,
    pub max_mtu_tx: u32,
    /// PollProfileExt options (0x88000000: 1-s numerics + RTSA waves).
    pub ext_options: u32,
}

impl Default for PollProfile {
    fn default() -> Self {
        PollProfile {
            min_poll_period: 1000,
            max_mtu_rx: 2500,
            max_mtu_tx: 1000,
            ext_options: 0x8800_0000,
        }
    }
}

/// MDSEUserInfoStd with one poll profile (+ PollProfileExt).
fn user_info(p: &PollProfile) -> Vec<u8> {
    let mut u = Vec::with_capacity(72);
    put32(&mut u, 0x8000_0000); // protocol version
    put32(&mut u, 0x4000_0000); // nomenclature version
    put32(&mut u, 0); // functional units
    put32(&mut u, 0x8000_0000); // system type: client
    put32(&mut u, 0x2000_0000); // startup mode: hot start
    put16(&mut u, 0); // option list: count
    put16(&mut u, 0); // length
    let mut prof = Vec::with_capacity(40);
    put32(&mut prof, 0x8000_0000); // poll profile revision
    put32(&mut prof, p.min_poll_period);
    put32(&mut prof, p.max_mtu_rx);
    put32(&mut prof, p.max_mtu_tx);
    put32(&mut prof, 0xFFFF_FFFF); // max bandwidth tx
    put32(&mut prof, 0x6000_0000); // options
    let mut ext = Vec::new();
    put32(&mut ext, p.ext_options);
    put16(&mut ext, 0);
    put16(&mut ext, 0);
    write_attr_list(&mut prof, &[Ava::new(0xF001, ext)]);
    // supported application profiles: one AVA, NOM_POLL_PROFILE_SUPPORT (1)
    write_attr_list(&mut u, &[Ava::new(0x0001, prof)]);
    u
}

fn session_pdu(spdu: u8, user: &[u8]) -> Vec<u8> {
    let mut pres_body = PRES_PREFIX.to_vec();
    pres_body.push(0x81);
    if user.len() < 128 {
        pres_body.push(user.len() as u8);
    } else {
        pres_body.push(0x82);
        pres_body.extend_from_slice(&u16::try_from(user.len()).unwrap_or(u16::MAX).to_be_bytes());
    }
    pres_body.extend_from_slice(user);
    pres_body.extend_from_slice(&[0; 16]);
    let mut pres = vec![0xC1];
    put_li(&mut pres, pres_body.len());
    pres.extend_from_slice(&pres_body);
    let mut out = vec![spdu];
    put_li(&mut out, SESSION_PARAMS.len() + pres.len());
    out.extend_from_slice(&SESSION_PARAMS);
    out.extend_from_slice(&pres);
    out
}

/// The association request the host sends first on the serial line.
pub fn association_request(p: &PollProfile) -> Vec<u8> {
    session_pdu(CN_SPDU, &user_info(p))
}

/// The simulator's association response: the same structure with the
/// monitor's poll profile (the host only checks the SPDU type and length).
pub fn association_accept(p: &PollProfile) -> Vec<u8> {
    session_pdu(AC_SPDU, &user_info(p))
}

fn session_type(payload: &[u8]) -> Result<Pdu, PduError> {
    let mut r = Rd::new(payload);
    let t = r.u8()?;
    let li = read_li(&mut r)?;
    if li != r.remaining() {
        return Err(PduError::BadLength { at: 1 });
    }
    Ok(match t {
        CN_SPDU => Pdu::AssociationRequest,
        AC_SPDU => Pdu::AssociationAccept,
        RF_SPDU => Pdu::AssociationRefuse,
        FN_SPDU => Pdu::ReleaseRequest,
        DN_SPDU => Pdu::ReleaseResponse,
        AB_SPDU => Pdu::Abort,
        other => return Err(PduError::UnknownSpdu(other)),
    })
}

/// Decodes one frame payload.
pub fn decode(payload: &[u8]) -> Result<Pdu, PduError> {
    let mut r = Rd::new(payload);
    let session = r.u16()?;
    if session != SESSION_ID {
        return session_type(payload);
    }
    let _ctx = r.u16()?;
    let ro_type = r.u16()?;
    let mut ro = r.sized()?;
    r.end()?;
    let linked = if ro_type == RORLS {
        Some((ro.u8()?, ro.u8()?))
    } else {
        None
    };
    let invoke_id = ro.u16()?;
    let command = ro.u16()?;
    if ro_type == ROER {
        return Ok(Pdu::Error {
            invoke_id,
            error: command,
        });
    }
    let mut body = ro.sized()?;
    ro.end()?;
    match (ro_type, command) {
        (ROIV, CMD_CONFIRMED_EVENT_REPORT) | (ROIV, CMD_EVENT_REPORT) => {
            let _obj = body.take(6)?;
            let event_time = body.u32()?;
            let event_type = body.u16()?;
            let mut info = body.sized()?;
            body.end()?;
            if event_type != NOM_NOTI_MDS_CREAT {
                return Ok(Pdu::Other { ro_type, command });
            }
            let _mds_obj = info.take(6)?;
            let attrs = read_attr_list(&mut info)?;
            info.end()?;
            Ok(Pdu::MdsCreateEvent {
                invoke_id,
                event_time,
                attrs,
            })
        }
        (RORS, CMD_CONFIRMED_EVENT_REPORT) => {
            let _obj = body.take(6)?;
            let _time = body.u32()?;
            let event_type = body.u16()?;
            let _info = body.sized()?;
            body.end()?;
            if event_type == NOM_NOTI_MDS_CREAT {
                Ok(Pdu::MdsCreateResult { invoke_id })
            } else {
                Ok(Pdu::Other { ro_type, command })
            }
        }
        (ROIV, CMD_CONFIRMED_ACTION) => {
            let _obj = body.take(6)?;
            let _scope = body.u32()?;
            let action = body.u16()?;
            let mut a = body.sized()?;
            body.end()?;
            let ext = match action {
                NOM_ACT_POLL_MDIB_DATA => false,
                NOM_ACT_POLL_MDIB_DATA_EXT => true,
                _ => return Ok(Pdu::Other { ro_type, command }),
            };
            let poll_number = a.u16()?;
            let obj_partition = a.u16()?;
            let obj_code = a.u16()?;
            let attr_group = a.u16()?;
            let period_ticks = if ext && a.remaining() > 0 {
                let attrs = read_attr_list(&mut a)?;
                attrs
                    .iter()
                    .find(|x| x.id == NOM_ATTR_TIME_PD_POLL)
                    .and_then(|x| be32(&x.value))
            } else {
                None
            };
            a.end()?;
            Ok(Pdu::PollRequest {
                invoke_id,
                req: PollRequest {
                    ext,
                    poll_number,
                    obj_partition,
                    obj_code,
                    attr_group,
                    period_ticks,
                },
            })
        }
        (RORS, CMD_CONFIRMED_ACTION) | (RORLS, CMD_CONFIRMED_ACTION) => {
            let _obj = body.take(6)?;
            let action = body.u16()?;
            let mut a = body.sized()?;
            body.end()?;
            let ext = match action {
                NOM_ACT_POLL_MDIB_DATA => false,
                NOM_ACT_POLL_MDIB_DATA_EXT => true,
                _ => return Ok(Pdu::Other { ro_type, command }),
            };
            let poll_number = a.u16()?;
            let sequence = if ext { Some(a.u16()?) } else { None };
            let rel_time = a.u32()?;
            let mut abs_time = [0u8; 8];
            abs_time.copy_from_slice(a.take(8)?);
            let obj_partition = a.u16()?;
            let obj_code = a.u16()?;
            let attr_group = a.u16()?;
            let n_ctx = a.u16()?;
            let mut list = a.sized()?;
            a.end()?;
            let mut contexts = Vec::with_capacity(usize::from(n_ctx).min(16));
            for _ in 0..n_ctx {
                let context = list.u16()?;
                let n_obs = list.u16()?;
                let mut obs = list.sized()?;
                let mut polls = Vec::with_capacity(usize::from(n_obs).min(64));
                for _ in 0..n_obs {
                    let handle = obs.u16()?;
                    let attrs = read_attr_list(&mut obs)?;
                    polls.push(ObservationPoll { handle, attrs });
                }
                obs.end()?;
                contexts.push(SingleContextPoll { context, polls });
            }
            list.end()?;
            Ok(Pdu::PollReply {
                invoke_id,
                linked,
                reply: PollReply {
                    ext,
                    poll_number,
                    sequence,
                    rel_time,
                    abs_time,
                    obj_partition,
                    obj_code,
                    attr_group,
                    contexts,
                },
            })
        }
        (ROIV, CMD_CONFIRMED_SET) => {
            let _obj = body.take(6)?;
            let _scope = body.u32()?;
            let count = body.u16()?;
            let mut list = body.sized()?;
            body.end()?;
            let mut mods = Vec::with_capacity(usize::from(count).min(16));
            for _ in 0..count {
                let op = list.u16()?;
                let id = list.u16()?;
                let v = list.sized()?;
                mods.push((
                    op,
                    Ava {
                        id,
                        value: v.b.to_vec(),
                    },
                ));
            }
            list.end()?;
            Ok(Pdu::SetRequest { invoke_id, mods })
        }
        (RORS, CMD_CONFIRMED_SET) => {
            let _obj = body.take(6)?;
            let attrs = read_attr_list(&mut body)?;
            body.end()?;
            Ok(Pdu::SetResult { invoke_id, attrs })
        }
        _ => Ok(Pdu::Other { ro_type, command }),
    }
}

fn data_pdu(
    ro_type: u16,
    linked: Option<(u8, u8)>,
    invoke_id: u16,
    command: u16,
    body: &[u8],
) -> Vec<u8> {
    let mut ro = Vec::with_capacity(body.len() + 8);
    if let Some((s, c)) = linked {
        ro.push(s);
        ro.push(c);
    }
    put16(&mut ro, invoke_id);
    put16(&mut ro, command);
    put_sized(&mut ro, body);
    let mut o = Vec::with_capacity(ro.len() + 8);
    put16(&mut o, SESSION_ID);
    put16(&mut o, P_CONTEXT_ID);
    put16(&mut o, ro_type);
    put_sized(&mut o, &ro);
    o
}

fn mds_object(o: &mut Vec<u8>) {
    put16(o, NOM_MOC_VMS_MDS);
    put16(o, 0);
    put16(o, 0);
}

/// Encodes a PDU. Session-layer PDUs other than release/abort are built
/// with [`association_request`] / [`association_accept`].
pub fn encode(p: &Pdu) -> Vec<u8> {
    match p {
        Pdu::AssociationRequest => association_request(&PollProfile::default()),
        Pdu::AssociationAccept => association_accept(&PollProfile::default()),
        Pdu::AssociationRefuse => {
            let mut v = RLRE.to_vec();
            v[0] = RF_SPDU;
            v
        }
        Pdu::ReleaseRequest => RLRQ.to_vec(),
        Pdu::ReleaseResponse => RLRE.to_vec(),
        Pdu::Abort => {
            let mut v = RLRE.to_vec();
            v[0] = AB_SPDU;
            v
        }
        Pdu::MdsCreateEvent {
            invoke_id,
            event_time,
            attrs,
        } => {
            let mut info = Vec::new();
            mds_object(&mut info);
            write_attr_list(&mut info, attrs);
            let mut b = Vec::new();
            mds_object(&mut b);
            put32(&mut b, *event_time);
            put16(&mut b, NOM_NOTI_MDS_CREAT);
            put_sized(&mut b, &info);
            data_pdu(ROIV, None, *invoke_id, CMD_CONFIRMED_EVENT_REPORT, &b)
        }
        Pdu::MdsCreateResult { invoke_id } => {
            let mut b = Vec::new();
            mds_object(&mut b);
            put32(&mut b, 0);
            put16(&mut b, NOM_NOTI_MDS_CREAT);
            put16(&mut b, 0);
            data_pdu(RORS, None, *invoke_id, CMD_CONFIRMED_EVENT_REPORT, &b)
        }
        Pdu::PollRequest { invoke_id, req } => {
            let mut a = Vec::new();
            put16(&mut a, req.poll_number);
            put16(&mut a, req.obj_partition);
            put16(&mut a, req.obj_code);
            put16(&mut a, req.attr_group);
            if req.ext {
                let attrs: Vec<Ava> = req
                    .period_ticks
                    .map(|t| Ava::new(NOM_ATTR_TIME_PD_POLL, t.to_be_bytes().to_vec()))
                    .into_iter()
                    .collect();
                write_attr_list(&mut a, &attrs);
            }
            let mut b = Vec::new();
            mds_object(&mut b);
            put32(&mut b, 0); // scope
            put16(
                &mut b,
                if req.ext {
                    NOM_ACT_POLL_MDIB_DATA_EXT
                } else {
                    NOM_ACT_POLL_MDIB_DATA
                },
            );
            put_sized(&mut b, &a);
            data_pdu(ROIV, None, *invoke_id, CMD_CONFIRMED_ACTION, &b)
        }
        Pdu::PollReply {
            invoke_id,
            linked,
            reply,
        } => {
            let mut list = Vec::new();
            for c in &reply.contexts {
                put16(&mut list, c.context);
                put16(&mut list, u16::try_from(c.polls.len()).unwrap_or(u16::MAX));
                let mut obs = Vec::new();
                for op in &c.polls {
                    put16(&mut obs, op.handle);
                    write_attr_list(&mut obs, &op.attrs);
                }
                put_sized(&mut list, &obs);
            }
            let mut a = Vec::new();
            put16(&mut a, reply.poll_number);
            if reply.ext {
                put16(&mut a, reply.sequence.unwrap_or(0));
            }
            put32(&mut a, reply.rel_time);
            a.extend_from_slice(&reply.abs_time);
            put16(&mut a, reply.obj_partition);
            put16(&mut a, reply.obj_code);
            put16(&mut a, reply.attr_group);
            put16(
                &mut a,
                u16::try_from(reply.contexts.len()).unwrap_or(u16::MAX),
            );
            put_sized(&mut a, &list);
            let mut b = Vec::new();
            mds_object(&mut b);
            put16(
                &mut b,
                if reply.ext {
                    NOM_ACT_POLL_MDIB_DATA_EXT
                } else {
                    NOM_ACT_POLL_MDIB_DATA
                },
            );
            put_sized(&mut b, &a);
            let ro_type = if linked.is_some() { RORLS } else { RORS };
            data_pdu(ro_type, *linked, *invoke_id, CMD_CONFIRMED_ACTION, &b)
        }
        Pdu::SetRequest { invoke_id, mods } => {
            let mut list = Vec::new();
            for (op, a) in mods {
                put16(&mut list, *op);
                put16(&mut list, a.id);
                put_sized(&mut list, &a.value);
            }
            let mut b = Vec::new();
            mds_object(&mut b);
            put32(&mut b, 0); // scope
            put16(&mut b, u16::try_from(mods.len()).unwrap_or(u16::MAX));
            put_sized(&mut b, &list);
            data_pdu(ROIV, None, *invoke_id, CMD_CONFIRMED_SET, &b)
        }
        Pdu::SetResult { invoke_id, attrs } => {
            let mut b = Vec::new();
            mds_object(&mut b);
            write_attr_list(&mut b, attrs);
            data_pdu(RORS, None, *invoke_id, CMD_CONFIRMED_SET, &b)
        }
        Pdu::Error { invoke_id, error } => {
            let mut o = Vec::new();
            put16(&mut o, SESSION_ID);
            put16(&mut o, P_CONTEXT_ID);
            put16(&mut o, ROER);
            let mut ro = Vec::new();
            put16(&mut ro, *invoke_id);
            put16(&mut ro, *error);
            put16(&mut ro, 0);
            put_sized(&mut o, &ro);
            o
        }
        Pdu::Other { ro_type, command } => data_pdu(*ro_type, None, 0, *command, &[]),
    }
}

fn be32(v: &[u8]) -> Option<u32> {
    let a: [u8; 4] = v.try_into().ok()?;
    Some(u32::from_be_bytes(a))
}

// ---- attribute values ----

/// NuObsValue: physio id, state, unit code, FLOAT value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NuObsValue {
    pub physio_id: u16,
    pub state: u16,
    pub unit_code: u16,
    pub value: Reading,
}

impl NuObsValue {
    pub fn read(r: &mut Rd<'_>) -> Result<NuObsValue, PduError> {
        Ok(NuObsValue {
            physio_id: r.u16()?,
            state: r.u16()?,
            unit_code: r.u16()?,
            value: ieee11073::float(r.u32()?),
        })
    }

    /// `None` if the value cannot be sent as FLOAT.
    pub fn write(&self, o: &mut Vec<u8>) -> Option<()> {
        let raw = ieee11073::encode_float(self.value)?;
        put16(o, self.physio_id);
        put16(o, self.state);
        put16(o, self.unit_code);
        put32(o, raw);
        Some(())
    }
}

/// Decodes NU_VAL_OBS (one value) or NU_CMPD_VAL_OBS (a list).
pub fn nu_values(a: &Ava) -> Result<Vec<NuObsValue>, PduError> {
    let mut r = Rd::new(&a.value);
    let out = match a.id {
        NOM_ATTR_NU_VAL_OBS => vec![NuObsValue::read(&mut r)?],
        NOM_ATTR_NU_CMPD_VAL_OBS => {
            let n = r.u16()?;
            let mut body = r.sized()?;
            let mut v = Vec::with_capacity(usize::from(n).min(16));
            for _ in 0..n {
                v.push(NuObsValue::read(&mut body)?);
            }
            body.end()?;
            v
        }
        _ => Vec::new(),
    };
    r.end()?;
    Ok(out)
}

/// SaObsValue: physio id, state, sample bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SaObsValue {
    pub physio_id: u16,
    pub state: u16,
    pub samples: Vec<u8>,
}

pub fn sa_values(a: &Ava) -> Result<Vec<SaObsValue>, PduError> {
    fn one(r: &mut Rd<'_>) -> Result<SaObsValue, PduError> {
        let physio_id = r.u16()?;
        let state = r.u16()?;
        let s = r.sized()?;
        Ok(SaObsValue {
            physio_id,
            state,
            samples: s.b.to_vec(),
        })
    }
    let mut r = Rd::new(&a.value);
    let out = match a.id {
        NOM_ATTR_SA_VAL_OBS => vec![one(&mut r)?],
        NOM_ATTR_SA_CMPD_VAL_OBS => {
            let n = r.u16()?;
            let mut body = r.sized()?;
            let mut v = Vec::with_capacity(usize::from(n).min(16));
            for _ in 0..n {
                v.push(one(&mut body)?);
            }
            body.end()?;
            v
        }
        _ => Vec::new(),
    };
    r.end()?;
    Ok(out)
}

pub fn sa_value_ava(v: &SaObsValue) -> Ava {
    let mut o = Vec::new();
    put16(&mut o, v.physio_id);
    put16(&mut o, v.state);
    put_sized(&mut o, &v.samples);
    Ava::new(NOM_ATTR_SA_VAL_OBS, o)
}

/// SaSpec: array size, sample size (bits), significant bits, flags.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SaSpec {
    pub array_size: u16,
    pub sample_bits: u8,
    pub significant_bits: u8,
    pub flags: u16,
}

impl SaSpec {
    pub fn parse(v: &[u8]) -> Result<SaSpec, PduError> {
        let mut r = Rd::new(v);
        let s = SaSpec {
            array_size: r.u16()?,
            sample_bits: r.u8()?,
            significant_bits: r.u8()?,
            flags: r.u16()?,
        };
        r.end()?;
        Ok(s)
    }
    pub fn ava(&self) -> Ava {
        let mut o = Vec::new();
        put16(&mut o, self.array_size);
        o.push(self.sample_bits);
        o.push(self.significant_bits);
        put16(&mut o, self.flags);
        Ava::new(NOM_ATTR_SA_SPECN, o)
    }
}

/// ScaleRangeSpec16.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ScaleSpec {
    pub lower_abs: Reading,
    pub upper_abs: Reading,
    pub lower_scaled: u16,
    pub upper_scaled: u16,
}

impl ScaleSpec {
    pub fn parse(v: &[u8]) -> Result<ScaleSpec, PduError> {
        let mut r = Rd::new(v);
        let s = ScaleSpec {
            lower_abs: ieee11073::float(r.u32()?),
            upper_abs: ieee11073::float(r.u32()?),
            lower_scaled: r.u16()?,
            upper_scaled: r.u16()?,
        };
        r.end()?;
        Ok(s)
    }
    pub fn ava(&self) -> Option<Ava> {
        let mut o = Vec::new();
        put32(&mut o, ieee11073::encode_float(self.lower_abs)?);
        put32(&mut o, ieee11073::encode_float(self.upper_abs)?);
        put16(&mut o, self.lower_scaled);
        put16(&mut o, self.upper_scaled);
        Some(Ava::new(NOM_ATTR_SCALE_SPECN_I16, o))
    }
}

pub fn u32_ava(id: u16, v: u32) -> Ava {
    Ava::new(id, v.to_be_bytes().to_vec())
}

pub fn attr_u32(a: &Ava) -> Option<u32> {
    be32(&a.value)
}

/// AbsoluteTime (8 BCD bytes: century, year, month, day, hour, minute,
/// second, hundredths). `None` if not BCD or not a valid date ("not
/// supported" monitors send 0xFF bytes).
pub fn abs_time(b: &[u8; 8]) -> Option<DeviceTime> {
    let mut d = [0u16; 8];
    for (i, &x) in b.iter().enumerate() {
        let (hi, lo) = (x >> 4, x & 0x0F);
        if hi > 9 || lo > 9 {
            return None;
        }
        d[i] = u16::from(hi * 10 + lo);
    }
    let year = d[0] * 100 + d[1];
    civil_time(
        year,
        d[2] as u8,
        d[3] as u8,
        d[4] as u8,
        d[5] as u8,
        d[6] as u8,
        d[7] * 10,
    )
}

pub fn encode_abs_time(t: DeviceTime) -> [u8; 8] {
    let ms = t.civil_ms;
    let days = ms.div_euclid(86_400_000);
    let rem = ms.rem_euclid(86_400_000);
    let (y, mo, d) = rettpad_record::value::civil_from_ms(days * 86_400_000);
    let bcd = |v: u32| -> u8 { ((((v / 10) % 10) << 4) | (v % 10)) as u8 };
    let y = u32::from(y);
    [
        bcd(y / 100),
        bcd(y % 100),
        bcd(u32::from(mo)),
        bcd(u32::from(d)),
        bcd((rem / 3_600_000) as u32),
        bcd(((rem / 60_000) % 60) as u32),
        bcd(((rem / 1000) % 60) as u32),
        bcd(((rem % 1000) / 10) as u32),
    ]
}

/// VariableLabel: length u16 + bytes; trailing NULs trimmed, non-printable
/// characters replaced.
fn variable_label(r: &mut Rd<'_>) -> Result<String, PduError> {
    let s = r.sized()?;
    let raw = s.b;
    let end = raw.iter().rposition(|&c| c != 0).map_or(0, |i| i + 1);
    Ok(raw[..end]
        .iter()
        .map(|&c| {
            if c.is_ascii_graphic() || c == b' ' {
                c as char
            } else {
                '?'
            }
        })
        .collect())
}

fn put_label(o: &mut Vec<u8>, s: &str) {
    let mut b = s.as_bytes().to_vec();
    if b.len() % 2 == 1 {
        b.push(0);
    }
    put_sized(o, &b);
}

/// SystemModel: manufacturer and model number.
pub fn system_model(v: &[u8]) -> Result<(String, String), PduError> {
    let mut r = Rd::new(v);
    let m = variable_label(&mut r)?;
    let n = variable_label(&mut r)?;
    r.end()?;
    Ok((m, n))
}

pub fn system_model_ava(manufacturer: &str, model: &str) -> Ava {
    let mut o = Vec::new();
    put_label(&mut o, manufacturer);
    put_label(&mut o, model);
    Ava::new(NOM_ATTR_ID_MODEL, o)
}

/// The product serial number from a ProductionSpec.
pub fn serial_number(v: &[u8]) -> Result<Option<String>, PduError> {
    let mut r = Rd::new(v);
    let n = r.u16()?;
    let mut body = r.sized()?;
    r.end()?;
    let mut serial = None;
    for _ in 0..n {
        let spec_type = body.u16()?;
        let component = body.u16()?;
        let label = variable_label(&mut body)?;
        if spec_type == PROD_SPEC_SERIAL_NUMBER && component == ID_COMP_PRODUCT {
            serial = Some(label);
        }
    }
    body.end()?;
    Ok(serial)
}

pub fn serial_number_ava(serial: &str) -> Ava {
    let mut entry = Vec::new();
    put16(&mut entry, PROD_SPEC_SERIAL_NUMBER);
    put16(&mut entry, ID_COMP_PRODUCT);
    put_label(&mut entry, serial);
    let mut o = Vec::new();
    put16(&mut o, 1);
    put_sized(&mut o, &entry);
    Ava::new(NOM_ATTR_ID_PROD_SPECN, o)
}

/// Entries accepted in a TextIdList; a priority list holds at most 11.
pub const MAX_TEXT_IDS: usize = 64;

/// TextIdList = count u16, length u16, TextId u32 × count.
pub fn text_id_list(v: &[u8]) -> Result<Vec<u32>, PduError> {
    let mut r = Rd::new(v);
    let count = usize::from(r.u16()?);
    let mut body = r.sized()?;
    r.end()?;
    if count > MAX_TEXT_IDS || body.remaining() != count * 4 {
        return Err(PduError::BadLength { at: 2 });
    }
    let mut out = Vec::with_capacity(count);
    for _ in 0..count {
        out.push(body.u32()?);
    }
    Ok(out)
}

pub fn text_id_list_ava(id: u16, ids: &[u32]) -> Ava {
    let mut body = Vec::with_capacity(ids.len() * 4);
    for t in ids {
        put32(&mut body, *t);
    }
    let mut v = Vec::with_capacity(body.len() + 4);
    put16(&mut v, u16::try_from(ids.len()).unwrap_or(u16::MAX));
    put_sized(&mut v, &body);
    Ava::new(id, v)
}

// ---- alert monitor (NOM_MOC_VMO_AL_MON) ----
//
// Layouts: Philips Data Export Interface Programming Guide (DevAlarmList,
// DevAlarmEntry, StrAlMonInfo, AlertType, AlertState, String), as carried
// in OpenICE `mdpnp/mdpnp` devices/philips/.../intellivue/data/
// {DevAlarmList,DevAlarmEntry,AlMonInfo,StrAlMonInfo,String,AlertType,
// AlertState,AlertFlags}.java and cross-checked with the Go port
// `Koshsky/Intellivue-api` pkg/intellivue/base/String.go (String = byte
// length u16 + UTF-16BE code units with a terminating NUL; Philips
// private-use glyphs such as U+E40D "alarm star").

/// Active patient alarms (DevAlarmList).
pub const NOM_ATTR_AL_MON_P_AL_LIST: u16 = 0x0902;
/// Active technical alarms (INOPs) (DevAlarmList).
pub const NOM_ATTR_AL_MON_T_AL_LIST: u16 = 0x0904;
/// `alert_info_id`: AlMonGenInfo follows (no text).
pub const GEN_ALMON_INFO: u16 = 513;
/// `alert_info_id`: StrAlMonInfo follows (with the alarm text).
pub const STR_ALMON_INFO: u16 = 516;

/// AlertType bits: technical (T) and patient (P) alarms, three priorities.
pub const LOW_PRI_T_AL: u16 = 0x0001;
pub const MED_PRI_T_AL: u16 = 0x0002;
pub const HI_PRI_T_AL: u16 = 0x0004;
pub const LOW_PRI_P_AL: u16 = 0x0100;
pub const MED_PRI_P_AL: u16 = 0x0200;
pub const HI_PRI_P_AL: u16 = 0x0400;

/// NOM_EVT_ECG_V_FIB_TACHY (events partition): "***VFIB/VTACH".
pub const NOM_EVT_ECG_V_FIB_TACHY: u16 = 61_444;
/// NOM_EVT_ST_MULTI (events partition): ST alarm in several leads.
pub const NOM_EVT_ST_MULTI: u16 = 61_756;

/// Entries per alarm list accepted; a monitor shows far fewer at once.
pub const MAX_ALARMS_PER_LIST: usize = 32;

/// AlMonGenInfo / StrAlMonInfo (the text only in the latter).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AlMonInfo {
    pub inst_no: u16,
    /// TextId of the alarm text in the monitor's label table.
    pub text_id: u32,
    pub priority: u16,
    pub flags: u16,
    /// `Some` for StrAlMonInfo: the text as the monitor shows it, cleaned.
    pub text: Option<String>,
}

/// One active alarm (DevAlarmEntry).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DevAlarmEntry {
    /// OIDType from the SCADA or object partition: what alarms.
    pub source: u16,
    /// OIDType from the events partition: why.
    pub code: u16,
    /// AlertType bits (priority, patient vs technical).
    pub al_type: u16,
    /// AlertState bits (inhibited, latched, …).
    pub state: u16,
    /// ManagedObjectId of the alarming object: class, context, handle.
    pub object: (u16, u16, u16),
    /// `None` when the monitor sent an info block we do not know (skipped).
    pub info: Option<AlMonInfo>,
}

/// A Philips String: UTF-16BE up to the first NUL, private-use glyphs
/// mapped, then cleaned by [`alarm_text`].
pub fn decode_string(r: &mut Rd<'_>) -> Result<String, PduError> {
    let mut s = r.sized()?;
    if s.remaining() % 2 != 0 {
        return Err(PduError::BadLength { at: s.pos });
    }
    let mut units = Vec::with_capacity(s.remaining() / 2);
    while s.remaining() > 0 {
        match s.u16()? {
            0 => break,
            u => units.push(u),
        }
    }
    Ok(alarm_text(
        char::decode_utf16(units)
            .map(|c| c.unwrap_or(char::REPLACEMENT_CHARACTER))
            .map(|c| match c {
                '\u{E40D}' => '*',
                '\u{E145}' => 'E',
                '\u{E14C}' => 'L',
                '\u{FEFF}' => ' ',
                c => c,
            }),
    ))
}

fn put_string(o: &mut Vec<u8>, s: &str) {
    let mut b = Vec::with_capacity(s.len() * 2 + 2);
    for u in s.encode_utf16() {
        put16(&mut b, u);
    }
    put16(&mut b, 0);
    put_sized(o, &b);
}

impl DevAlarmEntry {
    fn read(r: &mut Rd<'_>) -> Result<DevAlarmEntry, PduError> {
        let source = r.u16()?;
        let code = r.u16()?;
        let al_type = r.u16()?;
        let state = r.u16()?;
        let object = (r.u16()?, r.u16()?, r.u16()?);
        let info_id = r.u16()?;
        // The info block is bounded by its own length: trailing bytes in it
        // are tolerated, bytes beyond it never read.
        let mut body = r.sized()?;
        let info = match info_id {
            GEN_ALMON_INFO | STR_ALMON_INFO => Some(AlMonInfo {
                inst_no: body.u16()?,
                text_id: body.u32()?,
                priority: body.u16()?,
                flags: body.u16()?,
                text: if info_id == STR_ALMON_INFO {
                    Some(decode_string(&mut body)?)
                } else {
                    None
                },
            }),
            _ => None,
        };
        Ok(DevAlarmEntry {
            source,
            code,
            al_type,
            state,
            object,
            info,
        })
    }

    fn write(&self, o: &mut Vec<u8>) {
        put16(o, self.source);
        put16(o, self.code);
        put16(o, self.al_type);
        put16(o, self.state);
        put16(o, self.object.0);
        put16(o, self.object.1);
        put16(o, self.object.2);
        let mut body = Vec::new();
        let id = match &self.info {
            None => 0,
            Some(i) => {
                put16(&mut body, i.inst_no);
                put32(&mut body, i.text_id);
                put16(&mut body, i.priority);
                put16(&mut body, i.flags);
                match &i.text {
                    Some(t) => {
                        put_string(&mut body, t);
                        STR_ALMON_INFO
                    }
                    None => GEN_ALMON_INFO,
                }
            }
        };
        put16(o, id);
        put_sized(o, &body);
    }
}

/// Decodes a DevAlarmList (count u16, length u16, entries). More than
/// [`MAX_ALARMS_PER_LIST`] entries is refused as implausible.
pub fn alarm_list(v: &[u8]) -> Result<Vec<DevAlarmEntry>, PduError> {
    let mut r = Rd::new(v);
    let n = usize::from(r.u16()?);
    if n > MAX_ALARMS_PER_LIST {
        return Err(PduError::BadLength { at: 0 });
    }
    let mut body = r.sized()?;
    r.end()?;
    let mut out = Vec::with_capacity(n);
    for _ in 0..n {
        out.push(DevAlarmEntry::read(&mut body)?);
    }
    body.end()?;
    Ok(out)
}

/// A DevAlarmList attribute (`id` = P_AL_LIST or T_AL_LIST).
pub fn alarm_list_ava(id: u16, entries: &[DevAlarmEntry]) -> Ava {
    let mut body = Vec::new();
    for e in entries {
        e.write(&mut body);
    }
    let mut o = Vec::new();
    put16(&mut o, u16::try_from(entries.len()).unwrap_or(u16::MAX));
    put_sized(&mut o, &body);
    Ava::new(id, o)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ieee11073::Decimal;

    fn hex(s: &str) -> Vec<u8> {
        s.split_whitespace()
            .map(|h| u8::from_str_radix(h, 16).unwrap())
            .collect()
    }

    #[test]
    fn the_rtsa_priority_set_has_the_guides_layout_and_round_trips() {
        // SPpdu, ROIV, CMD_CONFIRMED_SET, MDS object + scope, one
        // AttributeModEntry REPLACE of 0xF23A = TextIdList [ECG II].
        let set = Pdu::SetRequest {
            invoke_id: 1,
            mods: vec![(
                MOD_REPLACE,
                text_id_list_ava(NOM_ATTR_POLL_RTSA_PRIO_LIST, &[0x0002_0102]),
            )],
        };
        let wire = encode(&set);
        assert_eq!(
            wire,
            hex(
                "E1 00 00 02 00 01 00 22 00 01 00 05 00 1C 00 21 00 00 00 00 00 00 00 00 \
                 00 01 00 0E 00 00 F2 3A 00 08 00 01 00 04 00 02 01 02"
            )
        );
        assert_eq!(decode(&wire), Ok(set));
        let res = Pdu::SetResult {
            invoke_id: 1,
            attrs: vec![text_id_list_ava(
                NOM_ATTR_POLL_RTSA_PRIO_LIST,
                &[0x0002_0102, 0x0002_4BB4],
            )],
        };
        let wire = encode(&res);
        assert_eq!(
            wire,
            hex(
                "E1 00 00 02 00 02 00 20 00 01 00 05 00 1A 00 21 00 00 00 00 \
                 00 01 00 10 F2 3A 00 0C 00 02 00 08 00 02 01 02 00 02 4B B4"
            )
        );
        assert_eq!(decode(&wire), Ok(res));
        // A truncated SET is refused, not half-read.
        let set_wire = encode(&Pdu::SetRequest {
            invoke_id: 2,
            mods: vec![(
                MOD_REPLACE,
                Ava::new(NOM_ATTR_POLL_RTSA_PRIO_LIST, vec![0; 8]),
            )],
        });
        for cut in 1..set_wire.len() {
            assert!(decode(&set_wire[..cut]).is_err(), "cut at {cut}");
        }
    }

    #[test]
    fn text_id_lists_must_add_up() {
        assert_eq!(
            text_id_list(&hex("00 02 00 08 00 02 01 02 00 02 4B B4")),
            Ok(vec![0x0002_0102, 0x0002_4BB4])
        );
        assert!(text_id_list(&hex("00 02 00 04 00 02 01 02")).is_err());
        assert!(text_id_list(&hex("00 01 00 04 00 02 01")).is_err());
        assert!(text_id_list(&hex("00 01 00 04 00 02 01 02 FF")).is_err());
        assert_eq!(text_id_list(&hex("00 00 00 00")), Ok(vec![]));
    }

    #[test]
    fn association_request_matches_the_published_message() {
        // The 236-byte association request with a 125 ms poll period, MTU
        // rx 2500 / tx 1000 and PollProfileExt 0x88000000 (as published in
        // VSCaptureMP `aarq_msg_wave_ext_poll`, used as a cross-check).
        let want = hex(
            "0D EC 05 08 13 01 00 16 01 02 80 00 14 02 00 02 C1 DC 31 80 A0 80 80 01 01 00 00 A2 80 A0 03 00 \
             00 01 A4 80 30 80 02 01 01 06 04 52 01 00 01 30 80 06 02 51 01 00 00 00 00 30 80 02 01 02 06 0C \
             2A 86 48 CE 14 02 01 00 00 00 01 01 30 80 06 0C 2A 86 48 CE 14 02 01 00 00 00 02 01 00 00 00 00 \
             00 00 61 80 30 80 02 01 01 A0 80 60 80 A1 80 06 0C 2A 86 48 CE 14 02 01 00 00 00 03 01 00 00 BE \
             80 28 80 06 0C 2A 86 48 CE 14 02 01 00 00 00 01 01 02 01 02 81 48 80 00 00 00 40 00 00 00 00 00 \
             00 00 80 00 00 00 20 00 00 00 00 00 00 00 00 01 00 2C 00 01 00 28 80 00 00 00 00 00 03 E8 00 00 \
             09 C4 00 00 03 E8 FF FF FF FF 60 00 00 00 00 01 00 0C F0 01 00 08 88 00 00 00 00 00 00 00 00 00 \
             00 00 00 00 00 00 00 00 00 00 00 00 00 00",
        );
        assert_eq!(association_request(&PollProfile::default()), want);
        assert_eq!(decode(&want), Ok(Pdu::AssociationRequest));
    }

    #[test]
    fn mds_create_result_matches_the_doc_bytes_except_time() {
        let got = encode(&Pdu::MdsCreateResult { invoke_id: 1 });
        let want = hex(
            "E1 00 00 02 00 02 00 14 00 01 00 01 00 0E 00 21 00 00 00 00 00 00 00 00 0D 06 00 00",
        );
        assert_eq!(got, want);
        assert_eq!(decode(&got), Ok(Pdu::MdsCreateResult { invoke_id: 1 }));
    }

    #[test]
    fn ext_poll_request_vector() {
        let want = hex(
            "E1 00 00 02 00 01 00 28 00 01 00 07 00 22 00 21 00 00 00 00 00 00 00 00 F1 3B 00 14 00 01 00 01 00 06 00 00 00 01 00 08 F1 3E 00 04 00 03 A9 80",
        );
        let p = Pdu::PollRequest {
            invoke_id: 1,
            req: PollRequest {
                ext: true,
                poll_number: 1,
                obj_partition: NOM_PART_OBJ,
                obj_code: NOM_MOC_VMO_METRIC_NU,
                attr_group: 0,
                period_ticks: Some(240_000),
            },
        };
        assert_eq!(encode(&p), want);
        assert_eq!(decode(&want), Ok(p));
    }

    #[test]
    fn nu_obs_value_vectors() {
        let cases = [
            (
                "41 82 00 00 0A A0 00 00 00 48",
                16_770,
                2720,
                Decimal::new(72, 0),
            ),
            (
                "4B B8 00 00 02 20 FF 00 03 CF",
                19_384,
                544,
                Decimal::new(975, -1),
            ),
            (
                "4A 05 00 00 0F 20 00 00 00 78",
                18_949,
                3872,
                Decimal::new(120, 0),
            ),
            (
                "50 B0 00 00 0F 20 00 00 00 26",
                20_656,
                3872,
                Decimal::new(38, 0),
            ),
        ];
        for (h, physio, unit, val) in cases {
            let b = hex(h);
            let v = NuObsValue::read(&mut Rd::new(&b)).unwrap();
            assert_eq!(
                (v.physio_id, v.unit_code, v.value),
                (physio, unit, Reading::Value(val))
            );
            let mut o = Vec::new();
            v.write(&mut o).unwrap();
            assert_eq!(o, b);
        }
        let b = hex("41 82 80 00 0A A0 00 7F FF FF");
        let v = NuObsValue::read(&mut Rd::new(&b)).unwrap();
        assert_eq!((v.state, v.value), (0x8000, Reading::NaN));
    }

    #[test]
    fn poll_reply_round_trip_and_length_checks() {
        let mut nu = Vec::new();
        NuObsValue {
            physio_id: 16_770,
            state: 0,
            unit_code: 2720,
            value: Reading::Value(Decimal::new(72, 0)),
        }
        .write(&mut nu)
        .unwrap();
        let p = Pdu::PollReply {
            invoke_id: 7,
            linked: Some((1, 1)),
            reply: PollReply {
                ext: true,
                poll_number: 3,
                sequence: Some(9),
                rel_time: 123_456,
                abs_time: [0x20, 0x24, 0x03, 0x15, 0x10, 0x30, 0x00, 0x00],
                obj_partition: NOM_PART_OBJ,
                obj_code: NOM_MOC_VMO_METRIC_NU,
                attr_group: 0,
                contexts: vec![SingleContextPoll {
                    context: 0,
                    polls: vec![ObservationPoll {
                        handle: 42,
                        attrs: vec![Ava::new(NOM_ATTR_NU_VAL_OBS, nu)],
                    }],
                }],
            },
        };
        let bytes = encode(&p);
        // action type sits at offset 22 in a RORLS (20 in a RORS)
        assert_eq!(&bytes[22..24], &[0xF1, 0x3B]);
        assert_eq!(decode(&bytes), Ok(p));
        for cut in 0..bytes.len() {
            assert!(decode(&bytes[..cut]).is_err(), "cut {cut}");
        }
        let mut longer = bytes.clone();
        longer.push(0);
        assert!(decode(&longer).is_err());
    }

    #[test]
    fn abs_time_bcd() {
        let t = abs_time(&[0x20, 0x24, 0x03, 0x15, 0x10, 0x30, 0x05, 0x50]).unwrap();
        assert_eq!(t, civil_time(2024, 3, 15, 10, 30, 5, 500).unwrap());
        assert_eq!(
            encode_abs_time(t),
            [0x20, 0x24, 0x03, 0x15, 0x10, 0x30, 0x05, 0x50]
        );
        assert_eq!(abs_time(&[0xFF; 8]), None);
        assert_eq!(abs_time(&[0x20, 0x24, 0x13, 0x15, 0, 0, 0, 0]), None);
    }

    #[test]
    fn identity_attributes_round_trip() {
        let a = system_model_ava("Philips", "MP50");
        assert_eq!(
            system_model(&a.value),
            Ok(("Philips".into(), "MP50".into()))
        );
        let s = serial_number_ava("DE12345678");
        assert_eq!(serial_number(&s.value), Ok(Some("DE12345678".into())));
    }

    fn vf_entry() -> DevAlarmEntry {
        DevAlarmEntry {
            source: 16_770,
            code: NOM_EVT_ECG_V_FIB_TACHY,
            al_type: HI_PRI_P_AL,
            state: 0x0008,
            object: (NOM_MOC_VMO_METRIC_NU, 0, 1),
            info: Some(AlMonInfo {
                inst_no: 1,
                text_id: 0x0002_4182,
                priority: 0,
                flags: 0x4000,
                text: Some("***VFIB".into()),
            }),
        }
    }

    #[test]
    fn alarm_list_vector_and_round_trip() {
        // count 1, length 46; DevAlarmEntry: source 0x4182, code 0xF004,
        // type HI_PRI_P_AL, state NEW_ALERT, object (6, 0, 1),
        // STR_ALMON_INFO (0x0204), length 28: inst 1, text id, priority 0,
        // flags BEDSIDE_AUDIBLE, String length 16 = "***VFIB" + NUL (UTF-16BE).
        let want = hex("00 01 00 2E \
             41 82 F0 04 04 00 00 08 00 06 00 00 00 01 02 04 00 1C \
             00 01 00 02 41 82 00 00 40 00 \
             00 10 00 2A 00 2A 00 2A 00 56 00 46 00 49 00 42 00 00");
        let a = alarm_list_ava(NOM_ATTR_AL_MON_P_AL_LIST, &[vf_entry()]);
        assert_eq!(a.value, want);
        assert_eq!(alarm_list(&want), Ok(vec![vf_entry()]));
        // General info (no text) and an unknown info block survive too.
        let mut gen_ = vf_entry();
        gen_.info.as_mut().unwrap().text = None;
        let mut unknown = vf_entry();
        unknown.info = None;
        let list = vec![vf_entry(), gen_, unknown];
        let a = alarm_list_ava(NOM_ATTR_AL_MON_T_AL_LIST, &list);
        assert_eq!(alarm_list(&a.value), Ok(list));
        assert_eq!(alarm_list(&hex("00 00 00 00")), Ok(vec![]));
    }

    #[test]
    fn alarm_lists_that_do_not_add_up_are_refused() {
        let good = alarm_list_ava(NOM_ATTR_AL_MON_P_AL_LIST, &[vf_entry(), vf_entry()]).value;
        for cut in 0..good.len() {
            assert!(alarm_list(&good[..cut]).is_err(), "cut {cut}");
        }
        let mut longer = good.clone();
        longer.push(0);
        assert!(alarm_list(&longer).is_err());
        // count says 3, body holds 2
        let mut b = good.clone();
        b[1] = 3;
        assert!(alarm_list(&b).is_err());
        // more entries than the cap, even if the bytes were there
        let many = vec![vf_entry(); MAX_ALARMS_PER_LIST + 1];
        let a = alarm_list_ava(NOM_ATTR_AL_MON_P_AL_LIST, &many);
        assert!(alarm_list(&a.value).is_err());
        let ok = vec![vf_entry(); MAX_ALARMS_PER_LIST];
        let a = alarm_list_ava(NOM_ATTR_AL_MON_P_AL_LIST, &ok);
        assert_eq!(
            alarm_list(&a.value).map(|v| v.len()),
            Ok(MAX_ALARMS_PER_LIST)
        );
        // a String of odd byte length
        let mut odd = hex(
            "00 01 00 21 41 82 F0 04 04 00 00 00 00 06 00 00 00 01 02 04 00 0F \
             00 01 00 00 00 00 00 00 00 00 00 03 00 41 00",
        );
        assert!(alarm_list(&odd).is_err());
        odd[3] = 0x1E;
        assert!(alarm_list(&odd).is_err());
    }

    #[test]
    fn alarm_text_glyphs_and_controls() {
        // U+E40D alarm star ×3, "VF", BEL, then text after the NUL ignored
        let b = hex("00 10 E4 0D E4 0D E4 0D 00 56 00 46 00 07 00 00 00 58");
        assert_eq!(decode_string(&mut Rd::new(&b)), Ok("***VF".into()));
        let long: String = "A".repeat(100);
        let mut e = vf_entry();
        e.info.as_mut().unwrap().text = Some(long);
        let a = alarm_list_ava(NOM_ATTR_AL_MON_P_AL_LIST, &[e]);
        let got = alarm_list(&a.value).unwrap();
        let text = got[0].info.as_ref().unwrap().text.as_ref().unwrap();
        assert_eq!(text.len(), 64);
        // unpaired surrogate: replaced, not a panic
        let b = hex("00 04 D8 00 00 41");
        assert_eq!(decode_string(&mut Rd::new(&b)), Ok("\u{FFFD}A".into()));
    }

    mod props {
        use super::*;
        use proptest::prelude::*;

        proptest! {
            #![proptest_config(ProptestConfig::with_cases(256))]

            #[test]
            fn decode_never_panics(b in prop::collection::vec(any::<u8>(), 0..200)) {
                let _ = decode(&b);
            }

            #[test]
            fn priority_lists_round_trip(
                ids in prop::collection::vec(any::<u32>(), 0..=MAX_TEXT_IDS),
                invoke_id in any::<u16>(),
            ) {
                let ava = text_id_list_ava(NOM_ATTR_POLL_RTSA_PRIO_LIST, &ids);
                prop_assert_eq!(text_id_list(&ava.value), Ok(ids.clone()));
                let set = Pdu::SetRequest { invoke_id, mods: vec![(MOD_REPLACE, ava.clone())] };
                prop_assert_eq!(decode(&encode(&set)), Ok(set));
                let res = Pdu::SetResult { invoke_id, attrs: vec![ava] };
                prop_assert_eq!(decode(&encode(&res)), Ok(res));
            }

            #[test]
            fn alarm_list_never_panics(b in prop::collection::vec(any::<u8>(), 0..300)) {
                let _ = alarm_list(&b);
            }

            #[test]
            fn decode_never_panics_on_data_pdus(tail in prop::collection::vec(any::<u8>(), 0..200)) {
                let mut b = vec![0xE1, 0x00, 0x00, 0x02];
                b.extend_from_slice(&tail);
                let _ = decode(&b);
            }
        }
    }
}
