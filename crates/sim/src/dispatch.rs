//! `rettpad-sim dispatch`: plays a dispatch centre against the gateway's
//! dispatch API (plain HTTP on loopback, bearer token): an alarm for one or
//! more units, then each unit's status sequence 3, 4, 7, 8, 1, with faults
//! on request (a repeated status, an out-of-order pair, a status of an
//! unknown unit, a cancel). Prints one line per answer.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

const USAGE: &str = "rettpad-sim dispatch --api HOST:PORT --token-file F [--centre ID] \
[--unit CALL_SIGN]… [--number N] [--step-ms MS] [--faults] [--cancel]";

pub struct Options {
    pub api: SocketAddr,
    pub token: String,
    pub centre: String,
    pub units: Vec<String>,
    pub number: String,
    pub step: Duration,
    pub faults: bool,
    pub cancel: bool,
}

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

fn rfc3339(ms: i64) -> String {
    rettpad_dispatch::msg::format_time(ms)
}

fn msg_id() -> String {
    uuid::Uuid::now_v7().to_string()
}

fn json_str(s: &str) -> String {
    let mut o = String::from("\"");
    for c in s.chars() {
        match c {
            '"' => o.push_str("\\\""),
            '\\' => o.push_str("\\\\"),
            c if (c as u32) < 0x20 => o.push_str(&format!("\\u{:04x}", c as u32)),
            c => o.push(c),
        }
    }
    o.push('"');
    o
}

/// The alarm of `o.units` (the first an RTW, an "NEF" call sign a NEF).
pub fn alarm(o: &Options, at_ms: i64) -> String {
    let units: Vec<String> = o
        .units
        .iter()
        .map(|u| {
            let t = if u.contains("NEF") { "NEF" } else { "RTW" };
            format!(
                r#"{{"call_sign":{},"type":"{t}","alarmed_at":"{}"}}"#,
                json_str(u),
                rfc3339(at_ms)
            )
        })
        .collect();
    format!(
        r#"{{"schema":"rettpad.dispatch/1","msg_id":"{}","kind":"mission","centre":{{"id":{}}},"sent_at":"{}","source":{{"system":"rettpad-sim"}},"mission":{{"number":{},"revision":1,"keyword":{{"code":"RD 2","text":"Notfall"}},"meldebild":"Brustschmerz, kaltschweißig","signal":true,"location":{{"street":"Hauptstraße","house_number":"12a","postcode":"85049","city":"Ingolstadt","object":"Bäckerei","floor":"EG","lat":48.7665,"lon":11.4257}},"patient":{{"name":"Erika Musterfrau","birth_date":"1951-04-00","sex":"w"}},"units":[{}]}}}}"#,
        msg_id(),
        json_str(&o.centre),
        rfc3339(at_ms),
        json_str(&o.number),
        units.join(",")
    )
}

pub fn status(o: &Options, unit: &str, status: u8, at_ms: i64) -> String {
    format!(
        r#"{{"schema":"rettpad.dispatch/1","msg_id":"{}","kind":"status","centre":{{"id":{}}},"mission_number":{},"call_sign":{},"status":{status},"at":"{}"}}"#,
        msg_id(),
        json_str(&o.centre),
        json_str(&o.number),
        json_str(unit),
        rfc3339(at_ms)
    )
}

pub fn cancel(o: &Options, at_ms: i64) -> String {
    format!(
        r#"{{"schema":"rettpad.dispatch/1","msg_id":"{}","kind":"cancel","centre":{{"id":{}}},"mission_number":{},"at":"{}","reason":"Einsatzabbruch"}}"#,
        msg_id(),
        json_str(&o.centre),
        json_str(&o.number),
        rfc3339(at_ms)
    )
}

