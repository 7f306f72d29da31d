//! Time as token answers write it: [`now`] in unix seconds, and lenient readers of the
//! `expires_in` / `expires_on` / `refresh_in` fields (Entra and the managed-identity hosts
//! write them in several forms).

/// Now, unix seconds.
pub fn now() -> i64 {
    // `SystemTime` directly: the same value as `OffsetDateTime::now_utc().unix_timestamp()`
    // without building a calendar date on every cache hit.
    match std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH) {
        Ok(d) => d.as_secs() as i64,
        Err(e) => -(e.duration().as_secs_f64().ceil() as i64),
    }
}

/// `refresh_on` as MSAL computes it: from `refresh_in`, else half-life for tokens that
/// live two hours or more, else none (refresh at the expiry buffer).
pub fn refresh_on(issued: i64, expires_in: i64, refresh_in: Option<i64>) -> Option<i64> {
    match refresh_in {
        Some(r) if r > 0 => Some(issued + r),
        _ if expires_in >= 7200 => Some(issued + expires_in / 2),
        _ => None,
    }
}

/// A seconds value written as a JSON number or a numeric string.
pub fn seconds(v: Option<&serde_json::Value>) -> Option<i64> {
    match v? {
        serde_json::Value::Number(n) => n.as_i64().or_else(|| n.as_f64().map(|f| f as i64)),
        serde_json::Value::String(s) => s.trim().parse::<f64>().ok().map(|f| f as i64),
        _ => None,
    }
}

/// Parses every `expires_on` form seen in the wild: epoch seconds (number or string),
/// `1/10/2020 8:01:28 AM +00:00` (App Service 2017 on Windows), `06/20/2019 02:57:58 +00:00`
/// (the same on Linux, 24-hour clock), and RFC 3339 with up to seven fractional digits
/// (`2024-10-18T19:51:37.0000000+00:00`).
pub fn parse_expires_on(v: &serde_json::Value) -> Option<i64> {
    if let Some(s) = seconds(Some(v)) {
        return Some(s);
    }
    let s = v.as_str()?.trim();
    if let Ok(t) = time::OffsetDateTime::parse(s, &time::format_description::well_known::Rfc3339) {
        return Some(t.unix_timestamp());
    }
    parse_us_date(s)
}

/// `M/D/YYYY h:mm:ss AM +00:00`, or `MM/DD/YYYY HH:mm:ss +00:00` (24-hour, no AM/PM).
fn parse_us_date(s: &str) -> Option<i64> {
    let mut parts = s.split_whitespace();
    let date = parts.next()?;
    let clock = parts.next()?;
    let (ampm, offset) = match (parts.next(), parts.next()) {
        (Some(a), offset) if a.eq_ignore_ascii_case("AM") || a.eq_ignore_ascii_case("PM") => {
            (Some(a), offset.unwrap_or("+00:00"))
        }
        (Some(offset), None) => (None, offset),
        (None, _) => (None, "+00:00"),
        _ => return None,
    };
    let mut d = date.split('/');
    let (month, day, year): (u8, u8, i32) = (
        d.next()?.parse().ok()?,
        d.next()?.parse().ok()?,
        d.next()?.parse().ok()?,
    );
    let mut c = clock.split(':');
    let (mut hour, minute, second): (u8, u8, u8) = (
        c.next()?.parse().ok()?,
        c.next()?.parse().ok()?,
        c.next()?.parse().ok()?,
    );
    match ampm.map(|a| a.to_ascii_uppercase()).as_deref() {
        Some("AM") if hour == 12 => hour = 0,
        Some("PM") if hour < 12 => hour += 12,
        Some("AM" | "PM") if hour > 12 => return None,
        _ => {}
    }
    let sign: i64 = if offset.starts_with('-') { -1 } else { 1 };
    let (oh, om) = offset.trim_start_matches(['+', '-']).split_once(':')?;
    let offset_secs = sign * (oh.parse::<i64>().ok()? * 3600 + om.parse::<i64>().ok()? * 60);
    let date =
        time::Date::from_calendar_date(year, time::Month::try_from(month).ok()?, day).ok()?;
    let t = time::PrimitiveDateTime::new(date, time::Time::from_hms(hour, minute, second).ok()?);
    Some(t.assume_utc().unix_timestamp() - offset_secs)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn every_expires_on_form() {
        assert_eq!(parse_expires_on(&json!(1586984735)), Some(1586984735));
        assert_eq!(parse_expires_on(&json!("1586984735")), Some(1586984735));
        assert_eq!(
            parse_expires_on(&json!("1/10/2020 8:01:28 AM +00:00")),
            Some(1578643288)
        );
        assert_eq!(
            parse_expires_on(&json!("1/10/2020 8:01:28 PM +00:00")),
            Some(1578643288 + 12 * 3600)
        );
        assert_eq!(
            parse_expires_on(&json!("1/10/2020 12:01:28 AM +00:00")),
            Some(1578643288 - 8 * 3600)
        );
        assert_eq!(
            parse_expires_on(&json!("1/10/2020 9:01:28 AM +01:00")),
            Some(1578643288)
        );
        assert_eq!(
            parse_expires_on(&json!("2024-10-18T19:51:37.0000000+00:00")),
            Some(1729281097)
        );
        assert_eq!(
            parse_expires_on(&json!("2024-10-18T19:51:37Z")),
            Some(1729281097)
        );
        assert_eq!(
            parse_expires_on(&json!("01/10/2020 20:01:28 +00:00")),
            Some(1578643288 + 12 * 3600)
        );
        assert_eq!(
            parse_expires_on(&json!("1/10/2020 08:01:28")),
            Some(1578643288)
        );
        assert_eq!(
            parse_expires_on(&json!("1/10/2020 13:01:28 PM +00:00")),
            None
        );
        assert_eq!(parse_expires_on(&json!("tomorrow")), None);
        assert_eq!(
            parse_expires_on(&json!("13/45/2020 8:01:28 AM +00:00")),
            None
        );
    }

    #[test]
    fn expires_in_as_number_or_string() {
        assert_eq!(seconds(Some(&json!(3599))), Some(3599));
        assert_eq!(seconds(Some(&json!("3599"))), Some(3599));
        assert_eq!(seconds(Some(&json!("x"))), None);
        assert_eq!(seconds(None), None);
    }

    #[test]
    fn refresh_on_rules() {
        assert_eq!(refresh_on(1000, 3600, None), None);
        assert_eq!(refresh_on(1000, 7200, None), Some(4600));
        assert_eq!(refresh_on(1000, 86400, Some(600)), Some(1600));
    }
}
