//! The BlueZ pairing agent: hands a paired device's PIN to bluetoothd.
//!
//! Two layers:
//! - [`PairingAgentPolicy`] (always built, no D-Bus): answers BlueZ's
//!   `org.bluez.Agent1` requests as plain Rust from the pad's known devices
//!   (address → PIN, SPP or BLE, and whether the crew is pairing it right
//!   now). Every answer is a [`Decision`] with English `Display` for logs
//!   and German [`Decision::message_de`] for the UI; neither ever holds the
//!   PIN.
//! - [`PairingAgent`] (cargo feature `bluez-agent`): registers a
//!   `bluer::agent::Agent` on the system D-Bus whose callbacks ask the
//!   policy, and [`PairingAgent::pair_device`] (`Device1.Pair`, then
//!   `Trusted = true`). Without the feature [`PairingAgent::start`] fails
//!   with [`BtPairError::NotBuilt`], so callers need no `cfg`.
//!
//! Policy, request by request (BlueZ `doc/org.bluez.Agent.rst`):
//! - `RequestPinCode` (legacy PIN pairing): the stored PIN of a known
//!   device. The PIN itself is the proof: a device that does not know it
//!   cannot pair. So it is answered without a pending pairing, too: an
//!   RFCOMM connect of the pad to a device whose bond was lost triggers it.
//! - `RequestPasskey` (SSP passkey entry): the stored PIN as a number, if
//!   it is 1–6 decimal digits (BlueZ takes 0–999999); otherwise refused.
//! - `DisplayPinCode` / `DisplayPasskey`: always refused. Both ask the pad
//!   to show a code that bluetoothd generated, for the user to type on the
//!   device; the pad never shows a PIN, and a generated code can never be
//!   the stored one, so "accept if equal" would only add a comparison with
//!   a secret for no real case.
//! - `RequestConfirmation` (SSP numeric comparison) and
//!   `RequestAuthorization` (incoming "just works"): the pad has no way to
//!   compare the six digits with the device's display, so this is no
//!   better than "just works" (no protection against a man in the middle).
//!   It is accepted only for a known device while the crew is pairing
//!   exactly that device ([`PairingAgentPolicy::set_expected`], set by
//!   `pair_device` for its duration): a device pushing its own pairing at
//!   any other time, or any unknown address, is refused. Medical devices
//!   without a keypad (DisplayYesNo / NoInputNoOutput) can pair no other
//!   way.
//! - `AuthorizeService`: known devices only, and only the service the pad
//!   uses: the Serial Port Profile UUID for SPP devices, the health
//!   services of [`super::ble_driver`] for BLE devices.
//!
//! Unknown addresses are always refused (`org.bluez.Error.Rejected`).

use super::pairing::{BtAddr, DeviceProtocol, PairingPin, PairingRecord};
use crate::DeviceConfig;
use std::fmt;

/// The Serial Port Profile UUID `00001101-0000-1000-8000-00805f9b34fb`.
pub const SPP_UUID: uuid::Uuid = sig_uuid(0x1101);

/// The GATT services the BLE driver reads: heart rate, blood pressure,
/// pulse oximeter, health thermometer, glucose, device information.
pub const BLE_SERVICES: [u16; 6] = [
    0x180D,
    0x1810,
    0x1822,
    0x1809,
    0x1808,
    super::ble_driver::SERVICE_DEVICE_INFORMATION,
];

/// A Bluetooth SIG 16-bit UUID in its 128-bit form.
pub const fn sig_uuid(short: u16) -> uuid::Uuid {
    uuid::Uuid::from_u128(((short as u128) << 96) | 0x0000_0000_0000_1000_8000_0080_5F9B_34FB)
}

/// A Bluetooth PIN is at most 16 bytes (BlueZ: 1–16 characters).
const PIN_MAX: usize = 16;

/// How the pad talks to a device, which decides the services it may use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeviceKind {
    /// Classic Bluetooth, Serial Port Profile (IntelliVue, Datex).
    Spp,
    /// Bluetooth LE health device.
    Ble,
}

/// One device the pad may pair with. `Debug` shows no PIN
/// ([`PairingPin`] is redacted).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KnownDevice {
    pub address: BtAddr,
    pub kind: DeviceKind,
    /// `None`: the device pairs without a PIN (SSP / BLE "just works").
    pub pin: Option<PairingPin>,
    /// The crew is pairing this device right now.
    pub expected: bool,
}

/// Which `org.bluez.Agent1` method asked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AgentRequest {
    RequestPinCode,
    DisplayPinCode,
    RequestPasskey,
    DisplayPasskey,
    RequestConfirmation,
    RequestAuthorization,
    AuthorizeService,
}

impl AgentRequest {
    pub fn name(self) -> &'static str {
        match self {
            AgentRequest::RequestPinCode => "RequestPinCode",
            AgentRequest::DisplayPinCode => "DisplayPinCode",
            AgentRequest::RequestPasskey => "RequestPasskey",
            AgentRequest::DisplayPasskey => "DisplayPasskey",
            AgentRequest::RequestConfirmation => "RequestConfirmation",
            AgentRequest::RequestAuthorization => "RequestAuthorization",
            AgentRequest::AuthorizeService => "AuthorizeService",
        }
    }
}

/// The answer to one agent request. Holds addresses and UUIDs only, never
/// a PIN or passkey.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    /// The stored PIN went to bluetoothd.
    PinGiven(BtAddr),
    /// The stored PIN went to bluetoothd as a numeric passkey.
    PasskeyGiven(BtAddr),
    /// Numeric comparison or "just works" accepted while pairing it.
    Confirmed(AgentRequest, BtAddr),
    /// A service of a known device.
    ServiceAuthorized(BtAddr, uuid::Uuid),
    /// Refused: the address is not one of the pad's devices.
    UnknownDevice(AgentRequest, BtAddr),
    /// Refused: the device has no PIN stored.
    NoPin(AgentRequest, BtAddr),
    /// Refused: the PIN is not 1–6 decimal digits, so it is no passkey.
    PinNotNumeric(BtAddr),
    /// Refused: the PIN is longer than BlueZ's 16 characters.
    PinTooLong(BtAddr),
    /// Refused: the pad never displays a code.
    NeverDisplay(AgentRequest, BtAddr),
    /// Refused: no pairing of this device is under way.
    NotExpected(AgentRequest, BtAddr),
    /// Refused: not a service the pad uses with this device.
    ServiceNotAllowed(BtAddr, uuid::Uuid),
}

