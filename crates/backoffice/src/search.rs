//! The mission list in SQL: filters, the caller's reach (stations, own
//! crew) and keyset paging, so a list over a million protocols reads one
//! page from the index instead of the table.

use crate::archive::{Archive, ArchiveError, Summary};
use crate::db::{Scope, Val};

/// What the list shows. Every value goes in as a parameter.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Filter {
    /// Part of the call sign or the mission (ELS) number, any case.
    pub text: Option<String>,
    /// Opened at or after / before (ms).
    pub from_ms: Option<i64>,
    pub to_ms: Option<i64>,
    pub station: Option<String>,
    /// Only these stations (the station lead's reach).
    pub stations: Option<Vec<String>>,
    /// Only protocols with this crew member (the crew's reach).
    pub staff: Option<String>,
    /// The page after this one: `(received_ms, id)` of its last row.
    pub after: Option<(i64, String)>,
    pub limit: i64,
}

impl Filter {
    /// The newest `limit` protocols, no filter.
    pub fn newest(limit: i64) -> Filter {
        Filter {
            limit,
            ..Filter::default()
        }
    }
}

/// `%`, `_` and `\` typed by the user are literal in LIKE.
fn like_pattern(s: &str) -> String {
    let mut p = String::from("%");
    for c in s.to_lowercase().chars() {
        if matches!(c, '%' | '_' | '\\') {
            p.push('\\');
        }
        p.push(c);
    }
    p.push('%');
    p
}

impl Archive {
    /// The newest protocols matching `f` (at most `f.limit`, ≤ 500). One
    /// query per organisation of the scope, each an index walk on
    /// `(org_id, received_ms, id)`, merged here: the planner cannot walk
    /// that index in order for a list of organisations.
    pub fn search(&self, scope: &Scope, f: &Filter) -> Result<Vec<Summary>, ArchiveError> {
        let mut all = Vec::new();
        for org in scope.org_ids() {
            all.extend(self.search_org(scope, org, f)?);
        }
        all.sort_by(|a, b| {
            (b.received_ms, b.id.to_string()).cmp(&(a.received_ms, a.id.to_string()))
        });
        all.truncate(usize::try_from(f.limit.clamp(1, 500)).unwrap_or(500));
        Ok(all)
    }

    fn search_org(
        &self,
        scope: &Scope,
        org: &str,
        f: &Filter,
    ) -> Result<Vec<Summary>, ArchiveError> {
        let mut sql = String::from(
            "SELECT p.org_id, p.id, p.mission_id, p.call_sign, p.station_id, p.els_number,
                    p.opened_ms, p.received_ms, p.patients, p.changes, p.legal_hold
             FROM v_protocol p WHERE p.shredded_ms IS NULL AND p.org_id = $1",
        );
        let mut params: Vec<Val> = vec![Val::Text(org.to_string())];
        let next = |v: Val, params: &mut Vec<Val>| {
            params.push(v);
            format!("${}", params.len())
        };
        if let Some(t) = f.text.as_deref().map(str::trim).filter(|t| !t.is_empty()) {
            let n = next(Val::Text(like_pattern(t)), &mut params);
            sql.push_str(&format!(
                " AND (lower(p.call_sign) LIKE {n} ESCAPE '\\' OR lower(coalesce(p.els_number, '')) LIKE {n} ESCAPE '\\')"
            ));
        }
        if let Some(v) = f.from_ms {
            let n = next(Val::Int(v), &mut params);
            sql.push_str(&format!(" AND p.opened_ms >= {n}"));
        }
        if let Some(v) = f.to_ms {
            let n = next(Val::Int(v), &mut params);
            sql.push_str(&format!(" AND p.opened_ms < {n}"));
        }
        if let Some(s) = &f.station {
            let n = next(Val::Text(s.clone()), &mut params);
            sql.push_str(&format!(" AND p.station_id = {n}"));
        }
        if let Some(list) = &f.stations {
            if list.is_empty() {
                return Ok(Vec::new());
            }
            let ns: Vec<String> = list
                .iter()
                .take(100)
                .map(|s| next(Val::Text(s.clone()), &mut params))
                .collect();
            sql.push_str(&format!(" AND p.station_id IN ({})", ns.join(", ")));
        }
        if let Some(staff) = &f.staff {
            let n = next(Val::Text(staff.clone()), &mut params);
            sql.push_str(&format!(
                " AND EXISTS (SELECT 1 FROM v_protocol_crew c
                   WHERE c.org_id = p.org_id AND c.protocol_id = p.id AND c.staff_id = {n})"
            ));
        }
        if let Some((ms, id)) = &f.after {
            let a = next(Val::Int(*ms), &mut params);
            let b = next(Val::Text(id.clone()), &mut params);
            sql.push_str(&format!(
                " AND (p.received_ms < {a} OR (p.received_ms = {a} AND p.id < {b}))"
            ));
        }
        let n = next(Val::Int(f.limit.clamp(1, 500)), &mut params);
        sql.push_str(&format!(
            " ORDER BY p.received_ms DESC, p.id DESC LIMIT {n}"
        ));
        let rows = self.db().read(scope, |tx| tx.query(&sql, &params))?;
        rows.iter().map(crate::archive::summary).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn typed_wildcards_are_literal() {
        assert_eq!(like_pattern("RTW 1"), "%rtw 1%");
        assert_eq!(like_pattern("50%_a\\"), "%50\\%\\_a\\\\%");
    }
}
