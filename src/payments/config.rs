//! The payments catalog, read from the project's layered config document (`payments.*`, the
//! original's camelCase keys): items, products with prices and included items, product lines,
//! test mode. Rendering fills the original's defaults, so product snapshots are complete.

use serde_json::{json, Map, Value};

pub const CUSTOMER_TYPES: [&str; 3] = ["user", "team", "custom"];
pub const CURRENCIES: [(&str, u32); 7] = [
    ("USD", 2),
    ("EUR", 2),
    ("GBP", 2),
    ("JPY", 0),
    ("INR", 2),
    ("AUD", 2),
    ("CAD", 2),
];
const INTERVAL_UNITS: [&str; 4] = ["day", "week", "month", "year"];

/// The rendered `payments` section.
#[derive(Debug, Clone)]
pub struct Catalog {
    pub test_mode: bool,
    pub block_new_purchases: bool,
    pub items: Map<String, Value>,
    pub products: Map<String, Value>,
    pub product_lines: Map<String, Value>,
}

impl Catalog {
    /// Renders the catalog from the merged config document, with defaults and legacy names.
    pub fn render(config: &Value) -> Catalog {
        let p = config.get("payments").cloned().unwrap_or(json!({}));
        let obj = |v: Option<&Value>| v.and_then(Value::as_object).cloned().unwrap_or_default();
        let raw_products = obj(p.get("products").or_else(|| p.get("offers")));
        let raw_lines = obj(p
            .get("productLines")
            .or_else(|| p.get("catalogs"))
            .or_else(|| p.get("groups")));
        let items = obj(p.get("items"))
            .into_iter()
            .map(|(id, item)| {
                let rendered = json!({
                    "displayName": item.get("displayName").cloned().unwrap_or(json!(id)),
                    "customerType": item.get("customerType").cloned().unwrap_or(json!("user")),
                });
                (id, rendered)
            })
            .collect();
        let products = raw_products
            .into_iter()
            .map(|(id, product)| {
                let rendered = render_product(&id, &product);
                (id, rendered)
            })
            .collect();
        let product_lines = raw_lines
            .into_iter()
            .map(|(id, line)| (id, json!({ "displayName": line.get("displayName").cloned().unwrap_or(Value::Null), "customerType": line.get("customerType").cloned().unwrap_or(json!("user")) })))
            .collect();
        Catalog {
            test_mode: p.get("testMode").and_then(Value::as_bool).unwrap_or(true),
            block_new_purchases: p
                .get("blockNewPurchases")
                .and_then(Value::as_bool)
                .unwrap_or(false),
            items,
            products,
            product_lines,
        }
    }

    pub fn to_json(&self) -> Value {
        json!({
            "testMode": self.test_mode,
            "blockNewPurchases": self.block_new_purchases,
            "items": self.items,
            "products": self.products,
            "productLines": self.product_lines,
        })
    }

    /// Problems that make the catalog unusable (refused when written).
    pub fn problems(&self) -> Vec<String> {
        let mut out = Vec::new();
        for (id, item) in &self.items {
            check_id(&mut out, "item", id);
            check_customer_type(
                &mut out,
                &format!("payments.items.{id}"),
                &item["customerType"],
            );
        }
        for (id, line) in &self.product_lines {
            check_id(&mut out, "product line", id);
            check_customer_type(
                &mut out,
                &format!("payments.productLines.{id}"),
                &line["customerType"],
            );
        }
        for (id, p) in &self.products {
            check_id(&mut out, "product", id);
            let at = format!("payments.products.{id}");
            check_customer_type(&mut out, &at, &p["customerType"]);
            if let Some(line) = p.get("productLineId").and_then(Value::as_str) {
                match self.product_lines.get(line) {
                    None => out.push(format!(
                        "{at}.productLineId: product line {line:?} does not exist"
                    )),
                    Some(l) if l["customerType"] != p["customerType"] => {
                        out.push(format!("{at}: customerType must match its product line's"))
                    }
                    _ => {}
                }
            }
            match &p["prices"] {
                Value::String(s) if s == "include-by-default" => {}
                Value::Object(prices) => {
                    for (price_id, price) in prices {
                        check_id(&mut out, "price", price_id);
                        check_price(&mut out, &format!("{at}.prices.{price_id}"), price);
                    }
                }
                _ => out.push(format!(
                    "{at}.prices must be an object or \"include-by-default\""
                )),
            }
            for (item_id, inc) in p["includedItems"].as_object().into_iter().flatten() {
                check_included(&mut out, &format!("{at}.includedItems.{item_id}"), inc);
            }
        }
        out
    }
}

