//! Building URLs the server sends browsers to: percent-encoding (RFC 3986 §2.3) and setting
//! query parameters on an app's URL while keeping the rest of it.

/// Percent-encodes everything but the unreserved characters `A-Z a-z 0-9 - . _ ~`.
pub fn percent_encode(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for b in value.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// `url` with `params` set in its query (values percent-encoded; parameters of the same names
/// replaced, others kept) and its fragment kept.
pub fn with_query(url: &str, params: &[(&str, &str)]) -> String {
    let (rest, fragment) = match url.split_once('#') {
        Some((r, f)) => (r, Some(f)),
        None => (url, None),
    };
    let (base, query) = rest.split_once('?').unwrap_or((rest, ""));
    let mut pairs: Vec<String> = query
        .split('&')
        .filter(|p| !p.is_empty())
        .filter(|p| {
            let name = p.split('=').next().unwrap_or("");
            !params.iter().any(|(k, _)| *k == name)
        })
        .map(str::to_string)
        .collect();
    for (k, v) in params {
        pairs.push(format!("{k}={}", percent_encode(v)));
    }
    let mut out = format!("{base}?{}", pairs.join("&"));
    if let Some(f) = fragment {
        out.push('#');
        out.push_str(f);
    }
    out
}

#[cfg(test)]
mod tests {
    #[test]
    fn sets_query_parameters() {
        assert_eq!(
            super::with_query(
                "https://a.example/cb?code=old&x=1#top",
                &[("code", "n w"), ("state", "s")]
            ),
            "https://a.example/cb?x=1&code=n%20w&state=s#top"
        );
        assert_eq!(
            super::with_query("https://a.example", &[("codex", "1")]),
            "https://a.example?codex=1"
        );
        assert_eq!(super::percent_encode("a/b\u{1f}é"), "a%2Fb%1F%C3%A9");
    }
}
