//! Output normalisation for whole-text comparisons: what varies between runs (ports,
//! paths, ids, times) replaced with fixed words, and tokens' claims.

use serde_json::Value;

/// Replaces every `from` with `to`.
pub fn subst(text: &str, pairs: &[(&str, &str)]) -> String {
    pairs
        .iter()
        .fold(text.to_string(), |t, (from, to)| t.replace(from, to))
}

/// Replaces the value of each line whose first word (after indentation) is `label`
/// with `<label>`; for keys that change per run (kid, x5t).
pub fn mask_fields(text: &str, labels: &[&str]) -> String {
    text.lines()
        .map(|line| {
            let trimmed = line.trim_start();
            for label in labels {
                if let Some(rest) = trimmed.strip_prefix(label)
                    && rest.starts_with("  ")
                {
                    let indent = &line[..line.len() - trimmed.len()];
                    let pad = rest.len() - rest.trim_start().len();
                    return format!("{indent}{label}{}<{label}>", " ".repeat(pad));
                }
            }
            line.to_string()
        })
        .collect::<Vec<_>>()
        .join("\n")
        + "\n"
}

/// Every `YYYY-MM-DD hh:mm:ss UTC (relative)` becomes `<utc> (<relative>)`; the
/// relative parts are returned in order for their own assertions.
pub fn mask_times(text: &str) -> (String, Vec<String>) {
    let mut out = String::new();
    let mut relatives = Vec::new();
    let mut rest = text;
    while let Some(i) = rest.find(" UTC") {
        // The 19 characters before " UTC" are the date and time.
        let start = i.saturating_sub(19);
        let candidate = &rest[start..i];
        let looks_like_time = candidate.len() == 19
            && candidate.as_bytes()[4] == b'-'
            && candidate.as_bytes()[10] == b' '
            && candidate.as_bytes()[13] == b':';
        if !looks_like_time {
            out.push_str(&rest[..i + 4]);
            rest = &rest[i + 4..];
            continue;
        }
        out.push_str(&rest[..start]);
        out.push_str("<utc>");
        rest = &rest[i + 4..];
        if let Some(after) = rest.strip_prefix(" (")
            && let Some(end) = after.find(')')
        {
            relatives.push(after[..end].to_string());
            out.push_str(" (<relative>)");
            rest = &after[end + 1..];
        }
    }
    out.push_str(rest);
    (out, relatives)
}

/// `text` with each run of digits directly before `unit` replaced by `N`.
pub fn mask_numbers_before(text: &str, unit: &str) -> String {
    let mut out = String::new();
    let mut rest = text;
    while let Some(i) = rest.find(unit) {
        let head = &rest[..i];
        let digits = head.len() - head.trim_end_matches(|c: char| c.is_ascii_digit()).len();
        if digits > 0 {
            out.push_str(&head[..head.len() - digits]);
            out.push('N');
        } else {
            out.push_str(head);
        }
        out.push_str(unit);
        rest = &rest[i + unit.len()..];
    }
    out.push_str(rest);
    out
}

/// Asserts `actual == expected`, showing both in full when they differ.
#[track_caller]
pub fn assert_snapshot(actual: &str, expected: &str) {
    if actual != expected {
        panic!(
            "output differs from the snapshot\n--- expected\n{expected}\n--- actual\n{actual}\n---"
        );
    }
}

/// Replaces a GUID right after each of `markers` with `<id>`.
pub fn replace_guids_after(text: &str, markers: &[&str]) -> String {
    let mut out = text.to_string();
    for m in markers {
        let mut from = 0;
        while let Some(i) = out[from..].find(m) {
            let start = from + i + m.len();
            let end = start + 36;
            if out.len() >= end && out[start..end].chars().filter(|c| *c == '-').count() == 4 {
                out.replace_range(start..end, "<id>");
            }
            from = start;
        }
    }
    out
}

/// The JWT's claims (not verified: the emulator's own tests do that).
pub fn claims(token: &str) -> Value {
    let payload = token.split('.').nth(1).expect("a JWT");
    serde_json::from_slice(&entra_jose::b64url_decode(payload).expect("base64url")).unwrap()
}
