//! Dashboard pages for payments: the catalog (test mode, items, product lines, products), one
//! customers table (users, teams and custom ids), a customer's page (balances, owned products,
//! transactions; grant a product, adjust a balance), the transactions log with refunds, and the
//! "Create checkout" dialog every one of them offers. Writes go through the payments domain
//! functions, so the dashboard refuses exactly what the API refuses.

use super::pages::{error, project_layout, when};
use super::session::Admin;
use super::{field, form_context, html, message_of, project_context};
use crate::auth::context::ApiState;
use crate::http::extract::RawBody;
use crate::http::known::KnownCode;
use crate::http::{ApiError, ApiResult};
use crate::kernel::Kernel;
use crate::payments::batch;
use crate::payments::config::{is_valid_id, price_label, Catalog, Prices, Product, CUSTOMER_TYPES};
use crate::payments::ledger::{self, BalanceKey};
use crate::payments::products::{self, ownership, purchases_of, Chosen};
use crate::payments::stripe::refunds::RefundEntry;
use crate::payments::transactions::{self, Filter};
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
use maud::{html, Markup};
use serde::Deserialize;
use serde_json::{json, Map, Value};
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

fn base(project: &Project) -> String {
    format!("/dashboard/projects/{}/payments", project.id)
}

fn nav(project: &Project, here: &str) -> Markup {
    let b = base(project);
    html! {
        p.muted {
            a href={ "/dashboard/projects/" (project.id) } { (project.display_name) } " · "
            @for (path, label) in [("", "Catalog"), ("/customers", "Customers"), ("/transactions", "Transactions"), ("/stripe", "Stripe")] {
                @if label == here { strong { (label) } } @else { a href={ (b) (path) } { (label) } }
                " "
            }
        }
    }
}

fn name_of<'a>(v: &'a Value, id: &'a str) -> &'a str {
    v["displayName"].as_str().unwrap_or(id)
}

fn customer_path(project: &Project, customer_type: &str, customer_id: &str) -> String {
    format!("{}/customers/{customer_type}/{customer_id}", base(project))
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
    let products: Vec<&(String, Product)> = catalog
        .products
        .iter()
        .filter(|(_, p)| customer.is_none_or(|(t, _)| p.customer_type == t))
        .collect();
    html! {
        details.checkout {
            summary { "Create checkout" }
            form method="post" action={ (base(project)) "/checkout" } {
                input type="hidden" name="csrf" value=(admin.csrf_token());
                @match customer {
                    Some((t, id)) => {
                        input type="hidden" name="customer_type" value=(t);
                        input type="hidden" name="customer_id" value=(id);
                    }
                    None => {
                        label { "Customer type" }
                        select name="customer_type" {
                            @for t in CUSTOMER_TYPES { option value=(t) { (t) } }
                        }
                        label { "Customer ID" }
                        input type="text" name="customer_id" required;
                    }
                }
                @match product {
                    Some(id) => { input type="hidden" name="product_id" value=(id); }
                    None => {
                        label { "Product" }
                        select name="product_id" {
                            @for (id, p) in products { option value=(id) { (p.display_name) } }
                        }
                    }
                }
                button type="submit" { "Create checkout link" }
            }
        }
    }
}

// ---- Catalog -------------------------------------------------------------------------------

async fn catalog_page(
    State(state): State<ApiState>,
    State(payments): State<Arc<Payments>>,
    headers: HeaderMap,
    Path(project_id): Path<String>,
) -> Response {
    let (admin, project) = or_answer!(project_context(&state, &headers, &project_id).await);
    render_catalog(&state, &payments, &admin, &project, None, None).await
}

async fn render_catalog(
    state: &Kernel,
    payments: &Payments,
    admin: &Admin,
    project: &Project,
    message: Option<&str>,
    draft: Option<&Value>,
) -> Response {
    let catalog = match payments.catalog(state, &project.id).await {
        Ok(c) => c,
        Err(e) => return e.into_response(),
    };
    let page = catalog_markup(admin, project, &catalog, message, draft);
    super::answer(page, message)
}

