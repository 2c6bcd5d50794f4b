//! Reference gateway: receives sealed packets from pads and serves hospital
//! mailboxes. Not implemented yet (the upload issue builds it).

use std::process::ExitCode;

fn main() -> ExitCode {
    eprintln!(
        "rettpad-gateway {}: not implemented yet; the upload issue adds packet intake, receipts and mailboxes.",
        env!("CARGO_PKG_VERSION")
    );
    ExitCode::from(2)
}
