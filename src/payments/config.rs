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

/// Who may own an item, a product or a product line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CustomerType {
    User,
    Team,
    Custom,
}

impl CustomerType {
    pub fn parse(s: &str) -> Option<CustomerType> {
        match s {
            "user" => Some(CustomerType::User),
            "team" => Some(CustomerType::Team),
            "custom" => Some(CustomerType::Custom),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        CUSTOMER_TYPES[self as usize]
    }
}

impl PartialEq<str> for CustomerType {
    fn eq(&self, other: &str) -> bool {
        self.as_str() == other
    }
}

impl PartialEq<&str> for CustomerType {
    fn eq(&self, other: &&str) -> bool {
        self.as_str() == *other
    }
}

/// `payments.items.<id>`: a countable entitlement.
#[derive(Debug, Clone)]
pub struct Item {
    /// Defaults to the item's id.
    pub display_name: String,
    pub customer_type: CustomerType,
}

/// `payments.productLines.<id>`: mutually exclusive products.
#[derive(Debug, Clone)]
pub struct ProductLine {
    pub display_name: Option<String>,
    pub customer_type: CustomerType,
}

/// When an included item's grant ends (config default: `when-repeated`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Expires {
    Never,
    WhenPurchaseExpires,
    WhenRepeated,
}

/// `includedItems.<itemId>`: granted per unit bought.
#[derive(Debug, Clone)]
pub struct IncludedItem {
    pub quantity: i64,
    /// How often the grant repeats, in ms (None: never).
    pub repeat_ms: Option<i64>,
    pub expires: Expires,
}

/// One price of a product: amounts as money strings by currency, and an interval in ms when it
/// recurs.
#[derive(Debug, Clone)]
pub struct Price {
    /// The price as configured (currencies, `interval`, `freeTrial`), for labels and snapshots.
    pub raw: Value,
    pub interval_ms: Option<i64>,
}

impl Price {
    pub fn amount(&self, currency: &str) -> Option<&str> {
        self.raw.get(currency).and_then(Value::as_str)
    }
}

#[derive(Debug, Clone)]
pub enum Prices {
    /// Owned by every customer of its type without a purchase.
    IncludeByDefault,
    /// In config order ("the first price" is the first key).
    Listed(Vec<(String, Price)>),
}

/// `payments.products.<id>`, parsed; `snapshot` is what a purchase of it stores.
#[derive(Debug, Clone)]
pub struct Product {
    pub display_name: String,
    pub customer_type: CustomerType,
    pub product_line_id: Option<String>,
    /// `isAddOnTo`: None when `false`, else the products it adds on to.
    pub add_on_to: Option<Vec<String>>,
    pub stackable: bool,
    pub server_only: bool,
    pub prices: Prices,
    pub included_items: Vec<(String, IncludedItem)>,
    /// The product with the original's defaults filled in (camelCase), as purchases store it.
    pub snapshot: Value,
}

impl Product {
    pub fn include_by_default(&self) -> bool {
        matches!(self.prices, Prices::IncludeByDefault)
    }

    /// The prices that recur (have an interval), in config order.
    pub fn interval_prices(&self) -> Vec<(&String, &Price)> {
        match &self.prices {
            Prices::IncludeByDefault => vec![],
            Prices::Listed(prices) => prices
                .iter()
                .filter(|(_, p)| p.interval_ms.is_some())
                .map(|(id, p)| (id, p))
                .collect(),
        }
    }
}

/// The rendered `payments` section: parsed once, typed, with the original's defaults.
#[derive(Debug, Clone)]
pub struct Catalog {
    pub test_mode: bool,
    pub block_new_purchases: bool,
    pub items: Vec<(String, Item)>,
    pub products: Vec<(String, Product)>,
    pub product_lines: Vec<(String, ProductLine)>,
}

fn find<'a, T>(entries: &'a [(String, T)], id: &str) -> Option<&'a T> {
    entries.iter().find(|(k, _)| k == id).map(|(_, v)| v)
}

impl Catalog {
    pub fn item(&self, id: &str) -> Option<&Item> {
        find(&self.items, id)
    }

    pub fn product(&self, id: &str) -> Option<&Product> {
        find(&self.products, id)
    }

    pub fn product_line(&self, id: &str) -> Option<&ProductLine> {
        find(&self.product_lines, id)
    }

