//! The house order (docs/architecture.md): every module imports only modules below it. Reads
//! the source, so an upward import fails here however it compiles.

use std::collections::BTreeMap;
use std::path::Path;

/// The order block: each line's paths, top line first.
fn house_order() -> Vec<Vec<String>> {
    let doc = std::fs::read_to_string("docs/architecture.md").expect("docs/architecture.md");
    let block = doc
        .split("```house-order\n")
        .nth(1)
        .and_then(|rest| rest.split("```").next())
        .expect("a ```house-order block in docs/architecture.md");
    block
        .lines()
        .map(|l| l.split_whitespace().map(str::to_string).collect::<Vec<_>>())
        .filter(|l| !l.is_empty())
        .collect()
}

/// `src/a/b.rs` and `src/a/b/mod.rs` are `a::b`.
fn module_of(path: &Path) -> String {
    let rel = path.strip_prefix("src").unwrap().with_extension("");
    let mut parts: Vec<String> = rel
        .components()
        .map(|c| c.as_os_str().to_string_lossy().into_owned())
        .collect();
    if parts.last().is_some_and(|p| p == "mod") {
        parts.pop();
    }
    parts.join("::")
}

fn sources(dir: &Path, out: &mut BTreeMap<String, String>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            sources(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.insert(module_of(&path), std::fs::read_to_string(&path).unwrap());
        }
    }
}

/// Every path a source names through `crate::` (or `portcullis::` in main.rs), with `use`
/// groups expanded: `crate::a::{b, c::{d}}` yields `a::b` and `a::c::d`. Comments are skipped.
fn paths_named(source: &str) -> Vec<String> {
    let code: String = source
        .lines()
        .map(|l| l.split("//").next().unwrap_or(""))
        .collect::<Vec<_>>()
        .join("\n");
    let mut found = Vec::new();
    for root in ["crate::", "portcullis::"] {
        let mut rest = code.as_str();
        while let Some(at) = rest.find(root) {
            let preceded_by_ident = rest[..at]
                .chars()
                .last()
                .is_some_and(|c| c.is_alphanumeric() || c == '_');
            rest = &rest[at + root.len()..];
            if !preceded_by_ident {
                expand("", rest, &mut found);
            }
        }
    }
    found
}

/// Reads one path (and its group, if any) at the start of `text`, prefixed by `prefix`.
fn expand(prefix: &str, text: &str, out: &mut Vec<String>) {
    let ident_end = text
        .find(|c: char| !(c.is_alphanumeric() || c == '_' || c == ':'))
        .unwrap_or(text.len());
    let path = text[..ident_end].trim_end_matches(':');
    let full = match (prefix.is_empty(), path.is_empty()) {
        (true, _) => path.to_string(),
        (false, true) => prefix.to_string(),
        (false, false) => format!("{prefix}::{path}"),
    };
    if text[ident_end..].starts_with('{') {
        let group = &text[ident_end + 1..];
        let mut depth = 0;
        let mut start = 0;
        for (i, c) in group.char_indices() {
            match c {
                '{' => depth += 1,
                '}' if depth == 0 => {
                    expand_item(&full, &group[start..i], out);
                    return;
                }
                '}' => depth -= 1,
                ',' if depth == 0 => {
                    expand_item(&full, &group[start..i], out);
                    start = i + 1;
                }
                _ => {}
            }
        }
    } else if !full.is_empty() {
        out.push(full);
    }
}

fn expand_item(prefix: &str, item: &str, out: &mut Vec<String>) {
    let item = item.trim();
    let item = item.split(" as ").next().unwrap_or(item).trim();
    if item == "self" {
        out.push(prefix.to_string());
    } else if !item.is_empty() {
        expand(prefix, item, out);
    }
}

/// The listed path that places `module` (the longest prefix), with its line number.
fn place<'a>(order: &'a [Vec<String>], module: &str) -> Option<(usize, &'a str)> {
    let mut best: Option<(usize, &str)> = None;
    for (line, paths) in order.iter().enumerate() {
        for p in paths {
            let covers = module == p || module.starts_with(&format!("{p}::"));
            if covers && best.is_none_or(|(_, b)| p.len() > b.len()) {
                best = Some((line, p));
            }
        }
    }
    best
}

