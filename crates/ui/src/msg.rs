//! The one catalogue of UI text that originates in Rust, German and English
//! side by side. Text in `.slint` files goes through `@tr` and the gettext
//! catalogue instead; errors of the other crates bring their own
//! `UserMessage`.

use rettpad_text::{Notice, Text, UserMessage, t};

pub const SAVED: Text = t("gespeichert", "saved");
pub const CHECKING_THE_PIN: Text = t("PIN wird geprüft …", "Checking the PIN …");
pub const LOCKED_AFTER_INACTIVITY: Text = t(
    "Automatisch gesperrt (Inaktivität).",
    "Locked after inactivity.",
);
pub const RETRACTED_BY_USER: Text = t("vom Anwender zurückgezogen", "retracted by user");
pub const MISSION_CLOSED_WAITING_ENCRYPTED_FOR_UPL: Text = t(
    "Einsatz abgeschlossen – wartet verschlüsselt auf das Hochladen.",
    "Mission closed – waiting encrypted for upload.",
);
pub const NEW_VITAL_SIGNS: Text = t("Neue Messung", "New vital signs");
pub const NEW_FINDING: Text = t("Neuer Befund", "New finding");
pub const NEW_ENTRY: Text = t("Neuer Eintrag", "New entry");
pub const NEW_VITALS_THE_FIRST_INPUT_CREATES_THEM: Text = t(
    "Neue Messung: die erste Eingabe legt sie an.",
    "New vitals: the first input creates them.",
);
pub const NEW_ENTRY_THE_FIRST_INPUT_CREATES_IT: Text = t(
    "Neuer Eintrag: die erste Eingabe legt ihn an.",
    "New entry: the first input creates it.",
);
pub const UNNAMED_PATIENT: Text = t("Patient ohne Namen", "unnamed patient");
pub const INVALID_NUMBER: Text = t("Ungültige Zahl.", "Invalid number.");
pub const OPEN_A_MISSION_WITH_A_PATIENT_FIRST: Text = t(
    "Bitte zuerst einen Einsatz mit Patient öffnen.",
    "Open a mission with a patient first.",
);
pub const ECG_STRIP: Text = t("EKG-Streifen", "ECG strip");
pub const ECG_STRIP_WAITS_IT_GOES_TO_THE_NEXT_PATI: Text = t(
    "EKG-Streifen wartet: er kommt zum nächsten geöffneten Patienten.",
    "ECG strip waits: it goes to the next patient opened.",
);
pub const NO_10_S_OF_ECG_FROM_THE_DEVICE_YET: Text = t(
    "Noch keine 10 s EKG vom Gerät.",
    "No 10 s of ECG from the device yet.",
);
pub const DEVICE_CLOCK_OFF_BY: Text = t("Geräteuhr weicht ab:", "device clock off by");
pub const DEVICE_CLOCK: Text = t("Geräteuhr", "device clock");
pub const ALARM: Text = t("Alarm", "Alarm");
pub const IN_THE_RECORD: Text = t("Im Protokoll", "In the record");
pub const WAITING_NO_PATIENT_OPEN: Text =
    t("wartend (kein Patient offen)", "waiting (no patient open)");
