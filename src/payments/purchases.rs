//! Checkout: purchase URLs (a one-day code naming customer and product snapshot), their
//! validation for the checkout page, and the test-mode session that completes a purchase with no
//! payment provider. Paid sessions go through Stripe (not configured here yet).

use super::config::product_view;
use super::ledger;
use super::products::{choose, grant_product, ownership, purchases_of, Chosen, NewPurchase};
use super::stripe;
use super::Payments;
use super::{customers, new_purchases_blocked, product_already_granted};
use crate::auth::context::{ApiState, RequestCtx, ANY};
use crate::codes::{self, CodeType};
use crate::http::known::KnownCode;
use crate::http::url::percent_encode;
use crate::http::ClientIp;
use crate::http::{json_ok, known, ApiError, ApiResult, JsonBody};
use crate::kernel::Kernel;
use crate::projects::Project;
use crate::projects::ProjectCache;
use crate::store::now_ms;
use aide::axum::routing::post;
use aide::axum::ApiRouter;
use axum::extract::FromRef;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use serde::Deserialize;
use serde_json::{json, Value};
use std::sync::Arc;

pub fn routes<S>() -> ApiRouter<S>
where
    S: Clone + Send + Sync + 'static,
    ApiState: FromRef<S>,
    Arc<Payments>: FromRef<S>,
{
    ApiRouter::new()
        .api_route("/payments/purchases/create-purchase-url", post(create_url))
        .api_route(
            "/payments/purchases/validate-code",
            post(validate_code).get(validate_code_get),
        )
        .api_route(
            "/payments/purchases/purchase-session",
            post(purchase_session),
        )
        .api_route(
            "/payments/purchases/purchase-session/charge",
            post(charge_session),
        )
        .api_route(
            "/internal/payments/test-mode-purchase-session",
            post(test_mode_session),
        )
}

const PURCHASE_CODE_TTL_MS: i64 = 24 * 3600 * 1000;

#[derive(Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
struct CreateUrl {
    customer_type: String,
    customer_id: String,
    product_id: Option<String>,
    product_inline: Option<Value>,
    /// v1 names, kept for compatibility.
    offer_id: Option<String>,
    offer_inline: Option<Value>,
    return_url: Option<String>,
}

async fn create_url(
    State(state): State<ApiState>,
    State(payments): State<Arc<Payments>>,
    ctx: RequestCtx,
    JsonBody(body): JsonBody<CreateUrl>,
) -> ApiResult<Response> {
    let auth = ctx.require(ANY)?;
    customers::check_type(&body.customer_type)?;
    let catalog = payments.catalog(&state, auth.pid()).await?;
    if catalog.block_new_purchases {
        return Err(new_purchases_blocked().into());
    }
    customers::check_client_access(&state, auth, &body.customer_type, &body.customer_id, "Clients can only create purchase URLs for their own user or teams they have admin access to.").await?;
    require_checkout(&state, auth.pid(), &catalog).await?;
    let product_id = body.product_id.or(body.offer_id);
    let inline = body.product_inline.or(body.offer_inline);
    let chosen = choose(&catalog, auth, product_id.as_deref(), inline.as_ref())?;
    let url = create_purchase_url(
        &state,
        &auth.project,
        &body.customer_type,
        &body.customer_id,
        &chosen,
        body.return_url.as_deref(),
    )
    .await?;
    Ok(json_ok(json!({ "url": url })))
}

/// Checkout can complete: in test mode, or with Stripe connected. Errors: text 400
/// [`stripe::connect::NOT_SET_UP`] otherwise.
pub async fn require_checkout(
    state: &Kernel,
    project_id: &str,
    catalog: &super::config::Catalog,
) -> ApiResult<()> {
    if catalog.test_mode {
        return Ok(());
    }
    stripe::connect::connected(state, project_id)
        .await
        .map(drop)
}

