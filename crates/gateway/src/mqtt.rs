//! MQTT feeds of dispatch centres (FE2-style middleware publishes alarms
//! to a broker): the gateway subscribes per centre, turns each payload into
//! a `rettpad.dispatch/1` message and hands it to the same `Dispatcher` as
//! the HTTP API, so validation, dedup and routing are one code path.
//!
//! - Payload: the neutral JSON itself, or any JSON mapped by JSON pointers
//!   per centre (`[centres.mqtt.map]`), since FE2's own topics and payloads
//!   are not public (docs/dispatch.md).
//! - At least once: QoS 1, a persistent session, and the broker's message is
//!   acknowledged only after the dispatcher committed it (or refused it as
//!   bad input, so a poison message does not come back forever). A mapped
//!   payload's `msg_id` is derived from its bytes, so a redelivery is a
//!   duplicate, not a second alarm.
//! - Reconnect with full-jitter backoff (rumqttc retries without any).
//! - The broker connection sits behind [`FeedSession`]; the default is
//!   rumqttc over rustls with the organisation's PKI.

use crate::dispatch::{Dispatcher, Refusal};
use rettpad_dispatch::msg::{DispatchError, MAX_MESSAGE_BYTES, SCHEMA, format_time, parse_time};
use rumqttc::{AsyncClient, Event, EventLoop, MqttOptions, Packet, Publish, QoS};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

/// One centre's feed (`[centres.mqtt]`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MqttFeed {
    pub host: String,
    pub port: u16,
    /// mqtts with the gateway's certificate from the organisation PKI.
    #[serde(default)]
    pub tls: bool,
    /// The subscription, e.g. `fe2/by-ils-71/alarm/#`.
    pub topic: String,
    /// Stable, so the broker keeps the session (and QoS 1 messages) while
    /// the gateway is down.
    pub client_id: String,
    /// Absent: the payload is `rettpad.dispatch/1`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub map: Option<FieldMap>,
}

/// JSON pointers (RFC 6901) into a foreign payload. A pointer that finds
/// nothing leaves the field empty; `number` is required.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct FieldMap {
    pub number: String,
    pub revision: Option<String>,
    pub sent_at: Option<String>,
    pub keyword_code: Option<String>,
    pub keyword_text: Option<String>,
    pub alarm_text: Option<String>,
    pub street: Option<String>,
    pub house_number: Option<String>,
    pub postcode: Option<String>,
    pub city: Option<String>,
    pub object: Option<String>,
    pub lat: Option<String>,
    pub lon: Option<String>,
    /// An array of units.
    pub units: Option<String>,
    /// Inside one unit; empty: the unit itself is the call sign string.
    pub unit_call_sign: String,
    pub unit_type: Option<String>,
    pub unit_alarmed_at: Option<String>,
    /// A status feed: where a payload carries a status, it is one.
    pub status: Option<String>,
    pub status_call_sign: Option<String>,
    pub status_at: Option<String>,
}

fn at<'a>(v: &'a Value, ptr: Option<&str>) -> Option<&'a Value> {
    v.pointer(ptr?).filter(|x| !x.is_null())
}