impl Decision {
    pub fn accepted(&self) -> bool {
        matches!(
            self,
            Decision::PinGiven(_)
                | Decision::PasskeyGiven(_)
                | Decision::Confirmed(..)
                | Decision::ServiceAuthorized(..)
        )
    }

    /// The device the request was about.
    pub fn address(&self) -> BtAddr {
        match self {
            Decision::PinGiven(a)
            | Decision::PasskeyGiven(a)
            | Decision::Confirmed(_, a)
            | Decision::ServiceAuthorized(a, _)
            | Decision::UnknownDevice(_, a)
            | Decision::NoPin(_, a)
            | Decision::PinNotNumeric(a)
            | Decision::PinTooLong(a)
            | Decision::NeverDisplay(_, a)
            | Decision::NotExpected(_, a)
            | Decision::ServiceNotAllowed(a, _) => *a,
        }
    }

    /// German text for the UI (never the PIN).
    pub fn message_de(&self) -> String {
        match self {
            Decision::PinGiven(a) | Decision::PasskeyGiven(a) => {
                format!("Gerät {a}: Kopplungs-PIN an Bluetooth übergeben.")
            }
            Decision::Confirmed(_, a) => format!("Gerät {a}: Kopplung bestätigt."),
            Decision::ServiceAuthorized(a, _) => format!("Gerät {a}: Verbindung erlaubt."),
            Decision::UnknownDevice(_, a) => {
                format!(
                    "Kopplung abgelehnt: Gerät {a} ist nicht bekannt. Bitte Kopplungskarte auflegen."
                )
            }
            Decision::NoPin(_, a) => {
                format!("Kopplung abgelehnt: für Gerät {a} ist keine PIN hinterlegt.")
            }
            Decision::PinNotNumeric(a) => format!(
                "Kopplung abgelehnt: Gerät {a} verlangt einen Zahlencode, die hinterlegte PIN ist keiner."
            ),
            Decision::PinTooLong(a) => {
                format!("Kopplung abgelehnt: die hinterlegte PIN für Gerät {a} ist zu lang.")
            }
            Decision::NeverDisplay(_, a) => format!(
                "Kopplung abgelehnt: Gerät {a} verlangt eine Code-Anzeige auf dem Tablet; das Tablet zeigt keine PIN."
            ),
            Decision::NotExpected(_, a) => format!(
                "Kopplung abgelehnt: Gerät {a} will sich koppeln, ohne dass die Kopplung gestartet wurde."
            ),
            Decision::ServiceNotAllowed(a, _) => {
                format!("Verbindung abgelehnt: Gerät {a} fragt einen nicht benötigten Dienst an.")
            }
        }
    }
}

impl fmt::Display for Decision {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Decision::PinGiven(a) => write!(f, "RequestPinCode {a}: stored PIN given"),
            Decision::PasskeyGiven(a) => {
                write!(f, "RequestPasskey {a}: stored PIN given as passkey")
            }
            Decision::Confirmed(r, a) => {
                write!(
                    f,
                    "{} {a}: accepted (pairing of this device under way)",
                    r.name()
                )
            }
            Decision::ServiceAuthorized(a, u) => write!(f, "AuthorizeService {a} {u}: accepted"),
            Decision::UnknownDevice(r, a) => {
                write!(f, "{} {a}: rejected, unknown device", r.name())
            }
            Decision::NoPin(r, a) => write!(f, "{} {a}: rejected, no PIN stored", r.name()),
            Decision::PinNotNumeric(a) => {
                write!(
                    f,
                    "RequestPasskey {a}: rejected, stored PIN is not 1-6 digits"
                )
            }
            Decision::PinTooLong(a) => {
                write!(f, "RequestPinCode {a}: rejected, stored PIN longer than 16")
            }
            Decision::NeverDisplay(r, a) => {
                write!(
                    f,
                    "{} {a}: rejected, the pad never displays a code",
                    r.name()
                )
            }
            Decision::NotExpected(r, a) => {
                write!(f, "{} {a}: rejected, no pairing under way", r.name())
            }
            Decision::ServiceNotAllowed(a, u) => {
                write!(f, "AuthorizeService {a} {u}: rejected, service not used")
            }
        }
    }
}

/// A decision and, when accepted, the value for bluetoothd. `Debug` never
/// shows the value (it is the PIN).
#[derive(Clone, PartialEq, Eq)]
pub struct Answer<T> {
    pub decision: Decision,
    pub value: Option<T>,
}

impl<T> Answer<T> {
    fn refuse(decision: Decision) -> Self {
        Answer {
            decision,
            value: None,
        }
    }
}

impl<T> fmt::Debug for Answer<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Answer")
            .field("decision", &self.decision)
            .field("value", &self.value.as_ref().map(|_| "<redacted>"))
            .finish()
    }
}

/// The pad's devices and the rules of the module docs.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PairingAgentPolicy {
    devices: Vec<KnownDevice>,
}

impl PairingAgentPolicy {
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds or replaces the device with this address (not expected).
    pub fn add(&mut self, address: BtAddr, kind: DeviceKind, pin: Option<PairingPin>) {
        let pin = pin.filter(|p| !p.is_empty());
        self.devices.retain(|d| d.address != address);
        self.devices.push(KnownDevice {
            address,
            kind,
            pin,
            expected: false,
        });
    }