    /// Parses the `payments` section of the merged config document, with defaults and legacy
    /// names (`offers`, `groups`/`catalogs`, `groupId`/`catalogId`; see the original's
    /// `config/schema.ts`). Every problem is reported with its path; a value of the wrong shape
    /// is a problem, never a silent default.
    pub fn parse(config: &Value) -> Result<Catalog, Vec<String>> {
        let mut problems = Vec::new();
        let p = config.get("payments").cloned().unwrap_or(json!({}));
        let section = |problems: &mut Vec<String>, names: &[&str]| -> Map<String, Value> {
            let Some((name, v)) = names.iter().find_map(|n| p.get(*n).map(|v| (n, v))) else {
                return Map::new();
            };
            match v {
                Value::Object(m) => m.clone(),
                Value::Null => Map::new(),
                _ => {
                    problems.push(format!("payments.{name} must be an object"));
                    Map::new()
                }
            }
        };
        let raw_items = section(&mut problems, &["items"]);
        let raw_lines = section(&mut problems, &["productLines", "catalogs", "groups"]);
        let raw_products = section(&mut problems, &["products", "offers"]);
        let flag = |problems: &mut Vec<String>, key: &str, default: bool| match p.get(key) {
            None | Some(Value::Null) => default,
            Some(Value::Bool(b)) => *b,
            Some(_) => {
                problems.push(format!("payments.{key} must be true or false"));
                default
            }
        };
        let test_mode = flag(&mut problems, "testMode", true);
        let block_new_purchases = flag(&mut problems, "blockNewPurchases", false);
        let mut items = Vec::new();
        for (id, raw) in raw_items {
            let at = format!("payments.items.{id}");
            check_id(&mut problems, "item", &id);
            let Some(obj) = object(&mut problems, &at, &raw) else {
                continue;
            };
            items.push((
                id.clone(),
                Item {
                    display_name: text(&mut problems, &at, obj, "displayName").unwrap_or(id),
                    customer_type: customer_type(&mut problems, &at, obj),
                },
            ));
        }
        let mut product_lines = Vec::new();
        for (id, raw) in raw_lines {
            let at = format!("payments.productLines.{id}");
            check_id(&mut problems, "product line", &id);
            let Some(obj) = object(&mut problems, &at, &raw) else {
                continue;
            };
            product_lines.push((
                id,
                ProductLine {
                    display_name: text(&mut problems, &at, obj, "displayName"),
                    customer_type: customer_type(&mut problems, &at, obj),
                },
            ));
        }
        let mut products = Vec::new();
        for (id, raw) in raw_products {
            let at = format!("payments.products.{id}");
            check_id(&mut problems, "product", &id);
            let Some(obj) = object(&mut problems, &at, &raw) else {
                continue;
            };
            let product = parse_product(&mut problems, &at, &id, obj);
            if let Some(line) = &product.product_line_id {
                match find(&product_lines, line) {
                    None => problems.push(format!(
                        "{at}.productLineId: product line {line:?} does not exist"
                    )),
                    Some(l) if l.customer_type != product.customer_type => {
                        problems.push(format!("{at}: customerType must match its product line's"))
                    }
                    _ => {}
                }
            }
            products.push((id, product));
        }
        if !problems.is_empty() {
            return Err(problems);
        }
        Ok(Catalog {
            test_mode,
            block_new_purchases,
            items,
            products,
            product_lines,
        })
    }

    /// The rendered section in the config document's camelCase form (`GET internal/config`).
    pub fn to_json(&self) -> Value {
        let items: Map<String, Value> = self
            .items
            .iter()
            .map(|(id, i)| {
                let v = json!({ "displayName": i.display_name, "customerType": i.customer_type.as_str() });
                (id.clone(), v)
            })
            .collect();
        let products: Map<String, Value> = self
            .products
            .iter()
            .map(|(id, p)| (id.clone(), p.snapshot.clone()))
            .collect();
        let product_lines: Map<String, Value> = self
            .product_lines
            .iter()
            .map(|(id, l)| {
                let v = json!({ "displayName": l.display_name, "customerType": l.customer_type.as_str() });
                (id.clone(), v)
            })
            .collect();
        json!({
            "testMode": self.test_mode,
            "blockNewPurchases": self.block_new_purchases,
            "items": items,
            "products": products,
            "productLines": product_lines,
        })
    }
}