fn catalog_markup(
    admin: &Admin,
    project: &Project,
    catalog: &Catalog,
    message: Option<&str>,
    draft: Option<&Value>,
) -> Markup {
    let action = base(project);
    let csrf = admin.csrf_token();
    let d = |k: &str| draft.map(|f| field(f, k).to_string()).unwrap_or_default();
    let delete = |what: &str, id: &str| {
        html! {
            form.inline method="post" action=(action) {
                input type="hidden" name="csrf" value=(csrf);
                input type="hidden" name="what" value=(what);
                input type="hidden" name="op" value="delete";
                input type="hidden" name="id" value=(id);
                button.danger type="submit" { "Delete" }
            }
        }
    };
    let type_select = |name: &str| {
        html! { select name=(name) { @for t in CUSTOMER_TYPES { option value=(t) selected[d(name) == t] { (t) } } } }
    };
    project_layout(
        "Payments",
        admin,
        project,
        "payments",
        html! {
            (nav(project, "Catalog"))
            (error(message))
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
            div.card {
                h2 { "Items" }
                table id="items" {
                    tr { th { "ID" } th { "Name" } th { "Customer type" } th {} }
                    @for (id, item) in &catalog.items {
                        tr { td { code { (id) } } td { (item.display_name) } td { (item.customer_type.as_str()) } td { (delete("item", id)) } }
                    }
                }
                form method="post" action=(action) {
                    input type="hidden" name="csrf" value=(csrf);
                    input type="hidden" name="what" value="item";
                    label for="item-id" { "Item ID" }
                    input id="item-id" type="text" name="id" value=(d("id")) required;
                    label for="item-name" { "Display name" }
                    input id="item-name" type="text" name="display_name";
                    label { "Customer type" } (type_select("customer_type"))
                    button type="submit" { "Save item" }
                }
            }
            div.card {
                h2 { "Product lines" }
                p.muted { "A customer owns at most one product of a line." }
                table id="product-lines" {
                    tr { th { "ID" } th { "Name" } th { "Customer type" } th {} }
                    @for (id, line) in &catalog.product_lines {
                        tr { td { code { (id) } } td { (line.display_name.as_deref().unwrap_or(id)) } td { (line.customer_type.as_str()) } td { (delete("line", id)) } }
                    }
                }
                form method="post" action=(action) {
                    input type="hidden" name="csrf" value=(csrf);
                    input type="hidden" name="what" value="line";
                    label for="line-id" { "Product line ID" }
                    input id="line-id" type="text" name="id" required;
                    label for="line-name" { "Display name" }
                    input id="line-name" type="text" name="display_name";
                    label { "Customer type" } (type_select("customer_type"))
                    button type="submit" { "Save product line" }
                }
            }
            div.card {
                h2 { "Products" }
                table id="products" {
                    tr { th { "ID" } th { "Name" } th { "For" } th { "Prices" } th { "Includes" } th {} }
                    @for (id, p) in &catalog.products {
                        tr {
                            td { code { (id) } }
                            td { (p.display_name) @if let Some(line) = &p.product_line_id { br; span.muted { "line " (line) } } }
                            td { (p.customer_type.as_str()) }
                            td {
                                @match &p.prices {
                                    Prices::Listed(prices) => { @for (_, price) in prices { (price_label(&price.raw)) br; } }
                                    Prices::IncludeByDefault => { span.muted { "included by default" } }
                                }
                            }
                            td {
                                @for (item, inc) in &p.included_items {
                                    (inc.quantity) " × " (item) br;
                                }
                            }
                            td { (checkout_dialog(admin, project, catalog, None, Some(id))) (delete("product", id)) }
                        }
                    }
                }
                form method="post" action=(action) id="product-form" {
                    input type="hidden" name="csrf" value=(csrf);
                    input type="hidden" name="what" value="product";
                    label for="product-id" { "Product ID" }
                    input id="product-id" type="text" name="id" value=(d("id")) required;
                    label for="product-name" { "Display name" }
                    input id="product-name" type="text" name="display_name" value=(d("display_name"));
                    label { "Customer type" } (type_select("customer_type"))
                    label for="product-line" { "Product line" }
                    select id="product-line" name="product_line_id" {
                        option value="" { "(none)" }
                        @for (id, _) in &catalog.product_lines { option value=(id) selected[d("product_line_id") == *id] { (id) } }
                    }
                    label { input type="checkbox" name="stackable" checked[!d("stackable").is_empty()]; " Stackable (can be bought more than once)" }
                    label { input type="checkbox" name="server_only" checked[!d("server_only").is_empty()]; " Server only (clients cannot buy it)" }
                    label for="product-prices" { "Prices (JSON: price ID → amounts by currency, optional interval and freeTrial)" }
                    textarea id="product-prices" name="prices" rows="3" style="width:100%;font-family:monospace" {
                        @if draft.is_some() { (d("prices")) } @else { r#"{ "monthly": { "USD": "10", "interval": [1, "month"] } }"# }
                    }
                    label for="product-items" { "Included items (JSON: item ID → quantity, optional repeat and expires)" }
                    textarea id="product-items" name="included_items" rows="3" style="width:100%;font-family:monospace" {
                        @if draft.is_some() { (d("included_items")) } @else { "{}" }
                    }
                    button type="submit" { "Save product" }
                }
            }
        },
    )
}

/// The config patch a catalog form asks for.
fn catalog_patch(form: &Value) -> ApiResult<Map<String, Value>> {
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
        patch.insert(key, Value::Null);
        return Ok(patch);
    }
    let display_name = field(form, "display_name").trim();
    let mut entry = json!({ "customerType": field(form, "customer_type") });
    if !display_name.is_empty() {
        entry["displayName"] = json!(display_name);
    }
    if what == "product" {
        let parse = |name: &str, label: &str| -> ApiResult<Value> {
            match serde_json::from_str::<Value>(field(form, name)) {
                Ok(v @ Value::Object(_)) => Ok(v),
                _ => Err(ApiError::bad_request(format!(
                    "{label} must be a JSON object."
                ))),
            }
        };
        entry["prices"] = parse("prices", "Prices")?;
        entry["includedItems"] = parse("included_items", "Included items")?;
        entry["stackable"] = json!(!field(form, "stackable").is_empty());
        entry["serverOnly"] = json!(!field(form, "server_only").is_empty());
        let line = field(form, "product_line_id");
        if !line.is_empty() {
            entry["productLineId"] = json!(line);
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
    let result = match catalog_patch(&form) {
        Ok(patch) => overrides::patch_level(&state, &payments, &project.id, "branch", patch).await,
        Err(e) => Err(e),
    };
    match result {
        Ok(()) => Redirect::to(&base(&project)).into_response(),
        Err(e) => {
            let draft = (field(&form, "what") == "product").then_some(&form);
            render_catalog(
                &state,
                &payments,
                &admin,
                &project,
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
                    select name="type" {
                        option value="" { "All types" }
                        @for t in CUSTOMER_TYPES { option value=(t) selected[kind == t] { (t) } }
                    }
                    input id="customer-query" type="text" name="query" value=(query) placeholder="Search by email, name or ID";
                    button type="submit" { "Search" }
                }
                table id="customers" {
                    tr { th { "Type" } th { "Customer" } th { "ID" } th {} }
                    @for (t, id, label) in &rows {
                        tr {
                            td { (t) }
                            td { a href=(customer_path(&project, t, id)) { (label) } }
                            td { code { (id) } }
                            td { (checkout_dialog(&admin, &project, &catalog, Some((t, id)), None)) }
                        }
                    }
                }
                @if rows.is_empty() { p.muted { "No customers found." } }
                p.muted { "Up to " (CUSTOMERS_PER_TYPE) " of each type; search to narrow." }
            }
        },
    );
    html(page)
}

// ---- One customer --------------------------------------------------------------------------

async fn customer_page(
    State(state): State<ApiState>,
    State(payments): State<Arc<Payments>>,
    headers: HeaderMap,
    Path((project_id, customer_type, customer_id)): Path<(String, String, String)>,
) -> Response {
    let (admin, project) = or_answer!(project_context(&state, &headers, &project_id).await);
    render_customer(
        &state,
        &payments,
        &admin,
        &project,
        &customer_type,
        &customer_id,
        None,
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

pub(super) async fn render_customer(
    state: &Kernel,
    payments: &Payments,
    admin: &Admin,
    project: &Project,
    customer_type: &str,
    customer_id: &str,
    message: Option<&str>,
) -> Response {
    let loaded = customer_markup(
        state,
        payments,
        admin,
        project,
        customer_type,
        customer_id,
        message,
    )
    .await;
    match loaded {
        Ok(page) => super::answer(page, message),
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
    customer_type: &str,
    customer_id: &str,
    message: Option<&str>,
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
    let here = customer_path(project, customer_type, customer_id);
    let billing =
        super::stripe::customer_billing(state, admin, project, customer_type, customer_id).await?;
    let csrf = admin.csrf_token();
    let grantable: Vec<&(String, Product)> = catalog
        .products
        .iter()
        .filter(|(_, p)| p.customer_type == customer_type)
        .collect();
    Ok(project_layout(
        &label,
        admin,
        project,
        "payments",
        html! {
            (nav(project, ""))
            div.card {
                h1 { (label) }
                p.muted { (customer_type) " · " code { (customer_id) } }
                (error(message))
                (checkout_dialog(admin, project, &catalog, Some((customer_type, customer_id)), None))
            }
            div.card {
                h2 { "Items" }
                table id="balances" {
                    tr { th { "Item" } th { "Quantity" } }
                    @for (id, name, quantity) in &balances {
                        tr { td { (name) " " span.muted { (id) } } td.quantity data-item=(id) { (quantity) } }
                    }
                }
                @if balances.is_empty() { p.muted { "No items for " (customer_type) " customers in the catalog." } }
                @else {
                    form method="post" action={ (here) "/adjust" } {
                        input type="hidden" name="csrf" value=(csrf);
                        label for="adjust-item" { "Item" }
                        select id="adjust-item" name="item_id" { @for (id, name, _) in &balances { option value=(id) { (name) } } }
                        label for="adjust-delta" { "Change (negative to take away)" }
                        input id="adjust-delta" type="text" name="delta" inputmode="numeric" required;
                        label for="adjust-description" { "Note" }
                        input id="adjust-description" type="text" name="description";
                        label { input type="checkbox" name="allow_negative"; " Allow the balance to go below zero" }
                        button type="submit" { "Adjust quantity" }
                    }
                }
            }
            div.card {
                h2 { "Products" }
                table id="owned" {
                    tr { th { "Product" } th { "Quantity" } }
                    @for (id, o) in &owned {
                        tr { td { (name_of(&o.snapshot, id)) " " span.muted { (id) } } td { (o.quantity) } }
                    }
                }
                @if owned.is_empty() { p.muted { "Owns no products." } }
                @if !grantable.is_empty() {
                    form method="post" action={ (here) "/grant" } {
                        input type="hidden" name="csrf" value=(csrf);
                        label for="grant-product" { "Product" }
                        select id="grant-product" name="product_id" { @for (id, p) in &grantable { option value=(id) { (p.display_name) } } }
                        label for="grant-quantity" { "Quantity" }
                        input id="grant-quantity" type="text" name="quantity" value="1" inputmode="numeric";
                        button type="submit" { "Grant product" }
                    }
                }
            }
            (billing)
            div.card {
                h2 { "Transactions" }
                (transactions_table(admin, project, &txns, false))
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
    after_customer_write(
        &state,
        &payments,
        &admin,
        &project,
        &customer_type,
        &customer_id,
        result.map(|_| ()),
    )
    .await
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
    after_customer_write(
        &state,
        &payments,
        &admin,
        &project,
        &customer_type,
        &customer_id,
        result,
    )
    .await
}

async fn after_customer_write(
    state: &Kernel,
    payments: &Payments,
    admin: &Admin,
    project: &Project,
    customer_type: &str,
    customer_id: &str,
    result: ApiResult<()>,
) -> Response {
    match result {
        Ok(()) => Redirect::to(&customer_path(project, customer_type, customer_id)).into_response(),
        Err(e) => {
            let message = message_of(&e);
            render_customer(
                state,
                payments,
                admin,
                project,
                customer_type,
                customer_id,
                Some(&message),
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
    let result = async {
        customers::check_type(customer_type)?;
        let catalog = payments.catalog(&state, &project.id).await?;
        if catalog.block_new_purchases {
            return Err(crate::payments::new_purchases_blocked().into());
        }
        purchases::require_checkout(&state, &project.id, &catalog).await?;
        customers::ensure_exists(&state, &project.id, customer_type, customer_id).await?;
        let chosen = Chosen::from_catalog(&catalog, product_id)?;
        purchases::create_purchase_url(&state, &project, customer_type, customer_id, &chosen, None)
            .await
    }
    .await;
    let (status, body) = match &result {
        Ok(url) => (
            StatusCode::OK,
            html! {
                h1 { "Checkout link" }
                p { "Send this link to the customer. It works once, for a day." }
                p { code id="checkout-url" { (url) } }
                p { a href=(url) { "Open checkout" } }
            },
        ),
        Err(e) => (
            StatusCode::BAD_REQUEST,
            html! { h1 { "Checkout link" } (error(Some(&message_of(e)))) },
        ),
    };
    let back = if customers::check_type(customer_type).is_ok() && !customer_id.is_empty() {
        customer_path(&project, customer_type, customer_id)
    } else {
        base(&project)
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
}

fn transactions_table(admin: &Admin, project: &Project, txns: &[Value], refunds: bool) -> Markup {
    html! {
        table id="transactions" {
            tr { th { "When" } th { "Type" } th { "Customer" } th { "What" } @if refunds { th {} } }
            @for t in txns {
                @let entry = &t["entries"][0];
                @let (ct, cid) = (entry["customer_type"].as_str().unwrap_or(""), entry["customer_id"].as_str().unwrap_or(""));
                tr {
                    td.muted { (when(t["created_at_millis"].as_i64())) }
                    td { (t["type"].as_str().unwrap_or("")) @if t["test_mode"] == true { " " span.muted { "(test)" } } }
                    td { a href=(customer_path(project, ct, cid)) { (ct) " " (cid.get(..8).unwrap_or(cid)) } }
                    td {
                        @if entry["type"] == "product_grant" {
                            (entry["quantity"]) " × " (entry["product"]["display_name"].as_str().or(entry["product_id"].as_str()).unwrap_or("inline product"))
                        } @else {
                            (entry["quantity"]) " " (entry["item_id"].as_str().unwrap_or(""))
                        }
                    }
                    @if refunds {
                        td {
                            @let charged = t["entries"].as_array().and_then(|es| es.iter().find(|e| e["type"] == "money_transfer")).and_then(|e| e["charged_amount"]["USD"].as_str());
                            @if t["adjusted_by"].as_array().is_some_and(|a| !a.is_empty()) {
                                span.muted { "Refunded" }
                            } @else if entry["type"] == "product_grant" {
                                form.inline method="post" action={ (base(project)) "/transactions/refund" } {
                                    input type="hidden" name="csrf" value=(admin.csrf_token());
                                    input type="hidden" name="type" value=(if entry["subscription_id"].is_string() { "subscription" } else { "one-time-purchase" });
                                    input type="hidden" name="id" value=(t["id"].as_str().unwrap_or(""));
                                    @if let Some(usd) = charged {
                                        label { "Units " input type="number" name="quantity" min="0" max=(entry["quantity"]) value=(entry["quantity"]) size="4"; }
                                        label { " USD " input type="text" name="amount_usd" value=(usd) size="8"; }
                                    }
                                    button.danger type="submit" { "Refund" }
                                }
                            }
                        }
                    }
                }
            }
        }
        @if txns.is_empty() { p.muted { "No transactions." } }
    }
}

async fn transactions_page(
    State(state): State<ApiState>,
    headers: HeaderMap,
    Path(project_id): Path<String>,
    Query(q): Query<TransactionsQuery>,
) -> Response {
    let (admin, project) = or_answer!(project_context(&state, &headers, &project_id).await);
    render_transactions(&state, &admin, &project, q, None).await
}

async fn render_transactions(
    state: &Kernel,
    admin: &Admin,
    project: &Project,
    q: TransactionsQuery,
    message: Option<&str>,
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
    let (txns, next) =
        match transactions::list_page(state, &project.id, &filter, cursor.as_deref(), 50).await {
            Ok(x) => x,
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
            div.card {
                h1 { "Transactions" }
                (error(message))
                form method="get" {
                    select name="type" {
                        option value="" { "All types" }
                        @for k in ["purchase", "manual-item-quantity-change"] { option value=(k) selected[kind == k] { (k) } }
                    }
                    select name="customer_type" {
                        option value="" { "All customers" }
                        @for t in CUSTOMER_TYPES { option value=(t) selected[customer_type == t] { (t) } }
                    }
                    button type="submit" { "Filter" }
                }
                (transactions_table(admin, project, &txns, true))
                @if let Some(next) = next {
                    p { a id="next-page" href={ "?type=" (kind) "&customer_type=" (customer_type) "&cursor=" (next) } { "Older →" } }
                }
            }
        },
    );
    super::answer(page, message)
}

async fn refund(
    State(state): State<ApiState>,
    headers: HeaderMap,
    Path(project_id): Path<String>,
    RawBody(form): RawBody,
) -> Response {
    let (admin, project) = or_answer!(form_context(&state, &headers, &project_id, &form).await);
    // A purchase paid through Stripe gives back the amount and units typed in.
    let entries: Vec<RefundEntry> = match field(&form, "quantity").parse::<i64>() {
        Ok(quantity) => vec![RefundEntry {
            entry_index: 0,
            quantity,
            amount_usd: field(&form, "amount_usd").trim().to_owned(),
        }],
        Err(_) => vec![],
    };
    let result = transactions::refund_purchase(
        &state,
        &project.id,
        field(&form, "type"),
        field(&form, "id"),
        &entries,
    )
    .await;
    let q = TransactionsQuery {
        kind: None,
        customer_type: None,
        cursor: None,
    };
    match result {
        Ok(()) => Redirect::to(&format!("{}/transactions", base(&project))).into_response(),
        Err(e) => render_transactions(&state, &admin, &project, q, Some(&message_of(&e))).await,
    }
}