    /// Adds the device of a pairing record (tag or vault).
    pub fn add_record(&mut self, r: &PairingRecord) {
        let kind = match r.protocol {
            DeviceProtocol::Ble => DeviceKind::Ble,
            DeviceProtocol::IntelliVue | DeviceProtocol::Datex => DeviceKind::Spp,
        };
        self.add(r.address, kind, Some(r.pin.clone()));
    }

    /// Adds a configured device if it is a Bluetooth one (`address`, or an
    /// `rfcomm:`/`ble:` link); returns whether it was. TCP, simulator and
    /// tty links without an address are not Bluetooth devices.
    pub fn add_config(&mut self, c: &DeviceConfig) -> bool {
        let ble = c.protocol == DeviceProtocol::Ble || matches!(c.link, crate::DeviceLink::Ble(_));
        let from_link = c.link.bt_addr();
        let Some(address) = c.address.as_deref().and_then(BtAddr::parse).or(from_link) else {
            return false;
        };
        let kind = if ble {
            DeviceKind::Ble
        } else {
            DeviceKind::Spp
        };
        self.add(address, kind, c.pin.clone());
        true
    }

    /// A policy for every Bluetooth device among `configs`.
    pub fn from_configs(configs: &[DeviceConfig]) -> Self {
        let mut p = Self::new();
        for c in configs {
            p.add_config(c);
        }
        p
    }

    pub fn remove(&mut self, address: BtAddr) {
        self.devices.retain(|d| d.address != address);
    }

    pub fn devices(&self) -> &[KnownDevice] {
        &self.devices
    }

    pub fn is_known(&self, address: BtAddr) -> bool {
        self.device(address).is_some()
    }

    /// Marks a pairing of this device as under way (or over). Returns
    /// whether the device is known.
    pub fn set_expected(&mut self, address: BtAddr, expected: bool) -> bool {
        match self.devices.iter_mut().find(|d| d.address == address) {
            Some(d) => {
                d.expected = expected;
                true
            }
            None => false,
        }
    }

    fn device(&self, address: BtAddr) -> Option<&KnownDevice> {
        self.devices.iter().find(|d| d.address == address)
    }

    fn pin_of(&self, req: AgentRequest, addr: BtAddr) -> Result<&PairingPin, Decision> {
        let d = self
            .device(addr)
            .ok_or(Decision::UnknownDevice(req, addr))?;
        d.pin.as_ref().ok_or(Decision::NoPin(req, addr))
    }

    /// `RequestPinCode`: the stored PIN (legacy pairing).
    pub fn request_pin_code(&self, addr: BtAddr) -> Answer<PairingPin> {
        match self.pin_of(AgentRequest::RequestPinCode, addr) {
            Err(d) => Answer::refuse(d),
            Ok(pin) if pin.expose().len() > PIN_MAX => Answer::refuse(Decision::PinTooLong(addr)),
            Ok(pin) => Answer {
                decision: Decision::PinGiven(addr),
                value: Some(pin.clone()),
            },
        }
    }

    /// `RequestPasskey`: the stored PIN as 0–999999 if it is 1–6 digits.
    pub fn request_passkey(&self, addr: BtAddr) -> Answer<u32> {
        match self.pin_of(AgentRequest::RequestPasskey, addr) {
            Err(d) => Answer::refuse(d),
            Ok(pin) => {
                let p = pin.expose();
                let numeric = (1..=6).contains(&p.len()) && p.bytes().all(|b| b.is_ascii_digit());
                match p.parse::<u32>() {
                    Ok(v) if numeric => Answer {
                        decision: Decision::PasskeyGiven(addr),
                        value: Some(v),
                    },
                    _ => Answer::refuse(Decision::PinNotNumeric(addr)),
                }
            }
        }
    }

    /// `DisplayPinCode`: refused (see the module docs).
    pub fn display_pin_code(&self, addr: BtAddr) -> Decision {
        self.never_display(AgentRequest::DisplayPinCode, addr)
    }

    /// `DisplayPasskey`: refused (see the module docs).
    pub fn display_passkey(&self, addr: BtAddr) -> Decision {
        self.never_display(AgentRequest::DisplayPasskey, addr)
    }

    fn never_display(&self, req: AgentRequest, addr: BtAddr) -> Decision {
        if self.is_known(addr) {
            Decision::NeverDisplay(req, addr)
        } else {
            Decision::UnknownDevice(req, addr)
        }
    }

    /// `RequestConfirmation` (numeric comparison; the passkey is not
    /// looked at: the pad cannot compare it with the device's display).
    pub fn request_confirmation(&self, addr: BtAddr) -> Decision {
        self.while_pairing(AgentRequest::RequestConfirmation, addr)
    }

    /// `RequestAuthorization` (incoming "just works").
    pub fn request_authorization(&self, addr: BtAddr) -> Decision {
        self.while_pairing(AgentRequest::RequestAuthorization, addr)
    }

    fn while_pairing(&self, req: AgentRequest, addr: BtAddr) -> Decision {
        match self.device(addr) {
            None => Decision::UnknownDevice(req, addr),
            Some(d) if d.expected => Decision::Confirmed(req, addr),
            Some(_) => Decision::NotExpected(req, addr),
        }
    }

    /// `AuthorizeService`: SPP for SPP devices, the health services for BLE.
    pub fn authorize_service(&self, addr: BtAddr, service: uuid::Uuid) -> Decision {
        let Some(d) = self.device(addr) else {
            return Decision::UnknownDevice(AgentRequest::AuthorizeService, addr);
        };
        let allowed = match d.kind {
            DeviceKind::Spp => service == SPP_UUID,
            DeviceKind::Ble => BLE_SERVICES.iter().any(|&s| sig_uuid(s) == service),
        };
        if allowed {
            Decision::ServiceAuthorized(addr, service)
        } else {
            Decision::ServiceNotAllowed(addr, service)
        }
    }
}