fn text(v: &Value, ptr: Option<&str>) -> Option<String> {
    match at(v, ptr)? {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

/// An RFC 3339 string or epoch milliseconds (FE2 sends both kinds).
fn time(v: &Value, ptr: Option<&str>) -> Option<String> {
    match at(v, ptr)? {
        Value::String(s) if parse_time(s).is_some() => Some(s.clone()),
        Value::Number(n) => n.as_i64().map(format_time),
        _ => None,
    }
}

fn number(v: &Value, ptr: Option<&str>) -> Option<Value> {
    match at(v, ptr)? {
        Value::Number(n) => Some(Value::Number(n.clone())),
        Value::String(s) => s.trim().parse::<f64>().ok().map(Value::from),
        _ => None,
    }
}

/// A foreign payload as `rettpad.dispatch/1` (then validated like any).
pub fn translate(centre: &str, map: &FieldMap, bytes: &[u8]) -> Result<Vec<u8>, DispatchError> {
    if bytes.len() > MAX_MESSAGE_BYTES {
        return Err(DispatchError::TooLarge(bytes.len()));
    }
    let v: Value = serde_json::from_slice(bytes)
        .map_err(|e| DispatchError::Json(format!("line {} column {}", e.line(), e.column())))?;
    let mut name = b"rettpad.mqtt/1\0".to_vec();
    name.extend_from_slice(centre.as_bytes());
    name.push(0);
    name.extend_from_slice(bytes);
    let msg_id = uuid::Uuid::new_v5(&rettpad_dispatch::NAMESPACE, &name);
    let number_v = text(&v, Some(&map.number)).ok_or(DispatchError::Missing("/mission/number"))?;
    let mut out = json!({
        "schema": SCHEMA, "msg_id": msg_id, "centre": { "id": centre },
        "sent_at": time(&v, map.sent_at.as_deref()),
    });
    if let Some(s) = number(&v, map.status.as_deref()) {
        out["kind"] = "status".into();
        out["mission_number"] = number_v.into();
        out["status"] = s;
        out["call_sign"] = text(&v, map.status_call_sign.as_deref()).into();
        out["at"] = time(&v, map.status_at.as_deref()).into();
        return Ok(out.to_string().into_bytes());
    }
    let units: Vec<Value> = at(&v, map.units.as_deref())
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .map(|u| {
                    let cs = if map.unit_call_sign.is_empty() {
                        u.as_str().map(str::to_string)
                    } else {
                        text(u, Some(&map.unit_call_sign))
                    };
                    json!({ "call_sign": cs, "type": text(u, map.unit_type.as_deref()),
                            "alarmed_at": time(u, map.unit_alarmed_at.as_deref()) })
                })
                .collect()
        })
        .unwrap_or_default();
    out["kind"] = "mission".into();
    out["mission"] = json!({
        "number": number_v,
        "revision": number(&v, map.revision.as_deref()).and_then(|r| r.as_f64()).map(|r| r as u32),
        "keyword": { "code": text(&v, map.keyword_code.as_deref()), "text": text(&v, map.keyword_text.as_deref()) },
        "meldebild": text(&v, map.alarm_text.as_deref()),
        "location": {
            "street": text(&v, map.street.as_deref()), "house_number": text(&v, map.house_number.as_deref()),
            "postcode": text(&v, map.postcode.as_deref()), "city": text(&v, map.city.as_deref()),
            "object": text(&v, map.object.as_deref()),
            "lat": number(&v, map.lat.as_deref()), "lon": number(&v, map.lon.as_deref()),
        },
        "units": units,
    });
    Ok(out.to_string().into_bytes())
}

/// One payload of centre `centre`'s feed through the dispatcher.
pub fn handle(
    d: &Dispatcher,
    centre: &str,
    feed: &MqttFeed,
    bytes: &[u8],
    now_ms: i64,
) -> Result<crate::dispatch::Accepted, Refusal> {
    let owned;
    let msg = match &feed.map {
        Some(m) => {
            owned = translate(centre, m, bytes)?;
            &owned[..]
        }
        None => bytes,
    };
    d.submit(centre, msg, now_ms)
}

/// What a broker connection yields.
pub enum FeedEvent {
    /// (Re)connected: subscribe now.
    Connected,
    Message(Publish),
    Other,
}

/// The broker behind the feed: rumqttc by default; a seam for tests of
/// the loop without a broker.
pub trait FeedSession: Send {
    fn poll(&mut self) -> impl Future<Output = Result<FeedEvent, String>> + Send;
    fn subscribe(&mut self, topic: &str) -> impl Future<Output = Result<(), String>> + Send;
    fn ack(&mut self, p: &Publish) -> impl Future<Output = Result<(), String>> + Send;
}

pub struct Rumqtt {
    client: AsyncClient,
    events: EventLoop,
}

