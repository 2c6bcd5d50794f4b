//! The monitor drivers' numeric table against the public nomenclature
//! (issue 19, monitors item 3). Every code and unit below is written out
//! from the public sources (IEEE 11073-10101 and its device
//! specialisations, the Philips Data Export nomenclature as published in
//! VSCaptureMP `Class2.cs`, the S/5 record layout as in VSCapture/
//! VSCaptureWave `Class2.cs`), never taken from the driver's own table: a
//! test that shares the driver's table proves nothing.
//!
//! Expected record values are computed here from the physical relation
//! (760 mmHg = 101.325 kPa, °C = (°F − 32) · 5/9, 1 mmol/L glucose =
//! 18.016 mg/dl).

use rettpad_devices::import::{ImportConfig, Importer};
use rettpad_devices::obs::{
    Decimal, HostTime, MeasStatus, Metric, Numeric, Observation, Reading, Timestamps, Unit,
};
use rettpad_record::keys;
use rettpad_record::{Collection, Num, PatientId, Payload, Value};

// Units, partition DIM (IEEE 11073-10101; NOM_DIM_* in VSCaptureMP).
const DIM_PERCENT: u16 = 544;
const DIM_PER_MIN: u16 = 2528;
const DIM_BEAT_PER_MIN: u16 = 2720;
const DIM_PULS_PER_MIN: u16 = 2752;
const DIM_RESP_PER_MIN: u16 = 2784;
const DIM_KILO_PASCAL: u16 = 3843;
const DIM_MMHG: u16 = 3872;
const DIM_FAHR: u16 = 4416;
const DIM_DEGC: u16 = 6048;
const DIM_MILLI_G_PER_DL: u16 = 2130;
const DIM_MILLI_MOLE_PER_L: u16 = 4722;

/// (code, name) per record field.
const HEART_RATE: &[(u16, &str)] = &[
    (16_770, "MDC_ECG_HEART_RATE / NOM_ECG_CARD_BEAT_RATE"),
    (18_442, "NOM_PULS_RATE"),
    (18_458, "MDC_PULS_OXIM_PULS_RATE"),
    (18_466, "NOM_PLETH_PULS_RATE"),
    (18_474, "MDC_PULS_RATE_NON_INV"),
    (61_597, "NOM_PULS_OXIM_PULS_RATE_TELE"),
    (61_669, "NOM_PRESS_BLD_NONINV_PULS_RATE"),
];
const SPO2: &[(u16, &str)] = &[
    (19_384, "MDC_PULS_OXIM_SAT_O2"),
    (61_596, "NOM_PULS_OXIM_SAT_O2_TELE"),
];
const BP_SYS: &[(u16, &str)] = &[
    (18_949, "MDC_PRESS_BLD_NONINV_SYS"),
    (19_229, "MDC_PRESS_CUFF_SYS"),
    (61_601, "NOM_PRESS_BLD_NONINV_TELE_SYS"),
];
const BP_DIA: &[(u16, &str)] = &[
    (18_950, "MDC_PRESS_BLD_NONINV_DIA"),
    (19_230, "MDC_PRESS_CUFF_DIA"),
    (61_602, "NOM_PRESS_BLD_NONINV_TELE_DIA"),
];
const RESP_RATE: &[(u16, &str)] = &[
    (20_490, "MDC_RESP_RATE"),
    (20_498, "MDC_AWAY_RESP_RATE"),
    (61_666, "NOM_AWAY_RESP_RATE_SPIRO"),
    (63_509, "NOM_AWAY_RESP_RATE_SPONT"),
    (63_528, "NOM_RESP_RATE_SPONT"),
];
const ETCO2: &[(u16, &str)] = &[
    (20_656, "MDC_AWAY_CO2_ET"),
    (20_636, "NOM_CONC_AWAY_CO2_ET"),
];
const TEMPERATURE: &[(u16, &str)] = &[
    (19_272, "MDC_TEMP (generic)"),
    (19_292, "MDC_TEMP_BODY"),
    (19_296, "NOM_TEMP_CORE"),
    (19_300, "NOM_TEMP_ESOPH"),
    (19_308, "NOM_TEMP_NASOPH"),
    (19_320, "MDC_TEMP_TYMP"),
    (57_348, "MDC_TEMP_RECT"),
    (57_352, "MDC_TEMP_ORAL"),
    (57_356, "MDC_TEMP_EAR"),
    (57_364, "NOM_TEMP_BLD"),
    (57_380, "MDC_TEMP_AXILLA"),
    (57_384, "MDC_TEMP_GIT"),
    (61_636, "NOM_TEMP_VESICAL"),
    (61_704, "NOM_TEMP_ORAL"),
    (61_708, "NOM_TEMP_AXIL"),
    (61_712, "NOM_TEMP_ORAL_PRED"),
    (61_716, "NOM_TEMP_RECT_PRED"),
    (61_720, "NOM_TEMP_AXIL_PRED"),
    (61_760, "NOM_TEMP_PRED"),
    (63_846, "NOM_TEMP_CORE_GEN_1"),
    (63_847, "NOM_TEMP_CORE_GEN_2"),
];
const GLUCOSE: &[(u16, &str)] = &[
    (28_948, "MDC_CONC_GLU_GEN"),
    (29_112, "MDC_CONC_GLU_CAPILLARY_WHOLEBLOOD"),
    (29_116, "MDC_CONC_GLU_CAPILLARY_PLASMA"),
    (29_120, "MDC_CONC_GLU_VENOUS_WHOLEBLOOD"),
    (29_124, "MDC_CONC_GLU_VENOUS_PLASMA"),
    (29_128, "MDC_CONC_GLU_ARTERIAL_WHOLEBLOOD"),
    (29_132, "MDC_CONC_GLU_ARTERIAL_PLASMA"),
    (29_292, "MDC_CONC_GLU_UNDETERMINED_WHOLEBLOOD"),
    (29_296, "MDC_CONC_GLU_UNDETERMINED_PLASMA"),
    (63_530, "NOM_CONC_GLU_SER"),
];