/// Why pairing (or starting the agent) failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BtPairError {
    #[error("this build has no BlueZ pairing agent (cargo feature bluez-agent)")]
    NotBuilt,
    #[error("Bluetooth unavailable (no system D-Bus or no bluetoothd): {0}")]
    Unavailable(String),
    #[error("no Bluetooth adapter")]
    NoAdapter,
    #[error("Bluetooth adapter is off or not ready")]
    AdapterOff,
    #[error("device {0} is not one of the pad's devices")]
    UnknownDevice(BtAddr),
    #[error("device {0} not in range")]
    NotInRange(BtAddr),
    #[error("pairing with {0} rejected")]
    Rejected(BtAddr),
    #[error("pairing with {0} failed authentication (wrong PIN?)")]
    AuthFailed(BtAddr),
    #[error("pairing with {0} timed out")]
    TimedOut(BtAddr),
    #[error("a pairing is already in progress")]
    Busy,
    #[error("Bluetooth: {0}")]
    Failed(String),
}

impl BtPairError {
    /// German text for the UI.
    pub fn message_de(&self) -> String {
        match self {
            BtPairError::NotBuilt => {
                "Diese Programmversion kann Geräte nicht selbst koppeln. Gerät bitte von Hand koppeln.".into()
            }
            BtPairError::Unavailable(_) => {
                "Bluetooth nicht verfügbar (Bluetooth-Dienst läuft nicht).".into()
            }
            BtPairError::NoAdapter => "Bluetooth nicht verfügbar: kein Bluetooth-Adapter gefunden.".into(),
            BtPairError::AdapterOff => "Bluetooth ist ausgeschaltet.".into(),
            BtPairError::UnknownDevice(a) => {
                format!("Gerät {a} ist nicht bekannt. Bitte zuerst die Kopplungskarte auflegen.")
            }
            BtPairError::NotInRange(a) => {
                format!("Gerät {a} nicht in Reichweite. Gerät einschalten und näher heranbringen.")
            }
            BtPairError::Rejected(a) => format!("Kopplung mit Gerät {a} abgelehnt."),
            BtPairError::AuthFailed(a) => {
                format!("Kopplung mit Gerät {a} fehlgeschlagen (PIN falsch?).")
            }
            BtPairError::TimedOut(a) => {
                format!("Kopplung mit Gerät {a} dauerte zu lange. Bitte erneut versuchen.")
            }
            BtPairError::Busy => "Eine Kopplung läuft bereits. Bitte warten.".into(),
            BtPairError::Failed(_) => "Kopplung fehlgeschlagen.".into(),
        }
    }
}

#[cfg(feature = "bluez-agent")]
pub use bluez::PairingAgent;

/// How long one pairing before an RFCOMM connect may take (a search for
/// the device included).
pub const PAIR_BEFORE_CONNECT: std::time::Duration = std::time::Duration::from_secs(30);

/// The pad's one agent, shared by the app and the RFCOMM link.
static GLOBAL: std::sync::Mutex<Option<std::sync::Arc<PairingAgent>>> = std::sync::Mutex::new(None);
/// Serialises starts, so two callers never register two agents.
static STARTING: std::sync::Mutex<()> = std::sync::Mutex::new(());

/// The agent the app started, if any.
pub fn global() -> Option<std::sync::Arc<PairingAgent>> {
    GLOBAL.lock().unwrap_or_else(|e| e.into_inner()).clone()
}

/// Starts the pad's agent with the devices `f` adds, or, when it runs
/// already, lets `f` change its known devices. Blocks on D-Bus: call from
/// a worker thread. Without the `bluez-agent` feature: `NotBuilt`.
pub fn ensure_global(f: impl FnOnce(&mut PairingAgentPolicy)) -> Result<(), BtPairError> {
    let _one = STARTING.lock().unwrap_or_else(|e| e.into_inner());
    if let Some(a) = global() {
        a.update_policy(f);
        return Ok(());
    }
    let mut p = PairingAgentPolicy::new();
    f(&mut p);
    let a = PairingAgent::start(p)?;
    *GLOBAL.lock().unwrap_or_else(|e| e.into_inner()) = Some(std::sync::Arc::new(a));
    Ok(())
}

/// Called by the RFCOMM link before it connects: a device the agent knows
/// is paired and trusted first (at once when bonded already), so its PIN
/// comes from the pairing record and never from a person. Without a
/// running agent, or for a device it does not know, nothing happens.
pub fn pair_before_connect(addr: BtAddr) -> Result<(), BtPairError> {
    match global() {
        Some(a) if a.knows(addr) => a.pair_device(addr, PAIR_BEFORE_CONNECT),
        _ => Ok(()),
    }
}

/// Without cargo feature `bluez-agent`: the same API, every call fails
/// with [`BtPairError::NotBuilt`].
#[cfg(not(feature = "bluez-agent"))]
pub struct PairingAgent {
    _private: (),
}

#[cfg(not(feature = "bluez-agent"))]
impl PairingAgent {
    pub fn start(_policy: PairingAgentPolicy) -> Result<PairingAgent, BtPairError> {
        Err(BtPairError::NotBuilt)
    }

    pub fn update_policy(&self, _f: impl FnOnce(&mut PairingAgentPolicy)) {}

    pub fn pair_device(
        &self,
        _addr: BtAddr,
        _timeout: std::time::Duration,
    ) -> Result<(), BtPairError> {
        Err(BtPairError::NotBuilt)
    }

    pub fn recent_decisions(&self) -> Vec<Decision> {
        Vec::new()
    }

    pub fn knows(&self, _addr: BtAddr) -> bool {
        false
    }
}

