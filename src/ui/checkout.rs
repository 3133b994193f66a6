//! The hosted checkout page that purchase URLs point at (`/purchase/<project>_<code>`). It shows
//! the product, its prices and what it replaces. In test mode a button completes the purchase
//! through the same function as `test-mode-purchase-session`; with Stripe connected, Stripe.js
//! collects the card in place (`assets/checkout.js`: `purchase-session`, `confirmCardSetup`,
//! `purchase-session/charge`) and the page waits for Stripe's webhook to grant the purchase.
//! Either way it then returns to a trusted `return_url`.

use super::{error, html, shell};
use crate::auth::context::ApiState;
use crate::http::extract::RawBody;
use crate::http::ClientIp;
use crate::kernel::Kernel;
use crate::payments::config::price_label;
use crate::payments::purchases::{complete_test_purchase, inspect, Checkout};
use crate::payments::stripe;
use crate::payments::stripe::checkout::status_of;
use crate::payments::stripe::connect::{connection, Connection};
use crate::payments::Payments;
use crate::ui::dashboard::message_of;
use axum::extract::FromRef;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use axum::Json;
use axum::Router;
use maud::{html, Markup};
use serde::Deserialize;
use serde_json::{json, Value};
use std::sync::Arc;

pub fn routes<S>() -> Router<S>
where
    S: Clone + Send + Sync + 'static,
    ApiState: FromRef<S>,
    Arc<Payments>: FromRef<S>,
{
    Router::new()
        .route("/purchase/checkout.js", get(script))
        .route("/purchase/{full_code}", get(page).post(buy))
        .route("/purchase/{full_code}/status", get(status))
}

async fn script() -> Response {
    (
        [("content-type", "text/javascript; charset=utf-8")],
        include_str!("assets/checkout.js"),
    )
        .into_response()
}

/// `{"status": "pending" | "succeeded" | "failed" | null}` of the payment made with this code.
async fn status(State(state): State<ApiState>, Path(full_code): Path<String>) -> Response {
    match status_of(&state, &full_code).await {
        Ok(status) => Json(json!({ "status": status })).into_response(),
        Err(e) => e.into_response(),
    }
}

/// How the page takes payment: test mode, Stripe (with the publishable key for Stripe.js), or
/// not at all yet.
enum Payment {
    TestMode,
    Stripe { publishable_key: String },
    NotSetUp,
}

async fn payment_of(state: &ApiState, checkout: &Checkout) -> Payment {
    if checkout.test_mode {
        return Payment::TestMode;
    }
    match connection(state, &checkout.project.id).await {
        Ok(Some(Connection {
            publishable_key: Some(publishable_key),
            ..
        })) => Payment::Stripe { publishable_key },
        _ => Payment::NotSetUp,
    }
}

#[derive(Deserialize)]
struct PageQuery {
    return_url: Option<String>,
}

async fn page(
    State(state): State<ApiState>,
    State(payments): State<Arc<Payments>>,
    Path(full_code): Path<String>,
    ip: ClientIp,
    Query(q): Query<PageQuery>,
) -> Response {
    match inspect(&state, &state.projects, &payments, &ip, &full_code).await {
        Ok(checkout) => {
            let return_url = trusted(&state, &checkout, q.return_url.as_deref());
            let payment = payment_of(&state, &checkout).await;
            html(checkout_page(
                &checkout, &payment, &full_code, return_url, None,
            ))
        }
        Err(_) => gone(),
    }
}

async fn buy(
    State(state): State<ApiState>,
    State(payments): State<Arc<Payments>>,
    Path(full_code): Path<String>,
    ip: ClientIp,
    RawBody(form): RawBody,
) -> Response {
    let text = |k: &str| form[k].as_str().unwrap_or_default().to_string();
    let Ok(checkout) = inspect(&state, &state.projects, &payments, &ip, &full_code).await else {
        return gone();
    };
    let return_url = text("return_url");
    let return_url = trusted(&state, &checkout, Some(&return_url));
    let quantity = match text("quantity").trim() {
        "" => None,
        q => match q.parse::<i64>() {
            Ok(n) => Some(n),
            Err(_) => {
                let page = checkout_page(
                    &checkout,
                    &Payment::TestMode,
                    &full_code,
                    return_url,
                    Some("Quantity must be a whole number."),
                );
                return (StatusCode::BAD_REQUEST, html(page)).into_response();
            }
        },
    };
    match complete_test_purchase(
        &state,
        &state.projects,
        &payments,
        &ip,
        &full_code,
        &text("price_id"),
        quantity,
    )
    .await
    {
        Ok(()) => match return_url {
            Some(url) => Redirect::to(url).into_response(),
            None => html(done_page(&checkout)),
        },
        Err(e) => {
            let message = message_of(&e);
            let page = checkout_page(
                &checkout,
                &Payment::TestMode,
                &full_code,
                return_url,
                Some(&message),
            );
            (StatusCode::BAD_REQUEST, html(page)).into_response()
        }
    }
}