/// One POST; returns the status code and the body.
pub fn post(api: SocketAddr, token: &str, body: &str) -> Result<(u16, String), String> {
    let mut s = TcpStream::connect_timeout(&api, Duration::from_secs(5))
        .map_err(|e| format!("{api}: {e}"))?;
    let _ = s.set_read_timeout(Some(Duration::from_secs(10)));
    let req = format!(
        "POST /v1/dispatch HTTP/1.1\r\nHost: {api}\r\nAuthorization: Bearer {token}\r\n\
         Content-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    s.write_all(req.as_bytes()).map_err(|e| e.to_string())?;
    let mut out = Vec::new();
    s.read_to_end(&mut out).map_err(|e| e.to_string())?;
    let text = String::from_utf8_lossy(&out).into_owned();
    let code = text
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .ok_or("no HTTP answer")?;
    let body = text.split("\r\n\r\n").nth(1).unwrap_or("").to_string();
    Ok((code, body))
}

/// Plays the scenario; each step's answer goes to `report`.
pub fn run(o: &Options, mut report: impl FnMut(&str, u16, &str)) -> Result<(), String> {
    let mut t = now_ms();
    let send = |what: &str, body: &str, report: &mut dyn FnMut(&str, u16, &str)| {
        let (code, answer) = post(o.api, &o.token, body)?;
        report(what, code, &answer);
        Ok::<_, String>(())
    };
    send("alarm", &alarm(o, t), &mut report)?;
    for s in [3u8, 4, 7, 8, 1] {
        std::thread::sleep(o.step);
        t = now_ms();
        for u in &o.units {
            let body = status(o, u, s, t);
            send(&format!("status {s} {u}"), &body, &mut report)?;
            if o.faults && s == 4 {
                // FMS repeats until acknowledged: the same status again.
                send(
                    &format!("status {s} {u} (repeat)"),
                    &status(o, u, s, t),
                    &mut report,
                )?;
                // A late status 3 from before 4 arrives after it.
                send(
                    &format!("status 3 {u} (late)"),
                    &status(o, u, 3, t - 30_000),
                    &mut report,
                )?;
            }
        }
        if o.faults && s == 3 {
            send(
                "status of an unknown unit",
                &status(o, "Florian Sim 99/1", 3, t),
                &mut report,
            )?;
        }
    }
    if o.cancel {
        send("cancel", &cancel(o, now_ms()), &mut report)?;
    }
    Ok(())
}

fn parse(args: &[String]) -> Result<Options, String> {
    let mut o = Options {
        api: SocketAddr::from(([127, 0, 0, 1], 0)),
        token: String::new(),
        centre: "demo-ils".into(),
        units: Vec::new(),
        number: format!("R 1.1 SIM {}", now_ms() / 1000 % 1_000_000),
        step: Duration::from_secs(5),
        faults: false,
        cancel: false,
    };
    let mut it = args.iter();
    while let Some(a) = it.next() {
        let mut val = || it.next().cloned().ok_or(format!("{a} needs a value"));
        match a.as_str() {
            "--api" => o.api = val()?.parse().map_err(|e| format!("--api: {e}"))?,
            "--token-file" => {
                let p = val()?;
                o.token = std::fs::read_to_string(&p)
                    .map_err(|e| format!("{p}: {e}"))?
                    .trim()
                    .to_string();
            }
            "--centre" => o.centre = val()?,
            "--unit" => o.units.push(val()?),
            "--number" => o.number = val()?,
            "--step-ms" => {
                o.step =
                    Duration::from_millis(val()?.parse().map_err(|e| format!("--step-ms: {e}"))?)
            }
            "--faults" => o.faults = true,
            "--cancel" => o.cancel = true,
            other => return Err(format!("unknown argument {other}")),
        }
    }
    if o.api.port() == 0 || o.token.is_empty() {
        return Err(USAGE.into());
    }
    if o.units.is_empty() {
        o.units.push("RTW 1/83-1".into());
    }
    Ok(o)
}

pub fn main(args: &[String]) -> std::process::ExitCode {
    let o = match parse(args) {
        Ok(o) => o,
        Err(e) => {
            eprintln!("{e}");
            return std::process::ExitCode::from(2);
        }
    };
    let res = run(&o, |what, code, answer| println!("{what}: {code} {answer}"));
    match res {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("rettpad-sim dispatch: {e}");
            std::process::ExitCode::FAILURE
        }
    }
}