/// A config product with the original's defaults filled in (its snapshot form).
pub fn render_product(id: &str, p: &Value) -> Value {
    let mut out = p.as_object().cloned().unwrap_or_default();
    out.entry("displayName").or_insert(json!(id));
    out.entry("customerType").or_insert(json!("user"));
    out.entry("serverOnly").or_insert(json!(false));
    out.entry("isAddOnTo").or_insert(json!(false));
    out.entry("prices").or_insert(json!({}));
    if let Some(line) = p.get("catalogId").or_else(|| p.get("groupId")).cloned() {
        out.entry("productLineId").or_insert(line);
    }
    let included: Map<String, Value> = p
        .get("includedItems")
        .and_then(Value::as_object)
        .into_iter()
        .flatten()
        .map(|(item, inc)| {
            (
                item.clone(),
                json!({
                    "quantity": inc.get("quantity").cloned().unwrap_or(json!(0)),
                    "repeat": inc.get("repeat").cloned().unwrap_or(json!("never")),
                    "expires": inc.get("expires").cloned().unwrap_or(json!("when-repeated")),
                }),
            )
        })
        .collect();
    out.insert("includedItems".into(), Value::Object(included));
    Value::Object(out)
}

pub fn is_valid_id(id: &str) -> bool {
    (1..=63).contains(&id.len())
        && !id.starts_with('-')
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}

fn check_id(out: &mut Vec<String>, what: &str, id: &str) {
    if !is_valid_id(id) {
        out.push(format!("invalid {what} id {id:?}: 1-63 characters of A-Z, a-z, 0-9, _ and -, not starting with -"));
    }
}

fn check_customer_type(out: &mut Vec<String>, at: &str, v: &Value) {
    if !v.as_str().is_some_and(|t| CUSTOMER_TYPES.contains(&t)) {
        out.push(format!(
            "{at}.customerType must be one of user, team, custom"
        ));
    }
}

pub fn is_interval(v: &Value) -> bool {
    matches!(v.as_array().map(Vec::as_slice), Some([Value::Number(n), Value::String(u)]) if n.as_u64().is_some() && INTERVAL_UNITS.contains(&u.as_str()))
}

/// `^[0-9]+(\.[0-9]+)?$`, no leading zeros, at most the currency's decimals.
pub fn is_money(s: &str, decimals: u32) -> bool {
    let (int, frac) = match s.split_once('.') {
        Some((i, f)) => (i, Some(f)),
        None => (s, None),
    };
    let digits = |x: &str| !x.is_empty() && x.bytes().all(|b| b.is_ascii_digit());
    digits(int)
        && (int == "0" || !int.starts_with('0'))
        && frac.is_none_or(|f| digits(f) && f.len() as u32 <= decimals)
}

pub fn check_price(out: &mut Vec<String>, at: &str, price: &Value) {
    let Some(obj) = price.as_object() else {
        out.push(format!("{at} must be an object"));
        return;
    };
    let mut currencies = 0;
    for (key, v) in obj {
        if let Some((_, decimals)) = CURRENCIES.iter().find(|(c, _)| c == key) {
            currencies += 1;
            if !v.as_str().is_some_and(|s| is_money(s, *decimals)) {
                out.push(format!("{at}.{key}: Money amount must be in the format of <number> or <number>.<number>"));
            }
        } else if (key == "interval" || key == "freeTrial" || key == "free_trial")
            && !is_interval(v)
        {
            out.push(format!(
                "{at}.{key} must be [count, \"day\"|\"week\"|\"month\"|\"year\"]"
            ));
        }
    }
    if currencies == 0 {
        out.push(format!("{at}: At least one currency is required"));
    }
}

fn check_included(out: &mut Vec<String>, at: &str, inc: &Value) {
    if !inc["quantity"].is_i64() && !inc["quantity"].is_u64() {
        out.push(format!("{at}.quantity must be an integer"));
    }
    if !(inc["repeat"] == "never" || is_interval(&inc["repeat"])) {
        out.push(format!("{at}.repeat must be \"never\" or an interval"));
    }
    if !["never", "when-purchase-expires", "when-repeated"]
        .iter()
        .any(|e| inc["expires"] == *e)
    {
        out.push(format!(
            "{at}.expires must be never, when-purchase-expires or when-repeated"
        ));
    }
}

/// Length of an interval in milliseconds, with the original's fixed units (month = 30 days).
pub fn interval_ms(v: &Value) -> Option<i64> {
    let arr = v.as_array()?;
    let n = arr.first()?.as_i64()?;
    let day = 86_400_000i64;
    let unit = match arr.get(1)?.as_str()? {
        "day" => day,
        "week" => 7 * day,
        "month" => 30 * day,
        "year" => 365 * day,
        _ => return None,
    };
    Some(n * unit)
}