impl Rumqtt {
    pub fn new(feed: &MqttFeed, tls: Option<Arc<rustls::ClientConfig>>) -> Rumqtt {
        let mut o = MqttOptions::new(&feed.client_id, &feed.host, feed.port);
        o.set_keep_alive(Duration::from_secs(30))
            .set_clean_session(false)
            .set_manual_acks(true)
            .set_max_packet_size(MAX_MESSAGE_BYTES + 1024, MAX_MESSAGE_BYTES + 1024);
        if let Some(t) = tls {
            o.set_transport(rumqttc::Transport::Tls(rumqttc::TlsConfiguration::Rustls(
                t,
            )));
        }
        let (client, events) = AsyncClient::new(o, 64);
        Rumqtt { client, events }
    }
}

impl FeedSession for Rumqtt {
    async fn poll(&mut self) -> Result<FeedEvent, String> {
        match self.events.poll().await {
            Ok(Event::Incoming(Packet::ConnAck(_))) => Ok(FeedEvent::Connected),
            Ok(Event::Incoming(Packet::Publish(p))) => Ok(FeedEvent::Message(p)),
            Ok(_) => Ok(FeedEvent::Other),
            Err(e) => Err(e.to_string()),
        }
    }

    async fn subscribe(&mut self, topic: &str) -> Result<(), String> {
        self.client
            .subscribe(topic, QoS::AtLeastOnce)
            .await
            .map_err(|e| e.to_string())
    }

    async fn ack(&mut self, p: &Publish) -> Result<(), String> {
        self.client.ack(p).await.map_err(|e| e.to_string())
    }
}

use crate::server::now_ms;

/// Runs one centre's feed until `stop` changes.
pub async fn run<S: FeedSession>(
    mut session: S,
    d: Arc<Dispatcher>,
    centre: String,
    feed: MqttFeed,
    mut stop: tokio::sync::watch::Receiver<bool>,
) {
    let backoff = rettpad_channel::client::Config::default();
    let mut failures = 0u32;
    loop {
        let ev = tokio::select! {
            e = session.poll() => e,
            _ = stop.changed() => return,
        };
        match ev {
            Ok(FeedEvent::Connected) => {
                failures = 0;
                tracing::info!(centre = %centre, "MQTT feed connected");
                if let Err(e) = session.subscribe(&feed.topic).await {
                    tracing::warn!(centre = %centre, error = %e, "MQTT subscribe failed");
                }
            }
            Ok(FeedEvent::Message(p)) => {
                let (dd, c, f, bytes) =
                    (d.clone(), centre.clone(), feed.clone(), p.payload.clone());
                let r = tokio::task::spawn_blocking(move || handle(&dd, &c, &f, &bytes, now_ms()))
                    .await;
                let ack = match r {
                    Ok(Ok(_)) => true,
                    Ok(Err(Refusal::Internal(e))) => {
                        // Not committed: no ack, so the broker delivers it again.
                        tracing::error!(centre = %centre, error = %e, "MQTT dispatch not stored");
                        false
                    }
                    Ok(Err(e)) => {
                        tracing::warn!(centre = %centre, status = e.status(), error = e.code(), "MQTT dispatch message refused");
                        true
                    }
                    Err(e) => {
                        tracing::error!(centre = %centre, error = %e, "MQTT dispatch worker failed");
                        false
                    }
                };
                if ack && let Err(e) = session.ack(&p).await {
                    tracing::warn!(centre = %centre, error = %e, "MQTT ack failed");
                }
            }
            Ok(FeedEvent::Other) => {}
            Err(e) => {
                failures = failures.saturating_add(1);
                let rand = (uuid::Uuid::now_v7().as_u128() & u128::from(u64::MAX)) as u64;
                let wait = rettpad_channel::client::backoff(&backoff, failures, rand);
                tracing::warn!(centre = %centre, error = %e, retry_ms = wait.as_millis() as u64, "MQTT feed down");
                tokio::select! {
                    _ = tokio::time::sleep(wait) => {}
                    _ = stop.changed() => return,
                }
            }
        }
    }
}
