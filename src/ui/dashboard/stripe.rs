//! Dashboard pages for Stripe: the connection settings (keys, and the webhook URL to paste into
//! Stripe with the events to send), and on a customer's page their Stripe subscriptions (cancel
//! at the period's end, reactivate) and invoices. Writes go through the payments domain, so the
//! dashboard refuses what the API refuses.

use super::pages::{error, project_layout};
use super::session::Admin;
use super::{field, form_context, message_of, project_context};
use crate::auth::context::ApiState;
use crate::http::extract::RawBody;
use crate::http::ApiResult;
use crate::kernel::Kernel;
use crate::payments::stripe::checkout::CustomerRef;
use crate::payments::stripe::connect::{self, Keys};
use crate::payments::stripe::{invoices, payment_methods, subscriptions};
use crate::payments::Payments;
use crate::projects::Project;
use crate::store::iso;
use axum::extract::{FromRef, Path, Query, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::Router;
use maud::{html, Markup};
use serde_json::Value;
use std::sync::Arc;

/// The events the webhook endpoint acts on, to select when adding it in Stripe.
const EVENTS: [&str; 8] = [
    "payment_intent.succeeded",
    "payment_intent.payment_failed",
    "payment_intent.canceled",
    "invoice.paid",
    "invoice.payment_failed",
    "customer.subscription.updated",
    "customer.subscription.deleted",
    "charge.refunded",
];

pub fn routes<S>() -> Router<S>
where
    S: Clone + Send + Sync + 'static,
    ApiState: FromRef<S>,
    Arc<Payments>: FromRef<S>,
{
    let base = "/dashboard/projects/{project_id}/payments";
    Router::new()
        .route(&format!("{base}/stripe"), get(settings_page).post(save))
        .route(
            &format!("{base}/customers/{{customer_type}}/{{customer_id}}/subscription"),
            post(change_subscription),
        )
}

fn settings_path(project: &Project) -> String {
    format!("/dashboard/projects/{}/payments/stripe", project.id)
}

/// Where Stripe is to send this project's events.
fn webhook_url(state: &Kernel, project: &Project) -> String {
    format!(
        "{}/api/v1/integrations/stripe/webhooks?project_id={}",
        state.public_url.trim_end_matches('/'),
        project.id
    )
}

#[derive(serde::Deserialize)]
struct SettingsQuery {
    done: Option<String>,
}

async fn settings_page(
    State(state): State<ApiState>,
    headers: HeaderMap,
    Path(project_id): Path<String>,
    Query(q): Query<SettingsQuery>,
) -> Response {
    let (admin, project) = or_answer!(project_context(&state, &headers, &project_id).await);
    let outcome = Outcome {
        done: q.done.as_deref() == Some("keys"),
        ..Default::default()
    };
    match settings(&state, &admin, &project, outcome).await {
        Ok(page) => super::answer(page, None),
        Err(e) => e.into_response(),
    }
}

/// What the keys form came to: saved (a notice), or refused (the reason, and the publishable
/// key typed; the secrets are never shown again).
#[derive(Default)]
struct Outcome<'a> {
    done: bool,
    message: Option<&'a str>,
    publishable_key: Option<&'a str>,
}

