//! ETags and `If-Match`: where they come from and how they are sent.
//!
//! An ETag comes from the `ETag` response header or the body's `@odata.etag`. Services disagree
//! on what they accept back, so [`EtagPolicy`] says how to present it; whatever the policy, a
//! `-gzip` suffix that a compressing front end appended (`"abc-gzip"`) is removed. A PATCH
//! answered 412 (stale or rejected ETag) or 428 (If-Match required) is retried once with a
//! freshly read ETag (see [`crate::Client::patch`]).

/// How to send `If-Match` on writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum EtagPolicy {
    /// Send the ETag as the service gave it (default).
    #[default]
    AsReceived,
    /// Send a weak ETag (`W/"x"`) as strong (`"x"`).
    WeakAsStrong,
    /// Send the bare value, without `W/` and quotes (some services quote their own ETag twice
    /// or compare without quotes).
    StripQuotes,
    /// Always send `If-Match: *`.
    Wildcard,
    /// Never send `If-Match` (a 428 or 412 is then returned as an error).
    Disabled,
}

/// Remove a `-gzip` suffix a compressing proxy appended inside the quotes.
///
/// ```
/// assert_eq!(redfish_client::etag::normalize(r#"W/"abc-gzip""#), r#"W/"abc""#);
/// assert_eq!(redfish_client::etag::normalize("abc"), "abc");
/// ```
pub fn normalize(raw: &str) -> String {
    let raw = raw.trim();
    if let Some(stripped) = raw.strip_suffix("-gzip\"") {
        format!("{stripped}\"")
    } else if let Some(stripped) = raw.strip_suffix("-gzip") {
        stripped.to_owned()
    } else {
        raw.to_owned()
    }
}

/// The `If-Match` value to send for an ETag under a policy (`None`: send no header).
///
/// ```
/// use redfish_client::etag::{if_match, EtagPolicy};
/// assert_eq!(if_match(EtagPolicy::AsReceived, Some(r#"W/"1""#)).as_deref(), Some(r#"W/"1""#));
/// assert_eq!(if_match(EtagPolicy::WeakAsStrong, Some(r#"W/"1""#)).as_deref(), Some(r#""1""#));
/// assert_eq!(if_match(EtagPolicy::StripQuotes, Some(r#""1""#)).as_deref(), Some("1"));
/// assert_eq!(if_match(EtagPolicy::Wildcard, None).as_deref(), Some("*"));
/// assert_eq!(if_match(EtagPolicy::Disabled, Some("1")), None);
/// assert_eq!(if_match(EtagPolicy::AsReceived, None), None);
/// ```
pub fn if_match(policy: EtagPolicy, etag: Option<&str>) -> Option<String> {
    match policy {
        EtagPolicy::Disabled => None,
        EtagPolicy::Wildcard => Some("*".to_owned()),
        _ => {
            let e = normalize(etag?);
            if e.is_empty() {
                return None;
            }
            Some(match policy {
                EtagPolicy::WeakAsStrong => e.strip_prefix("W/").unwrap_or(&e).to_owned(),
                EtagPolicy::StripQuotes => e
                    .strip_prefix("W/")
                    .unwrap_or(&e)
                    .trim_matches('"')
                    .to_owned(),
                _ => e,
            })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gzip_suffix_removed_under_every_policy() {
        for p in [EtagPolicy::AsReceived, EtagPolicy::WeakAsStrong] {
            assert_eq!(
                if_match(p, Some(r#""abc-gzip""#)).as_deref(),
                Some(r#""abc""#)
            );
        }
        assert_eq!(
            if_match(EtagPolicy::StripQuotes, Some(r#"W/"abc-gzip""#)).as_deref(),
            Some("abc")
        );
    }

    #[test]
    fn double_quoted_etag_is_stripped() {
        assert_eq!(
            if_match(EtagPolicy::StripQuotes, Some(r#"""7""#)).as_deref(),
            Some("7")
        );
        assert_eq!(if_match(EtagPolicy::AsReceived, Some("  ")), None);
    }
}
