//! Byte sizes as people write them in flags and configuration files.

/// `1048576`, `64KiB`, `64MiB`, `1GiB` (also `K`, `M`, `G`, `KB`... as powers of 1024).
/// Zero is refused: every size it reads is a limit or a budget.
pub fn parse_bytes(text: &str) -> Result<usize, String> {
    let t = text.trim();
    let split = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
    let (num, unit) = t.split_at(split);
    let n: usize = num.parse().map_err(|_| format!("{text:?} is not a byte size (like 64MiB)"))?;
    let shift = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 0,
        "k" | "kb" | "kib" => 10,
        "m" | "mb" | "mib" => 20,
        "g" | "gb" | "gib" => 30,
        _ => return Err(format!("{text:?}: unknown unit (use KiB, MiB or GiB)")),
    };
    n.checked_mul(1 << shift).filter(|b| *b > 0).ok_or_else(|| format!("{text:?}: out of range"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_and_mistakes() {
        assert_eq!(parse_bytes("1048576"), Ok(1 << 20));
        assert_eq!(parse_bytes("64MiB"), Ok(64 << 20));
        assert_eq!(parse_bytes(" 2k "), Ok(2048));
        assert!(parse_bytes("0").is_err());
        assert!(parse_bytes("12 parsecs").is_err());
        assert!(parse_bytes("99999999999999999999G").is_err());
    }
}
