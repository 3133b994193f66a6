//! The hosted checkout page that purchase URLs point at (`/purchase/<project>_<code>`). It shows
//! the product, its prices and what it replaces; in test mode a button completes the purchase
//! through the same function as `test-mode-purchase-session`, then returns to `return_url`.
//! Paid checkout arrives with Stripe.

use super::{error, html, shell};
use crate::auth::context::ApiState;
use crate::http::extract::RawBody;
use crate::http::ClientIp;
use crate::payments::config::price_label;
use crate::payments::purchases::{complete_test_purchase, inspect, Checkout};
use crate::payments::Payments;
use crate::ui::dashboard::message_of;
use axum::extract::FromRef;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use axum::Router;
use maud::{html, Markup};
use serde::Deserialize;
use serde_json::Value;
use std::sync::Arc;

pub fn routes<S>() -> Router<S>
where
    S: Clone + Send + Sync + 'static,
    ApiState: FromRef<S>,
    Arc<Payments>: FromRef<S>,
{
    Router::new().route("/purchase/{full_code}", get(page).post(buy))
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
            let return_url = trusted(&checkout, q.return_url.as_deref());
            html(checkout_page(&checkout, &full_code, return_url, None))
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
    let return_url = trusted(&checkout, Some(&return_url));
    let quantity = match text("quantity").trim() {
        "" => None,
        q => match q.parse::<i64>() {
            Ok(n) => Some(n),
            Err(_) => {
                let page = checkout_page(
                    &checkout,
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
            let page = checkout_page(&checkout, &full_code, return_url, Some(&message));
            (StatusCode::BAD_REQUEST, html(page)).into_response()
        }
    }
}

/// `return_url` only if the project trusts it; anything else is dropped, never followed.
fn trusted<'a>(checkout: &Checkout, url: Option<&'a str>) -> Option<&'a str> {
    url.filter(|u| !u.is_empty() && checkout.project.config.is_trusted_url(u))
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
            @if checkout.test_mode {
                p.notice { "Test mode: no payment is taken." }
            }
            h1 { (name) }
            @if !included.is_empty() {
                ul { @for (label, quantity) in &included { li { (quantity) " × " (label) } } }
            }
            (error(message))
            @if checkout.already_bought {
                p.notice { "You already own this product." }
            } @else if !checkout.test_mode {
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
                form method="post" action={ "/purchase/" (full_code) } {
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
                    button type="submit" { "Complete test purchase" }
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
            p { "You now have " strong { (name) } "." }
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