async fn settings(
    state: &Kernel,
    admin: &Admin,
    project: &Project,
    outcome: Outcome<'_>,
) -> ApiResult<Markup> {
    let message = outcome.message;
    let account = connect::connection(state, &project.id).await?;
    let webhook = webhook_url(state, project);
    Ok(project_layout(
        "Stripe",
        admin,
        project,
        "payments",
        html! {
            p.muted {
                a href={ "/dashboard/projects/" (project.id) } { (project.display_name) } " · "
                a href={ "/dashboard/projects/" (project.id) "/payments" } { "Payments" } " · "
                strong { "Stripe" }
            }
            div.card {
                h1 { "Stripe" }
                @if outcome.done { p.notice #notice role="status" { "Stripe keys saved." } }
                (error(message))
                @match &account {
                    Some(c) => {
                        p #stripe-status.notice {
                            "Connected to " code { (c.account_id) } " since " (iso(c.updated_at)[..10].to_owned()) "."
                            @if !c.charges_enabled { " Stripe does not allow this account to charge cards yet." }
                        }
                        @if c.publishable_key.is_none() {
                            p.muted { "Add the publishable key so the checkout page can take cards." }
                        }
                    }
                    None => p #stripe-status.muted { "Not connected: purchases work in test mode only." },
                }
                h2 { "Webhook" }
                p { "In Stripe's dashboard, add an endpoint with this URL, then paste its signing secret below:" }
                p { code #webhook-url { (webhook) } }
                p.muted { "Events to send: " (EVENTS.join(", ")) }
                h2 { "Keys" }
                form method="post" action=(settings_path(project)) {
                    input type="hidden" name="csrf" value=(admin.csrf_token());
                    label for="secret-key" { "Secret key (sk_… or rk_…)" }
                    input #secret-key type="password" name="secret_key" autocomplete="off" required;
                    label for="webhook-secret" { "Webhook signing secret (whsec_…)" }
                    input #webhook-secret type="password" name="webhook_secret" autocomplete="off" required;
                    label for="publishable-key" { "Publishable key (pk_…)" }
                    input #publishable-key type="text" name="publishable_key" autocomplete="off"
                        value=[outcome.publishable_key.or(account.as_ref().and_then(|c| c.publishable_key.as_deref()))];
                    button type="submit" { @if account.is_some() { "Update keys" } @else { "Connect Stripe" } }
                }
                p.muted { "Keys are checked with Stripe and stored encrypted; they are never shown again." }
            }
        },
    ))
}

async fn save(
    State(state): State<ApiState>,
    headers: HeaderMap,
    Path(project_id): Path<String>,
    RawBody(form): RawBody,
) -> Response {
    let (admin, project) = or_answer!(form_context(&state, &headers, &project_id, &form).await);
    let keys = Keys {
        secret_key: field(&form, "secret_key"),
        webhook_secret: field(&form, "webhook_secret"),
        publishable_key: Some(field(&form, "publishable_key")),
    };
    match connect::connect(&state, &project.id, &keys).await {
        Ok(_) => Redirect::to(&format!("{}?done=keys", settings_path(&project))).into_response(),
        Err(e) => match settings(
            &state,
            &admin,
            &project,
            Outcome {
                done: false,
                message: Some(&message_of(&e)),
                publishable_key: Some(field(&form, "publishable_key")),
            },
        )
        .await
        {
            Ok(page) => super::answer(page, Some(&message_of(&e))),
            Err(e) => e.into_response(),
        },
    }
}

/// The customer page's Stripe card: their subscriptions (with cancel / reactivate) and invoices.
/// Empty when the customer has neither.
pub(super) async fn customer_billing(
    state: &Kernel,
    admin: &Admin,
    project: &Project,
    customer_type: &str,
    customer_id: &str,
) -> ApiResult<Markup> {
    let customer = CustomerRef {
        project_id: &project.id,
        customer_type,
        customer_id,
    };
    let subs = payment_methods::stripe_subscriptions(state, &customer).await?;
    let (bills, _) =
        invoices::page(state, &project.id, customer_type, customer_id, None, 20).await?;
    if subs.is_empty() && bills.is_empty() {
        return Ok(html! {});
    }
    let action = format!(
        "/dashboard/projects/{}/payments/customers/{customer_type}/{customer_id}/subscription",
        project.id
    );
    let date = |v: &Value| {
        v.as_i64()
            .map(|ms| iso(ms)[..10].to_owned())
            .unwrap_or_default()
    };
    Ok(html! {
        div.card {
            h2 { "Stripe subscriptions" }
            div.scroll { table #stripe-subscriptions {
                tr { th { "Product" } th { "State" } th { "Renews / ends" } th {} }
                @for s in &subs {
                    @let cancel = s["cancel_at_period_end"] == true;
                    tr {
                        td { (s["product_id"].as_str().unwrap_or("inline product")) }
                        td {
                            @if s["suspended"] == true { "suspended (" (s["failed_payments"]) " failed payments)" }
                            @else if cancel { "canceled at period end" }
                            @else { (s["status"].as_str().unwrap_or("")) }
                        }
                        td { (date(&s["current_period_end_millis"])) }
                        td {
                            form.inline method="post" action=(action) {
                                input type="hidden" name="csrf" value=(admin.csrf_token());
                                input type="hidden" name="purchase_id" value=(s["subscription_id"].as_str().unwrap_or(""));
                                @if cancel {
                                    input type="hidden" name="action" value="reactivate";
                                    button type="submit" { "Reactivate" }
                                } @else {
                                    input type="hidden" name="action" value="cancel";
                                    button.danger type="submit" { "Cancel at period end" }
                                }
                            }
                        }
                    }
                }
            } }
            @if subs.is_empty() { p.muted { "No live Stripe subscription." } }
            h2 { "Invoices" }
            div.scroll { table #invoices {
                tr { th { "Date" } th { "Status" } th { "Amount" } th {} }
                @for i in &bills {
                    tr {
                        td { (date(&i["created_at_millis"])) }
                        td { (i["status"].as_str().unwrap_or("")) }
                        td { (crate::payments::stripe::notices::dollars(i["amount_total"].as_i64().unwrap_or(0))) }
                        td { @if let Some(url) = i["hosted_invoice_url"].as_str() { a href=(url) { "View" } } }
                    }
                }
            } }
        }
    })
}

async fn change_subscription(
    State(state): State<ApiState>,
    State(payments): State<Arc<Payments>>,
    headers: HeaderMap,
    Path((project_id, customer_type, customer_id)): Path<(String, String, String)>,
    RawBody(form): RawBody,
) -> Response {
    let (admin, project) = or_answer!(form_context(&state, &headers, &project_id, &form).await);
    let cancel = field(&form, "action") == "cancel";
    let purchase_id = field(&form, "purchase_id");
    let customer = (customer_type.as_str(), customer_id.as_str());
    let result = subscriptions::set_cancel(&state, &project, customer, purchase_id, cancel).await;
    match result {
        Ok(()) => Redirect::to(&format!(
            "/dashboard/projects/{}/payments/customers/{customer_type}/{customer_id}?done={}",
            project.id,
            if cancel {
                "subscription-canceled"
            } else {
                "subscription-reactivated"
            }
        ))
        .into_response(),
        Err(e) => {
            let message = message_of(&e);
            super::payments::render_customer(
                &state,
                &payments,
                &admin,
                &project,
                &customer_type,
                &customer_id,
                Some(&message),
            )
            .await
        }
    }
}