/// Late enough that every pending entry is written.
const END: HostTime = HostTime {
    wall_ms: 0,
    mono_ms: u64::MAX,
};

fn host(ms: u64) -> HostTime {
    HostTime {
        wall_ms: 1_800_000_000_000 + ms as i64,
        mono_ms: ms,
    }
}

/// One numeric with raw wire codes through a fresh importer; the record
/// fields of the vitals entries it produced, and the importer.
fn import_raw(
    physio: u16,
    unit: u16,
    value: Decimal,
    episodic: bool,
) -> (Vec<(String, Value)>, Importer) {
    let mut imp = Importer::new(ImportConfig::default(), PatientId::new());
    imp.push(&Observation::Numeric(Numeric {
        metric: Metric::from_intellivue(physio),
        reading: Reading::Value(value),
        unit: Unit::from_intellivue(unit),
        status: MeasStatus::default(),
        time: Timestamps {
            device: None,
            host: host(1000),
            seq: Some(1),
        },
        episodic,
    }));
    let mut fields = Vec::new();
    // The first drain makes the periodic entry due, the later one writes it.
    let mut payloads = imp.drain(host(1000));
    payloads.extend(imp.drain(END));
    for p in payloads {
        if let Payload::EntryAdded {
            collection: Collection::Vitals,
            fields: f,
            ..
        } = p
        {
            fields.extend(f);
        }
    }
    (fields, imp)
}

/// The record value of `field` in thousandths, if the numeric got there.
fn recorded(physio: u16, unit: u16, value: Decimal, field: &str) -> Option<i64> {
    let episodic = field == keys::vitals::BP_SYS || field == keys::vitals::BP_DIA;
    let (fields, _) = import_raw(physio, unit, value, episodic);
    fields
        .into_iter()
        .find(|(k, _)| k == field)
        .and_then(|(_, v)| v.as_num())
        .map(|Num(n)| n)
}

fn assert_close(got: Option<i64>, want: f64, what: &str) {
    let want = (want * 1000.0).round() as i64;
    match got {
        Some(g) => assert!((g - want).abs() <= 1, "{what}: got {g}, want {want}"),
        None => panic!("{what}: did not reach the record"),
    }
}

#[test]
fn heart_and_pulse_rate_in_every_per_minute_unit() {
    for (code, name) in HEART_RATE {
        for unit in [DIM_BEAT_PER_MIN, DIM_PULS_PER_MIN, DIM_PER_MIN] {
            let got = recorded(*code, unit, Decimal::int(72), keys::vitals::HR);
            assert_close(got, 72.0, &format!("{name} in unit {unit}"));
        }
    }
}

#[test]
fn respiration_rate_in_breaths_beats_and_plain_per_minute() {
    for (code, name) in RESP_RATE {
        for unit in [DIM_RESP_PER_MIN, DIM_BEAT_PER_MIN, DIM_PER_MIN] {
            let got = recorded(*code, unit, Decimal::int(14), keys::vitals::RR);
            assert_close(got, 14.0, &format!("{name} in unit {unit}"));
        }
    }
}

