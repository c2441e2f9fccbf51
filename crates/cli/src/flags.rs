//! The command line's names for the library's: the flags of the settings its errors name, sizes
//! such as 4G, and the library's enums by their config-file names.

/// The flag that sets each setting the library's errors name: config keys, and a job's output
/// directory and memory limit.
const FLAGS: &[(&str, &str)] = &[
    ("data.path", "--data"),
    ("data.size", "--size"),
    ("data.storage", "--storage"),
    ("data.bad_images", "--bad-images"),
    ("data.holdout", "--holdout"),
    ("data.split", "--split-by"),
    ("data.normal", "--normal"),
    ("data.normal.classes", "--normal"),
    ("data.normal.labels", "--labels"),
    ("noise", "--noise"),
    ("model.kind", "--model"),
    ("model.code_length", "--code-length"),
    ("model.code_norm", "--code-norm"),
    ("model.code_activation", "--code-activation"),
    ("model.linear_path", "--linear-path"),
    ("model.dropout", "--dropout"),
    ("training.epochs", "--epochs"),
    ("training.batch_size", "--batch-size"),
    ("training.learning_rate", "--learning-rate"),
    ("training.seed", "--seed"),
    ("training.loss", "--loss"),
    ("training.sparsity", "--sparsity"),
    ("training.beta", "--beta"),
    ("training.kl_warmup_epochs", "--kl-warmup-epochs"),
    ("training.augment", "--augment"),
    ("training.early_stopping", "--early-stopping"),
    (ae::config::OUTPUT_DIRECTORY, "--out"),
    (ae::memory::MEMORY_LIMIT, "--max-memory"),
];

/// The settings an error from the library names (through any of its causes), as their flags;
/// a config setting without a flag of its own as `--set KEY=…`.
fn flags_named(error: &anyhow::Error) -> Vec<String> {
    use ae::config::{ConfigError, NamesSettings};
    let mut flags = Vec::new();
    for cause in error.chain() {
        let settings = if let Some(e) = cause.downcast_ref::<ae::Error>() {
            e.settings()
        } else if let Some(e) = cause.downcast_ref::<ConfigError>() {
            e.settings()
        } else if let Some(e) = cause.downcast_ref::<ae::data::DataError>() {
            e.settings()
        } else if let Some(e) = cause.downcast_ref::<ae::memory::MemoryError>() {
            e.settings()
        } else if let Some(e) = cause.downcast_ref::<ae::report::ReportError>() {
            e.settings()
        } else {
            Vec::new()
        };
        for setting in settings {
            let flag = match FLAGS.iter().find(|(s, _)| *s == setting) {
                Some(&(_, flag)) => flag.to_string(),
                None if ["data.", "model.", "training."].iter().any(|t| setting.starts_with(t)) => {
                    format!("--set {setting}=…")
                }
                None => continue,
            };
            if !flags.contains(&flag) {
                flags.push(flag);
            }
        }
    }
    flags
}

/// The one line an error prints: its message, then the flags of the settings it names.
pub(crate) fn error_line(error: &anyhow::Error) -> String {
    match flags_named(error).as_slice() {
        [] => format!("error: {error:#}"),
        flags => format!("error: {error:#} (flags: {})", flags.join(", ")),
    }
}

/// A size as `--max-memory` takes it: bytes, or a number with K, M, G or T (powers of 1000,
/// an optional B).
pub(crate) fn parse_bytes(text: &str) -> std::result::Result<u64, String> {
    let upper = text.trim().to_ascii_uppercase();
    let digits = upper.trim_end_matches('B');
    let (number, scale) = match digits.char_indices().last() {
        Some((i, 'K')) => (&digits[..i], 1e3),
        Some((i, 'M')) => (&digits[..i], 1e6),
        Some((i, 'G')) => (&digits[..i], 1e9),
        Some((i, 'T')) => (&digits[..i], 1e12),
        _ => (digits, 1.0),
    };
    match number.trim().parse::<f64>() {
        Ok(v) if v.is_finite() && v > 0.0 && v * scale < 1e19 => Ok((v * scale) as u64),
        _ => Err(format!("expected a size such as 4G, 500M or 1000000, got {text:?}")),
    }
}

/// A parser for a library value named as in a config file; the help lists the names.
pub(crate) fn choice<T: ae::config::Choice + Send + Sync + Clone>(
) -> impl clap::builder::TypedValueParser<Value = T> {
    use clap::builder::TypedValueParser;
    clap::builder::PossibleValuesParser::new(T::ALL.iter().map(|v| v.name()))
        .try_map(|name| name.parse::<T>())
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn every_flag_a_setting_maps_to_is_a_flag_of_ae_train() {
        let cli = crate::Cli::command();
        let train = cli.find_subcommand("train").expect("ae train");
        let longs: Vec<String> = cli
            .get_arguments()
            .chain(train.get_arguments())
            .filter_map(|a| a.get_long())
            .map(|l| format!("--{l}"))
            .collect();
        for (setting, flag) in FLAGS {
            assert!(longs.iter().any(|l| l == flag), "{setting}: {flag} is not a flag of ae train");
        }
    }

    #[test]
    fn an_error_names_the_flags_of_the_settings_it_names_once_each() {
        let config = ae::config::ConfigError::new("training.early_stopping", "set data.holdout above 0")
            .mentioning(&["data.holdout"]);
        let error = anyhow::Error::from(ae::Error::from(config)).context("cannot train");
        assert_eq!(
            error_line(&error),
            "error: cannot train: training.early_stopping: set data.holdout above 0 (flags: --early-stopping, --holdout)"
        );
        let need = ae::memory::MemoryNeed { data: 2_000_000, ..Default::default() };
        let refused = ae::memory::MemoryLimit::asked(1_000_000)
            .check("this job", &need, "use fewer images")
            .unwrap_err();
        assert!(error_line(&refused.into()).ends_with("use fewer images (flags: --max-memory)"));
        let config = ae::config::ConfigError::new("model.max_code_map_side", "must be at least 1");
        assert!(error_line(&config.into()).ends_with("(flags: --set model.max_code_map_side=…)"));
        assert_eq!(error_line(&anyhow::anyhow!("--steps 1: at least 2")), "error: --steps 1: at least 2");
    }
}
