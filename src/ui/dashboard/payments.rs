//! Dashboard pages for payments: the catalog (test mode, items, product lines, products — built
//! with forms for prices and included items, raw JSON only under "Advanced"), one customers table
//! (users, teams and custom ids), a customer's page (balances, owned products, transactions with
//! the notes of adjustments; grant a product, adjust a balance), the transactions log with
//! refunds offered only where one can succeed, and the "Create checkout" dialog every one of
//! them offers. Writes go through the payments domain functions, so the dashboard refuses
//! exactly what the API refuses; each write ends in a notice (role=status) or a refusal
//! (role=alert) beside the form it came from, with what was typed kept. Deleting and refunding
//! take a ticked confirmation, checked on the server (no script needed).

use super::pages::{error, project_layout, when};
use super::session::Admin;
use super::{field, form_context, html, message_of, project_context};
use crate::auth::context::ApiState;
use crate::http::extract::RawBody;
use crate::http::known::KnownCode;
use crate::http::{ApiError, ApiResult};
use crate::kernel::Kernel;
use crate::payments::batch;
use crate::payments::config::{
    is_money, is_valid_id, price_label, Catalog, Prices, Product, CURRENCIES, CUSTOMER_TYPES,
};
use crate::payments::ledger::{self, BalanceKey};
use crate::payments::products::{self, ownership, purchases_of, Chosen};
use crate::payments::stripe::connect::connection;
use crate::payments::stripe::refunds::RefundEntry;
use crate::payments::transactions::{self, Filter, PurchaseFacts};
use crate::payments::Payments;
use crate::payments::{customers, items, purchases};
use crate::projects::{overrides, Project};
use crate::store::now_ms;
use axum::extract::FromRef;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::Router;
use maud::{html, Markup, PreEscaped};
use serde::Deserialize;
use serde_json::{json, Map, Value};
use std::collections::HashMap;
use std::sync::Arc;

pub fn routes<S>() -> Router<S>
where
    S: Clone + Send + Sync + 'static,
    ApiState: FromRef<S>,
    Arc<Payments>: FromRef<S>,
{
    let base = "/dashboard/projects/{project_id}/payments";
    Router::new()
        .route(base, get(catalog_page).post(save_catalog))
        .route(&format!("{base}/customers"), get(customers_page))
        .route(
            &format!("{base}/customers/{{customer_type}}/{{customer_id}}"),
            get(customer_page),
        )
        .route(
            &format!("{base}/customers/{{customer_type}}/{{customer_id}}/grant"),
            post(grant),
        )
        .route(
            &format!("{base}/customers/{{customer_type}}/{{customer_id}}/adjust"),
            post(adjust),
        )
        .route(&format!("{base}/checkout"), post(checkout))
        .route(&format!("{base}/transactions"), get(transactions_page))
        .route(&format!("{base}/transactions/refund"), post(refund))
}