#[test]
fn spo2_in_percent() {
    for (code, name) in SPO2 {
        let got = recorded(
            *code,
            DIM_PERCENT,
            Decimal::new(975, -1),
            keys::vitals::SPO2,
        );
        assert_close(got, 97.5, name);
    }
}

#[test]
fn nibp_in_mmhg_and_kpa() {
    for (codes, field, mmhg) in [
        (BP_SYS, keys::vitals::BP_SYS, 120.0),
        (BP_DIA, keys::vitals::BP_DIA, 80.0),
    ] {
        for (code, name) in codes {
            let got = recorded(*code, DIM_MMHG, Decimal::int(mmhg as i64), field);
            assert_close(got, mmhg, &format!("{name} mmHg"));
            // 16.0 kPa and 10.7 kPa as a monitor set to SI units sends them.
            let kpa = if field == keys::vitals::BP_SYS {
                160
            } else {
                107
            };
            let got = recorded(*code, DIM_KILO_PASCAL, Decimal::new(kpa, -1), field);
            assert_close(
                got,
                kpa as f64 / 10.0 * 760.0 / 101.325,
                &format!("{name} kPa"),
            );
        }
    }
}

#[test]
fn etco2_in_mmhg_and_kpa_but_not_as_a_fraction() {
    for (code, name) in ETCO2 {
        let got = recorded(*code, DIM_MMHG, Decimal::int(38), keys::vitals::ETCO2);
        assert_close(got, 38.0, &format!("{name} mmHg"));
        let got = recorded(
            *code,
            DIM_KILO_PASCAL,
            Decimal::new(51, -1),
            keys::vitals::ETCO2,
        );
        assert_close(got, 5.1 * 760.0 / 101.325, &format!("{name} kPa"));
        // A volume fraction needs the barometric pressure: counted, not guessed.
        let (fields, imp) = import_raw(*code, DIM_PERCENT, Decimal::int(5), false);
        assert!(fields.is_empty(), "{name} in %: {fields:?}");
        assert_eq!(imp.stats.unit_mismatch, 1, "{name} in %");
    }
}

#[test]
fn body_temperature_under_every_site_code_in_celsius_and_fahrenheit() {
    for (code, name) in TEMPERATURE {
        let got = recorded(*code, DIM_DEGC, Decimal::new(368, -1), keys::vitals::TEMP);
        assert_close(got, 36.8, &format!("{name} °C"));
        let got = recorded(*code, DIM_FAHR, Decimal::new(1004, -1), keys::vitals::TEMP);
        assert_close(got, (100.4 - 32.0) * 5.0 / 9.0, &format!("{name} °F"));
    }
}

#[test]
fn glucose_in_mg_per_dl_and_mmol_per_l() {
    for (code, name) in GLUCOSE {
        let got = recorded(
            *code,
            DIM_MILLI_G_PER_DL,
            Decimal::int(100),
            keys::vitals::GLUCOSE,
        );
        assert_close(got, 100.0, &format!("{name} mg/dl"));
        let got = recorded(
            *code,
            DIM_MILLI_MOLE_PER_L,
            Decimal::new(55, -1),
            keys::vitals::GLUCOSE,
        );
        assert_close(got, 5.5 * 18.016, &format!("{name} mmol/L"));
    }
}

#[test]
fn codes_that_are_not_the_vital_sign_stay_out() {
    // Skin, airway, injectate, arterial/venous, ambient and incubator-air
    // temperatures; a beat-to-beat rate; glucose control solutions; the
    // generic T1..T4 labels whose site is unknown; a ventilator's
    // mandatory rate.
    for code in [
        19_316u16, 19_284, 19_304, 19_280, 19_324, 61_638, 61_738, 57_360, 57_376, 16_778, 29_136,
        29_300, 61_639, 61_640, 61_641, 61_642, 61_681,
    ] {
        let (fields, imp) = import_raw(code, DIM_DEGC, Decimal::int(30), false);
        assert!(fields.is_empty(), "{code}: {fields:?}");
        assert_eq!(imp.stats.unmapped, 1, "{code}");
    }
}

#[test]
fn a_wrong_unit_for_a_vital_sign_is_counted_not_written() {
    for (code, unit) in [
        (20_490u16, DIM_PERCENT),
        (16_770, DIM_MMHG),
        (19_272, DIM_PERCENT),
        (19_384, DIM_PER_MIN),
    ] {
        let (fields, imp) = import_raw(code, unit, Decimal::int(20), false);
        assert!(fields.is_empty(), "{code} in {unit}: {fields:?}");
        assert_eq!(imp.stats.unit_mismatch, 1, "{code} in {unit}");
    }
}

