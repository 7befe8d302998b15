//! Reading requests strictly: query parameters and JSON bodies are
//! checked field by field, unknown parameters are refused, and every
//! error names the field it is about.

use super::error::{ApiError, ApiResult};
use crate::model::Severity;
use axum::body::Bytes;
use axum::extract::{FromRequest, Request};
use axum::http::header;
use serde::de::DeserializeOwned;
use std::collections::BTreeMap;

/// Query parameters, each named at most once, all of them known.
pub struct Params {
    values: BTreeMap<String, String>,
}

/// Largest page a list returns.
pub const MAX_LIMIT: usize = 1000;

impl Params {
    /// Parses `raw` (a query string) allowing only `known` names.
    pub fn parse(raw: Option<&str>, known: &[&str]) -> ApiResult<Params> {
        let mut values = BTreeMap::new();
        for (k, v) in pairs(raw.unwrap_or("")) {
            if !known.contains(&k.as_str()) {
                return Err(ApiError::invalid(
                    &k,
                    format!("unknown parameter (known: {})", known.join(", ")),
                ));
            }
            if values.insert(k.clone(), v).is_some() {
                return Err(ApiError::invalid(&k, "given more than once"));
            }
        }
        Ok(Params { values })
    }

    pub fn str(&self, name: &str) -> Option<&str> {
        self.values
            .get(name)
            .map(String::as_str)
            .filter(|v| !v.is_empty())
    }

    /// A page size: 1 to [`MAX_LIMIT`], `default` when absent.
    pub fn limit(&self, default: usize) -> ApiResult<usize> {
        match self.str("limit") {
            None => Ok(default),
            Some(v) => match v.parse::<usize>() {
                Ok(n) if (1..=MAX_LIMIT).contains(&n) => Ok(n),
                _ => Err(ApiError::invalid(
                    "limit",
                    format!("must be a number from 1 to {MAX_LIMIT}"),
                )),
            },
        }
    }

    pub fn severity(&self, name: &str) -> ApiResult<Option<Severity>> {
        self.str(name)
            .map(|v| {
                Severity::parse(v).ok_or_else(|| {
                    ApiError::invalid(
                        name,
                        "must be one of info, unknown, low, medium, high, critical",
                    )
                })
            })
            .transpose()
    }

    /// A SHA-256 in hex (lowercased).
    pub fn sha256(&self, name: &str) -> ApiResult<Option<String>> {
        self.str(name).map(|v| sha256(name, v)).transpose()
    }

    /// An opaque cursor: hex of `\0`-separated parts.
    pub fn cursor(&self) -> ApiResult<Option<Vec<String>>> {
        self.str("cursor")
            .map(|c| {
                hex::decode(c)
                    .ok()
                    .and_then(|b| String::from_utf8(b).ok())
                    .map(|s| s.split('\0').map(str::to_string).collect())
                    .ok_or_else(|| ApiError::invalid("cursor", "not a cursor this API returned"))
            })
            .transpose()
    }
}

/// The cursor for a page that ended at `parts`.
pub fn cursor(parts: &[&str]) -> String {
    hex::encode(parts.join("\0"))
}

/// Checks a SHA-256 given as `field`.
pub fn sha256(field: &str, v: &str) -> ApiResult<String> {
    if crate::fleet::ops::is_sha256(v) {
        Ok(v.to_ascii_lowercase())
    } else {
        Err(ApiError::invalid(
            field,
            "must be a SHA-256 (64 hex digits)",
        ))
    }
}

/// An identifier a person or device chose (device ids, names): printable,
/// no control characters, at most 200 bytes.
pub fn name(field: &str, v: &str) -> ApiResult<String> {
    if v.is_empty() || v.len() > 200 || v.chars().any(char::is_control) {
        return Err(ApiError::invalid(
            field,
            "must be 1 to 200 printable characters",
        ));
    }
    Ok(v.to_string())
}

/// `application/x-www-form-urlencoded` pairs, decoded.
pub fn pairs(raw: &str) -> Vec<(String, String)> {
    form_urlencoded::parse(raw.as_bytes())
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect()
}

/// A JSON body read strictly: `application/json`, within the route's size
/// limit, and a decoding error names the field (`tags[2]`, `action`).
pub struct JsonBody<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for JsonBody<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let json = req
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.starts_with("application/json"));
        if !json {
            return Err(ApiError::invalid(
                "content-type",
                "the body must be application/json",
            ));
        }
        let bytes = Bytes::from_request(req, state)
            .await
            .map_err(|_| ApiError::too_large("body", super::JSON_LIMIT as u64))?;
        let de = &mut serde_json::Deserializer::from_slice(&bytes);
        serde_path_to_error::deserialize(de)
            .map(JsonBody)
            .map_err(|e| {
                let path = e.path().to_string();
                let field = if path == "." {
                    "body".to_string()
                } else {
                    path
                };
                ApiError::invalid(&field, e.inner().to_string())
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parameters_are_strict_and_errors_name_the_field() {
        let p = Params::parse(
            Some("model=RT%2DAX&limit=5&tag=a+b"),
            &["model", "limit", "tag"],
        )
        .unwrap();
        assert_eq!(p.str("model"), Some("RT-AX"));
        assert_eq!(p.str("tag"), Some("a b"));
        assert_eq!(p.limit(50).unwrap(), 5);
        let e = Params::parse(Some("modle=x"), &["model"]).err().unwrap();
        assert_eq!(e.field.as_deref(), Some("modle"));
        let e = Params::parse(Some("limit=0"), &["limit"])
            .unwrap()
            .limit(50)
            .unwrap_err();
        assert_eq!(e.field.as_deref(), Some("limit"));
        let e = Params::parse(Some("a=1&a=2"), &["a"]).err().unwrap();
        assert_eq!(e.message, "given more than once");
        let c = cursor(&["abc", "dev-1"]);
        let p = Params::parse(Some(&format!("cursor={c}")), &["cursor"]).unwrap();
        assert_eq!(p.cursor().unwrap().unwrap(), ["abc", "dev-1"]);
        assert!(name("id", "a\u{0}b").is_err());
    }
}
