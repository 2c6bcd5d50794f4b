//! Devices from the configuration and from pairing tags: the tag's
//! confirmation, the stored pairing, starting and replacing a supervisor.

use super::*;
use rettpad_pad::config::CardReader;
use rettpad_pad::pairing_store::protocol_label;

impl Controller {
    /// "Koppeln": the tag's device replaces the current one, now and after
    /// a restart (kept encrypted in the vault). Values already due from the
    /// old device are recorded first.
    pub(crate) fn pair_accept(&mut self) {
        let Some(rec) = self.card.pair_offer.take() else {
            return;
        };
        let (dc, saved) = rettpad_pad::pairing_store::save(self.pad.store(), &rec);
        self.poll_peripherals();
        // The agent learns the PIN before the new link's first connect.
        teach_bt_agent(vec![dc.clone()]);
        self.replace_device(&dc);
        match saved {
            Ok(()) => {
                self.set_toast(msg::device_paired(&dc.label).message(self.lang), false);
            }
            Err(n) => self.set_toast(n.message(self.lang), true),
        }
    }

    /// Stops the current device's supervisor and starts `d`'s. Strips and
    /// values still waiting for the vault stay queued.
    pub(crate) fn replace_device(&mut self, d: &rettpad_devices::DeviceConfig) {
        self.dev.rx = None;
        if let Some(old) = self.dev._keep.take() {
            // Stopping joins the supervisor thread, which may sit in a link
            // timeout (an RFCOMM connect takes up to 10 s): not on the UI
            // thread.
            match old.downcast::<rettpad_devices::supervisor::Supervisor>() {
                Ok(sup) => {
                    let _ = std::thread::Builder::new()
                        .name("device-stop".into())
                        .spawn(move || drop(sup));
                }
                Err(other) => drop(other),
            }
        }
        self.dev.live = None;
        self.dev.state = None;
        self.start_configured_device(d);
    }

    pub(crate) fn start_configured_device(&mut self, d: &rettpad_devices::DeviceConfig) {
        match start_device(d, self.pad.clock().clone()) {
            Ok((rx, keep)) => self.attach_device(&d.label, rx, Some(keep)),
            Err(e) => {
                tracing::error!(error = %e, "device supervisor not started");
                self.dev.label = d.label.clone();
                self.dev.intake.set_device(&d.label);
                self.dev.state = Some(DeviceState::LinkLost {
                    reason: rettpad_text::t("Gerät nicht eingerichtet", "device not set up"),
                    retry_in_ms: 0,
                });
            }
        }
    }

    /// The device paired by tag earlier, from the vault; `None` when there
    /// is none or it cannot be read (logged; configuration applies then).
    pub(crate) fn paired_from_vault(&self) -> Option<rettpad_devices::DeviceConfig> {
        rettpad_pad::pairing_store::load(self.pad.store())
    }

    /// The lines of the pairing dialog. The PIN is never shown.
    pub(crate) fn pair_lines(&self, rec: &PairingRecord) -> Vec<String> {
        let de = self.lang == Lang::De;
        let mut lines = vec![format!(
            "{}: {}",
            if de { "Gerät" } else { "Device" },
            protocol_label(rec.protocol)
        )];
        if let Some(m) = &rec.model {
            lines.push(format!("{}: {m}", if de { "Modell" } else { "Model" }));
        }
        if let Some(sn) = &rec.serial {
            lines.push(format!(
                "{}: {sn}",
                if de { "Seriennummer" } else { "Serial number" }
            ));
        }
        lines.push(format!(
            "{}: {}",
            if de {
                "Bluetooth-Adresse"
            } else {
                "Bluetooth address"
            },
            rec.address
        ));
        if !rec.pin.is_empty() {
            lines.push(msg::PAIRING_PIN_FROM_THE_TAG_NOT_SHOWN.message(self.lang));
        }
        if !self.dev.label.is_empty() {
            lines.push(msg::replaces_device(&self.dev.label).message(self.lang));
        }
        lines
    }
}

impl Controller {
    /// Starts what the configuration names: the card watcher (or the demo
    /// card) and the first paired device's supervisor (or the in-process
    /// simulator). Failures are logged and shown in the status bar; the
    /// app keeps running without the peripheral.
    pub fn attach_from_config(&mut self) {
        self.attach_handover_from_config();
        match self.pad.config().card_reader {
            CardReader::Sim => self.attach_sim_card(),
            CardReader::Pcsc => {
                let (tx, rx) = std::sync::mpsc::channel();
                let mut wc = rettpad_pad::watcher::WatcherConfig::new(self.pad.clock().clone());
                wc.pairing = self.pad.config().pairing.clone();
                wc.badges = self.pad.rfid_unlock();
                match rettpad_pad::watcher::Watcher::spawn(tx, wc) {
                    Ok(w) => self.attach_card(rx, Some(Box::new(w))),
                    Err(e) => tracing::error!(error = %e, "card watcher not started"),
                }
            }
            CardReader::Off => {}
        }
        // A device paired by tag is the crew's later, explicit choice: it
        // wins over the configured one.
        let paired = self.paired_from_vault();
        teach_bt_agent(
            self.pad
                .config()
                .devices
                .iter()
                .cloned()
                .chain(paired.clone())
                .collect(),
        );
        let Some(d) = paired.or_else(|| self.pad.config().devices.first().cloned()) else {
            return;
        };
        self.start_configured_device(&d);
    }
}