#[cfg(feature = "bluez-agent")]
mod bluez {
    use super::{BtPairError, Decision, PairingAgentPolicy};
    use crate::pairing::BtAddr;
    use bluer::agent::{Agent, AgentHandle, ReqError, ReqResult};
    use bluer::{ErrorKind, InternalErrorKind};
    use std::collections::VecDeque;
    use std::future::Future;
    use std::pin::Pin;
    use std::sync::{Arc, Mutex, MutexGuard};
    use std::time::{Duration, Instant};

    /// Decisions kept for [`PairingAgent::recent_decisions`].
    const RECENT: usize = 16;
    /// How long `pair_device` looks for a device bluetoothd has not seen.
    const SEARCH_MAX: Duration = Duration::from_secs(10);

    struct Shared {
        policy: Mutex<PairingAgentPolicy>,
        recent: Mutex<VecDeque<Decision>>,
    }

    impl Shared {
        fn policy(&self) -> MutexGuard<'_, PairingAgentPolicy> {
            // A poisoned lock still holds a consistent list (no update
            // panics half-way); refusing everything would strand the crew.
            self.policy.lock().unwrap_or_else(|e| e.into_inner())
        }

        fn note(&self, d: &Decision) {
            if d.accepted() {
                tracing::info!(decision = %d, "bluetooth agent");
            } else {
                tracing::warn!(decision = %d, "bluetooth agent");
            }
            let mut r = self.recent.lock().unwrap_or_else(|e| e.into_inner());
            if r.len() == RECENT {
                r.pop_front();
            }
            r.push_back(d.clone());
        }