/// The longest known module a named path starts with.
fn target_module<'a>(modules: &'a BTreeMap<String, String>, path: &str) -> Option<&'a str> {
    let parts: Vec<&str> = path.split("::").collect();
    (1..=parts.len())
        .rev()
        .map(|n| parts[..n].join("::"))
        .find_map(|candidate| modules.get_key_value(&candidate).map(|(k, _)| k.as_str()))
}

/// Every import against the order, as "a imports b (line i above line j)", plus unplaced modules.
fn violations(order: &[Vec<String>], modules: &BTreeMap<String, String>) -> Vec<String> {
    let mut problems = Vec::new();
    for (module, source) in modules {
        if module == "lib" {
            continue;
        }
        let Some((from_line, _)) = place(order, module) else {
            problems.push(format!("{module} is not placed in the house order"));
            continue;
        };
        let capability = module.split("::").next().unwrap_or_default();
        for path in paths_named(source) {
            let Some(target) = target_module(modules, &path) else {
                continue;
            };
            if target == module || target == "lib" {
                continue;
            }
            let Some((to_line, _)) = place(order, target) else {
                continue;
            };
            let same_capability = target.split("::").next() == Some(capability);
            let allowed = to_line > from_line || (to_line == from_line && same_capability);
            if !allowed {
                problems.push(format!(
                    "{module} (line {}) imports {target} (line {}) through `{path}`",
                    from_line + 1,
                    to_line + 1
                ));
            }
        }
    }
    problems.sort();
    problems.dedup();
    problems
}

#[test]
fn imports_follow_the_house_order() {
    let order = house_order();
    let mut modules = BTreeMap::new();
    sources(Path::new("src"), &mut modules);
    let problems = violations(&order, &modules);
    assert!(
        problems.is_empty(),
        "imports against docs/architecture.md's house order:\n  {}",
        problems.join("\n  ")
    );
}

/// The check itself: an upward import, a sideways one between capabilities and an unplaced
/// module are each caught; a downward one and one between siblings of a capability are not.
#[test]
fn the_check_catches_what_it_must() {
    let order: Vec<Vec<String>> = ["ui", "payments", "users::routes teams", "users", "http"]
        .iter()
        .map(|l| l.split_whitespace().map(str::to_string).collect())
        .collect();
    let modules: BTreeMap<String, String> = [
        ("ui", "use crate::payments::Payments;"),
        (
            "payments",
            "use crate::{users::{self, User}, http::ApiResult};",
        ),
        (
            "users",
            "fn f() { crate::payments::batch::go() } // crate::ui::x",
        ),
        ("users::routes", "use crate::teams::Team; use super::User;"),
        ("teams", "use crate::users::routes::x;"),
        ("http", "use crate::users::User;"),
        ("stray", ""),
    ]
    .iter()
    .map(|(m, s)| (m.to_string(), s.to_string()))
    .collect();
    assert_eq!(
        violations(&order, &modules),
        [
            "http (line 5) imports users (line 4) through `users::User`",
            "stray is not placed in the house order",
            "teams (line 3) imports users::routes (line 3) through `users::routes::x`",
            "users (line 4) imports payments (line 2) through `payments::batch::go`",
            "users::routes (line 3) imports teams (line 3) through `teams::Team`",
        ]
    );
}

/// Pages call domain functions; the SQL on a capability's tables lives in that capability.
#[test]
fn pages_run_no_sql_of_their_own() {
    let mut modules = BTreeMap::new();
    sources(Path::new("src/ui"), &mut modules);
    let with_sql: Vec<&String> = modules
        .iter()
        .filter(|(_, source)| source.contains("sqlx::"))
        .map(|(module, _)| module)
        .collect();
    assert!(with_sql.is_empty(), "pages with SQL: {with_sql:?}");
}