pub const DROPPED: Text = t("verworfen", "dropped");
pub const NO_SHIFT_LOGGED_IN: Text = t("keine Schicht angemeldet", "no shift logged in");
pub const STORAGE_FULL: Text = t("Speicher voll!", "storage full!");
pub const OFF: Text = t("aus", "off");
pub const DEMO_MODE_PIN_1234: Text = t("Demo-Modus: PIN 1234", "Demo mode: PIN 1234");
pub const OPEN: Text = t("offen", "open");
pub const HANDED_OVER: Text = t("übergeben", "handed over");
pub const CLOSED_WAITING_FOR_UPLOAD: Text = t(
    "abgeschlossen – wartet auf Upload",
    "closed – waiting for upload",
);
pub const MORE_THAN_5_OPEN_MISSIONS_PLEASE_CLOSE_S: Text = t(
    "Mehr als 5 offene Einsätze: bitte abschließen.",
    "More than 5 open missions: please close some.",
);
pub const PAIRING_PIN_FROM_THE_TAG_NOT_SHOWN: Text = t(
    "Kopplungs-PIN: von der Karte (wird nicht angezeigt)",
    "Pairing PIN: from the tag (not shown)",
);
pub const ECG_STRIP_SAVED: Text = t("EKG-Streifen gespeichert", "ECG strip saved");
pub const CARD_READ_OPEN_A_MISSION_AND_PATIENT_TO: Text = t(
    "Karte gelesen. Zum Übernehmen Einsatz und Patient öffnen.",
    "Card read. Open a mission and patient to take it over.",
);
pub const CARD_DATA_IS_ALREADY_DOCUMENTED: Text = t(
    "Kartendaten sind bereits dokumentiert.",
    "Card data is already documented.",
);
pub const VITALS_TAKEN_FROM_THE_MONITOR: Text = t(
    "Vitalwerte vom Monitor übernommen",
    "Vitals taken from the monitor",
);
pub const NO_CURRENT_VALUES_FROM_THE_MONITOR_YET_P: Text = t(
    "Noch keine aktuellen Werte vom Monitor – bitte von Hand eingeben.",
    "No current values from the monitor yet – please enter by hand.",
);
pub const RENDERING_THE_PROTOCOL: Text = t("Protokoll wird erstellt …", "Rendering the protocol …");
pub const MISSION_NOT_FOUND: Text = t("Einsatz nicht gefunden.", "Mission not found.");

/// The status bar's pills: short, so the bar keeps its lock button.
pub mod pill {
    use rettpad_text::{Text, t};
    pub const PENDING: Text = t("…", "…");
    pub const SERVICE_DOWN: Text = t("Dienst aus", "service down");
    pub const NO_READER: Text = t("kein Leser", "no reader");
    pub const READY: Text = t("bereit", "ready");
    pub const CARD_IN: Text = t("Karte steckt", "card in");
    pub const CONNECTED: Text = t("verbunden", "connected");
    pub const CONNECTING: Text = t("verbindet …", "connecting …");
    pub const LINK_LOST: Text = t("getrennt", "link lost");
    pub const WRONG_DEVICE: Text = t("falsches Gerät!", "wrong device!");
    pub const NONE: Text = t("keine", "none");
    pub const REQUEST: Text = t("Anfrage!", "request!");
    pub const RUNNING: Text = t("läuft …", "running …");
    pub const NOT_SET_UP: Text = t("nicht eingerichtet", "not set up");
}

pub fn values_dropped(k: u64) -> Notice {
    Notice::new(
        format!("{k} Gerätewerte verworfen: Speicher voll."),
        format!("{k} device values dropped: storage full."),
    )
}

pub fn taken_from_card(n: usize, card: &str) -> Notice {
    Notice::new(
        format!("{n} Angaben von der {card} übernommen"),
        format!("{n} values taken from the {card}"),
    )
}

pub fn transfer_progress(done: u32, total: u32) -> Notice {
    Notice::new(
        format!("Übertragung {done} von {total} …"),
        format!("Transfer {done} of {total} …"),
    )
}

pub fn request_sent(call_sign: &str) -> Notice {
    Notice::new(
        format!("Anfrage an {call_sign} gesendet …"),
        format!("Request sent to {call_sign} …"),
    )
}

pub fn awaiting_confirmation(left_s: u64) -> Notice {
    Notice::new(
        format!("Warte auf Bestätigung am anderen Gerät (noch {left_s} s) …"),
        format!("Waiting for the other pad's confirmation ({left_s} s) …"),
    )
}

pub fn handover_request(from: &str, secs: i32) -> Notice {
    Notice::new(
        format!("Übergabe-Anfrage von {from} – zum Erlauben entsperren (noch {secs} s)"),
        format!("Handover request from {from} – unlock to allow ({secs} s)"),
    )
}

pub fn received_from(clock: &str, from: &str, events: u32) -> Notice {
    Notice::new(
        format!("{clock} Übernommen von {from} ({events} Einträge)"),
        format!("{clock} Received from {from} ({events} entries)"),
    )
}

pub fn device_paired(label: &str) -> Notice {
    Notice::new(
        format!("Gerät gekoppelt: {label}"),
        format!("Device paired: {label}"),
    )
}

pub fn replaces_device(label: &str) -> Notice {
    Notice::new(
        format!("Ersetzt das bisherige Gerät: {label}"),
        format!("Replaces the current device: {label}"),
    )
}

