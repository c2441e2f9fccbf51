//! The command line's names for the library's: its flags for config keys, sizes such as 4G, and
//! the library's enums by their config-file names.

/// The library's messages name config keys; on the command line the same values are flags.
pub(crate) const FLAGS: &[(&str, &str)] = &[
    ("data.path", "--data"),
    ("data.size", "--size"),
    ("data.bad_images", "--bad-images"),
    ("data.storage", "--storage"),
    ("data.split", "--split-by"),
    ("data.holdout", "--holdout"),
    ("training.batch_size", "--batch-size"),
    ("training.epochs", "--epochs"),
    ("training.early_stopping", "--early-stopping"),
    ("training.weight_decay", "--weight-decay"),
    ("model.max_code_map_side", "--max-code-map-side"),
    ("output directory", "--out"),
    ("the limit", "--max-memory"),
];

/// `message` with the flag of each config key it names, e.g. `… set data.size (--size) …`.
pub(crate) fn with_flags(message: &str) -> String {
    FLAGS.iter().fold(message.to_string(), |m, (key, flag)| {
        if m.contains(key) && !m.contains(flag) {
            m.replacen(key, &format!("{key} ({flag})"), 1)
        } else {
            m
        }
    })
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
