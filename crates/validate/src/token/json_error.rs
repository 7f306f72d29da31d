//! The [`ValidationError`] for a JSON document the strict reader refused.

use crate::error::ValidationError;
use crate::json::Fail;

/// The error for a refused document in `part` (`header`, `payload`).
pub(crate) fn json_error(fail: Fail, part: &'static str) -> ValidationError {
    let header = part == "header";
    match fail {
        Fail::Duplicate => ValidationError::DuplicateMember(part),
        Fail::TooDeep => ValidationError::TooDeep(part),
        Fail::NotObject if header => ValidationError::Malformed("the header is not a JSON object"),
        Fail::NotObject => ValidationError::Malformed("the payload is not a JSON object"),
        Fail::Type if header => ValidationError::Malformed("a header member has the wrong type"),
        Fail::Type => ValidationError::Malformed("a claim has the wrong type"),
        Fail::Syntax if header => ValidationError::Malformed("the header is not valid JSON"),
        Fail::Syntax => ValidationError::Malformed("the payload is not valid JSON"),
    }
}
/// Checks that `json` is one JSON object with no duplicate member and bounded depth.
pub fn check_json(json: &[u8], part: &'static str) -> Result<(), ValidationError> {
    crate::json::check(json).map_err(|f| json_error(f, part))
}
