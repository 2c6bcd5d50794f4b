//! IPP to a hospital printer (CUPS or a printer's own IPP server):
//! Print-Job with `application/pdf`, then Get-Job-Attributes until the job
//! is completed, aborted or canceled. The interpretation of printer and job
//! states is pure ([`classify_printer`], [`classify_job`]); the client is the
//! `ipp` crate's blocking one (plain HTTP; hospital LANs use `ipp://`).

use super::print::{PrintError, PrintStatus};
use ipp::prelude::*;
use std::io::Cursor;
use std::time::{Duration, Instant};

/// IPP `printer-state` (RFC 8011 5.4.11).
pub const PRINTER_STOPPED: i32 = 5;
/// IPP `job-state` values (RFC 8011 5.3.7).
pub const JOB_PENDING: i32 = 3;
pub const JOB_HELD: i32 = 4;
pub const JOB_PROCESSING: i32 = 5;
pub const JOB_STOPPED: i32 = 6;
pub const JOB_CANCELED: i32 = 7;
pub const JOB_ABORTED: i32 = 8;
pub const JOB_COMPLETED: i32 = 9;

/// What the printer said about itself.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct PrinterInfo {
    pub state: i32,
    pub reasons: Vec<String>,
    pub accepting: bool,
}

fn int(v: &IppValue) -> Option<i32> {
    match v {
        IppValue::Integer(i) | IppValue::Enum(i) => Some(*i),
        _ => None,
    }
}

fn keywords(v: &IppValue) -> Vec<String> {
    match v {
        IppValue::Array(a) => a.iter().flat_map(keywords).collect(),
        IppValue::Keyword(k) => vec![k.as_str().to_string()],
        other => vec![other.to_string()],
    }
}

fn media_problem(reasons: &[String]) -> bool {
    reasons.iter().any(|r| {
        r.starts_with("media-empty") || r.starts_with("media-needed") || r.starts_with("media-jam")
    })
}

/// Whether a job can go to this printer now.
pub fn classify_printer(p: &PrinterInfo) -> Result<(), PrintError> {
    if media_problem(&p.reasons) {
        return Err(PrintError::OutOfPaper);
    }
    if p.state == PRINTER_STOPPED || !p.accepting {
        return Err(PrintError::Stopped {
            reasons: p.reasons.clone(),
        });
    }
    if p.reasons.iter().any(|r| r.starts_with("offline")) {
        return Err(PrintError::Offline);
    }
    Ok(())
}

/// The job's state as a status, an error, or `None` while it is under way.
pub fn classify_job(
    state: i32,
    reasons: &[String],
    job_id: i32,
) -> Result<Option<PrintStatus>, PrintError> {
    match state {
        JOB_COMPLETED => Ok(Some(PrintStatus::Done)),
        JOB_ABORTED => Err(PrintError::Aborted {
            reasons: reasons.to_vec(),
        }),
        JOB_CANCELED => Err(PrintError::Canceled),
        JOB_STOPPED | JOB_HELD if media_problem(reasons) => Err(PrintError::OutOfPaper),
        JOB_PROCESSING => Ok(Some(PrintStatus::Printing { job_id })),
        _ => Ok(Some(PrintStatus::Queued { job_id })),
    }
}

fn uri(s: &str) -> Result<Uri, PrintError> {
    s.parse::<Uri>()
        .map_err(|_| PrintError::BadPrinter(format!("invalid printer URI {s}")))
}

fn client(u: &Uri, timeout: Duration) -> IppClient {
    IppClient::builder(u.clone())
        .request_timeout(timeout)
        .build()
}

fn net(e: IppError) -> PrintError {
    match e {
        IppError::StatusError(s) => PrintError::Rejected(s.to_string()),
        IppError::RequestError(code) => PrintError::Rejected(format!("HTTP {code}")),
        // Connection refused, DNS, timeouts: the printer is not reachable.
        other => PrintError::Unreachable(other.to_string()),
    }
}

fn attrs_of(resp: &IppRequestResponse, tag: DelimiterTag) -> Vec<(String, IppValue)> {
    resp.attributes()
        .groups_of(tag)
        .flat_map(|g| g.attributes().iter())
        .map(|a| (a.name().as_str().to_string(), a.value().clone()))
        .collect()
}

/// Get-Printer-Attributes: state, reasons, accepting.
pub fn printer_info(printer_uri: &str, timeout: Duration) -> Result<PrinterInfo, PrintError> {
    let u = uri(printer_uri)?;
    let op = IppOperationBuilder::get_printer_attributes(u.clone())
        .attributes([
            "printer-state",
            "printer-state-reasons",
            "printer-is-accepting-jobs",
        ])
        .build()
        .map_err(|e| PrintError::BadPrinter(e.to_string()))?;
    let resp = client(&u, timeout).send(op).map_err(net)?;
    let code = resp.header().status_code();
    if !code.is_success() {
        return Err(PrintError::Rejected(code.to_string()));
    }
    let mut info = PrinterInfo {
        accepting: true,
        ..PrinterInfo::default()
    };
    for (name, v) in attrs_of(&resp, DelimiterTag::PrinterAttributes) {
        match name.as_str() {
            "printer-state" => info.state = int(&v).unwrap_or(0),
            "printer-state-reasons" => {
                info.reasons = keywords(&v).into_iter().filter(|r| r != "none").collect()
            }
            "printer-is-accepting-jobs" => info.accepting = !matches!(v, IppValue::Boolean(false)),
            _ => {}
        }
    }
    Ok(info)
}