fn object<'a>(
    problems: &mut Vec<String>,
    at: &str,
    v: &'a Value,
) -> Option<&'a Map<String, Value>> {
    let obj = v.as_object();
    if obj.is_none() {
        problems.push(format!("{at} must be an object, not {v}"));
    }
    obj
}

/// An optional string field; another type is a problem.
fn text(
    problems: &mut Vec<String>,
    at: &str,
    obj: &Map<String, Value>,
    key: &str,
) -> Option<String> {
    match obj.get(key) {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) => Some(s.clone()),
        Some(v) => {
            problems.push(format!("{at}.{key} must be a string, not {v}"));
            None
        }
    }
}

/// An optional boolean field; another type is a problem.
fn boolean(problems: &mut Vec<String>, at: &str, obj: &Map<String, Value>, key: &str) -> bool {
    match obj.get(key) {
        None | Some(Value::Null) => false,
        Some(Value::Bool(b)) => *b,
        Some(v) => {
            problems.push(format!("{at}.{key} must be true or false, not {v}"));
            false
        }
    }
}

/// `customerType`, default `user`.
fn customer_type(problems: &mut Vec<String>, at: &str, obj: &Map<String, Value>) -> CustomerType {
    match obj.get("customerType") {
        None | Some(Value::Null) => CustomerType::User,
        Some(v) => v.as_str().and_then(CustomerType::parse).unwrap_or_else(|| {
            problems.push(format!(
                "{at}.customerType must be one of user, team, custom"
            ));
            CustomerType::User
        }),
    }
}

fn parse_product(
    problems: &mut Vec<String>,
    at: &str,
    id: &str,
    obj: &Map<String, Value>,
) -> Product {
    let raw = Value::Object(obj.clone());
    let product_line_id = ["productLineId", "catalogId", "groupId"]
        .iter()
        .find_map(|k| obj.get(*k).filter(|v| !v.is_null()).map(|v| (k, v)))
        .and_then(|(k, v)| match v.as_str() {
            Some(s) => Some(s.to_string()),
            None => {
                problems.push(format!("{at}.{k} must be a string"));
                None
            }
        });
    let add_on_to = match obj.get("isAddOnTo") {
        None | Some(Value::Null) | Some(Value::Bool(false)) => None,
        Some(Value::Object(m)) if m.values().all(|v| *v == true) => {
            Some(m.keys().cloned().collect())
        }
        Some(_) => {
            problems.push(format!(
                "{at}.isAddOnTo must be false or {{<productId>: true, …}}"
            ));
            None
        }
    };
    let prices = match obj.get("prices") {
        None | Some(Value::Null) => Prices::Listed(vec![]),
        Some(Value::String(s)) if s == "include-by-default" => Prices::IncludeByDefault,
        Some(Value::Object(listed)) => Prices::Listed(
            listed
                .iter()
                .map(|(price_id, price)| {
                    check_id(problems, "price", price_id);
                    let price_at = format!("{at}.prices.{price_id}");
                    check_price(problems, &price_at, price);
                    let interval_ms = interval_ms(&price["interval"]);
                    (
                        price_id.clone(),
                        Price {
                            raw: price.clone(),
                            interval_ms,
                        },
                    )
                })
                .collect(),
        ),
        Some(_) => {
            problems.push(format!(
                "{at}.prices must be an object or \"include-by-default\""
            ));
            Prices::Listed(vec![])
        }
    };
    let mut included_items = Vec::new();
    match obj.get("includedItems") {
        None | Some(Value::Null) => {}
        Some(Value::Object(m)) => {
            for (item_id, inc) in m {
                let inc_at = format!("{at}.includedItems.{item_id}");
                if let Some(inc) = parse_included(problems, &inc_at, inc) {
                    included_items.push((item_id.clone(), inc));
                }
            }
        }
        Some(v) => problems.push(format!("{at}.includedItems must be an object, not {v}")),
    }
    for (key, kind) in [("freeTrial", "interval"), ("free_trial", "interval")] {
        if let Some(v) = obj.get(key).filter(|v| !v.is_null()) {
            if !is_interval(v) {
                problems.push(format!(
                    "{at}.{key} must be an {kind} [count, \"day\"|\"week\"|\"month\"|\"year\"]"
                ));
            }
        }
    }
    Product {
        display_name: text(problems, at, obj, "displayName").unwrap_or_else(|| id.to_string()),
        customer_type: customer_type(problems, at, obj),
        product_line_id,
        add_on_to,
        stackable: boolean(problems, at, obj, "stackable"),
        server_only: boolean(problems, at, obj, "serverOnly"),
        prices,
        included_items,
        snapshot: render_product(id, &raw),
    }
}