/// A price as people read it: "$10.00 / month", "€25.00 every 3 months · 7-day free trial".
pub fn price_label(price: &Value) -> String {
    let amount = CURRENCIES.iter().find_map(|(code, decimals)| {
        let amount = price.get(*code)?.as_str()?;
        let (whole, frac) = amount.split_once('.').unwrap_or((amount, ""));
        let frac = format!("{frac:0<width$}", width = *decimals as usize);
        let symbol = match *code {
            "USD" | "AUD" | "CAD" => "$",
            "EUR" => "€",
            "GBP" => "£",
            "JPY" => "¥",
            "INR" => "₹",
            _ => "",
        };
        let prefix = if *code == "AUD" || *code == "CAD" {
            &code[..2]
        } else {
            ""
        };
        Some(if frac.is_empty() {
            format!("{prefix}{symbol}{whole}")
        } else {
            format!("{prefix}{symbol}{whole}.{frac}")
        })
    });
    let mut label = amount.unwrap_or_else(|| "Free".into());
    let span =
        |v: &Value| -> Option<(i64, String)> { Some((v[0].as_i64()?, v[1].as_str()?.to_string())) };
    match span(&price["interval"]) {
        Some((1, unit)) => label.push_str(&format!(" / {unit}")),
        Some((n, unit)) => label.push_str(&format!(" every {n} {unit}s")),
        None => {}
    }
    if let Some((n, unit)) = span(&price["freeTrial"]) {
        label.push_str(&format!(" · {n}-{unit} free trial"));
    }
    label
}

/// The product view clients see (listings, validate-code).
pub fn product_view(p: &Value) -> Value {
    let prices = match &p["prices"] {
        Value::Object(prices) => Value::Object(
            prices
                .iter()
                .map(|(id, price)| {
                    let mut out = Map::new();
                    for (k, v) in price.as_object().into_iter().flatten() {
                        if CURRENCIES.iter().any(|(c, _)| c == k) || k == "interval" {
                            out.insert(k.clone(), v.clone());
                        } else if k == "freeTrial" || k == "free_trial" {
                            out.insert("free_trial".into(), v.clone());
                        }
                    }
                    (id.clone(), Value::Object(out))
                })
                .collect(),
        ),
        _ => json!({}),
    };
    json!({
        "display_name": p.get("displayName").cloned().unwrap_or(json!("Product")),
        "customer_type": p["customerType"],
        "stackable": p["stackable"] == true,
        "server_only": p["serverOnly"] == true,
        "prices": prices,
        "included_items": p.get("includedItems").cloned().unwrap_or(json!({})),
        "client_metadata": p.get("clientMetadata").cloned().unwrap_or(Value::Null),
        "client_read_only_metadata": p.get("clientReadOnlyMetadata").cloned().unwrap_or(Value::Null),
        "server_metadata": p.get("serverMetadata").cloned().unwrap_or(Value::Null),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn money_format() {
        for ok in ["0", "1000", "12.34", "12.3"] {
            assert!(is_money(ok, 2), "{ok}");
        }
        for bad in ["", "01", "-1", "1.", ".5", "12.345", "1e3"] {
            assert!(!is_money(bad, 2), "{bad}");
        }
        assert!(!is_money("1.5", 0));
    }

    #[test]
    fn rendering_fills_defaults_and_validates() {
        let c = Catalog::render(&json!({ "payments": {
            "items": { "credits": { "customerType": "user" } },
            "products": { "pro": { "prices": { "monthly": { "USD": "10", "interval": [1, "month"] } }, "includedItems": { "credits": { "quantity": 100 } } } }
        }}));
        assert!(c.test_mode);
        assert_eq!(
            super::price_label(&json!({ "USD": "10", "interval": [1, "month"] })),
            "$10.00 / month"
        );
        assert_eq!(
            super::price_label(
                &json!({ "EUR": "2.5", "interval": [3, "month"], "freeTrial": [7, "day"] })
            ),
            "€2.50 every 3 months · 7-day free trial"
        );
        assert_eq!(super::price_label(&json!({ "JPY": "500" })), "¥500");
        assert_eq!(
            c.products["pro"]["includedItems"]["credits"]["expires"],
            "when-repeated"
        );
        assert_eq!(c.items["credits"]["displayName"], "credits");
        assert!(c.problems().is_empty(), "{:?}", c.problems());
        let bad = Catalog::render(
            &json!({ "payments": { "products": { "x": { "productLineId": "nope", "prices": { "p": { "interval": [1, "month"] } } } } } }),
        );
        assert_eq!(bad.problems().len(), 2, "{:?}", bad.problems());
    }
}