/// Print-Job; returns the job id.
pub fn submit(
    printer_uri: &str,
    pdf: &[u8],
    title: &str,
    timeout: Duration,
) -> Result<i32, PrintError> {
    let u = uri(printer_uri)?;
    let op = IppOperationBuilder::print_job(u.clone(), IppPayload::new(Cursor::new(pdf.to_vec())))
        .user_name("rettpad")
        .job_title(title)
        .document_format("application/pdf")
        .build()
        .map_err(|e| PrintError::BadPrinter(e.to_string()))?;
    let resp = client(&u, timeout).send(op).map_err(net)?;
    let code = resp.header().status_code();
    if !code.is_success() {
        return Err(match code {
            StatusCode::ServerErrorNotAcceptingJobs => PrintError::Stopped { reasons: vec![] },
            other => PrintError::Rejected(other.to_string()),
        });
    }
    attrs_of(&resp, DelimiterTag::JobAttributes)
        .into_iter()
        .find(|(n, _)| n == "job-id")
        .and_then(|(_, v)| int(&v))
        .ok_or_else(|| PrintError::Rejected("no job-id in the answer".into()))
}

/// Get-Job-Attributes: state and reasons.
pub fn job_state(
    printer_uri: &str,
    job_id: i32,
    timeout: Duration,
) -> Result<(i32, Vec<String>), PrintError> {
    let u = uri(printer_uri)?;
    let op = IppOperationBuilder::get_job_attributes(u.clone(), job_id)
        .build()
        .map_err(|e| PrintError::BadPrinter(e.to_string()))?;
    let resp = client(&u, timeout).send(op).map_err(net)?;
    let code = resp.header().status_code();
    if !code.is_success() {
        return Err(PrintError::Rejected(code.to_string()));
    }
    let mut state = 0;
    let mut reasons = Vec::new();
    for (n, v) in attrs_of(&resp, DelimiterTag::JobAttributes) {
        match n.as_str() {
            "job-state" => state = int(&v).unwrap_or(0),
            "job-state-reasons" => reasons = keywords(&v),
            _ => {}
        }
    }
    Ok((state, reasons))
}

/// Timing of one IPP print.
#[derive(Debug, Clone, Copy)]
pub struct IppOptions {
    pub request_timeout: Duration,
    pub poll_every: Duration,
    /// How long to follow the job; after it the job stays queued (not an error).
    pub follow_for: Duration,
}

impl Default for IppOptions {
    fn default() -> Self {
        IppOptions {
            request_timeout: Duration::from_secs(10),
            poll_every: Duration::from_millis(250),
            follow_for: Duration::from_secs(60),
        }
    }
}

/// Checks the printer, sends the PDF and follows the job. Blocking: run it
/// on a worker thread. `on_status` gets every change.
pub fn print_pdf(
    printer_uri: &str,
    pdf: &[u8],
    title: &str,
    opts: IppOptions,
    on_status: &mut dyn FnMut(&PrintStatus),
) -> Result<PrintStatus, PrintError> {
    on_status(&PrintStatus::Connecting);
    let info = printer_info(printer_uri, opts.request_timeout)?;
    classify_printer(&info)?;
    on_status(&PrintStatus::Sending {
        sent: 0,
        total: pdf.len(),
    });
    let job_id = submit(printer_uri, pdf, title, opts.request_timeout)?;
    tracing::info!(job_id, bytes = pdf.len(), "IPP job submitted");
    let mut last = PrintStatus::Queued { job_id };
    on_status(&last);
    let until = Instant::now() + opts.follow_for;
    loop {
        let (state, reasons) = job_state(printer_uri, job_id, opts.request_timeout)?;
        let st = classify_job(state, &reasons, job_id);
        if let Err(e) = &st {
            tracing::warn!(job_id, state, "IPP job failed");
            on_status(&PrintStatus::Failed(e.clone()));
        }
        if let Some(s) = st? {
            if s != last {
                on_status(&s);
                last = s.clone();
            }
            if s == PrintStatus::Done {
                return Ok(s);
            }
        }
        if Instant::now() >= until {
            return Ok(last);
        }
        std::thread::sleep(opts.poll_every);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn printer_states() {
        let ok = PrinterInfo {
            state: 3,
            reasons: vec![],
            accepting: true,
        };
        assert_eq!(classify_printer(&ok), Ok(()));
        let stopped = PrinterInfo {
            state: 5,
            reasons: vec!["paused".into()],
            accepting: true,
        };
        assert!(matches!(
            classify_printer(&stopped),
            Err(PrintError::Stopped { .. })
        ));
        let paper = PrinterInfo {
            state: 5,
            reasons: vec!["media-empty-error".into()],
            accepting: true,
        };
        assert_eq!(classify_printer(&paper), Err(PrintError::OutOfPaper));
        let offline = PrinterInfo {
            state: 3,
            reasons: vec!["offline-report".into()],
            accepting: true,
        };
        assert_eq!(classify_printer(&offline), Err(PrintError::Offline));
        let rejecting = PrinterInfo {
            state: 3,
            reasons: vec![],
            accepting: false,
        };
        assert!(classify_printer(&rejecting).is_err());
    }

    #[test]
    fn job_states() {
        assert_eq!(classify_job(9, &[], 1), Ok(Some(PrintStatus::Done)));
        assert!(matches!(
            classify_job(8, &[], 1),
            Err(PrintError::Aborted { .. })
        ));
        assert_eq!(classify_job(7, &[], 1), Err(PrintError::Canceled));
        assert_eq!(
            classify_job(6, &["media-empty".into()], 1),
            Err(PrintError::OutOfPaper)
        );
        assert_eq!(
            classify_job(5, &[], 4),
            Ok(Some(PrintStatus::Printing { job_id: 4 }))
        );
        assert_eq!(
            classify_job(3, &[], 4),
            Ok(Some(PrintStatus::Queued { job_id: 4 }))
        );
    }
}