/// `{quantity: integer, repeat?: "never" | interval, expires?: never | when-purchase-expires |
/// when-repeated}`; anything else (a bare number, say) is a problem.
fn parse_included(problems: &mut Vec<String>, at: &str, v: &Value) -> Option<IncludedItem> {
    let Some(obj) = v.as_object() else {
        problems.push(format!(
            "{at} must be an object {{\"quantity\": <integer>, \"repeat\"?, \"expires\"?}}, not {v}"
        ));
        return None;
    };
    let quantity = match obj.get("quantity") {
        None | Some(Value::Null) => Some(0),
        Some(q) => q.as_i64(),
    };
    let max = super::ledger::MAX_QUANTITY;
    if quantity.is_none() {
        problems.push(format!("{at}.quantity must be an integer"));
    } else if quantity.is_some_and(|q| q.abs() > max) {
        problems.push(format!("{at}.quantity must be between -{max} and {max}"));
    }
    let repeat = obj.get("repeat").cloned().unwrap_or(json!("never"));
    let repeat_ms = if repeat == "never" {
        Some(None)
    } else {
        interval_ms(&repeat)
            .filter(|_| is_interval(&repeat))
            .map(Some)
    };
    if repeat_ms.is_none() {
        problems.push(format!("{at}.repeat must be \"never\" or an interval"));
    }
    let expires = match obj.get("expires").and_then(Value::as_str) {
        None if obj.get("expires").is_none_or(Value::is_null) => Some(Expires::WhenRepeated),
        Some("never") => Some(Expires::Never),
        Some("when-purchase-expires") => Some(Expires::WhenPurchaseExpires),
        Some("when-repeated") => Some(Expires::WhenRepeated),
        _ => None,
    };
    if expires.is_none() {
        problems.push(format!(
            "{at}.expires must be never, when-purchase-expires or when-repeated"
        ));
    }
    Some(IncludedItem {
        quantity: quantity?,
        repeat_ms: repeat_ms?,
        expires: expires?,
    })
}

/// A config product with the original's defaults filled in (its snapshot form).
fn render_product(id: &str, p: &Value) -> Value {
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

/// A USD amount in cents (`"12.3"` → 1230). None unless it is money ([`is_money`], two
/// decimals) that fits in cents.
pub fn usd_cents(amount: &str) -> Option<i64> {
    if !is_money(amount, 2) {
        return None;
    }
    let (whole, frac) = amount.split_once('.').unwrap_or((amount, ""));
    whole
        .parse::<i64>()
        .ok()?
        .checked_mul(100)?
        .checked_add(format!("{frac:0<2}").parse().ok()?)
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
    fn parsing_fills_defaults_and_validates() {
        let c = Catalog::parse(&json!({ "payments": {
            "items": { "credits": { "customerType": "user" } },
            "products": { "pro": { "prices": { "monthly": { "USD": "10", "interval": [1, "month"] } }, "includedItems": { "credits": { "quantity": 100 } } } }
        }}))
        .unwrap();
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
        let pro = c.product("pro").unwrap();
        assert_eq!(
            pro.snapshot["includedItems"]["credits"]["expires"],
            "when-repeated"
        );
        assert_eq!(pro.included_items[0].1.expires, Expires::WhenRepeated);
        assert_eq!(
            pro.interval_prices()[0].1.interval_ms,
            Some(30 * 86_400_000)
        );
        assert_eq!(c.item("credits").unwrap().display_name, "credits");
        let bad = Catalog::parse(
            &json!({ "payments": { "products": { "x": { "productLineId": "nope", "prices": { "p": { "interval": [1, "month"] } } } } } }),
        )
        .unwrap_err();
        assert_eq!(bad.len(), 2, "{bad:?}");
        // A bare number where an included item's object belongs is refused, not read as 0.
        let bare = Catalog::parse(
            &json!({ "payments": { "products": { "x": { "prices": {}, "includedItems": { "credits": 100 } } } } }),
        )
        .unwrap_err();
        assert_eq!(bare.len(), 1, "{bare:?}");
        assert!(bare[0].starts_with("payments.products.x.includedItems.credits must be an object"));
    }
}