/// A one-day checkout URL for `chosen`, refused if it is for another customer type, the customer
/// owns it already (non-stackable) or `return_url` is not trusted. The caller has checked who may
/// ask and that checkout is open.
pub async fn create_purchase_url(
    state: &Kernel,
    project: &Project,
    customer_type: &str,
    customer_id: &str,
    chosen: &Chosen,
    return_url: Option<&str>,
) -> ApiResult<String> {
    chosen.check_customer_type(customer_type, customer_id)?;
    let project_id = project.id.as_str();
    let mut conn = state.db().acquire().await?;
    if let Some(id) = &chosen.product_id {
        let purchases = purchases_of(&mut conn, project_id, customer_type, customer_id).await?;
        let owned = ownership(&purchases, now_ms());
        if chosen.snapshot["stackable"] != true && owned.contains_key(id) {
            return Err(product_already_granted(id, customer_id).into());
        }
    }
    if return_url.is_some_and(|url| !project.trusts_link(&state.public_url, url)) {
        return Err(known::redirect_url_not_whitelisted().into());
    }
    let data = json!({
        "customer_type": customer_type,
        "customer_id": customer_id,
        "product_id": chosen.product_id,
        "product": chosen.snapshot,
        "stripe_account_id": null,
        "charges_enabled": false,
    });
    let code = codes::create(
        &mut conn,
        project_id,
        CodeType::PurchaseUrl,
        json!({}),
        data,
        None,
        PURCHASE_CODE_TTL_MS,
    )
    .await?;
    let mut url = format!("{}/purchase/{project_id}_{code}", state.public_url);
    if let Some(r) = return_url {
        url.push_str(&format!("?return_url={}", percent_encode(r)));
    }
    Ok(url)
}

/// A resolved purchase code: its project, the customer and the product snapshot it names.
struct PurchaseCode {
    project: Arc<Project>,
    code: String,
    customer_type: String,
    customer_id: String,
    chosen: Chosen,
}

impl PurchaseCode {
    fn purchase(&self) -> stripe::checkout::Purchase<'_> {
        stripe::checkout::Purchase {
            project_id: &self.project.id,
            customer_type: &self.customer_type,
            customer_id: &self.customer_id,
            chosen: &self.chosen,
            code: &self.code,
        }
    }
}

/// `<project_id>_<code>`; anything unknown, used or expired is "not found", as in the original.
async fn resolve_code(
    state: &Kernel,
    projects: &ProjectCache,
    ip: &ClientIp,
    full_code: &str,
) -> ApiResult<PurchaseCode> {
    let parts: Vec<&str> = full_code.split('_').collect();
    let [project_id, code] = parts.as_slice() else {
        return Err(codes::not_found().into());
    };
    let project = projects
        .get(state, project_id)
        .await?
        .ok_or_else(codes::not_found)?;
    let checked = match codes::check(
        state,
        Some(ip),
        &project.id,
        CodeType::PurchaseUrl,
        code,
        false,
    )
    .await
    {
        Ok(c) => c,
        Err(ApiError::Known(k))
            if k.code == KnownCode::VerificationCodeExpired
                || k.code == KnownCode::VerificationCodeAlreadyUsed =>
        {
            return Err(codes::not_found().into())
        }
        Err(ApiError::Known(k)) if k.code == KnownCode::SchemaError => {
            return Err(codes::not_found().into())
        }
        Err(e) => return Err(e),
    };
    let d = checked.data;
    Ok(PurchaseCode {
        project,
        code: code.to_ascii_lowercase(),
        customer_type: d["customer_type"].as_str().unwrap_or_default().to_string(),
        customer_id: d["customer_id"].as_str().unwrap_or_default().to_string(),
        chosen: Chosen {
            product_id: d["product_id"].as_str().map(str::to_string),
            snapshot: d["product"].clone(),
        },
    })
}

#[derive(Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
struct ValidateCode {
    full_code: String,
    return_url: Option<String>,
}

async fn validate_code(
    State(state): State<ApiState>,
    State(payments): State<Arc<Payments>>,
    ip: ClientIp,
    JsonBody(body): JsonBody<ValidateCode>,
) -> ApiResult<Response> {
    let checkout = inspect(&state, &state.projects, &payments, &ip, &body.full_code).await?;
    if body
        .return_url
        .as_deref()
        .is_some_and(|u| !checkout.project.config.is_trusted_url(u))
    {
        return Err(known::redirect_url_not_whitelisted().into());
    }
    let conflicting: Vec<Value> = checkout
        .conflicting
        .iter()
        .map(|(id, name)| json!({ "product_id": id, "display_name": name }))
        .collect();
    Ok(json_ok(json!({
        "product": product_view(&checkout.product),
        "stripe_account_id": null,
        "project_id": checkout.project.id,
        "project_logo_url": checkout.project.logos[0],
        "already_bought_non_stackable": checkout.already_bought,
        "conflicting_products": conflicting,
        "test_mode": checkout.test_mode,
        "charges_enabled": false,
    })))
}