/// Over the wire: the IntelliVue simulator's association and poll dialog
/// with a physiology that sends the test's own codes, decoded by the host.
#[cfg(feature = "sim")]
mod wire {
    use super::*;
    use rettpad_devices::datex;
    use rettpad_devices::driver::{Action, Driver};
    use rettpad_devices::intellivue::host::{Host, HostConfig};
    use rettpad_devices::intellivue::monitor::{
        Monitor, MonitorConfig, Nomenclature, Physiology, SimNumeric, SimWave,
    };
    use rettpad_devices::intellivue::pdu::NuObsValue;
    use rettpad_devices::obs::DeviceTime;

    struct Raw(Vec<(u16, u16, Decimal)>);

    impl Physiology for Raw {
        fn numerics(&mut self, _t_ms: u64, _now: DeviceTime) -> Vec<SimNumeric> {
            self.0
                .iter()
                .enumerate()
                .map(|(i, &(physio_id, unit_code, v))| SimNumeric {
                    handle: 0x100 + i as u16,
                    value: NuObsValue {
                        physio_id,
                        state: 0,
                        unit_code,
                        value: Reading::Value(v),
                    },
                    measured_at: None,
                })
                .collect()
        }
        fn waves(&self) -> Vec<SimWave> {
            Vec::new()
        }
        fn samples(&mut self, _handle: u16, _from: u64, n: usize) -> Vec<u16> {
            vec![0; n]
        }
    }

    fn fields_of(obs: &[Observation]) -> Vec<(String, Value)> {
        let mut imp = Importer::new(ImportConfig::default(), PatientId::new());
        let mut out = Vec::new();
        let mut payloads = Vec::new();
        for o in obs {
            imp.push(o);
            if let Observation::Numeric(n) = o {
                payloads.extend(imp.drain(n.time.host));
            }
        }
        payloads.extend(imp.drain(END));
        for p in payloads {
            if let Payload::EntryAdded {
                collection: Collection::Vitals,
                fields,
                ..
            } = p
            {
                out.extend(fields);
            }
        }
        out
    }

    /// The monitor side: bytes from the host in, frames out.
    type OnBytes<'a> = &'a mut dyn FnMut(&[u8], HostTime, &mut Vec<Vec<u8>>);

    fn drive(
        h: &mut dyn Driver,
        on_bytes: OnBytes<'_>,
        tick: &mut dyn FnMut(HostTime, &mut Vec<Vec<u8>>),
        ms: u64,
    ) -> Vec<Observation> {
        let mut out = Vec::new();
        let mut obs = Vec::new();
        h.start(host(0), &mut out);
        for t in (0..ms).step_by(10) {
            h.on_tick(host(t), &mut out);
            let mut frames = Vec::new();
            for a in std::mem::take(&mut out) {
                match a {
                    Action::Send(b) => on_bytes(&b, host(t), &mut frames),
                    Action::Emit(o) => obs.push(o),
                    _ => {}
                }
            }
            tick(host(t), &mut frames);
            for f in frames {
                h.on_bytes(&f, host(t), &mut out);
            }
        }
        for a in out {
            if let Action::Emit(o) = a {
                obs.push(o);
            }
        }
        obs
    }

    fn intellivue(numerics: Vec<(u16, u16, Decimal)>) -> Vec<(String, Value)> {
        let m = std::cell::RefCell::new(Monitor::new(
            MonitorConfig {
                nomenclature: Nomenclature::Primary,
                ..MonitorConfig::default()
            },
            Box::new(Raw(numerics)),
        ));
        let mut h = Host::new(HostConfig::default());
        let obs = drive(
            &mut h,
            &mut |b, t, f| m.borrow_mut().on_bytes(b, t, f),
            &mut |t, f| m.borrow_mut().on_tick(t, f),
            3000,
        );
        fields_of(&obs)
    }

    fn num(fields: &[(String, Value)], key: &str) -> Option<i64> {
        fields
            .iter()
            .find(|(k, _)| k == key)
            .and_then(|(_, v)| v.as_num())
            .map(|Num(n)| n)
    }