        fn verdict(&self, d: Decision) -> ReqResult<()> {
            self.note(&d);
            if d.accepted() {
                Ok(())
            } else {
                Err(ReqError::Rejected)
            }
        }
    }

    type Fut<T> = Pin<Box<dyn Future<Output = ReqResult<T>> + Send>>;

    fn addr(a: bluer::Address) -> BtAddr {
        BtAddr(a.0)
    }

    /// The registered agent. Drop it (or [`PairingAgent::stop`]) to
    /// unregister; bluetoothd also forgets it when the D-Bus connection
    /// closes.
    pub struct PairingAgent {
        shared: Arc<Shared>,
        handle: Option<AgentHandle>,
        session: bluer::Session,
        // Last: the runtime outlives the session and handle dropped above.
        rt: tokio::runtime::Runtime,
    }

    impl std::fmt::Debug for PairingAgent {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.debug_struct("PairingAgent")
                .field("policy", &*self.shared.policy())
                .finish_non_exhaustive()
        }
    }

    /// Marks a device as being paired for as long as it lives.
    struct Expecting<'a>(&'a Shared, BtAddr);

    impl Drop for Expecting<'_> {
        fn drop(&mut self) {
            self.0.policy().set_expected(self.1, false);
        }
    }

    fn unavailable(e: &bluer::Error) -> bool {
        match &e.kind {
            ErrorKind::Internal(InternalErrorKind::DBusConnectionLost)
            | ErrorKind::Internal(InternalErrorKind::Io(_)) => true,
            ErrorKind::Internal(InternalErrorKind::DBus(name)) => [
                "org.freedesktop.DBus.Error.ServiceUnknown",
                "org.freedesktop.DBus.Error.NameHasNoOwner",
                "org.freedesktop.DBus.Error.NoServer",
                "org.freedesktop.DBus.Error.FileNotFound",
                "org.freedesktop.DBus.Error.Disconnected",
                "org.freedesktop.DBus.Error.NoReply",
                "org.freedesktop.DBus.Error.Spawn.ServiceNotFound",
            ]
            .contains(&name.as_str()),
            _ => false,
        }
    }

    fn map_err(a: BtAddr, e: bluer::Error) -> BtPairError {
        if unavailable(&e) {
            return BtPairError::Unavailable(e.to_string());
        }
        match e.kind {
            ErrorKind::AuthenticationRejected | ErrorKind::AuthenticationCanceled => {
                BtPairError::Rejected(a)
            }
            ErrorKind::AuthenticationFailed => BtPairError::AuthFailed(a),
            ErrorKind::AuthenticationTimeout => BtPairError::TimedOut(a),
            ErrorKind::ConnectionAttemptFailed | ErrorKind::DoesNotExist | ErrorKind::NotFound => {
                BtPairError::NotInRange(a)
            }
            ErrorKind::InProgress => BtPairError::Busy,
            ErrorKind::NotReady => BtPairError::AdapterOff,
            _ => BtPairError::Failed(e.to_string()),
        }
    }

    fn start_err(e: bluer::Error) -> BtPairError {
        if unavailable(&e) {
            BtPairError::Unavailable(e.to_string())
        } else {
            BtPairError::Failed(e.to_string())
        }
    }

    fn agent(shared: &Arc<Shared>) -> Agent {
        let s = shared.clone();
        let request_pin_code: bluer::agent::RequestPinCodeFn =
            Box::new(move |r: bluer::agent::RequestPinCode| -> Fut<String> {
                let ans = s.policy().request_pin_code(addr(r.device));
                s.note(&ans.decision);
                // bluer wants a String; it leaves our zeroized buffer here.
                let v = ans.value.map(|p| p.expose().to_string());
                Box::pin(async move { v.ok_or(ReqError::Rejected) })
            });
        let s = shared.clone();
        let request_passkey: bluer::agent::RequestPasskeyFn =
            Box::new(move |r: bluer::agent::RequestPasskey| -> Fut<u32> {
                let ans = s.policy().request_passkey(addr(r.device));
                s.note(&ans.decision);
                let v = ans.value;
                Box::pin(async move { v.ok_or(ReqError::Rejected) })
            });
        let s = shared.clone();
        let display_pin_code: bluer::agent::DisplayPinCodeFn =
            Box::new(move |r: bluer::agent::DisplayPinCode| -> Fut<()> {
                // `r` holds the generated code: never logged, dropped here.
                let d = s.policy().display_pin_code(addr(r.device));
                let v = s.verdict(d);
                Box::pin(async move { v })
            });
        let s = shared.clone();
        let display_passkey: bluer::agent::DisplayPasskeyFn =
            Box::new(move |r: bluer::agent::DisplayPasskey| -> Fut<()> {
                let d = s.policy().display_passkey(addr(r.device));
                let v = s.verdict(d);
                Box::pin(async move { v })
            });
        let s = shared.clone();
        let request_confirmation: bluer::agent::RequestConfirmationFn =
            Box::new(move |r: bluer::agent::RequestConfirmation| -> Fut<()> {
                let d = s.policy().request_confirmation(addr(r.device));
                let v = s.verdict(d);
                Box::pin(async move { v })
            });
        let s = shared.clone();
        let request_authorization: bluer::agent::RequestAuthorizationFn =
            Box::new(move |r: bluer::agent::RequestAuthorization| -> Fut<()> {
                let d = s.policy().request_authorization(addr(r.device));
                let v = s.verdict(d);
                Box::pin(async move { v })
            });
        let s = shared.clone();
        let authorize_service: bluer::agent::AuthorizeServiceFn =
            Box::new(move |r: bluer::agent::AuthorizeService| -> Fut<()> {
                let d = s.policy().authorize_service(addr(r.device), r.service);
                let v = s.verdict(d);
                Box::pin(async move { v })
            });
        Agent {
            // Default agent: pairing that an RFCOMM connect triggers (not
            // our Pair call) reaches the default agent only.
            request_default: true,
            request_pin_code: Some(request_pin_code),
            display_pin_code: Some(display_pin_code),
            request_passkey: Some(request_passkey),
            display_passkey: Some(display_passkey),
            request_confirmation: Some(request_confirmation),
            request_authorization: Some(request_authorization),
            authorize_service: Some(authorize_service),
            ..Default::default()
        }
    }

    impl PairingAgent {
        /// Connects to the system D-Bus (`DBUS_SYSTEM_BUS_ADDRESS` or
        /// `/run/dbus/system_bus_socket`) and registers the agent with
        /// bluetoothd as the default agent (capability KeyboardDisplay).
        /// Call from a plain thread, not from inside an async runtime.
        pub fn start(policy: PairingAgentPolicy) -> Result<PairingAgent, BtPairError> {
            if tokio::runtime::Handle::try_current().is_ok() {
                return Err(BtPairError::Failed(
                    "PairingAgent::start called inside an async runtime".into(),
                ));
            }
            // One worker, so agent requests are served while no caller
            // is blocked in `pair_device`.
            let rt = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(1)
                .thread_name("bt-agent")
                .enable_all()
                .build()
                .map_err(|e| BtPairError::Failed(format!("runtime: {e}")))?;
            let shared = Arc::new(Shared {
                policy: Mutex::new(policy),
                recent: Mutex::new(VecDeque::new()),
            });
            let (session, handle) = rt.block_on(async {
                let session = bluer::Session::new().await.map_err(start_err)?;
                let handle = session
                    .register_agent(agent(&shared))
                    .await
                    .map_err(start_err)?;
                Ok::<_, BtPairError>((session, handle))
            })?;
            tracing::info!("bluetooth pairing agent registered");
            Ok(PairingAgent {
                shared,
                handle: Some(handle),
                session,
                rt,
            })
        }

        /// Changes the known devices (a new pairing tag, a removed one).
        pub fn update_policy(&self, f: impl FnOnce(&mut PairingAgentPolicy)) {
            f(&mut self.shared.policy());
        }

        /// Whether `a` is one of the pad's devices.
        pub fn knows(&self, a: BtAddr) -> bool {
            self.shared.policy().is_known(a)
        }

        /// The last decisions, oldest first (at most 16).
        pub fn recent_decisions(&self) -> Vec<Decision> {
            let r = self.shared.recent.lock().unwrap_or_else(|e| e.into_inner());
            r.iter().cloned().collect()
        }

        /// Pairs a known device through bluetoothd (our agent answers its
        /// requests) and marks it trusted, within `timeout`. A device that
        /// bluetoothd has not seen yet is searched for (at most 10 s).
        /// Already paired counts as success. Blocks; call from a worker
        /// thread, not the UI thread.
        pub fn pair_device(&self, a: BtAddr, timeout: Duration) -> Result<(), BtPairError> {
            if tokio::runtime::Handle::try_current().is_ok() {
                return Err(BtPairError::Failed(
                    "pair_device called inside an async runtime".into(),
                ));
            }
            if !self.shared.policy().set_expected(a, true) {
                tracing::warn!(device = %a, "pair_device refused: not one of the pad's devices");
                return Err(BtPairError::UnknownDevice(a));
            }
            let _expecting = Expecting(&self.shared, a);
            let deadline = Instant::now() + timeout;
            let r = self.rt.block_on(self.pair_async(a, deadline));
            match &r {
                Ok(()) => tracing::info!(device = %a, "bluetooth device paired and trusted"),
                Err(e) => tracing::warn!(device = %a, error = %e, "bluetooth pairing failed"),
            }
            r
        }

        async fn pair_async(&self, a: BtAddr, deadline: Instant) -> Result<(), BtPairError> {
            // Each D-Bus step is bounded by the caller's deadline (bluer's
            // own call timeout is 120 s).
            async fn step<T>(
                deadline: Instant,
                a: BtAddr,
                f: impl Future<Output = bluer::Result<T>>,
            ) -> Result<T, BtPairError> {
                match tokio::time::timeout_at(deadline.into(), f).await {
                    Err(_) => Err(BtPairError::TimedOut(a)),
                    Ok(r) => r.map_err(|e| map_err(a, e)),
                }
            }
            let adapter = match step(deadline, a, self.session.default_adapter()).await {
                Err(BtPairError::NotInRange(_)) => return Err(BtPairError::NoAdapter),
                r => r?,
            };
            let ba = bluer::Address::new(a.0);
            let seen = step(deadline, a, adapter.device_addresses()).await?;
            if !seen.contains(&ba) {
                let search = SEARCH_MAX.min(deadline.saturating_duration_since(Instant::now()));
                self.search(&adapter, ba, search).await?;
            }
            let dev = adapter.device(ba).map_err(|e| map_err(a, e))?;
            // Dropping the pair future on timeout cancels the pairing
            // (bluer sends CancelPairing).
            match tokio::time::timeout_at(deadline.into(), dev.pair()).await {
                Err(_) => return Err(BtPairError::TimedOut(a)),
                Ok(Ok(())) => {}
                Ok(Err(e)) if e.kind == ErrorKind::AlreadyExists => {}
                Ok(Err(e)) => return Err(map_err(a, e)),
            }
            step(deadline, a, dev.set_trusted(true)).await
        }

        async fn search(
            &self,
            adapter: &bluer::Adapter,
            ba: bluer::Address,
            limit: Duration,
        ) -> Result<(), BtPairError> {
            use futures::StreamExt;
            let a = BtAddr(ba.0);
            let found = async {
                let events = adapter
                    .discover_devices()
                    .await
                    .map_err(|e| map_err(a, e))?;
                futures::pin_mut!(events);
                while let Some(ev) = events.next().await {
                    if matches!(ev, bluer::AdapterEvent::DeviceAdded(x) if x == ba) {
                        return Ok(());
                    }
                }
                Err(BtPairError::NotInRange(a))
            };
            tokio::time::timeout(limit, found)
                .await
                .unwrap_or(Err(BtPairError::NotInRange(a)))
        }

        /// Unregisters the agent (bluer sends `UnregisterAgent` from a task;
        /// it gets 100 ms before the runtime stops).
        pub fn stop(mut self) {
            self.handle.take();
            // bluer unregisters on a task; give it its round trip.
            self.rt.block_on(async {
                tokio::time::sleep(Duration::from_millis(100)).await;
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const PIN: &str = "8642";

    fn monitor() -> BtAddr {
        BtAddr([0x00, 0x1B, 0xDC, 0x0F, 0x12, 0x34])
    }
    fn oximeter() -> BtAddr {
        BtAddr([0xC0, 0xFF, 0xEE, 0x00, 0x00, 0x01])
    }
    fn stranger() -> BtAddr {
        BtAddr([0xDE, 0xAD, 0xBE, 0xEF, 0x00, 0x42])
    }

    fn policy() -> PairingAgentPolicy {
        let mut p = PairingAgentPolicy::new();
        p.add_record(&super::super::pairing::sample_record());
        p.add(oximeter(), DeviceKind::Ble, None);
        p
    }

    #[test]
    fn pin_code_for_known_devices_only() {
        let p = policy();
        let a = p.request_pin_code(monitor());
        assert_eq!(a.decision, Decision::PinGiven(monitor()));
        assert_eq!(a.value.as_ref().map(PairingPin::expose), Some(PIN));
        let u = p.request_pin_code(stranger());
        assert_eq!(
            u.decision,
            Decision::UnknownDevice(AgentRequest::RequestPinCode, stranger())
        );
        assert!(u.value.is_none() && !u.decision.accepted());
        // A known device without a PIN gets none.
        let n = p.request_pin_code(oximeter());
        assert_eq!(
            n.decision,
            Decision::NoPin(AgentRequest::RequestPinCode, oximeter())
        );
    }

    #[test]
    fn too_long_pin_is_refused() {
        let mut p = PairingAgentPolicy::new();
        p.add(
            monitor(),
            DeviceKind::Spp,
            Some(PairingPin::new(&"7".repeat(17))),
        );
        assert_eq!(
            p.request_pin_code(monitor()).decision,
            Decision::PinTooLong(monitor())
        );
        p.add(
            monitor(),
            DeviceKind::Spp,
            Some(PairingPin::new(&"7".repeat(16))),
        );
        assert!(p.request_pin_code(monitor()).decision.accepted());
    }

    #[test]
    fn passkey_needs_one_to_six_digits() {
        let p = policy();
        let a = p.request_passkey(monitor());
        assert_eq!(
            (a.decision, a.value),
            (Decision::PasskeyGiven(monitor()), Some(8642))
        );
        for (pin, want) in [
            ("000000", Some(0)),
            ("999999", Some(999_999)),
            ("0042", Some(42)),
            ("1234567", None),
            ("12a4", None),
            ("+123", None),
            ("-1", None),
            (" 123", None),
            ("１２３", None),
            ("abcd", None),
        ] {
            let mut p = PairingAgentPolicy::new();
            p.add(monitor(), DeviceKind::Spp, Some(PairingPin::new(pin)));
            let a = p.request_passkey(monitor());
            assert_eq!(a.value, want, "{pin:?}");
            if want.is_none() {
                assert_eq!(a.decision, Decision::PinNotNumeric(monitor()), "{pin:?}");
            }
        }
        assert_eq!(
            p.request_passkey(stranger()).decision,
            Decision::UnknownDevice(AgentRequest::RequestPasskey, stranger())
        );
        assert_eq!(
            p.request_passkey(oximeter()).decision,
            Decision::NoPin(AgentRequest::RequestPasskey, oximeter())
        );
    }

    #[test]
    fn displays_are_always_refused() {
        let mut p = policy();
        p.set_expected(monitor(), true);
        for d in [p.display_pin_code(monitor()), p.display_passkey(monitor())] {
            assert!(
                matches!(d, Decision::NeverDisplay(_, a) if a == monitor()),
                "{d}"
            );
            assert!(!d.accepted());
        }
        assert!(matches!(
            p.display_passkey(stranger()),
            Decision::UnknownDevice(AgentRequest::DisplayPasskey, _)
        ));
    }

    #[test]
    fn confirmation_and_authorization_only_while_pairing_that_device() {
        let mut p = policy();
        for f in [
            PairingAgentPolicy::request_confirmation,
            PairingAgentPolicy::request_authorization,
        ] {
            assert!(matches!(f(&p, monitor()), Decision::NotExpected(..)));
            assert!(matches!(f(&p, stranger()), Decision::UnknownDevice(..)));
        }
        assert!(p.set_expected(monitor(), true));
        assert!(!p.set_expected(stranger(), true));
        assert_eq!(
            p.request_confirmation(monitor()),
            Decision::Confirmed(AgentRequest::RequestConfirmation, monitor())
        );
        assert!(p.request_authorization(monitor()).accepted());
        // Only that device.
        assert!(!p.request_confirmation(oximeter()).accepted());
        assert!(!p.request_confirmation(stranger()).accepted());
        p.set_expected(monitor(), false);
        assert!(!p.request_confirmation(monitor()).accepted());
    }

    #[test]
    fn services_by_device_kind() {
        let p = policy();
        assert_eq!(SPP_UUID.to_string(), "00001101-0000-1000-8000-00805f9b34fb");
        assert_eq!(
            p.authorize_service(monitor(), SPP_UUID),
            Decision::ServiceAuthorized(monitor(), SPP_UUID)
        );
        let hr = sig_uuid(0x180D);
        assert_eq!(hr.to_string(), "0000180d-0000-1000-8000-00805f9b34fb");
        assert!(!p.authorize_service(monitor(), hr).accepted());
        for s in BLE_SERVICES {
            assert!(
                p.authorize_service(oximeter(), sig_uuid(s)).accepted(),
                "{s:#x}"
            );
        }
        assert_eq!(
            p.authorize_service(oximeter(), SPP_UUID),
            Decision::ServiceNotAllowed(oximeter(), SPP_UUID)
        );
        // OBEX object push, HID: never.
        for s in [0x1105, 0x1124] {
            assert!(!p.authorize_service(monitor(), sig_uuid(s)).accepted());
        }
        assert_eq!(
            p.authorize_service(stranger(), SPP_UUID),
            Decision::UnknownDevice(AgentRequest::AuthorizeService, stranger())
        );
    }

    #[test]
    fn from_configuration() {
        let rec = super::super::pairing::sample_record();
        let mut tcp = rec.to_device_config("Sim");
        tcp.link = crate::DeviceLink::Tcp("127.0.0.1:7400".parse().unwrap());
        tcp.address = None;
        let mut ble = rec.to_device_config("Oxi");
        ble.link = crate::DeviceLink::Ble(oximeter());
        ble.protocol = DeviceProtocol::Ble;
        ble.address = None;
        ble.pin = None;
        let p = PairingAgentPolicy::from_configs(&[rec.to_device_config("Monitor"), tcp, ble]);
        assert_eq!(p.devices().len(), 2);
        assert_eq!(
            p.request_pin_code(monitor())
                .value
                .map(|x| x.expose().to_string()),
            Some(PIN.to_string())
        );
        assert!(p.authorize_service(oximeter(), sig_uuid(0x1822)).accepted());
        // Replacing a device keeps one entry; removing forgets it.
        let mut p = p;
        p.add(monitor(), DeviceKind::Spp, Some(PairingPin::new("1111")));
        assert_eq!(p.devices().len(), 2);
        p.remove(monitor());
        assert!(!p.is_known(monitor()));
    }

    #[test]
    fn no_pin_in_debug_or_display() {
        let mut p = policy();
        p.add(stranger(), DeviceKind::Spp, Some(PairingPin::new("424242")));
        p.set_expected(monitor(), true);
        let mut all = format!("{p:?}");
        let decisions = [
            p.request_pin_code(monitor()).decision,
            p.request_passkey(monitor()).decision,
            p.request_passkey(stranger()).decision,
            p.display_pin_code(monitor()),
            p.display_passkey(monitor()),
            p.request_confirmation(monitor()),
            p.request_authorization(oximeter()),
            p.authorize_service(monitor(), SPP_UUID),
            p.authorize_service(monitor(), sig_uuid(0x1105)),
            p.request_pin_code(oximeter()).decision,
            p.request_pin_code(BtAddr([8, 6, 4, 2, 8, 6])).decision,
        ];
        for d in &decisions {
            all += &format!("{d:?} {d} {}", d.message_de());
        }
        all += &format!(
            "{:?} {:?}",
            p.request_pin_code(monitor()),
            p.request_passkey(stranger())
        );
        for e in [
            BtPairError::Rejected(monitor()),
            BtPairError::AuthFailed(monitor()),
            BtPairError::NotInRange(monitor()),
            BtPairError::Unavailable("x".into()),
        ] {
            all += &format!("{e:?} {e} {}", e.message_de());
        }
        // The address 08:06:04:02:08:06 prints with colons, never as 8642.
        assert!(!all.contains(PIN), "{all}");
        assert!(!all.contains("424242"), "{all}");
        assert!(all.contains("redacted"));
    }

    #[test]
    fn german_texts() {
        assert!(
            BtPairError::Unavailable(String::new())
                .message_de()
                .contains("Bluetooth nicht verfügbar")
        );
        assert!(
            BtPairError::Rejected(monitor())
                .message_de()
                .contains("abgelehnt")
        );
        assert!(
            BtPairError::NotInRange(monitor())
                .message_de()
                .contains("nicht in Reichweite")
        );
        assert!(
            Decision::UnknownDevice(AgentRequest::RequestPinCode, stranger())
                .message_de()
                .contains("nicht bekannt")
        );
    }

    #[cfg(not(feature = "bluez-agent"))]
    #[test]
    fn without_the_feature_start_says_so() {
        assert!(matches!(
            PairingAgent::start(policy()),
            Err(BtPairError::NotBuilt)
        ));
    }
}