/// `return_url` only if the project trusts it; anything else is dropped, never followed.
fn trusted<'a>(state: &Kernel, checkout: &Checkout, url: Option<&'a str>) -> Option<&'a str> {
    url.filter(|u| !u.is_empty() && checkout.project.trusts_link(&state.public_url, u))
}

fn frame(checkout: &Checkout, title: &str, body: Markup) -> Markup {
    shell(
        title,
        html! { span { (checkout.project.display_name) } },
        html! { div.card.narrow { (body) } },
    )
}

fn checkout_page(
    checkout: &Checkout,
    payment: &Payment,
    full_code: &str,
    return_url: Option<&str>,
    message: Option<&str>,
) -> Markup {
    let product = &checkout.product;
    let name = product["displayName"].as_str().unwrap_or("Product");
    let prices: Vec<(&String, &Value)> = product["prices"]
        .as_object()
        .map(|p| p.iter().collect())
        .unwrap_or_default();
    let included: Vec<(String, i64)> = product["includedItems"]
        .as_object()
        .into_iter()
        .flatten()
        .map(|(id, inc)| {
            let label = checkout.item_names.get(id).cloned().unwrap_or(id.clone());
            (label, inc["quantity"].as_i64().unwrap_or(0))
        })
        .collect();
    frame(
        checkout,
        name,
        html! {
            @if matches!(payment, Payment::TestMode) {
                p.notice { "Test mode: no payment is taken." }
            }
            h1 { (name) }
            p #customer.muted { "Buying for " strong { (checkout.customer) } }
            @if !included.is_empty() {
                ul { @for (label, quantity) in &included { li { (quantity) " × " (label) } } }
            }
            (error(message))
            @if checkout.already_bought {
                p.notice { "You already own this product." }
            } @else if matches!(payment, Payment::NotSetUp) {
                p.muted { "Payments are not set up for this project yet." }
            } @else if prices.is_empty() {
                p.muted { "This product has no price to buy." }
            } @else {
                @if !checkout.conflicting.is_empty() {
                    p.muted {
                        "Replaces your current plan: "
                        @for (i, (_, name)) in checkout.conflicting.iter().enumerate() {
                            @if i > 0 { ", " } (name)
                        }
                    }
                }
                form id="pay" method="post" action={ "/purchase/" (full_code) }
                    data-full-code=(full_code)
                    data-return-url=[return_url]
                    data-publishable-key=[match payment { Payment::Stripe { publishable_key } => Some(publishable_key), _ => None }] {
                    fieldset style="border:0;padding:0;margin:0" {
                        legend.muted { "Price" }
                        @for (i, (id, price)) in prices.iter().enumerate() {
                            label style="font-size:15px;color:inherit" {
                                input type="radio" name="price_id" value=(id) checked[i == 0];
                                " " (price_label(price))
                            }
                        }
                    }
                    @if product["stackable"] == true {
                        label for="quantity" { "Quantity" }
                        input type="text" id="quantity" name="quantity" value="1" inputmode="numeric";
                    }
                    @if let Some(url) = return_url {
                        input type="hidden" name="return_url" value=(url);
                    }
                    @if let Payment::Stripe { .. } = payment {
                        label for="card-element" { "Card" }
                        div #card-element style="padding:10px;border:1px solid #cfd3d9;border-radius:7px;margin-bottom:12px" {}
                        button #pay-button type="submit" { "Pay" }
                        p #pay-status.muted role="status" {}
                        script src=(stripe::js_url()) {}
                        script src="/purchase/checkout.js" {}
                    } @else {
                        button type="submit" { "Complete test purchase" }
                    }
                }
            }
        },
    )
}

fn done_page(checkout: &Checkout) -> Markup {
    let name = checkout.product["displayName"]
        .as_str()
        .unwrap_or("Product");
    frame(
        checkout,
        "Purchase complete",
        html! {
            h1 { "Purchase complete" }
            p { strong { (checkout.customer) } " now has " strong { (name) } "." }
        },
    )
}

/// Unknown, used and expired codes look the same, as in the API.
fn gone() -> Response {
    let body = html! {
        div.card.narrow {
            h1 { "This checkout link has expired" }
            p.muted { "It was used already, or it is older than a day. Ask for a new one." }
        }
    };
    (
        StatusCode::NOT_FOUND,
        html(shell("Checkout", html! { span { "Checkout" } }, body)),
    )
        .into_response()
}
