//! What a pad reports about itself (`POST /v1/pad/status`): shared by the
//! pad's channel link and the gateway, which has no HTTP client feature.

/// What a pad tells the gateway about itself: counts and versions, never
/// patient data. The gateway adds when it last heard from the pad.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PadStatus {
    pub app_version: String,
    /// Applied provisioning versions by part name.
    #[serde(default)]
    pub config_versions: std::collections::BTreeMap<String, u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_package: Option<uuid::Uuid>,
    /// The code of the last refused package (`rollback`, `signature`, …).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_refusal: Option<String>,
    pub outbox_pending: u32,
    pub open_missions: u32,
    pub remote_locked: bool,
    /// The last remote command executed.
    pub command_seq: u64,
    pub sent_ms: i64,
}

impl PadStatus {
    /// Refuses what the gateway should not store: long or odd text.
    pub fn check(&self) -> Result<(), &'static str> {
        let ok = |s: &str| s.len() <= 64 && !s.chars().any(char::is_control);
        if !ok(&self.app_version) {
            return Err("app_version");
        }
        if self.config_versions.len() > 16 || !self.config_versions.keys().all(|k| ok(k)) {
            return Err("config_versions");
        }
        if self.last_refusal.as_deref().is_some_and(|s| !ok(s)) {
            return Err("last_refusal");
        }
        Ok(())
    }
}