    #[test]
    fn intellivue_respiration_rate_in_breaths_per_minute_and_generic_temperature() {
        // NOM_RESP_RATE 0x500A in MDC_DIM_RESP_PER_MIN 0x0AE0; NOM_TEMP 0x4B48
        // in MDC_DIM_DEGC 0x17A0; HR 0x4182 in bpm 0x0AA0.
        let f = intellivue(vec![
            (0x4182, 0x0AA0, Decimal::int(72)),
            (0x500A, 0x0AE0, Decimal::int(14)),
            (0x4B48, 0x17A0, Decimal::new(368, -1)),
        ]);
        assert_eq!(num(&f, keys::vitals::HR), Some(72_000), "{f:?}");
        assert_eq!(num(&f, keys::vitals::RR), Some(14_000), "{f:?}");
        assert_eq!(num(&f, keys::vitals::TEMP), Some(36_800), "{f:?}");
    }

    #[test]
    fn intellivue_airway_rate_fahrenheit_and_kpa() {
        // NOM_AWAY_RESP_RATE 0x5012 per minute 0x09E0; NOM_TEMP_RECT 0xE004
        // in °F 0x1140; etCO2 0x50B0 in kPa 0x0F03.
        let f = intellivue(vec![
            (0x5012, 0x09E0, Decimal::int(16)),
            (0xE004, 0x1140, Decimal::new(9824, -2)),
            (0x50B0, 0x0F03, Decimal::new(51, -1)),
        ]);
        assert_eq!(num(&f, keys::vitals::RR), Some(16_000), "{f:?}");
        assert_eq!(num(&f, keys::vitals::TEMP), Some(36_800), "{f:?}");
        assert_close(
            num(&f, keys::vitals::ETCO2),
            5.1 * 760.0 / 101.325,
            "etCO2 kPa",
        );
    }

    /// An S/5 source writing raw slots of the 270-byte basic block at the
    /// offsets of the public layout (ECG group at 0: hr @6, imp_rr @14;
    /// T1..T4 groups at 86/94/102/110, temp 6 bytes in; CO2 group at 132:
    /// rr @142; flow/volume group at 178: rr @184).
    struct DxRaw(Vec<(usize, i16, i8)>);

    impl datex::monitor::Source for DxRaw {
        fn numerics(
            &mut self,
            _t_ms: u64,
            _now: DeviceTime,
        ) -> Vec<(datex::record::BasicField, datex::record::DxValue)> {
            self.0
                .iter()
                .map(|&(offset, v, exponent)| {
                    (
                        datex::record::BasicField {
                            name: "raw",
                            offset,
                            exponent,
                        },
                        datex::record::DxValue::Value(v),
                    )
                })
                .collect()
        }
        fn samples(&mut self, _id: u8, _from: u64, n: usize) -> Vec<i16> {
            vec![0; n]
        }
    }

    fn datex(slots: Vec<(usize, i16, i8)>) -> Vec<(String, Value)> {
        let m = std::cell::RefCell::new(datex::monitor::Monitor::new(
            datex::monitor::MonitorConfig::default(),
            Box::new(DxRaw(slots)),
        ));
        let mut h = datex::host::Host::new(datex::host::HostConfig::default());
        let obs = drive(
            &mut h,
            &mut |b, t, f| m.borrow_mut().on_bytes(b, t, f),
            &mut |t, f| m.borrow_mut().on_tick(t, f),
            12_000,
        );
        fields_of(&obs)
    }

    #[test]
    fn datex_respiration_from_impedance_or_spirometry_and_temperature_on_any_channel() {
        // No capnography: RR from the ECG impedance; temperature on T3.
        let f = datex(vec![(6, 72, 0), (14, 18, 0), (108, 3712, -2)]);
        assert_eq!(num(&f, keys::vitals::HR), Some(72_000), "{f:?}");
        assert_eq!(num(&f, keys::vitals::RR), Some(18_000), "{f:?}");
        assert_eq!(num(&f, keys::vitals::TEMP), Some(37_120), "{f:?}");
        // Spirometry only; temperature on T4.
        let f = datex(vec![(6, 72, 0), (184, 12, 0), (116, 3650, -2)]);
        assert_eq!(num(&f, keys::vitals::RR), Some(12_000), "{f:?}");
        assert_eq!(num(&f, keys::vitals::TEMP), Some(36_500), "{f:?}");
        // Capnography wins over impedance when both measure.
        let f = datex(vec![(6, 72, 0), (142, 15, 0), (14, 19, 0), (92, 3600, -2)]);
        assert_eq!(num(&f, keys::vitals::RR), Some(15_000), "{f:?}");
        assert_eq!(num(&f, keys::vitals::TEMP), Some(36_000), "{f:?}");
    }
}
