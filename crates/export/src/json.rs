//! A JSON tree whose objects keep the order they were built in, so that the
//! output is stable whatever features `serde_json` was compiled with and
//! `resourceType` comes first as FHIR readers expect.

use rettpad_record::Num;
use serde::ser::{Serialize, SerializeMap, SerializeSeq, Serializer};

#[derive(Debug, Clone, PartialEq)]
pub(crate) enum J {
    Bool(bool),
    Int(i64),
    /// Exact decimal from thousandths.
    Dec(Num),
    Str(String),
    Arr(Vec<J>),
    Obj(O),
}

/// An object: keys in insertion order; setting a key again replaces it.
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct O(Vec<(&'static str, J)>);

impl O {
    pub fn new() -> O {
        O(Vec::new())
    }

    /// `resourceType` first.
    pub fn resource(kind: &str) -> O {
        O::new().set("resourceType", kind)
    }

    pub fn set(mut self, k: &'static str, v: impl Into<J>) -> O {
        let v = v.into();
        match self.0.iter_mut().find(|(x, _)| *x == k) {
            Some(slot) => slot.1 = v,
            None => self.0.push((k, v)),
        }
        self
    }

    /// Sets `k` only for `Some`; an empty array or object counts as absent
    /// (FHIR forbids empty elements).
    pub fn opt(self, k: &'static str, v: Option<impl Into<J>>) -> O {
        match v.map(Into::into) {
            Some(J::Arr(a)) if a.is_empty() => self,
            Some(J::Obj(o)) if o.0.is_empty() => self,
            Some(v) => self.set(k, v),
            None => self,
        }
    }

    pub fn into_pairs(self) -> Vec<(&'static str, J)> {
        self.0
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl From<&str> for J {
    fn from(s: &str) -> J {
        J::Str(s.to_string())
    }
}
impl From<String> for J {
    fn from(s: String) -> J {
        J::Str(s)
    }
}
impl From<&String> for J {
    fn from(s: &String) -> J {
        J::Str(s.clone())
    }
}
impl From<bool> for J {
    fn from(b: bool) -> J {
        J::Bool(b)
    }
}
impl From<i64> for J {
    fn from(i: i64) -> J {
        J::Int(i)
    }
}
impl From<Num> for J {
    fn from(n: Num) -> J {
        J::Dec(n)
    }
}
impl From<O> for J {
    fn from(o: O) -> J {
        J::Obj(o)
    }
}
impl<T: Into<J>> From<Vec<T>> for J {
    fn from(v: Vec<T>) -> J {
        J::Arr(v.into_iter().map(Into::into).collect())
    }
}

impl Serialize for J {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            J::Bool(b) => s.serialize_bool(*b),
            J::Int(i) => s.serialize_i64(*i),
            J::Dec(n) if n.0 % 1000 == 0 => s.serialize_i64(n.0 / 1000),
            // Thousandths print exactly: the shortest f64 that round-trips
            // is the decimal itself (e.g. 36.8, never 36.799999).
            J::Dec(n) => s.serialize_f64(n.0 as f64 / 1000.0),
            J::Str(v) => s.serialize_str(v),
            J::Arr(a) => {
                let mut seq = s.serialize_seq(Some(a.len()))?;
                for x in a {
                    seq.serialize_element(x)?;
                }
                seq.end()
            }
            J::Obj(o) => o.serialize(s),
        }
    }
}

impl Serialize for O {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut m = s.serialize_map(Some(self.0.len()))?;
        for (k, v) in &self.0 {
            m.serialize_entry(k, v)?;
        }
        m.end()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn order_is_kept_and_decimals_are_exact() {
        let o = O::resource("Observation")
            .set("b", 1i64)
            .set("a", Num(36_800))
            .set("b", Num(120_000))
            .opt("empty", Some(Vec::<J>::new()))
            .opt("none", None::<&str>)
            .set("c", Num(-1_050));
        let s = serde_json::to_string(&J::Obj(o)).unwrap();
        assert_eq!(
            s,
            r#"{"resourceType":"Observation","b":120,"a":36.8,"c":-1.05}"#
        );
        for t in [1i64, 5, 999, 36_800, 123_456_789, -7] {
            let s = serde_json::to_string(&J::Dec(Num(t))).unwrap();
            assert_eq!(s, crate::decimal(Num(t)), "{t}");
        }
    }
}
