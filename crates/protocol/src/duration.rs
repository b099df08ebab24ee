//! Human durations: `90s`, `30m`, `2h`, `1h30m`, `250ms`.

/// Why a duration could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DurationError {
    #[error("empty duration")]
    Empty,
    #[error("'{0}' is not a duration: use a number with a unit, like 90s, 30m or 2h")]
    Malformed(String),
    #[error("'{0}' is too long a duration")]
    Overflow(String),
    #[error("a duration of zero is not allowed")]
    Zero,
}

/// Parses a duration into milliseconds. Units: `ms`, `s`, `m`, `h`, `d`; parts may be
/// combined (`1h30m`). A bare number is refused: the unit is never guessed.
pub fn parse_duration(text: &str) -> Result<u64, DurationError> {
    let s = text.trim();
    if s.is_empty() {
        return Err(DurationError::Empty);
    }
    let malformed = || DurationError::Malformed(text.to_string());
    let bytes = s.as_bytes();
    let mut total: u64 = 0;
    let mut i = 0;
    while i < bytes.len() {
        let start = i;
        while i < bytes.len() && bytes[i].is_ascii_digit() {
            i += 1;
        }
        if start == i {
            return Err(malformed());
        }
        let number: u64 = s[start..i].parse().map_err(|_| malformed())?;
        let unit_start = i;
        while i < bytes.len() && bytes[i].is_ascii_alphabetic() {
            i += 1;
        }
        let factor: u64 = match &s[unit_start..i] {
            "ms" => 1,
            "s" => 1_000,
            "m" => 60_000,
            "h" => 3_600_000,
            "d" => 86_400_000,
            _ => return Err(malformed()),
        };
        let part = number
            .checked_mul(factor)
            .ok_or_else(|| DurationError::Overflow(text.to_string()))?;
        total = total
            .checked_add(part)
            .ok_or_else(|| DurationError::Overflow(text.to_string()))?;
    }
    if total == 0 {
        return Err(DurationError::Zero);
    }
    Ok(total)
}

/// Formats milliseconds compactly: `850ms`, `42s`, `3m07s`, `2h05m`.
pub fn format_duration(ms: u64) -> String {
    if ms < 1_000 {
        return format!("{ms}ms");
    }
    let secs = ms / 1_000;
    if secs < 60 {
        return format!("{secs}s");
    }
    let mins = secs / 60;
    if mins < 60 {
        return format!("{mins}m{:02}s", secs % 60);
    }
    let hours = mins / 60;
    if hours < 48 {
        return format!("{hours}h{:02}m", mins % 60);
    }
    format!("{}d{:02}h", hours / 24, hours % 24)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_units_and_combinations() {
        assert_eq!(parse_duration("90s"), Ok(90_000));
        assert_eq!(parse_duration("30m"), Ok(1_800_000));
        assert_eq!(parse_duration("2h"), Ok(7_200_000));
        assert_eq!(parse_duration("1h30m"), Ok(5_400_000));
        assert_eq!(parse_duration("250ms"), Ok(250));
        assert_eq!(parse_duration(" 1d "), Ok(86_400_000));
    }

    #[test]
    fn refuses_what_is_not_a_duration() {
        for bad in ["10", "abc", "5x", "m5", "1.5h", "-3s", "3 s"] {
            assert!(
                matches!(parse_duration(bad), Err(DurationError::Malformed(_))),
                "{bad} should be malformed"
            );
        }
        assert_eq!(parse_duration(""), Err(DurationError::Empty));
        assert_eq!(parse_duration("0s"), Err(DurationError::Zero));
        assert!(matches!(
            parse_duration("99999999999999999999d"),
            Err(DurationError::Malformed(_)) | Err(DurationError::Overflow(_))
        ));
        assert!(matches!(
            parse_duration("999999999999999d"),
            Err(DurationError::Overflow(_))
        ));
    }

    #[test]
    fn formats_compactly() {
        assert_eq!(format_duration(850), "850ms");
        assert_eq!(format_duration(42_000), "42s");
        assert_eq!(format_duration(187_000), "3m07s");
        assert_eq!(format_duration(7_500_000), "2h05m");
        assert_eq!(format_duration(3 * 86_400_000), "3d00h");
    }
}