/// The upload pill of the status bar.
pub fn upload_pill(s: &rettpad_transfer::OutboxStatus) -> Notice {
    use rettpad_transfer::OutboxStatus as O;
    match s {
        O::Empty => Notice::new("bereit", "ready"),
        O::Waiting { count } => {
            Notice::new(format!("wartet ({count})"), format!("waiting ({count})"))
        }
        O::Sending { count } => {
            Notice::new(format!("sendet ({count})"), format!("sending ({count})"))
        }
        O::Done { sent } => {
            Notice::new(format!("✓ {sent} bestätigt"), format!("✓ {sent} confirmed"))
        }
        O::Error { reason, .. } => Notice::new(
            format!("Fehler: {}", reason.message(rettpad_text::Lang::De)),
            "error – retrying",
        ),
    }
}

/// The dispatch channel's pill: connected, or since when it is not.
pub fn dispatch_pill(connected: bool, since: &str) -> Notice {
    if connected {
        Notice::new("verbunden", "connected")
    } else {
        Notice::new(
            format!("getrennt seit {since}"),
            format!("offline since {since}"),
        )
    }
}

/// A new mission from the dispatch centre: number and keyword only (the
/// lock screen shows it, so never patient data).
pub fn dispatch_arrived(summary: &str) -> Notice {
    Notice::new(
        format!("Neuer Einsatz von der Leitstelle: {summary}"),
        format!("New mission from dispatch: {summary}"),
    )
}

pub const PRENOTIFIED: Text = t(
    "Voranmeldung an die Klinik gesendet.",
    "Pre-notice sent to the hospital.",
);
pub const DISPATCH_UPDATED: Text = t(
    "Leitstelle: Einsatzdaten aktualisiert.",
    "Dispatch: mission data updated.",
);
pub const DISPATCH_CANCELLED: Text = t(
    "Leitstelle: Einsatzabbruch – bitte Protokoll abschließen.",
    "Dispatch: mission cancelled – please close the protocol.",
);

/// "vor 3 s", "vor 2 min".
pub fn age(secs: i64) -> Notice {
    if secs < 120 {
        Notice::new(format!("vor {secs} s"), format!("{secs} s ago"))
    } else {
        let m = secs / 60;
        Notice::new(format!("vor {m} min"), format!("{m} min ago"))
    }
}

pub const REMOTE_UNLOCKED: Text = t(
    "Sperre durch den Betreiber aufgehoben. Bitte mit der PIN entsperren.",
    "The operator lifted the remote lock. Please unlock with the PIN.",
);

pub fn remote_locked(reason: &str) -> Notice {
    let why = if reason.is_empty() {
        String::new()
    } else {
        format!(" ({reason})")
    };
    Notice::new(
        format!("Gerät vom Betreiber gesperrt{why}. Die PIN entsperrt es nicht."),
        format!("Locked by the operator{why}. The PIN does not unlock it."),
    )
}

pub fn provisioned(parts: &str) -> Notice {
    Notice::new(
        format!("Konfiguration aktualisiert: {parts}. Eine neue PIN gilt ab der nächsten Sperre."),
        format!("Configuration updated: {parts}. A new PIN applies from the next lock."),
    )
}

/// The settings page's line about provisioning.
pub fn fleet_text(v: &rettpad_pad::fleet::FleetView) -> Notice {
    let parts = v
        .versions
        .iter()
        .map(|(p, n)| format!("{p} {n}"))
        .collect::<Vec<_>>()
        .join(", ");
    match (&v.org, parts.is_empty()) {
        (None, _) => Notice::new(
            "Keiner Organisation zugeordnet: Konfiguration nur aus der Datei.",
            "Not enrolled with an organisation: configuration from the file only.",
        ),
        (Some(o), true) => Notice::new(
            format!("Organisation {o}: noch kein Paket installiert."),
            format!("Organisation {o}: no package installed yet."),
        ),
        (Some(o), false) => Notice::new(
            format!("Organisation {o}: installiert {parts}."),
            format!("Organisation {o}: installed {parts}."),
        ),
    }
}

pub fn fleet_refused(at: &str, why: &str) -> Notice {
    Notice::new(
        format!("Zuletzt abgelehnt ({at}): {why}"),
        format!("Last refused ({at}): {why}"),
    )
}
