//! The device side of a link: the wire's links re-exported, and the loop
//! that runs a sans-IO [`Driver`] over one.

pub use rettpad_wire::*;

use crate::driver::{Action, Driver, DriverStatus};
use crate::obs::{HostTime, Observation};
use rettpad_clock::Clock;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

pub fn host_time(clock: &dyn Clock) -> HostTime {
    HostTime {
        wall_ms: clock.wall_ms(),
        mono_ms: u64::try_from(clock.mono().as_millis()).unwrap_or(u64::MAX),
    }
}

/// Why [`run`] returned.
#[derive(Debug)]
pub enum Exit {
    Stopped,
    WrongDevice,
    LinkLost(LinkError),
}

/// Moves bytes between `link` and `driver` until `stop` is set, the link
/// fails or the device turns out to be the wrong one. Observations and
/// status changes go to `sink`.
pub fn run(
    link: &mut dyn Link,
    driver: &mut dyn Driver,
    clock: &dyn Clock,
    stop: &AtomicBool,
    sink: &mut dyn FnMut(Event),
) -> Exit {
    let mut out = Vec::new();
    let mut buf = vec![0u8; 4096];
    driver.start(host_time(clock), &mut out);
    loop {
        if let Err(e) = flush(link, &mut out, sink) {
            driver.on_link_lost(host_time(clock));
            return Exit::LinkLost(e);
        }
        if driver.wrong_device() {
            return Exit::WrongDevice;
        }
        if stop.load(Ordering::Relaxed) {
            return Exit::Stopped;
        }
        match link.recv(&mut buf, Duration::from_millis(50)) {
            Ok(0) => {}
            Ok(n) => driver.on_bytes(&buf[..n], host_time(clock), &mut out),
            Err(e) => {
                driver.on_link_lost(host_time(clock));
                return Exit::LinkLost(e);
            }
        }
        driver.on_tick(host_time(clock), &mut out);
    }
}

/// What [`run`] reports to its caller.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    Observation(Observation),
    Status(DriverStatus),
}

fn flush(
    link: &mut dyn Link,
    out: &mut Vec<Action>,
    sink: &mut dyn FnMut(Event),
) -> Result<(), LinkError> {
    for a in out.drain(..) {
        match a {
            Action::Send(b) => link.send(&b)?,
            Action::Emit(o) => sink(Event::Observation(o)),
            Action::Status(s) => sink(Event::Status(s)),
        }
    }
    Ok(())
}