/// Tells the pad's BlueZ agent the Bluetooth devices among `devices`, so
/// it pairs them with their records' PINs before an RFCOMM connect; starts
/// the agent on a worker thread (D-Bus may take a while) when none runs.
pub(crate) fn teach_bt_agent(devices: Vec<rettpad_devices::DeviceConfig>) {
    use rettpad_devices::bt_agent::{self, BtPairError, PairingAgentPolicy};
    let devices: Vec<_> = devices
        .into_iter()
        .filter(|d| d.address.is_some())
        .collect();
    if devices.is_empty() {
        return;
    }
    let add = move |p: &mut PairingAgentPolicy| {
        for d in &devices {
            p.add_config(d);
        }
    };
    if let Some(a) = bt_agent::global() {
        a.update_policy(add);
        return;
    }
    let started = std::thread::Builder::new()
        .name("bt-agent-start".into())
        .spawn(move || match bt_agent::ensure_global(add) {
            Ok(()) => {}
            Err(BtPairError::NotBuilt) => {
                tracing::debug!("this build has no BlueZ pairing agent");
            }
            Err(e) => tracing::warn!(error = %e, "BlueZ pairing agent not started"),
        });
    if let Err(e) = started {
        tracing::warn!(error = %e, "BlueZ pairing agent thread not started");
    }
}

pub(crate) fn start_device(
    d: &rettpad_devices::DeviceConfig,
    clock: rettpad_clock::SharedClock,
) -> Result<(Receiver<SupEvent>, Keep), String> {
    use rettpad_devices::ble_driver;
    use rettpad_devices::driver::Expected;
    #[cfg(feature = "demo")]
    use rettpad_devices::sim;
    use rettpad_devices::supervisor::{LinkSpec, Supervisor, SupervisorConfig};
    let expected = Expected {
        serial: d.serial.clone(),
        model: d.model.clone(),
    };
    // The sans-IO driver for the protocol, and its serial line settings.
    let (driver, settings) = match d.protocol {
        DeviceProtocol::Ble => (
            Box::new(ble_driver::BleDriver::new(
                expected,
                ble_driver::BleConfig::default(),
            )) as Box<dyn rettpad_devices::driver::Driver>,
            rettpad_devices::link::SerialSettings::INTELLIVUE,
        ),
        p => rettpad_devices::driver_for(p, expected, d.waves.as_deref())?,
    };
    #[cfg(not(feature = "demo"))]
    if d.link == rettpad_devices::DeviceLink::Sim {
        return Err("this build has no device simulators (link = \"sim\")".into());
    }
    #[cfg(feature = "demo")]
    let link = if d.link == rettpad_devices::DeviceLink::Sim {
        // Demo: the simulator of the same protocol on a loopback port.
        let addr = match d.protocol {
            DeviceProtocol::Datex => sim::spawn_loopback_datex(
                Default::default(),
                sim::Scenario::Stable,
                1,
                Default::default(),
            ),
            DeviceProtocol::IntelliVue => {
                let mut mc = rettpad_devices::intellivue::monitor::MonitorConfig::default();
                if let Some(s) = &d.serial {
                    mc.serial = s.clone();
                }
                sim::spawn_loopback(mc, sim::Scenario::Stable, 1, Default::default())
            }
            DeviceProtocol::Ble => return Err("no BLE simulator in the demo".into()),
        }
        .map_err(|e| format!("simulator: {e}"))?;
        LinkSpec::Tcp(addr)
    } else {
        LinkSpec::from_link(&d.link, settings)?
    };
    #[cfg(not(feature = "demo"))]
    let link = LinkSpec::from_link(&d.link, settings)?;
    let (tx, rx) = std::sync::mpsc::channel();
    let sup = Supervisor::spawn(
        SupervisorConfig {
            link,
            backoff_min_ms: 500,
            backoff_max_ms: 15_000,
        },
        driver,
        clock,
        tx,
    )
    .map_err(|e| format!("thread: {e}"))?;
    Ok((rx, Box::new(sup)))
}
