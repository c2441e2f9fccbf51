//! Config values chosen from a list, by name: the names the TOML file writes (serde's), listed for
//! the command line's help and parsed back from text, so the library needs no command-line crate.

use serde::{de::DeserializeOwned, Serialize};

/// A config value chosen from a fixed list, named as in a config file (`seed-denoise`, `l2`, …).
pub trait Choice:
    Copy + Serialize + DeserializeOwned + std::fmt::Display + std::str::FromStr<Err = String> + 'static
{
    /// Every value, in the order they are declared.
    const ALL: &'static [Self];

    /// The value's name in a config file.
    fn name(self) -> String {
        match serde_json::to_value(self) {
            Ok(serde_json::Value::String(name)) => name,
            other => unreachable!("a unit variant serialises to its name, not {other:?}"),
        }
    }
}

/// The value named `text`.
pub(crate) fn parse<T: Choice>(text: &str) -> Result<T, String> {
    T::ALL.iter().copied().find(|v| v.name() == text).ok_or_else(|| {
        let names: Vec<String> = T::ALL.iter().map(|v| v.name()).collect();
        format!("{text:?} is not one of {}", names.join(", "))
    })
}

/// `Choice`, `Display` and `FromStr` for a unit enum, from its variants in declaration order.
macro_rules! choices {
    ($t:ident: $($v:ident),+) => {
        impl $crate::config::Choice for $t {
            const ALL: &'static [Self] = &[$($t::$v),+];
        }
        impl std::fmt::Display for $t {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(&$crate::config::Choice::name(*self))
            }
        }
        impl std::str::FromStr for $t {
            type Err = String;
            fn from_str(text: &str) -> Result<Self, String> {
                $crate::config::choice::parse(text)
            }
        }
    };
}
pub(crate) use choices;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{CodeActivation, DatasetName, Preset, Storage};

    #[test]
    fn names_are_the_config_files_and_parse_back() {
        assert_eq!(Preset::SeedDenoise.to_string(), "seed-denoise");
        assert_eq!(DatasetName::FashionMnist.to_string(), "fashion-mnist");
        assert_eq!(Storage::U8.to_string(), "u8");
        for &preset in Preset::ALL {
            assert_eq!(preset.to_string().parse::<Preset>(), Ok(preset));
        }
        assert_eq!(
            CodeActivation::ALL,
            [CodeActivation::Sigmoid, CodeActivation::Identity, CodeActivation::Auto]
        );
        assert!("Seed".parse::<Preset>().unwrap_err().contains("seed, default, seed-denoise, tutorial-net"));
    }
}