/// The payments pages' own style, in the page (the dashboard's CSP allows inline style): tables
/// scroll inside their own box, long ids are cut with an ellipsis beside a copy button (the
/// dashboard's shared one), and form rows wrap on a narrow screen.
const STYLE: &str = "
.scroll td,.scroll th{vertical-align:top}
.actions{display:flex;flex-wrap:wrap;gap:6px 12px;align-items:center}.actions details.checkout{margin:0}
.qs-row.id code{max-width:16ch;font-size:12px;padding:2px 6px}.qs-row.id button.copy{padding:3px 8px;font-size:12px}
select,input,textarea{max-width:100%}input[type=number]{width:7em;padding:8px;border:1px solid #cfd3d9;border-radius:7px}
fieldset.row{border:1px solid #e3e5e9;border-radius:8px;padding:4px 12px 12px;margin:12px 0;min-width:0}
fieldset.row legend{font-size:13px;color:#4a4f57;padding:0 4px}
.fields{display:flex;flex-wrap:wrap;gap:0 14px;align-items:flex-end}.fields>div{min-width:0;max-width:100%}
details.advanced{margin-top:16px}details.advanced summary{cursor:pointer;color:#2b59ff;font-size:14px}
details.advanced textarea{width:100%;font-family:monospace}pre.json{background:#f7f8fb;padding:8px;overflow-x:auto;font-size:12px}
form.confirm{display:flex;flex-wrap:wrap;gap:4px 8px;align-items:center}form.confirm label{margin:0;display:inline}
p.empty{color:#6b717b;font-size:14px;margin:8px 0}td .why{font-size:12px;color:#6b717b}
.note{font-size:12px;color:#4a4f57;font-style:italic}
form.refund label{display:inline-block;margin:0 8px 6px 0}form.refund input[type=text],form.refund input[type=number]{width:6em;padding:5px 7px}
";

fn style() -> Markup {
    html! { (super::project::styles()) style { (PreEscaped(STYLE)) } }
}

fn base(project: &Project) -> String {
    format!("/dashboard/projects/{}/payments", project.id)
}

fn nav(project: &Project, here: &str) -> Markup {
    let b = base(project);
    html! {
        (style())
        p.muted {
            a href={ "/dashboard/projects/" (project.id) } { (project.display_name) } " · "
            @for (path, label) in [("", "Catalog"), ("/customers", "Customers"), ("/transactions", "Transactions"), ("/stripe", "Stripe")] {
                @if label == here { strong { (label) } } @else { a href={ (b) (path) } { (label) } }
                " "
            }
        }
    }
}

/// A success notice, announced to screen readers.
fn notice(text: Option<&str>) -> Markup {
    html! { @if let Some(t) = text { p.notice #notice role="status" { (t) } } }
}

/// An id cut with an ellipsis when long (whole in its title), and its copy button.
fn id_field(id: &str, what: &str) -> Markup {
    html! {
        div.qs-row.id {
            code title=(id) { (id) }
            button.copy type="button" data-copy=(id) aria-label={ "Copy " (what) } { "Copy" }
        }
    }
}

/// A refusal page keeps what was typed: the refused form's values, when it is this form.
fn draft_of<'a>(draft: Option<&'a Value>, what: &str) -> Option<&'a Value> {
    draft.filter(|d| field(d, "what") == what)
}

/// A notice for `?done=` after a write (a fixed set of messages; the id only when it is one).
fn done_message(done: Option<&str>, id: Option<&str>) -> Option<String> {
    let id = id.filter(|i| is_valid_id(i)).unwrap_or("");
    Some(match done? {
        "test-mode" => "Test mode changed.".to_string(),
        "item" => format!("Item “{id}” saved."),
        "item-deleted" => format!("Item “{id}” deleted."),
        "line" => format!("Product line “{id}” saved."),
        "line-deleted" => format!("Product line “{id}” deleted."),
        "product" => format!("Product “{id}” saved."),
        "product-deleted" => format!("Product “{id}” deleted."),
        "granted" => "Product granted.".to_string(),
        "adjusted" => "Quantity changed.".to_string(),
        "refunded" => "Refund made.".to_string(),
        "subscription-canceled" => "The subscription ends at the end of its period.".to_string(),
        "subscription-reactivated" => "The subscription renews again.".to_string(),
        _ => return None,
    })
}

fn name_of<'a>(v: &'a Value, id: &'a str) -> &'a str {
    v["displayName"].as_str().unwrap_or(id)
}

fn customer_path(project: &Project, customer_type: &str, customer_id: &str) -> String {
    format!("{}/customers/{customer_type}/{customer_id}", base(project))
}

/// A form posting one destructive action, which the server does only with `confirm` ticked.
fn confirm_form(action: &str, hidden: &[(&str, &str)], csrf: &str, button: &str) -> Markup {
    html! {
        form.confirm method="post" action=(action) {
            input type="hidden" name="csrf" value=(csrf);
            @for (k, v) in hidden { input type="hidden" name=(k) value=(v); }
            label { input type="checkbox" name="confirm" value="on" required; " confirm" }
            button.danger type="submit" { (button) }
        }
    }
}

/// Errors: a plain 400 unless the form's confirmation box was ticked.
fn require_confirmation(form: &Value, what: &str) -> ApiResult<()> {
    if field(form, "confirm") == "on" {
        Ok(())
    } else {
        Err(ApiError::bad_request(format!(
            "Tick “confirm” to {what}: it cannot be undone."
        )))
    }
}

/// The shared "Create checkout" dialog (a disclosure, so it needs no script). A known customer or
/// product is fixed; whatever is not known is asked for.
pub(super) fn checkout_dialog(
    admin: &Admin,
    project: &Project,
    catalog: &Catalog,
    customer: Option<(&str, &str)>,
    product: Option<&str>,
) -> Markup {
    checkout_form(admin, project, catalog, customer, product, None)
}

/// [`checkout_dialog`], open with what was typed when `draft` (a refused form) is given.
fn checkout_form(
    admin: &Admin,
    project: &Project,
    catalog: &Catalog,
    customer: Option<(&str, &str)>,
    product: Option<&str>,
    draft: Option<&Value>,
) -> Markup {
    let d = |k: &str| draft.map(|f| field(f, k)).unwrap_or("");
    let products: Vec<&(String, Product)> = catalog
        .products
        .iter()
        .filter(|(_, p)| customer.is_none_or(|(t, _)| p.customer_type == t))
        .collect();
    let fixed_type = product
        .and_then(|id| catalog.product(id))
        .map(|p| p.customer_type.as_str());
    html! {
        details.checkout open[draft.is_some()] {
            summary { "Create checkout" }
            @if product.is_none() && products.is_empty() {
                p.empty.no-products {
                    @match customer {
                        Some((t, _)) => { "No product in the catalog is for " (t) " customers, so there is nothing to check out. " }
                        None => { "The catalog has no products yet. " }
                    }
                    a href=(base(project)) { "Add one in the catalog" } "."
                }
            } @else {
                form method="post" action={ (base(project)) "/checkout" } {
                    input type="hidden" name="csrf" value=(admin.csrf_token());
                    @match customer {
                        Some((t, id)) => {
                            input type="hidden" name="customer_type" value=(t);
                            input type="hidden" name="customer_id" value=(id);
                        }
                        None => {
                            @if let Some(t) = fixed_type {
                                input type="hidden" name="customer_type" value=(t);
                                p.muted { "For " (t) " customers." }
                            } @else {
                                label { "Customer type" }
                                select name="customer_type" {
                                    @for t in CUSTOMER_TYPES { option value=(t) selected[d("customer_type") == t] { (t) } }
                                }
                            }
                            label { "Customer ID" }
                            input type="text" name="customer_id" value=(d("customer_id")) required placeholder={ (fixed_type.unwrap_or("user")) " id" };
                        }
                    }
                    @match product {
                        Some(id) => { input type="hidden" name="product_id" value=(id); }
                        None => {
                            label { "Product" }
                            select name="product_id" {
                                @for (id, p) in products { option value=(id) selected[d("product_id") == id] { (p.display_name) } }
                            }
                        }
                    }
                    label { "Return URL after paying (optional; a trusted domain of the project)" }
                    input type="url" name="return_url" value=(d("return_url")) placeholder="https://your-app.example/after-checkout";
                    button type="submit" { "Create checkout link" }
                }
            }
        }
    }
}

// ---- Catalog -------------------------------------------------------------------------------

#[derive(Deserialize, Default)]
struct CatalogQuery {
    /// A product to edit in the product form.
    edit: Option<String>,
    edit_line: Option<String>,
    edit_item: Option<String>,
    done: Option<String>,
    id: Option<String>,
}

async fn catalog_page(
    State(state): State<ApiState>,
    State(payments): State<Arc<Payments>>,
    headers: HeaderMap,
    Path(project_id): Path<String>,
    Query(q): Query<CatalogQuery>,
) -> Response {
    let (admin, project) = or_answer!(project_context(&state, &headers, &project_id).await);
    let done = done_message(q.done.as_deref(), q.id.as_deref());
    render_catalog(
        &state,
        &payments,
        &admin,
        &project,
        &q,
        done.as_deref(),
        None,
        None,
    )
    .await
}

#[allow(clippy::too_many_arguments)]
async fn render_catalog(
    state: &Kernel,
    payments: &Payments,
    admin: &Admin,
    project: &Project,
    q: &CatalogQuery,
    done: Option<&str>,
    message: Option<&str>,
    draft: Option<&Value>,
) -> Response {
    let catalog = match payments.catalog(state, &project.id).await {
        Ok(c) => c,
        Err(e) => return e.into_response(),
    };
    let page = catalog_markup(admin, project, &catalog, q, done, message, draft);
    super::answer(page, message)
}

const UNITS: [&str; 4] = ["day", "week", "month", "year"];
const EXPIRES: [(&str, &str); 3] = [
    ("when-repeated", "when it repeats (or the purchase ends)"),
    ("when-purchase-expires", "when the purchase ends"),
    ("never", "never"),
];
/// At most this many price or included-item rows are read from a form.
const MAX_ROWS: usize = 20;

/// `[count, unit]` of an interval value, as form strings.
fn span_fields(v: &Value) -> (String, String) {
    match (v[0].as_u64(), v[1].as_str()) {
        (Some(n), Some(u)) => (n.to_string(), u.to_string()),
        _ => (String::new(), String::new()),
    }
}

/// The product form's fields for an existing product (what editing starts from).
fn product_fields(id: &str, p: &Product) -> Value {
    let mut m = Map::new();
    let mut put = |k: String, v: String| {
        m.insert(k, Value::String(v));
    };
    put("what".into(), "product".into());
    put("id".into(), id.into());
    put("display_name".into(), p.display_name.clone());
    put("customer_type".into(), p.customer_type.as_str().into());
    put(
        "product_line_id".into(),
        p.product_line_id.clone().unwrap_or_default(),
    );
    if p.stackable {
        put("stackable".into(), "on".into());
    }
    if p.server_only {
        put("server_only".into(), "on".into());
    }
    match &p.prices {
        Prices::IncludeByDefault => put("include_by_default".into(), "on".into()),
        Prices::Listed(prices) => {
            for (i, (pid, price)) in prices.iter().enumerate() {
                put(format!("price_id.{i}"), pid.clone());
                if let Some((code, amount)) = CURRENCIES
                    .iter()
                    .find_map(|(c, _)| price.amount(c).map(|a| (*c, a)))
                {
                    put(format!("currency.{i}"), code.into());
                    put(format!("amount.{i}"), amount.into());
                }
                let (n, u) = span_fields(&price.raw["interval"]);
                put(format!("interval_count.{i}"), n);
                put(format!("interval_unit.{i}"), u);
                let trial = price.raw.get("freeTrial").or(price.raw.get("free_trial"));
                let (n, u) = span_fields(trial.unwrap_or(&Value::Null));
                put(format!("trial_count.{i}"), n);
                put(format!("trial_unit.{i}"), u);
            }
        }
    }
    let included = p.snapshot["includedItems"].as_object().cloned();
    for (i, (item, inc)) in included.into_iter().flatten().enumerate() {
        put(format!("item_id.{i}"), item);
        put(format!("item_quantity.{i}"), inc["quantity"].to_string());
        let (n, u) = span_fields(&inc["repeat"]);
        put(format!("repeat_count.{i}"), n);
        put(format!("repeat_unit.{i}"), u);
        put(
            format!("expires.{i}"),
            inc["expires"].as_str().unwrap_or("when-repeated").into(),
        );
    }
    Value::Object(m)
}

/// How many rows of `key.<i>` a form holds (a select every row has).
fn rows_in(form: &Value, key: &str) -> usize {
    (0..MAX_ROWS)
        .take_while(|i| form.get(format!("{key}.{i}")).is_some())
        .count()
}

fn unit_select(name: &str, id: &str, value: &str, none: &str) -> Markup {
    html! {
        select name=(name) id=(id) {
            option value="" selected[value.is_empty()] { (none) }
            @for u in UNITS { option value=(u) selected[value == u] { (u) "s" } }
        }
    }
}

fn price_rows(form: &Value, rows: usize) -> Markup {
    html! {
        @for i in 0..rows {
            @let g = |k: &str| field(form, &format!("{k}.{i}")).to_string();
            fieldset.row.price {
                legend { "Price " (i + 1) }
                div.fields {
                    div {
                        label for={ "amount-" (i) } { "Amount" }
                        input type="text" id={ "amount-" (i) } name={ "amount." (i) } value=(g("amount")) inputmode="decimal" placeholder="e.g. 9.99" size="10";
                    }
                    div {
                        label for={ "currency-" (i) } { "Currency" }
                        select id={ "currency-" (i) } name={ "currency." (i) } {
                            @for (c, _) in CURRENCIES { option value=(c) selected[g("currency") == c] { (c) } }
                        }
                    }
                    div {
                        label for={ "interval-count-" (i) } { "Charged every" }
                        input type="number" min="1" id={ "interval-count-" (i) } name={ "interval_count." (i) } value=(g("interval_count")) placeholder="1";
                        " " (unit_select(&format!("interval_unit.{i}"), &format!("interval-unit-{i}"), &g("interval_unit"), "once (one-off)"))
                    }
                    div {
                        label for={ "trial-count-" (i) } { "Free trial" }
                        input type="number" min="1" id={ "trial-count-" (i) } name={ "trial_count." (i) } value=(g("trial_count")) placeholder="7";
                        " " (unit_select(&format!("trial_unit.{i}"), &format!("trial-unit-{i}"), &g("trial_unit"), "no trial"))
                    }
                    div {
                        label for={ "price-id-" (i) } { "Price ID (optional)" }
                        input type="text" id={ "price-id-" (i) } name={ "price_id." (i) } value=(g("price_id")) placeholder="e.g. monthly" size="14";
                    }
                }
            }
        }
    }
}

fn included_rows(form: &Value, rows: usize, catalog: &Catalog) -> Markup {
    html! {
        @for i in 0..rows {
            @let g = |k: &str| field(form, &format!("{k}.{i}")).to_string();
            fieldset.row.included {
                legend { "Included item " (i + 1) }
                div.fields {
                    div {
                        label for={ "inc-item-" (i) } { "Item" }
                        select id={ "inc-item-" (i) } name={ "item_id." (i) } {
                            option value="" { "(none)" }
                            @for (id, item) in &catalog.items {
                                option value=(id) selected[g("item_id") == *id] { (item.display_name) " (" (item.customer_type.as_str()) ")" }
                            }
                        }
                    }
                    div {
                        label for={ "inc-quantity-" (i) } { "Quantity" }
                        input type="number" id={ "inc-quantity-" (i) } name={ "item_quantity." (i) } value=(g("item_quantity")) placeholder="e.g. 100";
                    }
                    div {
                        label for={ "inc-repeat-count-" (i) } { "Granted again every" }
                        input type="number" min="1" id={ "inc-repeat-count-" (i) } name={ "repeat_count." (i) } value=(g("repeat_count")) placeholder="1";
                        " " (unit_select(&format!("repeat_unit.{i}"), &format!("inc-repeat-unit-{i}"), &g("repeat_unit"), "never (once)"))
                    }
                    div {
                        label for={ "inc-expires-" (i) } { "Expires" }
                        select id={ "inc-expires-" (i) } name={ "expires." (i) } {
                            @for (v, label) in EXPIRES { option value=(v) selected[g("expires") == v] { (label) } }
                        }
                    }
                }
            }
        }
    }
}

fn catalog_markup(
    admin: &Admin,
    project: &Project,
    catalog: &Catalog,
    q: &CatalogQuery,
    done: Option<&str>,
    message: Option<&str>,
    draft: Option<&Value>,
) -> Markup {
    let action = base(project);
    let csrf = admin.csrf_token();
    // A refusal is shown beside the form it came from.
    let refused = |what: &str| message.filter(|_| draft_of(draft, what).is_some());
    let other_refusal = message.filter(|_| {
        !["item", "line", "product"]
            .iter()
            .any(|w| draft_of(draft, w).is_some())
    });
    let delete = |what: &str, id: &str| {
        confirm_form(
            &action,
            &[("what", what), ("op", "delete"), ("id", id)],
            &csrf,
            "Delete",
        )
    };
    let type_select = |id: &str, value: &str| {
        html! { select id=(id) name="customer_type" { @for t in CUSTOMER_TYPES { option value=(t) selected[value == t] { (t) } } } }
    };
    // The item form: a refused draft, the item being edited, or empty.
    let item_form: Value = draft_of(draft, "item").cloned().unwrap_or_else(|| {
        q.edit_item
            .as_deref()
            .and_then(|id| catalog.item(id).map(|i| (id, i)))
            .map(|(id, i)| json!({ "id": id, "display_name": i.display_name, "customer_type": i.customer_type.as_str() }))
            .unwrap_or(json!({}))
    });
    let line_form: Value = draft_of(draft, "line").cloned().unwrap_or_else(|| {
        q.edit_line
            .as_deref()
            .and_then(|id| catalog.product_line(id).map(|l| (id, l)))
            .map(|(id, l)| json!({ "id": id, "display_name": l.display_name.clone().unwrap_or_default(), "customer_type": l.customer_type.as_str() }))
            .unwrap_or(json!({}))
    });
    let editing = q
        .edit
        .as_deref()
        .and_then(|id| catalog.product(id).map(|p| (id, p)));
    let (product_form, blank_rows) = match (draft_of(draft, "product"), editing) {
        (Some(d), _) => (d.clone(), 0),
        (None, Some((id, p))) => (product_fields(id, p), 1),
        (None, None) => (json!({}), 1),
    };
    let pf = |k: &str| field(&product_form, k).to_string();
    let price_count = rows_in(&product_form, "currency") + blank_rows;
    let included_count = rows_in(&product_form, "expires") + blank_rows;
    project_layout(
        "Payments",
        admin,
        project,
        "payments",
        html! {
            (nav(project, "Catalog"))
            (notice(done))
            (error(other_refusal))
            div.card {
                h1 { "Payments" }
                form method="post" action=(action) {
                    input type="hidden" name="csrf" value=(csrf);
                    input type="hidden" name="what" value="test_mode";
                    @if catalog.test_mode {
                        p id="test-mode" { "Test mode is " strong { "on" } ": checkouts complete without payment." }
                        input type="hidden" name="value" value="off";
                        button type="submit" { "Turn test mode off" }
                    } @else {
                        p id="test-mode" { "Test mode is " strong { "off" } "." }
                        input type="hidden" name="value" value="on";
                        button type="submit" { "Turn test mode on" }
                    }
                }
            }
            div.card #items-card {
                h2 { "Items" }
                p.muted { "Countable things a customer holds: credits, seats, API calls." }
                @if catalog.items.is_empty() {
                    p.empty #items-empty { "No items yet. Add the first one below." }
                } @else {
                    div.scroll {
                        table.wide id="items" {
                            tr { th { "ID" } th { "Name" } th { "Customer type" } th {} }
                            @for (id, item) in &catalog.items {
                                tr {
                                    td { (id_field(id, "Item ID")) }
                                    td { (item.display_name) }
                                    td { (item.customer_type.as_str()) }
                                    td { div.actions { a href={ (action) "?edit_item=" (id) "#items-card" } { "Edit" } (delete("item", id)) } }
                                }
                            }
                        }
                    }
                }
                h2.section { @if q.edit_item.is_some() && draft.is_none() { "Edit item" } @else { "Add or change an item" } }
                (error(refused("item")))
                form method="post" action=(action) {
                    input type="hidden" name="csrf" value=(csrf);
                    input type="hidden" name="what" value="item";
                    label for="item-id" { "Item ID (saving an existing ID changes that item)" }
                    input id="item-id" type="text" name="id" value=(field(&item_form, "id")) required placeholder="e.g. credits";
                    label for="item-name" { "Display name" }
                    input id="item-name" type="text" name="display_name" value=(field(&item_form, "display_name")) placeholder="e.g. Credits";
                    label for="item-type" { "Customer type" } (type_select("item-type", field(&item_form, "customer_type")))
                    br;
                    button type="submit" { "Save item" }
                }
            }
            div.card #lines-card {
                h2 { "Product lines" }
                p.muted { "A customer owns at most one product of a line (plans: Free, Pro, Team)." }
                @if catalog.product_lines.is_empty() {
                    p.empty #lines-empty { "No product lines yet." }
                } @else {
                    div.scroll {
                        table.wide id="product-lines" {
                            tr { th { "ID" } th { "Name" } th { "Customer type" } th { "Products" } th {} }
                            @for (id, line) in &catalog.product_lines {
                                tr {
                                    td { (id_field(id, "Product line ID")) }
                                    td { (line.display_name.as_deref().unwrap_or(id)) }
                                    td { (line.customer_type.as_str()) }
                                    td {
                                        @for (pid, p) in catalog.products.iter().filter(|(_, p)| p.product_line_id.as_deref() == Some(id.as_str())) {
                                            a href={ (action) "?edit=" (pid) "#product-form" } { (p.display_name) } br;
                                        }
                                    }
                                    td { div.actions { a href={ (action) "?edit_line=" (id) "#lines-card" } { "Edit" } (delete("line", id)) } }
                                }
                            }
                        }
                    }
                }
                h2.section { "Add or change a product line" }
                (error(refused("line")))
                form method="post" action=(action) {
                    input type="hidden" name="csrf" value=(csrf);
                    input type="hidden" name="what" value="line";
                    label for="line-id" { "Product line ID" }
                    input id="line-id" type="text" name="id" value=(field(&line_form, "id")) required placeholder="e.g. plans";
                    label for="line-name" { "Display name" }
                    input id="line-name" type="text" name="display_name" value=(field(&line_form, "display_name")) placeholder="e.g. Plans";
                    label for="line-type" { "Customer type" } (type_select("line-type", field(&line_form, "customer_type")))
                    br;
                    button type="submit" { "Save product line" }
                }
                p.muted { "To put a product in a line, choose the line in the product's form." }
            }
            div.card {
                h2 { "Products" }
                @if catalog.products.is_empty() {
                    p.empty #products-empty { "No products yet. Add the first one below." }
                } @else {
                    div.scroll {
                        table.wide id="products" {
                            tr { th { "ID" } th { "Name" } th { "For" } th { "Prices" } th { "Includes" } th {} }
                            @for (id, p) in &catalog.products {
                                tr {
                                    td { (id_field(id, "Product ID")) }
                                    td { (p.display_name) @if let Some(line) = &p.product_line_id { br; span.muted { "line " (line) } } }
                                    td { (p.customer_type.as_str()) }
                                    td {
                                        @match &p.prices {
                                            Prices::Listed(prices) if prices.is_empty() => { span.muted { "no price (grant only)" } }
                                            Prices::Listed(prices) => { @for (_, price) in prices { (price_label(&price.raw)) br; } }
                                            Prices::IncludeByDefault => { span.muted { "included by default" } }
                                        }
                                    }
                                    td {
                                        @for (item, inc) in &p.included_items {
                                            (inc.quantity) " × " (catalog.item(item).map(|i| i.display_name.as_str()).unwrap_or(item))
                                            @if inc.repeat_ms.is_some() {
                                                @let (n, unit) = span_fields(&p.snapshot["includedItems"][item]["repeat"]);
                                                span.muted { " every " @if n != "1" { (n) " " } (unit) }
                                            }
                                            br;
                                        }
                                    }
                                    td {
                                        div.actions {
                                            a href={ (action) "?edit=" (id) "#product-form" } { "Edit" }
                                            (checkout_dialog(admin, project, catalog, None, Some(id)))
                                            (delete("product", id))
                                        }
                                    }
                                }
                            }
                        }
                    }
                }
                form method="post" action=(action) id="product-form" {
                    h2.section { @if editing.is_some() && draft.is_none() { "Edit product" } @else { "Add or change a product" } }
                    (error(refused("product")))
                    input type="hidden" name="csrf" value=(csrf);
                    input type="hidden" name="what" value="product";
                    label for="product-id" { "Product ID (saving an existing ID replaces that product)" }
                    input id="product-id" type="text" name="id" value=(pf("id")) required placeholder="e.g. pro";
                    label for="product-name" { "Display name" }
                    input id="product-name" type="text" name="display_name" value=(pf("display_name")) placeholder="e.g. Pro plan";
                    label for="product-type" { "Customer type" } (type_select("product-type", &pf("customer_type")))
                    label for="product-line" { "Product line" }
                    select id="product-line" name="product_line_id" {
                        option value="" { "(none)" }
                        @for (id, l) in &catalog.product_lines { option value=(id) selected[pf("product_line_id") == *id] { (l.display_name.as_deref().unwrap_or(id)) " (" (l.customer_type.as_str()) ")" } }
                    }
                    label { input type="checkbox" name="stackable" checked[!pf("stackable").is_empty()]; " Stackable (can be bought more than once)" }
                    label { input type="checkbox" name="server_only" checked[!pf("server_only").is_empty()]; " Server only (clients cannot buy it)" }
                    label { input type="checkbox" name="include_by_default" checked[!pf("include_by_default").is_empty()]; " Included by default (every customer of its type owns it; prices are ignored)" }
                    h2.section { "Prices" }
                    @if editing.is_some_and(|(_, p)| matches!(&p.prices, Prices::Listed(l) if l.iter().any(|(_, price)| CURRENCIES.iter().filter(|(c, _)| price.amount(c).is_some()).count() > 1))) {
                        p.error { "A price of this product has more than one currency; the fields show one. Edit it under “Advanced” to keep the others." }
                    }
                    p.muted { "Leave the amount empty for no price (a product only granted). One-off or charged every N days, weeks, months or years; a free trial needs a repeating price. To add another price, save, then edit the product: each edit offers one more empty row." }
                    (price_rows(&product_form, price_count.max(1)))
                    h2.section { "Included items" }
                    p.muted { "Granted per unit bought. " @if catalog.items.is_empty() { "Add items above first." } }
                    (included_rows(&product_form, included_count.max(1), catalog))
                    details.advanced open[!pf("prices").is_empty() || !pf("included_items").is_empty()] {
                        summary { "Advanced: edit as JSON" }
                        p.muted { "Filled in, these replace the fields above. Prices: " code { r#"{"monthly": {"USD": "10.00", "interval": [1, "month"], "freeTrial": [7, "day"]}}"# } "; included items: " code { r#"{"credits": {"quantity": 5, "repeat": [1, "month"], "expires": "when-repeated"}}"# } }
                        label for="product-prices" { "Prices (JSON)" }
                        textarea id="product-prices" name="prices" rows="3" placeholder="{}" { (pf("prices")) }
                        label for="product-items" { "Included items (JSON)" }
                        textarea id="product-items" name="included_items" rows="3" placeholder="{}" { (pf("included_items")) }
                        @if let Some((_, p)) = editing {
                            p.muted { "Stored now:" }
                            pre.json { (serde_json::to_string_pretty(&p.snapshot).unwrap_or_default()) }
                        }
                    }
                    button type="submit" { "Save product" }
                    @if editing.is_some() { " " a href=(action) { "Cancel" } }
                }
            }
        },
    )
}

/// A whole number of 1 or more from a form field; `default` when it is empty.
fn count_of(text: &str, default: Option<u64>, what: &str) -> ApiResult<u64> {
    match text {
        "" => default.ok_or_else(|| ApiError::bad_request(format!("{what}: enter how many."))),
        t => t
            .parse::<u64>()
            .ok()
            .filter(|n| (1..=10_000).contains(n))
            .ok_or_else(|| {
                ApiError::bad_request(format!("{what} must be a whole number from 1 to 10000."))
            }),
    }
}

fn unit_of(text: &str, what: &str) -> ApiResult<()> {
    if UNITS.contains(&text) {
        Ok(())
    } else {
        Err(ApiError::bad_request(format!(
            "{what}: choose day, week, month or year."
        )))
    }
}

/// The `prices` a product form's price rows ask for.
fn prices_from_rows(form: &Value) -> ApiResult<Value> {
    let mut prices = Map::new();
    for i in 0..rows_in(form, "currency") {
        let g = |k: &str| field(form, &format!("{k}.{i}")).trim();
        let n = i + 1;
        let amount = g("amount");
        if amount.is_empty() {
            let extra = [
                "price_id",
                "interval_count",
                "interval_unit",
                "trial_count",
                "trial_unit",
            ];
            if extra.iter().any(|k| !g(k).is_empty()) {
                return Err(ApiError::bad_request(format!(
                    "Price {n}: enter an amount, or clear the row."
                )));
            }
            continue;
        }
        let currency = g("currency");
        let Some((_, decimals)) = CURRENCIES.iter().find(|(c, _)| *c == currency) else {
            return Err(ApiError::bad_request(format!(
                "Price {n}: choose a currency."
            )));
        };
        if !is_money(amount, *decimals) {
            let places = match decimals {
                0 => "no decimals".to_string(),
                d => format!("up to {d} decimals"),
            };
            return Err(ApiError::bad_request(format!(
                "Price {n}: the amount must be a number like 10 or 9.99 ({currency} takes {places})."
            )));
        }
        let mut price = json!({ currency: amount });
        let unit = g("interval_unit");
        let label = format!("Price {n}");
        if unit.is_empty() {
            if !g("interval_count").is_empty() {
                return Err(ApiError::bad_request(format!(
                    "Price {n}: choose days, weeks, months or years to charge it every so often, or clear the number for a one-off price."
                )));
            }
        } else {
            unit_of(unit, &label)?;
            let count = count_of(g("interval_count"), Some(1), &format!("Price {n}: “every”"))?;
            price["interval"] = json!([count, unit]);
        }
        let trial_unit = g("trial_unit");
        if trial_unit.is_empty() {
            if !g("trial_count").is_empty() {
                return Err(ApiError::bad_request(format!(
                    "Price {n}: choose the free trial's unit (days, weeks, months or years)."
                )));
            }
        } else {
            if unit.is_empty() {
                return Err(ApiError::bad_request(format!(
                    "Price {n}: a free trial needs a price charged every so often, not a one-off price."
                )));
            }
            unit_of(trial_unit, &label)?;
            let count = count_of(
                g("trial_count"),
                None,
                &format!("Price {n}: the free trial"),
            )?;
            price["freeTrial"] = json!([count, trial_unit]);
        }
        let mut id = g("price_id").to_string();
        if id.is_empty() {
            id = match (unit, price["interval"][0].as_u64()) {
                ("", _) => "one-time".to_string(),
                (u, Some(1)) => format!("{u}ly").replace("dayly", "daily"),
                (u, Some(c)) => format!("every-{c}-{u}s"),
                _ => "price".to_string(),
            };
            let stem = id.clone();
            let mut k = 2;
            while prices.contains_key(&id) {
                id = format!("{stem}-{k}");
                k += 1;
            }
        } else if !is_valid_id(&id) {
            return Err(ApiError::bad_request(format!(
                "Price {n}: price IDs use letters, digits, '-' and '_' (up to 63, not starting with '-')."
            )));
        } else if prices.contains_key(&id) {
            return Err(ApiError::bad_request(format!(
                "Price {n}: another price has the ID “{id}”."
            )));
        }
        prices.insert(id, price);
    }
    Ok(Value::Object(prices))
}

/// The `includedItems` a product form's rows ask for.
fn included_from_rows(form: &Value, catalog: &Catalog, customer_type: &str) -> ApiResult<Value> {
    let mut included = Map::new();
    for i in 0..rows_in(form, "expires") {
        let g = |k: &str| field(form, &format!("{k}.{i}")).trim();
        let n = i + 1;
        let item_id = g("item_id");
        if item_id.is_empty() {
            if ["item_quantity", "repeat_count", "repeat_unit"]
                .iter()
                .any(|k| !g(k).is_empty())
            {
                return Err(ApiError::bad_request(format!(
                    "Included item {n}: choose the item, or clear the row."
                )));
            }
            continue;
        }
        let Some(item) = catalog.item(item_id) else {
            return Err(ApiError::bad_request(format!(
                "Included item {n}: the catalog has no item “{item_id}”."
            )));
        };
        if item.customer_type != customer_type {
            return Err(ApiError::bad_request(format!(
                "Included item {n}: “{}” is for {} customers, the product for {customer_type} customers.",
                item.display_name,
                item.customer_type.as_str()
            )));
        }
        let max = ledger::MAX_QUANTITY;
        let quantity = g("item_quantity")
            .parse::<i64>()
            .ok()
            .filter(|q| q.abs() <= max)
            .ok_or_else(|| {
                ApiError::bad_request(format!(
                    "Included item {n}: the quantity must be a whole number."
                ))
            })?;
        let unit = g("repeat_unit");
        let repeat = if unit.is_empty() {
            if !g("repeat_count").is_empty() {
                return Err(ApiError::bad_request(format!(
                    "Included item {n}: choose days, weeks, months or years to grant it again, or clear the number."
                )));
            }
            json!("never")
        } else {
            let label = format!("Included item {n}");
            unit_of(unit, &label)?;
            json!([
                count_of(g("repeat_count"), Some(1), &format!("{label}: “every”"))?,
                unit
            ])
        };
        let expires = g("expires");
        if !EXPIRES.iter().any(|(v, _)| *v == expires) {
            return Err(ApiError::bad_request(format!(
                "Included item {n}: choose when it expires."
            )));
        }
        if included.contains_key(item_id) {
            return Err(ApiError::bad_request(format!(
                "Included item {n}: “{item_id}” is included twice; give one row the total."
            )));
        }
        included.insert(
            item_id.to_string(),
            json!({ "quantity": quantity, "repeat": repeat, "expires": expires }),
        );
    }
    Ok(Value::Object(included))
}

/// The config patch a catalog form asks for.
fn catalog_patch(form: &Value, catalog: &Catalog) -> ApiResult<Map<String, Value>> {
    let what = field(form, "what");
    let mut patch = Map::new();
    if what == "test_mode" {
        patch.insert(
            "payments.testMode".into(),
            json!(field(form, "value") == "on"),
        );
        return Ok(patch);
    }
    let section = match what {
        "item" => "items",
        "line" => "productLines",
        "product" => "products",
        _ => return Err(ApiError::bad_request("Unknown catalog form.")),
    };
    let id = field(form, "id").trim();
    if !is_valid_id(id) {
        return Err(ApiError::bad_request(
            "IDs use letters, digits, '-' and '_' (up to 63, not starting with '-').",
        ));
    }
    let key = format!("payments.{section}.{id}");
    if field(form, "op") == "delete" {
        let name = match what {
            "item" => "item",
            "line" => "product line",
            _ => "product",
        };
        require_confirmation(form, &format!("delete {name} “{id}”"))?;
        // What still uses it would point at nothing.
        let users: Vec<&str> = catalog
            .products
            .iter()
            .filter(|(_, p)| match what {
                "item" => p.included_items.iter().any(|(i, _)| i == id),
                "line" => p.product_line_id.as_deref() == Some(id),
                _ => false,
            })
            .map(|(_, p)| p.display_name.as_str())
            .collect();
        if !users.is_empty() {
            return Err(ApiError::bad_request(format!(
                "The {name} “{id}” is used by {}: {}. Change or delete them first.",
                if users.len() == 1 {
                    "a product"
                } else {
                    "products"
                },
                users.join(", ")
            )));
        }
        patch.insert(key, Value::Null);
        return Ok(patch);
    }
    let customer_type = field(form, "customer_type");
    customers::check_type(customer_type)
        .map_err(|_| ApiError::bad_request("Choose the customer type: user, team or custom."))?;
    let display_name = field(form, "display_name").trim();
    let mut entry = json!({ "customerType": customer_type });
    if !display_name.is_empty() {
        entry["displayName"] = json!(display_name);
    }
    if what == "product" {
        let parse = |name: &str, label: &str| -> ApiResult<Option<Value>> {
            let text = field(form, name).trim();
            if text.is_empty() {
                return Ok(None);
            }
            match serde_json::from_str::<Value>(text) {
                Ok(v @ Value::Object(_)) => Ok(Some(v)),
                Ok(v @ Value::String(_)) if name == "prices" && v == "include-by-default" => {
                    Ok(Some(v))
                }
                _ => Err(ApiError::bad_request(format!(
                    "{label} must be a JSON object."
                ))),
            }
        };
        entry["prices"] = match parse("prices", "Prices")? {
            Some(v) => v,
            None if field(form, "include_by_default") == "on" => json!("include-by-default"),
            None => prices_from_rows(form)?,
        };
        entry["includedItems"] = match parse("included_items", "Included items")? {
            Some(v) => v,
            None => included_from_rows(form, catalog, customer_type)?,
        };
        entry["stackable"] = json!(!field(form, "stackable").is_empty());
        entry["serverOnly"] = json!(!field(form, "server_only").is_empty());
        let line = field(form, "product_line_id");
        if !line.is_empty() {
            match catalog.product_line(line) {
                Some(l) if l.customer_type != customer_type => {
                    return Err(ApiError::bad_request(format!(
                        "Product line “{line}” is for {} customers; choose that customer type or another line.",
                        l.customer_type.as_str()
                    )))
                }
                _ => entry["productLineId"] = json!(line),
            }
        }
        // What the form does not show stays as it was.
        if let Some(old) = catalog.product(id) {
            for k in [
                "isAddOnTo",
                "clientMetadata",
                "clientReadOnlyMetadata",
                "serverMetadata",
            ] {
                if let Some(v) = old.snapshot.get(k).filter(|v| !v.is_null() && **v != false) {
                    entry[k] = v.clone();
                }
            }
        }
    }
    patch.insert(key, entry);
    Ok(patch)
}

async fn save_catalog(
    State(state): State<ApiState>,
    State(payments): State<Arc<Payments>>,
    headers: HeaderMap,
    Path(project_id): Path<String>,
    RawBody(form): RawBody,
) -> Response {
    let (admin, project) = or_answer!(form_context(&state, &headers, &project_id, &form).await);
    let result = async {
        let catalog = payments.catalog(&state, &project.id).await?;
        let patch = catalog_patch(&form, &catalog)?;
        overrides::patch_level(&state, &payments, &project.id, "branch", patch).await
    }
    .await;
    let what = field(&form, "what");
    let id = field(&form, "id").trim();
    match result {
        Ok(()) => {
            let done = match (what, field(&form, "op") == "delete") {
                ("test_mode", _) => "test-mode".to_string(),
                ("line", false) => "line".to_string(),
                ("line", true) => "line-deleted".to_string(),
                (w, false) => w.to_string(),
                (w, true) => format!("{w}-deleted"),
            };
            Redirect::to(&format!("{}?done={done}&id={id}", base(&project))).into_response()
        }
        Err(e) => {
            // A refused delete keeps nothing to show in a form; others keep what was typed.
            let draft = (field(&form, "op") != "delete").then_some(&form);
            render_catalog(
                &state,
                &payments,
                &admin,
                &project,
                &CatalogQuery::default(),
                None,
                Some(&message_of(&e)),
                draft,
            )
            .await
        }
    }
}

// ---- Customers -----------------------------------------------------------------------------

#[derive(Deserialize)]
struct CustomersQuery {
    #[serde(rename = "type")]
    kind: Option<String>,
    query: Option<String>,
}

const CUSTOMERS_PER_TYPE: i64 = 50;

/// (type, id, label) of customers matching `query`, up to 50 of each type asked for.
async fn find_customers(
    state: &Kernel,
    project: &Project,
    kind: &str,
    query: &str,
) -> ApiResult<Vec<(String, String, String)>> {
    let mut out = Vec::new();
    if kind.is_empty() || kind == "user" {
        let q = crate::users::list::ListQuery {
            limit: Some(CUSTOMERS_PER_TYPE.to_string()),
            query: Some(query.to_string()).filter(|q| !q.is_empty()),
            desc: Some("true".into()),
            ..Default::default()
        };
        let page = crate::users::list::list(state, project, q).await?;
        for u in page["items"].as_array().into_iter().flatten() {
            let id = u["id"].as_str().unwrap_or_default().to_string();
            let label = u["primary_email"]
                .as_str()
                .or(u["display_name"].as_str())
                .unwrap_or("(no email)");
            out.push(("user".into(), id, label.to_string()));
        }
    }
    if kind.is_empty() || kind == "team" {
        for t in crate::teams::search(state.db(), &project.id, query, CUSTOMERS_PER_TYPE).await? {
            out.push(("team".into(), t.id, t.display_name));
        }
    }
    if kind.is_empty() || kind == "custom" {
        for id in
            customers::search_custom(state.db(), &project.id, query, CUSTOMERS_PER_TYPE).await?
        {
            out.push(("custom".into(), id.clone(), id));
        }
    }
    Ok(out)
}

async fn customers_page(
    State(state): State<ApiState>,
    State(payments): State<Arc<Payments>>,
    headers: HeaderMap,
    Path(project_id): Path<String>,
    Query(q): Query<CustomersQuery>,
) -> Response {
    let (admin, project) = or_answer!(project_context(&state, &headers, &project_id).await);
    let kind = q
        .kind
        .filter(|k| CUSTOMER_TYPES.contains(&k.as_str()))
        .unwrap_or_default();
    let query = q.query.unwrap_or_default();
    let loaded = async {
        let catalog = payments.catalog(&state, &project.id).await?;
        let rows = find_customers(&state, &project, &kind, query.trim()).await?;
        Ok::<_, ApiError>((catalog, rows))
    }
    .await;
    let (catalog, rows) = match loaded {
        Ok(x) => x,
        Err(e) => return e.into_response(),
    };
    let page = project_layout(
        "Customers",
        &admin,
        &project,
        "payments",
        html! {
            (nav(&project, "Customers"))
            div.card {
                h1 { "Customers" }
                form method="get" {
                    select name="type" aria-label="Customer type" {
                        option value="" { "All types" }
                        @for t in CUSTOMER_TYPES { option value=(t) selected[kind == t] { (t) } }
                    }
                    input id="customer-query" type="text" name="query" value=(query) placeholder="Search by email, name or ID";
                    button type="submit" { "Search" }
                }
                @if rows.is_empty() {
                    p.empty #customers-empty {
                        @if query.trim().is_empty() { "No customers yet: users and teams appear here once created, custom customers once they hold an item or product." }
                        @else { "No customer matches “" (query.trim()) "”." }
                    }
                } @else {
                    div.scroll {
                        table.wide id="customers" {
                            tr { th { "Type" } th { "Customer" } th { "ID" } th {} }
                            @for (t, id, label) in &rows {
                                tr {
                                    td { (t) }
                                    td { a href=(customer_path(&project, t, id)) { (label) } }
                                    td { (id_field(id, "Customer ID")) }
                                    td { (checkout_dialog(&admin, &project, &catalog, Some((t, id)), None)) }
                                }
                            }
                        }
                    }
                }
                p.muted { "Up to " (CUSTOMERS_PER_TYPE) " of each type; search to narrow." }
            }
        },
    );
    html(page)
}

// ---- One customer --------------------------------------------------------------------------

#[derive(Deserialize)]
struct DoneQuery {
    done: Option<String>,
}

async fn customer_page(
    State(state): State<ApiState>,
    State(payments): State<Arc<Payments>>,
    headers: HeaderMap,
    Path((project_id, customer_type, customer_id)): Path<(String, String, String)>,
    Query(q): Query<DoneQuery>,
) -> Response {
    let (admin, project) = or_answer!(project_context(&state, &headers, &project_id).await);
    let done = done_message(q.done.as_deref(), None);
    render_customer_with(
        &state,
        &payments,
        &admin,
        &project,
        (&customer_type, &customer_id),
        Outcome {
            done: done.as_deref(),
            message: None,
            draft: None,
        },
    )
    .await
}

/// How a customer is shown; also the check that a user or team customer exists.
async fn customer_label(state: &Kernel, project: &Project, t: &str, id: &str) -> ApiResult<String> {
    Ok(match t {
        "user" => {
            let user = crate::users::find(state.db(), &project.id, id).await?;
            let user = user.ok_or_else(crate::http::known::user_not_found)?;
            user.primary_email
                .or(user.display_name)
                .unwrap_or_else(|| id.to_string())
        }
        "team" => {
            crate::teams::require(state.db(), &project.id, id)
                .await?
                .display_name
        }
        _ => id.to_string(),
    })
}

/// What a write on a page came to: a notice, or a refusal with the form that was refused.
#[derive(Clone, Copy, Default)]
struct Outcome<'a> {
    done: Option<&'a str>,
    message: Option<&'a str>,
    draft: Option<&'a Value>,
}

pub(super) async fn render_customer(
    state: &Kernel,
    payments: &Payments,
    admin: &Admin,
    project: &Project,
    customer_type: &str,
    customer_id: &str,
    message: Option<&str>,
) -> Response {
    let outcome = Outcome {
        message,
        ..Default::default()
    };
    render_customer_with(
        state,
        payments,
        admin,
        project,
        (customer_type, customer_id),
        outcome,
    )
    .await
}

async fn render_customer_with(
    state: &Kernel,
    payments: &Payments,
    admin: &Admin,
    project: &Project,
    customer: (&str, &str),
    outcome: Outcome<'_>,
) -> Response {
    let loaded = customer_markup(state, payments, admin, project, customer, outcome).await;
    match loaded {
        Ok(page) => super::answer(page, outcome.message),
        Err(ApiError::Known(k)) if k.status() == 404 || k.code == KnownCode::SchemaError => {
            (StatusCode::NOT_FOUND, html(super::pages::not_found(admin))).into_response()
        }
        Err(e) => e.into_response(),
    }
}

async fn customer_markup(
    state: &Kernel,
    payments: &Payments,
    admin: &Admin,
    project: &Project,
    (customer_type, customer_id): (&str, &str),
    outcome: Outcome<'_>,
) -> ApiResult<Markup> {
    customers::check_type(customer_type)?;
    let label = customer_label(state, project, customer_type, customer_id).await?;
    let catalog: Arc<Catalog> = payments.catalog(state, &project.id).await?;
    let now = now_ms();
    let mut conn = state.db().acquire().await?;
    let mut balances = Vec::new();
    for (item_id, item) in catalog
        .items
        .iter()
        .filter(|(_, i)| i.customer_type == customer_type)
    {
        let key = BalanceKey {
            project_id: &project.id,
            customer_type,
            customer_id,
            item_id,
        };
        let quantity = ledger::load(&mut conn, key, now).await?.state.value_at(now);
        balances.push((item_id.clone(), item.display_name.clone(), quantity));
    }
    let purchases = purchases_of(&mut conn, &project.id, customer_type, customer_id).await?;
    drop(conn);
    let owned = ownership(&purchases, now);
    let filter = Filter {
        customer_type: Some(customer_type.into()),
        customer_id: Some(customer_id.into()),
        ..Default::default()
    };
    let (txns, _) = transactions::list_page(state, &project.id, &filter, None, 20).await?;
    let annotations = annotate(state, project, &txns).await?;
    let here = customer_path(project, customer_type, customer_id);
    let billing =
        super::stripe::customer_billing(state, admin, project, customer_type, customer_id).await?;
    let csrf = admin.csrf_token();
    let grantable: Vec<&(String, Product)> = catalog
        .products
        .iter()
        .filter(|(_, p)| p.customer_type == customer_type)
        .collect();
    let adjust_draft = draft_of(outcome.draft, "adjust");
    let grant_draft = draft_of(outcome.draft, "grant");
    let checkout_draft = draft_of(outcome.draft, "checkout");
    let d =
        |draft: Option<&Value>, k: &str| draft.map(|f| field(f, k).to_string()).unwrap_or_default();
    // A refusal shows beside its form, or on top when that form is not on the page.
    let adjust_refused = adjust_draft.is_some() && !balances.is_empty();
    let grant_refused = grant_draft.is_some() && !grantable.is_empty();
    let other_refusal = outcome
        .message
        .filter(|_| !adjust_refused && !grant_refused);
    Ok(project_layout(
        &label,
        admin,
        project,
        "payments",
        html! {
            (nav(project, ""))
            (notice(outcome.done))
            div.card {
                h1 { (label) }
                div.muted { (customer_type) " ID" (id_field(customer_id, "Customer ID")) }
                (error(other_refusal))
                (checkout_form(admin, project, &catalog, Some((customer_type, customer_id)), None, checkout_draft))
            }
            div.card {
                h2 { "Items" }
                @if balances.is_empty() {
                    p.empty { "No items for " (customer_type) " customers in the catalog. " a href=(base(project)) { "Add one in the catalog" } "." }
                } @else {
                    div.scroll {
                        table id="balances" {
                            tr { th { "Item" } th { "Quantity" } }
                            @for (id, name, quantity) in &balances {
                                tr { td { (name) " " span.muted { (id) } } td.quantity data-item=(id) { (quantity) } }
                            }
                        }
                    }
                    h2.section { "Adjust a balance" }
                    (error(outcome.message.filter(|_| adjust_refused)))
                    form method="post" action={ (here) "/adjust" } {
                        input type="hidden" name="csrf" value=(csrf);
                        input type="hidden" name="what" value="adjust";
                        label for="adjust-item" { "Item" }
                        select id="adjust-item" name="item_id" { @for (id, name, _) in &balances { option value=(id) selected[d(adjust_draft, "item_id") == *id] { (name) } } }
                        label for="adjust-delta" { "Change (negative to take away)" }
                        input id="adjust-delta" type="text" name="delta" inputmode="numeric" required value=(d(adjust_draft, "delta")) placeholder="e.g. 10 or -5";
                        label for="adjust-description" { "Note (shown in the history)" }
                        input id="adjust-description" type="text" name="description" value=(d(adjust_draft, "description")) placeholder="e.g. goodwill credit";
                        label { input type="checkbox" name="allow_negative" checked[!d(adjust_draft, "allow_negative").is_empty()]; " Allow the balance to go below zero" }
                        button type="submit" { "Adjust quantity" }
                    }
                }
            }
            div.card {
                h2 { "Products" }
                @if owned.is_empty() {
                    p.empty { "Owns no products." }
                } @else {
                    div.scroll {
                        table id="owned" {
                            tr { th { "Product" } th { "Quantity" } }
                            @for (id, o) in &owned {
                                tr { td { (name_of(&o.snapshot, id)) " " span.muted { (id) } } td { (o.quantity) } }
                            }
                        }
                    }
                }
                @if grantable.is_empty() {
                    p.empty { "No product in the catalog is for " (customer_type) " customers. " a href=(base(project)) { "Add one in the catalog" } "." }
                } @else {
                    h2.section { "Grant a product" }
                    (error(outcome.message.filter(|_| grant_refused)))
                    form method="post" action={ (here) "/grant" } {
                        input type="hidden" name="csrf" value=(csrf);
                        input type="hidden" name="what" value="grant";
                        label for="grant-product" { "Product" }
                        select id="grant-product" name="product_id" { @for (id, p) in &grantable { option value=(id) selected[d(grant_draft, "product_id") == *id] { (p.display_name) } } }
                        label for="grant-quantity" { "Quantity" }
                        input id="grant-quantity" type="text" name="quantity" value=(grant_draft.map(|f| field(f, "quantity")).unwrap_or("1")) inputmode="numeric";
                        button type="submit" { "Grant product" }
                    }
                }
            }
            (billing)
            div.card {
                h2 { "History" }
                (transactions_table(admin, project, &txns, &annotations, false, None))
            }
        },
    ))
}

/// A whole number from a form field, or the message to show.
fn whole_number(form: &Value, name: &str, label: &str) -> ApiResult<i64> {
    field(form, name)
        .trim()
        .parse()
        .map_err(|_| ApiError::bad_request(format!("{label} must be a whole number.")))
}

async fn grant(
    State(state): State<ApiState>,
    State(payments): State<Arc<Payments>>,
    headers: HeaderMap,
    Path((project_id, customer_type, customer_id)): Path<(String, String, String)>,
    RawBody(form): RawBody,
) -> Response {
    let (admin, project) = or_answer!(form_context(&state, &headers, &project_id, &form).await);
    let result = async {
        let quantity = whole_number(&form, "quantity", "Quantity")?;
        if quantity < 1 {
            return Err(ApiError::bad_request("Quantity must be at least 1."));
        }
        customers::ensure_exists(&state, &project.id, &customer_type, &customer_id).await?;
        let catalog = payments.catalog(&state, &project.id).await?;
        let chosen = Chosen::from_catalog(&catalog, field(&form, "product_id"))?;
        products::grant_to_customer(
            &state,
            &project.id,
            &customer_type,
            &customer_id,
            &chosen,
            quantity,
        )
        .await
    }
    .await;
    let customer = (customer_type.as_str(), customer_id.as_str());
    let form = with_what(form, "grant");
    after_customer_write(
        &state,
        &payments,
        &admin,
        &project,
        customer,
        result.map(|_| ()),
        "granted",
        &form,
    )
    .await
}

/// The form, marked as the one named `what` (for the page that shows its refusal).
fn with_what(mut form: Value, what: &str) -> Value {
    if let Some(m) = form.as_object_mut() {
        m.insert("what".into(), json!(what));
    }
    form
}

async fn adjust(
    State(state): State<ApiState>,
    State(payments): State<Arc<Payments>>,
    headers: HeaderMap,
    Path((project_id, customer_type, customer_id)): Path<(String, String, String)>,
    RawBody(form): RawBody,
) -> Response {
    let (admin, project) = or_answer!(form_context(&state, &headers, &project_id, &form).await);
    let result = async {
        let delta = whole_number(&form, "delta", "The change")?;
        let item_id = field(&form, "item_id");
        items::resolve(
            &state,
            &payments,
            &project.id,
            &customer_type,
            &customer_id,
            item_id,
        )
        .await?;
        let description = field(&form, "description").trim();
        let change = batch::Change {
            project_id: project.id.clone(),
            customer_type: customer_type.clone(),
            customer_id: customer_id.clone(),
            item_id: item_id.to_string(),
            delta,
            expires_at: None,
            description: (!description.is_empty()).then(|| description.to_string()),
            allow_negative: !field(&form, "allow_negative").is_empty(),
        };
        items::change_quantity(&state, &payments, change).await
    }
    .await;
    let customer = (customer_type.as_str(), customer_id.as_str());
    let form = with_what(form, "adjust");
    after_customer_write(
        &state, &payments, &admin, &project, customer, result, "adjusted", &form,
    )
    .await
}

#[allow(clippy::too_many_arguments)]
async fn after_customer_write(
    state: &Kernel,
    payments: &Payments,
    admin: &Admin,
    project: &Project,
    (customer_type, customer_id): (&str, &str),
    result: ApiResult<()>,
    done: &str,
    form: &Value,
) -> Response {
    match result {
        Ok(()) => Redirect::to(&format!(
            "{}?done={done}",
            customer_path(project, customer_type, customer_id)
        ))
        .into_response(),
        Err(e) => {
            let message = message_of(&e);
            let outcome = Outcome {
                done: None,
                message: Some(&message),
                draft: Some(form),
            };
            render_customer_with(
                state,
                payments,
                admin,
                project,
                (customer_type, customer_id),
                outcome,
            )
            .await
        }
    }
}

// ---- Checkout link -------------------------------------------------------------------------

async fn checkout(
    State(state): State<ApiState>,
    State(payments): State<Arc<Payments>>,
    headers: HeaderMap,
    Path(project_id): Path<String>,
    RawBody(form): RawBody,
) -> Response {
    let (admin, project) = or_answer!(form_context(&state, &headers, &project_id, &form).await);
    let (customer_type, customer_id) = (
        field(&form, "customer_type"),
        field(&form, "customer_id").trim(),
    );
    let product_id = field(&form, "product_id");
    let return_url = field(&form, "return_url").trim();
    let catalog = payments.catalog(&state, &project.id).await;
    let result = async {
        customers::check_type(customer_type)?;
        if customer_id.is_empty() {
            return Err(ApiError::bad_request("Enter the customer's ID."));
        }
        let catalog = catalog
            .as_ref()
            .map_err(|_| ApiError::internal("catalog"))?;
        if catalog.block_new_purchases {
            return Err(crate::payments::new_purchases_blocked().into());
        }
        purchases::require_checkout(&state, &project.id, catalog).await?;
        customers::ensure_exists(&state, &project.id, customer_type, customer_id).await?;
        let chosen = Chosen::from_catalog(catalog, product_id)?;
        let return_url = Some(return_url).filter(|u| !u.is_empty());
        if return_url.is_some_and(|u| url::Url::parse(u).is_err()) {
            return Err(ApiError::bad_request(
                "The return URL must be a whole address, like https://app.example.com/done.",
            ));
        }
        let url = purchases::create_purchase_url(
            &state,
            &project,
            customer_type,
            customer_id,
            &chosen,
            return_url,
        )
        .await?;
        let who =
            purchases::customer_label(&state, &project.id, customer_type, customer_id).await?;
        Ok((url, who, chosen))
    }
    .await;
    let back = if customers::check_type(customer_type).is_ok() && !customer_id.is_empty() {
        customer_path(&project, customer_type, customer_id)
    } else {
        base(&project)
    };
    let (status, body) = match &result {
        Ok((url, who, chosen)) => (
            StatusCode::OK,
            html! {
                h1 { "Checkout link" }
                p.notice #notice role="status" { "Checkout link created for " strong { (who) } ": " (name_of(&chosen.snapshot, product_id)) "." }
                p { "Send this link to the customer. It works once, for a day." }
                @if !return_url.is_empty() { p.muted { "After paying, the customer returns to " code { (return_url) } "." } }
                p { code #checkout-url { (url) } }
                p { a href=(url) { "Open checkout" } }
            },
        ),
        Err(e) => (
            StatusCode::BAD_REQUEST,
            html! {
                h1 { "Checkout link" }
                (error(Some(&message_of(e))))
                @if let Ok(catalog) = &catalog {
                    (checkout_form(&admin, &project, catalog, None, None, Some(&with_what(form.clone(), "checkout"))))
                }
            },
        ),
    };
    let page = project_layout(
        "Checkout link",
        &admin,
        &project,
        "payments",
        html! {
            (nav(&project, ""))
            div.card { (body) p { a href=(back) { "← Back" } } }
        },
    );
    (status, html(page)).into_response()
}

// ---- Transactions --------------------------------------------------------------------------

#[derive(Deserialize)]
struct TransactionsQuery {
    #[serde(rename = "type")]
    kind: Option<String>,
    customer_type: Option<String>,
    cursor: Option<String>,
    done: Option<String>,
}

/// What the transaction list shows beyond the API's transactions: each purchase's source and
/// whether it can be refunded, and the notes of manual item changes (by transaction id).
#[derive(Default)]
struct Annotations {
    purchases: HashMap<String, PurchaseFacts>,
    notes: HashMap<String, String>,
}

async fn annotate(state: &Kernel, project: &Project, txns: &[Value]) -> ApiResult<Annotations> {
    let ids_of = |kind: &str| -> Vec<&str> {
        txns.iter()
            .filter(|t| t["type"] == kind)
            .filter_map(|t| t["id"].as_str())
            .collect()
    };
    let purchases = ids_of("purchase");
    let connected = !purchases.is_empty() && connection(state, &project.id).await?.is_some();
    let notes = ids_of("manual-item-quantity-change");
    Ok(Annotations {
        purchases: transactions::purchase_facts(state, &project.id, &purchases, connected).await?,
        notes: transactions::change_notes(state, &project.id, &notes).await?,
    })
}

/// The type as people read it: an admin's grant is no purchase.
fn type_label(t: &Value, facts: Option<&PurchaseFacts>) -> String {
    match (
        t["type"].as_str().unwrap_or(""),
        facts.map(|f| f.source.as_str()),
    ) {
        ("purchase", Some("API_GRANT")) => "admin grant".into(),
        ("purchase", Some("TEST_MODE")) => "purchase (test mode)".into(),
        (kind, _) => kind.to_string(),
    }
}

/// `draft`: a refused refund form, kept in its row.
fn transactions_table(
    admin: &Admin,
    project: &Project,
    txns: &[Value],
    annotations: &Annotations,
    refunds: bool,
    draft: Option<&Value>,
) -> Markup {
    html! {
        @if txns.is_empty() {
            p.empty #transactions-empty { "No transactions yet: purchases, grants and balance changes appear here." }
        } @else {
            div.scroll {
                table.wide id="transactions" {
                    tr { th { "When" } th { "Type" } th { "Customer" } th { "What" } @if refunds { th { "Refund" } } }
                    @for t in txns {
                        @let id = t["id"].as_str().unwrap_or("");
                        @let facts = annotations.purchases.get(id);
                        @let entry = &t["entries"][0];
                        @let (ct, cid) = (entry["customer_type"].as_str().unwrap_or(""), entry["customer_id"].as_str().unwrap_or(""));
                        tr data-id=(id) {
                            td.muted { (when(t["created_at_millis"].as_i64())) }
                            td.type { (type_label(t, facts)) }
                            td { a href=(customer_path(project, ct, cid)) { (ct) " " (cid.get(..8).unwrap_or(cid)) } }
                            td {
                                @if entry["type"] == "product_grant" {
                                    (entry["quantity"]) " × " (entry["product"]["display_name"].as_str().or(entry["product_id"].as_str()).unwrap_or("inline product"))
                                } @else {
                                    (entry["quantity"]) " " (entry["item_id"].as_str().unwrap_or(""))
                                }
                                @if let Some(note) = annotations.notes.get(id) { br; span.note { "Note: " (note) } }
                            }
                            @if refunds {
                                td {
                                    @match facts {
                                        Some(PurchaseFacts { not_refundable: None, .. }) => {
                                            @let charged = t["entries"].as_array().and_then(|es| es.iter().find(|e| e["type"] == "money_transfer")).and_then(|e| e["charged_amount"]["USD"].as_str());
                                            @let kept = draft.filter(|d| field(d, "id") == id);
                                            form.refund method="post" action={ (base(project)) "/transactions/refund" } {
                                                input type="hidden" name="csrf" value=(admin.csrf_token());
                                                input type="hidden" name="type" value=(if entry["subscription_id"].is_string() { "subscription" } else { "one-time-purchase" });
                                                input type="hidden" name="id" value=(id);
                                                @if let Some(usd) = charged {
                                                    label { "Units " input type="number" name="quantity" min="0" max=(entry["quantity"]) value=(kept.map(|d| field(d, "quantity").to_string()).unwrap_or(entry["quantity"].to_string())); }
                                                    label { "USD " input type="text" name="amount_usd" value=(kept.map(|d| field(d, "amount_usd")).unwrap_or(usd)) size="8"; }
                                                }
                                                label { input type="checkbox" name="confirm" value="on" required; " confirm" }
                                                button.danger type="submit" { "Refund" }
                                            }
                                        }
                                        Some(PurchaseFacts { not_refundable: Some(why), .. }) => { span.why { (why) } }
                                        None => { span.why { "Only purchases can be refunded." } }
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
    }
}

async fn transactions_page(
    State(state): State<ApiState>,
    headers: HeaderMap,
    Path(project_id): Path<String>,
    Query(q): Query<TransactionsQuery>,
) -> Response {
    let (admin, project) = or_answer!(project_context(&state, &headers, &project_id).await);
    let done = done_message(q.done.as_deref(), None);
    let outcome = Outcome {
        done: done.as_deref(),
        ..Default::default()
    };
    render_transactions(&state, &admin, &project, q, outcome).await
}

async fn render_transactions(
    state: &Kernel,
    admin: &Admin,
    project: &Project,
    q: TransactionsQuery,
    outcome: Outcome<'_>,
) -> Response {
    let kind = q
        .kind
        .filter(|k| k == "purchase" || k == "manual-item-quantity-change");
    let customer_type = q
        .customer_type
        .filter(|t| CUSTOMER_TYPES.contains(&t.as_str()));
    let filter = Filter {
        kind: kind.clone(),
        customer_type: customer_type.clone(),
        customer_id: None,
    };
    let cursor = q.cursor.filter(|c| !c.is_empty());
    let loaded = async {
        let (txns, next) =
            transactions::list_page(state, &project.id, &filter, cursor.as_deref(), 50).await?;
        let annotations = annotate(state, project, &txns).await?;
        Ok::<_, ApiError>((txns, next, annotations))
    }
    .await;
    let (txns, next, annotations) = match loaded {
        Ok(x) => x,
        // A cursor that is no cursor is refused in the page, not with an error document.
        Err(e @ ApiError::Text(..)) if cursor.is_some() => {
            let message = message_of(&e);
            let q = TransactionsQuery {
                kind,
                customer_type,
                cursor: None,
                done: None,
            };
            let outcome = Outcome {
                message: Some(&message),
                ..Default::default()
            };
            return Box::pin(render_transactions(state, admin, project, q, outcome)).await;
        }
        Err(e) => return e.into_response(),
    };
    let (kind, customer_type) = (kind.unwrap_or_default(), customer_type.unwrap_or_default());
    let page = project_layout(
        "Transactions",
        admin,
        project,
        "payments",
        html! {
            (nav(project, "Transactions"))
            (notice(outcome.done))
            div.card {
                h1 { "Transactions" }
                (error(outcome.message))
                form method="get" {
                    select name="type" aria-label="Type" {
                        option value="" { "All types" }
                        @for k in ["purchase", "manual-item-quantity-change"] { option value=(k) selected[kind == k] { (k) } }
                    }
                    " "
                    select name="customer_type" aria-label="Customer type" {
                        option value="" { "All customers" }
                        @for t in CUSTOMER_TYPES { option value=(t) selected[customer_type == t] { (t) } }
                    }
                    " "
                    button type="submit" { "Filter" }
                }
                p.muted { "Refunds give money back through Stripe, so only purchases paid through the checkout can be refunded." }
                (transactions_table(admin, project, &txns, &annotations, true, outcome.draft))
                @if let Some(next) = next {
                    p { a id="next-page" href={ "?type=" (kind) "&customer_type=" (customer_type) "&cursor=" (next) } { "Older →" } }
                }
            }
        },
    );
    super::answer(page, outcome.message)
}

async fn refund(
    State(state): State<ApiState>,
    headers: HeaderMap,
    Path(project_id): Path<String>,
    RawBody(form): RawBody,
) -> Response {
    let (admin, project) = or_answer!(form_context(&state, &headers, &project_id, &form).await);
    let result = async {
        require_confirmation(&form, "refund this purchase")?;
        // A purchase paid through Stripe gives back the amount and units typed in.
        let entries: Vec<RefundEntry> = match field(&form, "quantity").trim() {
            "" => vec![],
            q => vec![RefundEntry {
                entry_index: 0,
                quantity: q.parse::<i64>().map_err(|_| {
                    ApiError::bad_request("Units to refund must be a whole number.")
                })?,
                amount_usd: field(&form, "amount_usd").trim().to_owned(),
            }],
        };
        transactions::refund_purchase(
            &state,
            &project.id,
            field(&form, "type"),
            field(&form, "id"),
            &entries,
        )
        .await
    }
    .await;
    let q = TransactionsQuery {
        kind: None,
        customer_type: None,
        cursor: None,
        done: None,
    };
    match result {
        Ok(()) => {
            Redirect::to(&format!("{}/transactions?done=refunded", base(&project))).into_response()
        }
        Err(e) => {
            let message = message_of(&e);
            let outcome = Outcome {
                done: None,
                message: Some(&message),
                draft: Some(&form),
            };
            render_transactions(&state, &admin, &project, q, outcome).await
        }
    }
}
