//! `rettpad-gateway backoffice add-user`: creates a back-office user with a
//! generated transport password, printed once (the user must change it at
//! the first sign-in). The creation is in the audit trail.

use rettpad_backoffice::access::Role;
use rettpad_backoffice::auth::{HashParams, PasswordContext, PasswordPolicy};
use rettpad_backoffice::users::{NewUser, Users, system_caller};

use crate::config::GatewayConfig;
use crate::fleet_cli::opt;

pub const USAGE: &str =
    "  rettpad-gateway backoffice add-user --config FILE --org ORG --login LOGIN --role ROLE
      --given NAME --family NAME [--stations A,B] [--district ORG,ORG] [--staff-id ID]
      ROLE: crew, station_lead, head_of_service, medical_director, admin, auditor";

fn need(args: &[String], name: &str) -> Result<String, String> {
    opt(args, name).ok_or_else(|| format!("{name} is required\nusage:\n{USAGE}"))
}

fn list(args: &[String], name: &str) -> Vec<String> {
    opt(args, name)
        .map(|v| {
            v.split(',')
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(str::to_string)
                .collect()
        })
        .unwrap_or_default()
}

/// A transport password that passes `policy`: 16 characters from an
/// alphabet without look-alikes, no character twice in a row.
pub fn transport_password(
    policy: &PasswordPolicy,
    ctx: &PasswordContext<'_>,
) -> Result<String, String> {
    const ALPHA: &[u8] = b"ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz23456789";
    const SPECIAL: &[u8] = b"!#%+-=?";
    for _ in 0..100 {
        let key = rettpad_crypto::SecretKey::generate().map_err(|e| e.to_string())?;
        let bytes = key.expose();
        let mut pw = String::new();
        let mut last = 0u8;
        for (i, b) in bytes.iter().take(16).enumerate() {
            let set = if i % 6 == 5 { SPECIAL } else { ALPHA };
            let c = set[usize::from(*b) % set.len()];
            if c == last {
                continue;
            }
            pw.push(char::from(c));
            last = c;
        }
        if policy.check_new(&pw, ctx).is_ok() {
            return Ok(pw);
        }
    }
    Err("could not generate a transport password that meets the policy".into())
}

pub fn main(args: &[String]) -> Result<(), String> {
    if args.first().map(String::as_str) != Some("add-user") {
        return Err(format!("usage:\n{USAGE}"));
    }
    let cfg = GatewayConfig::load(std::path::Path::new(&need(args, "--config")?))
        .map_err(|e| e.to_string())?;
    let org = need(args, "--org")?;
    let login = need(args, "--login")?;
    let role = need(args, "--role")?;
    let role = Role::parse(&role).ok_or_else(|| format!("unknown role {role:?}\n{USAGE}"))?;
    let given = need(args, "--given")?;
    let family = need(args, "--family")?;
    let policy = match cfg.backoffice.as_ref().map(|b| b.password_profile.as_str()) {
        Some("nist") => PasswordPolicy::nist(),
        _ => PasswordPolicy::seed(),
    };
    let ctx = PasswordContext {
        login: &login,
        given_name: &given,
        family_name: &family,
        organisation: &org,
        current_hash: None,
    };
    let pw = transport_password(&policy, &ctx)?;
    let archive = crate::archiver::open_archive(&cfg)?;
    let params = cfg
        .backoffice
        .as_ref()
        .map_or(HashParams::server(), |b| b.hash_params());
    let users = Users::new(&archive, policy, params);
    let (stations, district) = (list(args, "--stations"), list(args, "--district"));
    let staff = opt(args, "--staff-id");
    users
        .create(
            &system_caller(&org),
            &NewUser {
                login: &login,
                given_name: &given,
                family_name: &family,
                role,
                stations: &stations,
                district: &district,
                staff_id: staff.as_deref(),
            },
            &pw,
            crate::fleet_cli::now_ms(),
        )
        .map_err(|e| format!("{login}: {e}"))?;
    // The only place the transport password appears: hand it over once.
    println!("{pw}");
    Ok(())
}
