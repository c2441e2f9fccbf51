//! One config value set by its key, `training.code_lr_scale=1`: any setting of `config.toml`
//! without a flag of its own, taken as written (no rule follows from it).

use super::{ConfigError, RunConfig};

impl RunConfig {
    /// Sets the value at `assignment`'s key (`table.key=value`, as in `config.toml`); the value is
    /// TOML (`1e-3`, `true`, `"cosine"`), or a bare word read as a string (`constant`). The key
    /// must exist and the value have its type; the whole config is validated by the caller.
    pub fn set(&mut self, assignment: &str) -> Result<(), ConfigError> {
        let Some((key, text)) = assignment.split_once('=') else {
            return Err(ConfigError::new("--set", format!("{assignment:?} is not KEY=VALUE")));
        };
        let (key, text) = (key.trim(), text.trim());
        let value = toml::from_str::<toml::Table>(&format!("v = {text}"))
            .ok()
            .and_then(|mut t| t.remove("v"))
            .unwrap_or_else(|| toml::Value::String(text.to_string()));
        let mut table = toml::Value::try_from(&*self)
            .map_err(|e| ConfigError::new(key, format!("the config cannot be written as TOML: {e}")))?;
        let mut at = &mut table;
        let parts: Vec<&str> = key.split('.').collect();
        for (i, part) in parts.iter().enumerate() {
            let Some(inner) = at.as_table_mut() else {
                return Err(ConfigError::new(key, "is not a setting of config.toml"));
            };
            // Settings left out of config.toml while unset (e.g. model.linear_path) can be given.
            if i + 1 == parts.len() {
                inner.insert(part.to_string(), value.clone());
                break;
            }
            at = inner
                .get_mut(*part)
                .ok_or_else(|| ConfigError::new(key, "is not a setting of config.toml"))?;
        }
        let text = toml::to_string(&table)
            .map_err(|e| ConfigError::new(key, format!("the config cannot be written as TOML: {e}")))?;
        *self = toml::from_str(&text).map_err(|e| match e.message() {
            m if m.starts_with("unknown field") => ConfigError::new(key, "is not a setting of config.toml"),
            m => {
                ConfigError::new(key, format!("cannot be {value}: {}", m.lines().next().unwrap_or_default()))
            }
        })?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use crate::config::{Preset, RunConfig, Schedule};

    #[test]
    fn a_key_takes_a_value_of_its_type_and_nothing_else_changes() {
        let start = RunConfig::preset(Preset::Default);
        let mut config = start.clone();
        config.set("training.schedule=constant").unwrap();
        config.set("training.code_lr_scale = 1").unwrap();
        config.set("model.max_code_map_side=4").unwrap();
        config.set("training.learning_rate=1e-3").unwrap();
        let mut want = start.clone();
        want.training.schedule = Schedule::Constant;
        want.training.code_lr_scale = 1.0;
        want.model.max_code_map_side = Some(4);
        want.training.learning_rate = 1e-3;
        assert_eq!(config, want);
        // A setting config.toml leaves out while unset can be given.
        let mut tutorial = RunConfig::preset(Preset::TutorialNet);
        tutorial.set("model.linear_path=true").unwrap();
        assert!(tutorial.model.linear_path);
        // Refused by key, the config untouched: no such key, the wrong type, no `=`.
        for (bad, key) in [
            ("training.nonsense=1", "training.nonsense"),
            ("training.schedule=sideways", "training.schedule"),
            ("training.epochs=\"five\"", "training.epochs"),
            ("model.encoder.filters=3", "model.encoder.filters"),
            ("schedule", "--set"),
        ] {
            let mut config = start.clone();
            assert_eq!(config.set(bad).unwrap_err().key, key, "{bad}");
            assert_eq!(config, start, "{bad}");
        }
    }
}
