//! Billing on a project's pages, in the app instead of Stripe's portal (the seed's commit log):
//! the user's plans with their renewal or end date, cancel at the period's end and reactivate,
//! plans to buy (through the checkout page, which comes back here), and invoices with their
//! hosted pages. Everything goes through the payments domain, as the API does.

use super::session::EndUser;
use super::{full_url, page, text, SignedIn};
use crate::auth::context::ApiState;
use crate::http::extract::RawBody;
use crate::http::ApiResult;
use crate::kernel::Kernel;
use crate::payments::config::price_label;
use crate::payments::products::Chosen;
use crate::payments::purchases::create_purchase_url;
use crate::payments::stripe::checkout::CustomerRef;
use crate::payments::stripe::notices::dollars;
use crate::payments::stripe::{invoices, payment_methods, subscriptions};
use crate::payments::switch::{switch_product, SwitchBody};
use crate::payments::Payments;
use crate::projects::Project;
use crate::store::iso;
use crate::ui::dashboard::message_of;
use crate::ui::{error, html};
use axum::extract::{FromRef, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::Router;
use maud::{html, Markup};
use serde_json::Value;
use std::sync::Arc;

pub fn routes<S>() -> Router<S>
where
    S: Clone + Send + Sync + 'static,
    ApiState: FromRef<S>,
    Arc<Payments>: FromRef<S>,
{
    Router::new()
        .route("/handler/{project_id}/billing", get(billing_page))
        .route("/handler/{project_id}/billing/buy", post(buy))
        .route("/handler/{project_id}/billing/subscription", post(change))
        .route("/handler/{project_id}/billing/switch", post(switch))
        .route(
            "/handler/{project_id}/billing/card",
            get(card_page).post(save_card),
        )
        .route(
            "/handler/{project_id}/billing/card/setup-intent",
            post(card_setup_intent),
        )
        .route("/js/card.js", get(card_script))
}

fn billing_path(project: &Project) -> String {
    format!("/handler/{}/billing", project.id)
}

fn date(v: &Value) -> String {
    v.as_i64()
        .map(|ms| iso(ms)[..10].to_owned())
        .unwrap_or_default()
}

async fn billing_markup(
    state: &Kernel,
    payments: &Payments,
    project: &Project,
    me: &EndUser,
    message: Option<&str>,
    notice: Option<&str>,
) -> ApiResult<Markup> {
    let customer = customer_of(project, me);
    let plans = payment_methods::stripe_subscriptions(state, &customer).await?;
    let card = payment_methods::default_card_of(state, &customer)
        .await?
        .filter(|c| !c.is_null());
    let (bills, _) = invoices::page(state, &project.id, "user", &me.user.id, None, 10).await?;
    let catalog = payments.catalog(state, &project.id).await?;
    let held: Vec<&str> = plans
        .iter()
        .filter_map(|p| p["product_id"].as_str())
        .collect();
    let line_of = |id: &str| catalog.product(id).and_then(|p| p.product_line_id.clone());
    let held_lines: Vec<String> = held.iter().filter_map(|id| line_of(id)).collect();
    // Plans a user may pick by themselves: theirs to buy, billed by interval, not add-ons or a
    // line's free default.
    let selectable = |p: &crate::payments::config::Product| {
        p.customer_type == "user"
            && !p.server_only
            && !p.interval_prices().is_empty()
            && p.add_on_to.as_ref().is_none_or(|b| b.is_empty())
            && !p.include_by_default()
    };
    // A plan of a line the user already has a plan in is a switch, not a purchase.
    let offers: Vec<(&String, &crate::payments::config::Product)> = catalog
        .products
        .iter()
        .filter(|(id, p)| {
            selectable(p)
                && !held.contains(&id.as_str())
                && p.product_line_id
                    .as_ref()
                    .is_none_or(|l| !held_lines.contains(l))
        })
        .map(|(id, p)| (id, p))
        .collect();
    let switches_from = |from: &str| -> Vec<(&String, &crate::payments::config::Product)> {
        let Some(line) = line_of(from) else {
            return vec![];
        };
        catalog
            .products
            .iter()
            .filter(|(id, p)| {
                id.as_str() != from && selectable(p) && p.product_line_id.as_ref() == Some(&line)
            })
            .map(|(id, p)| (id, p))
            .collect()
    };
    let csrf = me.csrf_token();
    let name_of = |id: &str| {
        catalog
            .product(id)
            .map_or(id.to_owned(), |p| p.display_name.clone())
    };
    Ok(page(
        project,
        "Billing",
        html! {
            p.muted { a href={ "/handler/" (project.id) "/account-settings" } { "← Account" } }
            h1 { "Billing" }
            (error(message))
            @if let Some(n) = notice { p.notice role="status" { (n) } }
            h2 { "Payment method" }
            @if let Some(card) = &card {
                p #card { (card_label(card)) }
            } @else {
                p.muted #card { "No card on file." }
            }
            @if card.is_some() || !plans.is_empty() {
                p { a #change-card href={ (billing_path(project)) "/card" } { "Change card" } }
            }
            h2.section { "Your plans" }
            @if plans.is_empty() { p.muted #no-plan { "You have no plan yet." } }
            @for plan in &plans {
                @let cancel = plan["cancel_at_period_end"] == true;
                div.plan data-product=(plan["product_id"].as_str().unwrap_or("")) {
                    p {
                        strong { (name_of(plan["product_id"].as_str().unwrap_or(""))) } " — "
                        @if plan["suspended"] == true { "suspended after failed payments; update your card" }
                        @else if cancel { span.plan-state { "ends on " (date(&plan["current_period_end_millis"])) } }
                        @else { span.plan-state { "renews on " (date(&plan["current_period_end_millis"])) } }
                    }
                    form method="post" action={ (billing_path(project)) "/subscription" } {
                        input type="hidden" name="csrf" value=(csrf);
                        input type="hidden" name="purchase_id" value=(plan["subscription_id"].as_str().unwrap_or(""));
                        @if cancel {
                            input type="hidden" name="action" value="reactivate";
                            button type="submit" { "Reactivate" }
                        } @else {
                            input type="hidden" name="action" value="cancel";
                            button.danger type="submit" { "Cancel at period end" }
                        }
                    }
                    @let from = plan["product_id"].as_str().unwrap_or("");
                    @for (to, p) in switches_from(from) {
                        form.inline.switch method="post" action={ (billing_path(project)) "/switch" } {
                            input type="hidden" name="csrf" value=(csrf);
                            input type="hidden" name="from_product_id" value=(from);
                            input type="hidden" name="to_product_id" value=(to);
                            button.small type="submit" {
                                "Switch to " (p.display_name)
                                @if let Some((_, price)) = p.interval_prices().first() { " · " (price_label(&price.raw)) }
                            }
                        }
                    }
                }
            }
            @if !offers.is_empty() {
                h2.section { "Plans" }
                @for (id, p) in &offers {
                    form.inline method="post" action={ (billing_path(project)) "/buy" } {
                        input type="hidden" name="csrf" value=(csrf);
                        input type="hidden" name="product_id" value=(id);
                        button type="submit" {
                            "Buy " (p.display_name)
                            @if let Some((_, price)) = p.interval_prices().first() { " · " (price_label(&price.raw)) }
                        }
                    }
                }
            }
            h2.section { "Invoices" }
            @if bills.is_empty() { p.muted { "No invoices yet." } }
            table #invoices {
                @for i in &bills {
                    tr {
                        td { (date(&i["created_at_millis"])) }
                        td { (i["status"].as_str().unwrap_or("")) }
                        td { (dollars(i["amount_total"].as_i64().unwrap_or(0))) }
                        td {
                            @if let Some(url) = i["hosted_invoice_url"].as_str() { a href=(url) { "View" } }
                            @if let Some(pdf) = i["invoice_pdf"].as_str() { " · " a href=(pdf) { "PDF" } }
                        }
                    }
                }
            }
        },
    ))
}

async fn answer(
    state: &Kernel,
    payments: &Payments,
    project: &Project,
    me: &EndUser,
    message: Option<&str>,
) -> Response {
    match billing_markup(state, payments, project, me, message, None).await {
        Ok(markup) if message.is_some() => (StatusCode::BAD_REQUEST, html(markup)).into_response(),
        Ok(markup) => html(markup),
        Err(e) => e.into_response(),
    }
}

#[derive(serde::Deserialize)]
struct BillingQuery {
    switched: Option<String>,
    card: Option<String>,
}

async fn billing_page(
    State(state): State<ApiState>,
    State(payments): State<Arc<Payments>>,
    SignedIn { project, me }: SignedIn,
    Query(q): Query<BillingQuery>,
) -> Response {
    let notice = match (q.switched, q.card) {
        (Some(_), _) => Some("Your plan is changed; Stripe prorates the difference."),
        (_, Some(_)) => Some("Your new card is saved; your invoices are charged to it."),
        _ => None,
    };
    match billing_markup(&state, &payments, &project, &me, None, notice).await {
        Ok(markup) => html(markup),
        Err(e) => e.into_response(),
    }
}

/// Starts buying a plan: a purchase URL for the user, opened at once; the checkout page comes
/// back here once Stripe confirmed the payment.
async fn buy(
    State(state): State<ApiState>,
    State(payments): State<Arc<Payments>>,
    SignedIn { project, me }: SignedIn,
    RawBody(form): RawBody,
) -> Response {
    let started = async {
        me.check_csrf(text(&form, "csrf"))?;
        let catalog = payments.catalog(&state, &project.id).await?;
        let chosen = Chosen::from_catalog(&catalog, text(&form, "product_id"))?;
        let back = full_url(&state, &billing_path(&project));
        create_purchase_url(&state, &project, "user", &me.user.id, &chosen, Some(&back)).await
    }
    .await;
    match started {
        Ok(url) => Redirect::to(&url).into_response(),
        Err(e) => answer(&state, &payments, &project, &me, Some(&message_of(&e))).await,
    }
}

async fn change(
    State(state): State<ApiState>,
    State(payments): State<Arc<Payments>>,
    SignedIn { project, me }: SignedIn,
    RawBody(form): RawBody,
) -> Response {
    let changed = async {
        me.check_csrf(text(&form, "csrf"))?;
        let cancel = text(&form, "action") == "cancel";
        let customer = ("user", me.user.id.as_str());
        subscriptions::set_cancel(
            &state,
            &project,
            customer,
            text(&form, "purchase_id"),
            cancel,
        )
        .await
    }
    .await;
    match changed {
        Ok(()) => Redirect::to(&billing_path(&project)).into_response(),
        Err(e) => answer(&state, &payments, &project, &me, Some(&message_of(&e))).await,
    }
}

/// Switches a plan to another of its product line (Stripe prorates the change).
async fn switch(
    State(state): State<ApiState>,
    State(payments): State<Arc<Payments>>,
    SignedIn { project, me }: SignedIn,
    RawBody(form): RawBody,
) -> Response {
    let switched = async {
        me.check_csrf(text(&form, "csrf"))?;
        let catalog = payments.catalog(&state, &project.id).await?;
        if catalog.block_new_purchases {
            return Err(crate::payments::new_purchases_blocked().into());
        }
        let body = SwitchBody {
            from_product_id: text(&form, "from_product_id").to_owned(),
            to_product_id: text(&form, "to_product_id").to_owned(),
            price_id: None,
            quantity: None,
        };
        let customer = ("user", me.user.id.as_str());
        switch_product(&state, &catalog, &project.id, customer, body).await
    }
    .await;
    match switched {
        Ok(()) => Redirect::to(&format!("{}?switched=1", billing_path(&project))).into_response(),
        Err(e) => answer(&state, &payments, &project, &me, Some(&message_of(&e))).await,
    }
}

/// `Visa •••• 4242, expires 12/2030`.
fn card_label(card: &Value) -> String {
    let brand = card["brand"].as_str().unwrap_or("Card");
    let mut brand = brand.chars();
    let brand: String = brand
        .next()
        .map(|c| c.to_uppercase().chain(brand).collect())
        .unwrap_or_default();
    format!(
        "{brand} •••• {}, expires {}/{}",
        card["last4"].as_str().unwrap_or("????"),
        card["exp_month"],
        card["exp_year"]
    )
}

async fn card_script() -> Response {
    super::script_answer(include_str!("../assets/card.js"))
}

fn customer_of<'a>(project: &'a Project, me: &'a EndUser) -> CustomerRef<'a> {
    CustomerRef {
        project_id: &project.id,
        customer_type: "user",
        customer_id: &me.user.id,
    }
}

/// Changing the card: Stripe's card field on this page (Stripe.js), saved by a SetupIntent.
async fn card_page(State(state): State<ApiState>, SignedIn { project, me }: SignedIn) -> Response {
    let connection = match crate::payments::stripe::connect::connection(&state, &project.id).await {
        Ok(c) => c,
        Err(e) => return e.into_response(),
    };
    let key = connection.and_then(|c| c.publishable_key);
    let base = billing_path(&project);
    html(page(
        &project,
        "Change card",
        html! {
            p.muted { a href=(base) { "← Billing" } }
            h1 { "Change card" }
            @if let Some(key) = key {
                form #card-form method="post" action={ (base) "/card" } data-publishable-key=(key) data-intent={ (base) "/card/setup-intent" } {
                    input type="hidden" name="csrf" value=(me.csrf_token());
                    input type="hidden" name="setup_intent_id";
                    label for="card-element" { "New card" }
                    div #card-element.card-field {}
                    button type="submit" { "Save card" }
                    p #card-status.muted role="status" {}
                }
                script src=(crate::payments::stripe::js_url()) {}
                script src="/js/card.js" {}
            } @else {
                p.muted { "Cards cannot be changed here yet: payments are not set up for this app." }
            }
        },
    ))
}

async fn card_setup_intent(
    State(state): State<ApiState>,
    SignedIn { project, me }: SignedIn,
    RawBody(form): RawBody,
) -> Response {
    let intent = async {
        me.check_csrf(text(&form, "csrf"))?;
        payment_methods::new_setup_intent(&state, &customer_of(&project, &me)).await
    }
    .await;
    super::json_answer(intent.map(|secret| serde_json::json!({ "client_secret": secret })))
}

async fn save_card(
    State(state): State<ApiState>,
    State(payments): State<Arc<Payments>>,
    SignedIn { project, me }: SignedIn,
    RawBody(form): RawBody,
) -> Response {
    let saved = async {
        me.check_csrf(text(&form, "csrf"))?;
        let intent = text(&form, "setup_intent_id");
        payment_methods::make_default(&state, &customer_of(&project, &me), intent).await
    }
    .await;
    match saved {
        Ok(_) => Redirect::to(&format!("{}?card=1", billing_path(&project))).into_response(),
        Err(e) => answer(&state, &payments, &project, &me, Some(&message_of(&e))).await,
    }
}