/// What a checkout page shows for a purchase code.
pub struct Checkout {
    pub project: Arc<Project>,
    /// The product snapshot the code names.
    pub product: Value,
    /// Display names of the catalog's items, for the included-items list.
    pub item_names: std::collections::HashMap<String, String>,
    /// The customer owns this non-stackable product already.
    pub already_bought: bool,
    /// Products of the same line the purchase replaces: (id, display name).
    pub conflicting: Vec<(String, String)>,
    pub test_mode: bool,
    /// Who is buying, as people read it: a user's name and email, a team's name, a custom id.
    pub customer: String,
}

/// How a customer is shown to people; the id when a user or team no longer exists.
pub async fn customer_label(
    state: &Kernel,
    project_id: &str,
    customer_type: &str,
    customer_id: &str,
) -> ApiResult<String> {
    Ok(match customer_type {
        "user" => match crate::users::find(state.db(), project_id, customer_id).await? {
            Some(u) => match (u.display_name, u.primary_email) {
                (Some(name), Some(email)) => format!("{name} ({email})"),
                (name, email) => name.or(email).unwrap_or_else(|| customer_id.to_string()),
            },
            None => customer_id.to_string(),
        },
        "team" => crate::teams::find(state.db(), project_id, customer_id)
            .await?
            .map(|t| t.display_name)
            .unwrap_or_else(|| customer_id.to_string()),
        _ => customer_id.to_string(),
    })
}

pub async fn inspect(
    state: &Kernel,
    projects: &ProjectCache,
    payments: &Payments,
    ip: &ClientIp,
    full_code: &str,
) -> ApiResult<Checkout> {
    let pc = resolve_code(state, projects, ip, full_code).await?;
    let catalog = payments.catalog(state, &pc.project.id).await?;
    let mut conn = state.db().acquire().await?;
    let owned = ownership(
        &purchases_of(
            &mut conn,
            &pc.project.id,
            &pc.customer_type,
            &pc.customer_id,
        )
        .await?,
        now_ms(),
    );
    let snapshot = pc.chosen.snapshot;
    let already_bought = pc
        .chosen
        .product_id
        .as_ref()
        .is_some_and(|id| owned.contains_key(id) && snapshot["stackable"] != true);
    let recurring = snapshot["prices"]
        .as_object()
        .is_some_and(|p| p.values().any(|price| price.get("interval").is_some()));
    let bases: Vec<String> = snapshot["isAddOnTo"]
        .as_object()
        .map(|m| m.keys().cloned().collect())
        .unwrap_or_default();
    let conflicting = match snapshot["productLineId"].as_str() {
        Some(line) if recurring && catalog.product_line(line).is_some() => owned
            .iter()
            .filter(|(key, o)| o.snapshot["productLineId"] == line && !bases.contains(key))
            .map(|(key, o)| {
                let name = o.snapshot["displayName"].as_str().unwrap_or(key);
                (key.clone(), name.to_string())
            })
            .collect(),
        _ => vec![],
    };
    let item_names = catalog
        .items
        .iter()
        .map(|(id, item)| (id.clone(), item.display_name.clone()))
        .collect();
    let customer =
        customer_label(state, &pc.project.id, &pc.customer_type, &pc.customer_id).await?;
    Ok(Checkout {
        project: pc.project,
        product: snapshot,
        item_names,
        already_bought,
        conflicting,
        test_mode: catalog.test_mode,
        customer,
    })
}

#[derive(Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
struct ValidateQuery {
    full_code: String,
    return_url: Option<String>,
}

async fn validate_code_get(
    State(state): State<ApiState>,
    crate::http::Query(q): crate::http::Query<ValidateQuery>,
) -> ApiResult<Response> {
    let project_id = q.full_code.split('_').next().unwrap_or_default();
    let project = state
        .projects
        .get(&state, project_id)
        .await?
        .ok_or_else(codes::not_found)?;
    if q.return_url
        .as_deref()
        .is_some_and(|u| !project.config.is_trusted_url(u))
    {
        return Err(known::redirect_url_not_whitelisted().into());
    }
    Ok(json_ok(json!({ "valid": true })))
}

#[derive(Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
struct Session {
    full_code: String,
    price_id: String,
    quantity: Option<i64>,
}

