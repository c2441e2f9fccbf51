//! Figures that may be infinite in JSON, which has no infinity: the PSNR of an exact
//! reconstruction is +∞ dB, a diverged epoch's loss NaN. serde_json writes those as `null` and
//! cannot read `null` back as a number, so a run that met one could never be finished or
//! reported. Written as the strings `"inf"`, `"-inf"` and `"nan"`; read back from those, from
//! numbers, and from `null` (files written before, taken as NaN).
//!
//! Use as `#[serde(with = "crate::json_float")]` on an `f64`, `crate::json_float::option` on an
//! `Option<f64>`.

use serde::{Deserialize, Deserializer, Serializer};

/// The word a non-finite figure is written as.
fn word(v: f64) -> &'static str {
    if v.is_nan() {
        "nan"
    } else if v > 0.0 {
        "inf"
    } else {
        "-inf"
    }
}

pub fn serialize<S: Serializer>(v: &f64, s: S) -> Result<S::Ok, S::Error> {
    match v.is_finite() {
        true => s.serialize_f64(*v),
        false => s.serialize_str(word(*v)),
    }
}

/// A figure as JSON holds it.
#[derive(Deserialize)]
#[serde(untagged)]
enum Written {
    Number(f64),
    Word(String),
    Null(()),
}

impl Written {
    fn value<E: serde::de::Error>(self) -> Result<f64, E> {
        match self {
            Written::Number(v) => Ok(v),
            Written::Null(()) => Ok(f64::NAN),
            Written::Word(w) => match w.as_str() {
                "inf" | "+inf" | "Infinity" => Ok(f64::INFINITY),
                "-inf" | "-Infinity" => Ok(f64::NEG_INFINITY),
                "nan" | "NaN" => Ok(f64::NAN),
                other => {
                    Err(E::custom(format!("expected a number, \"inf\", \"-inf\" or \"nan\", got {other:?}")))
                }
            },
        }
    }
}

pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<f64, D::Error> {
    Written::deserialize(d)?.value()
}

/// The same for an optional figure (`None` stays absent or `null`).
pub mod option {
    use super::Written;
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(v: &Option<f64>, s: S) -> Result<S::Ok, S::Error> {
        match v {
            Some(v) => super::serialize(v, s),
            None => s.serialize_none(),
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<f64>, D::Error> {
        match Option::<Written>::deserialize(d)? {
            None | Some(Written::Null(())) => Ok(None),
            Some(w) => w.value().map(Some),
        }
    }
}

#[cfg(test)]
mod tests {
    use serde::{Deserialize, Serialize};

    #[derive(Debug, Serialize, Deserialize)]
    struct Figures {
        #[serde(with = "super")]
        psnr: f64,
        #[serde(default, with = "super::option", skip_serializing_if = "Option::is_none")]
        held: Option<f64>,
    }

    #[test]
    fn infinite_and_nan_figures_round_trip_and_finite_ones_stay_numbers() {
        for (v, text) in [(f64::INFINITY, "\"inf\""), (f64::NEG_INFINITY, "\"-inf\""), (31.25, "31.25")] {
            let json = serde_json::to_string(&Figures { psnr: v, held: Some(v) }).unwrap();
            assert_eq!(json, format!("{{\"psnr\":{text},\"held\":{text}}}"));
            let back: Figures = serde_json::from_str(&json).unwrap();
            assert_eq!((back.psnr, back.held), (v, Some(v)));
        }
        let json = serde_json::to_string(&Figures { psnr: f64::NAN, held: None }).unwrap();
        assert_eq!(json, "{\"psnr\":\"nan\"}");
        let back: Figures = serde_json::from_str(&json).unwrap();
        assert!(back.psnr.is_nan() && back.held.is_none());
        // What serde_json wrote before: null.
        let old: Figures = serde_json::from_str("{\"psnr\":null,\"held\":null}").unwrap();
        assert!(old.psnr.is_nan() && old.held.is_none());
        let err = serde_json::from_str::<Figures>("{\"psnr\":\"big\"}").unwrap_err().to_string();
        assert!(err.contains("\"big\""), "{err}");
    }
}