/// The purchase a paid checkout step acts on, the project's Stripe access and the quantity.
/// Errors: SCHEMA_ERROR for a quantity out of range, VERIFICATION_CODE_NOT_FOUND,
/// NEW_PURCHASES_BLOCKED, 400 when the project has not connected Stripe.
async fn paid_checkout(
    state: &ApiState,
    payments: &Payments,
    ip: &ClientIp,
    full_code: &str,
    quantity: Option<i64>,
) -> ApiResult<(PurchaseCode, stripe::Stripe, i64)> {
    let quantity = ledger::check_units(quantity.unwrap_or(1))?;
    let pc = resolve_code(state, &state.projects, ip, full_code).await?;
    let catalog = payments.catalog(state, &pc.project.id).await?;
    if catalog.block_new_purchases {
        return Err(new_purchases_blocked().into());
    }
    let stripe = stripe::connect::connected(state, &pc.project.id).await?;
    Ok((pc, stripe, quantity))
}

async fn purchase_session(
    State(state): State<ApiState>,
    State(payments): State<Arc<Payments>>,
    ip: ClientIp,
    JsonBody(body): JsonBody<Session>,
) -> ApiResult<Response> {
    let (pc, stripe, quantity) =
        paid_checkout(&state, &payments, &ip, &body.full_code, body.quantity).await?;
    let client_secret =
        stripe::checkout::open(&state, &stripe, &pc.purchase(), &body.price_id, quantity).await?;
    Ok(json_ok(json!({ "client_secret": client_secret })))
}

#[derive(Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
struct Charge {
    full_code: String,
    price_id: String,
    quantity: Option<i64>,
    /// The SetupIntent's client secret `purchase-session` answered, once the browser confirmed it.
    client_secret: String,
}

/// `200 {"payment_intent_id", "status"}`: the card the checkout page set up is charged; the
/// product is granted when Stripe's webhook confirms the payment. Our addition (see
/// `stripe::checkout`). Errors: VERIFICATION_CODE_NOT_FOUND, NEW_PURCHASES_BLOCKED, 400 when
/// Stripe is not connected or the card setup is not this purchase's or not done, the purchase
/// rules' errors, 502 from Stripe.
async fn charge_session(
    State(state): State<ApiState>,
    State(payments): State<Arc<Payments>>,
    ip: ClientIp,
    JsonBody(body): JsonBody<Charge>,
) -> ApiResult<Response> {
    let (pc, stripe, quantity) =
        paid_checkout(&state, &payments, &ip, &body.full_code, body.quantity).await?;
    let (payment_id, status) = stripe::checkout::charge(
        &state,
        &stripe,
        &pc.purchase(),
        &body.price_id,
        quantity,
        &body.client_secret,
    )
    .await?;
    Ok(json_ok(stripe::checkout::charge_json(&payment_id, &status)))
}

async fn test_mode_session(
    State(state): State<ApiState>,
    State(payments): State<Arc<Payments>>,
    ip: ClientIp,
    JsonBody(body): JsonBody<Session>,
) -> ApiResult<Response> {
    complete_test_purchase(
        &state,
        &state.projects,
        &payments,
        &ip,
        &body.full_code,
        &body.price_id,
        body.quantity,
    )
    .await?;
    Ok(json_ok(json!({ "success": true })))
}

/// Completes a checkout in test mode: the purchase is recorded (no payment) and the code used up,
/// in one transaction, so a code buys once however often it is submitted.
pub async fn complete_test_purchase(
    state: &Kernel,
    projects: &ProjectCache,
    payments: &Payments,
    ip: &ClientIp,
    full_code: &str,
    price_id: &str,
    quantity: Option<i64>,
) -> ApiResult<()> {
    let quantity = ledger::check_units(quantity.unwrap_or(1))?;
    let pc = resolve_code(state, projects, ip, full_code).await?;
    let catalog = payments.catalog(state, &pc.project.id).await?;
    if catalog.block_new_purchases {
        return Err(new_purchases_blocked().into());
    }
    if !catalog.test_mode {
        return Err(ApiError::text(
            StatusCode::FORBIDDEN,
            "Test mode is not enabled for this project",
        ));
    }
    let _turn = state.store.write_turn().await;
    let mut tx = state.db().begin().await?;
    let used =
        sqlx::query("DELETE FROM verification_codes WHERE project_id = $1 AND code_hash = $2")
            .bind(&pc.project.id)
            .bind(crate::crypto::secret::sha256_hex(&pc.code))
            .execute(&mut *tx)
            .await?;
    if used.rows_affected() != 1 {
        return Err(codes::not_found().into());
    }
    let purchase = NewPurchase {
        project_id: &pc.project.id,
        customer_type: &pc.customer_type,
        customer_id: &pc.customer_id,
        chosen: &pc.chosen,
        price_id: Some(price_id),
        quantity,
        source: "TEST_MODE",
    };
    grant_product(&mut tx, &purchase).await?;
    tx.commit().await?;
    Ok(())
}
