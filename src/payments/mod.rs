//! Payments: the catalog from the config document, customers (users, teams, custom ids), the item
//! ledger, owned products, purchase URLs with test-mode checkout, and transactions.

pub mod batch;
pub mod config;
pub mod customers;
pub mod items;
pub mod ledger;
pub mod products;
pub mod purchases;
pub mod stripe;
pub mod switch;
pub mod transactions;

use crate::auth::context::ApiState;
use crate::http::error::KnownError;
pub(crate) use crate::http::known::known;
use crate::http::known::{js_string, KnownCode};
use crate::http::{ApiError, ApiResult};
use crate::kernel::Kernel;
use crate::store::recent::Recent;
use crate::store::Store;
use aide::axum::ApiRouter;
use axum::extract::FromRef;
use axum::http::StatusCode;
use config::Catalog;
use serde_json::json;
use std::sync::Arc;

/// The payments capability's state: recently rendered catalogs and the group-committing writers
/// of plain balance changes. Handlers reach it as `State<Arc<Payments>>`.
pub struct Payments {
    catalogs: Recent<Catalog>,
    pub fast_changes: batch::FastChanges,
}

impl Payments {
    /// Starts the balance writers (they live as long as the process).
    pub fn start(store: &Store) -> Payments {
        Payments {
            catalogs: Recent::default(),
            fast_changes: batch::FastChanges::start(store),
        }
    }

    /// The project's catalog, rendered from its config document (read at most once a second).
    pub async fn catalog(&self, k: &Kernel, project_id: &str) -> ApiResult<Arc<Catalog>> {
        if let Some(c) = self.catalogs.get(project_id) {
            return Ok(c);
        }
        let document = crate::projects::document::load_merged(k.db(), project_id).await?;
        // Writes are checked, so this fails only for a document stored before they were.
        let catalog = Catalog::parse(&document).map_err(|problems| {
            ApiError::text(
                StatusCode::INTERNAL_SERVER_ERROR,
                format!(
                    "The project's payments config is invalid; save a corrected one:\n  - {}",
                    problems.join("\n  - ")
                ),
            )
        })?;
        Ok(self.catalogs.put(project_id, catalog))
    }

    /// Called after this process changes a project's config document.
    pub fn forget_catalog(&self, project_id: &str) {
        self.catalogs.forget(project_id);
    }
}

pub fn routes<S>() -> ApiRouter<S>
where
    S: Clone + Send + Sync + 'static,
    ApiState: FromRef<S>,
    Arc<Payments>: FromRef<S>,
{
    ApiRouter::new()
        .merge(items::routes())
        .merge(products::routes())
        .merge(purchases::routes())
        .merge(stripe::connect::routes())
        .merge(stripe::invoices::routes())
        .merge(stripe::payment_methods::routes())
        .merge(stripe::subscriptions::routes())
        .merge(stripe::webhooks::routes())
        .merge(switch::routes())
        .merge(transactions::routes())
}

pub fn item_not_found(item_id: &str) -> KnownError {
    known(
        KnownCode::ItemNotFound,
        format!("Item with ID \"{item_id}\" not found."),
        Some(json!({ "item_id": item_id })),
    )
}

pub fn item_customer_type_mismatch(
    item_id: &str,
    customer_id: &str,
    item_type: &str,
    actual: &str,
) -> KnownError {
    known(KnownCode::ItemCustomerTypeDoesNotMatch, format!("The {actual} with ID {} is not a valid customer for the item with ID {}. The item is configured to only be available for {item_type} customers, but the customer is a {actual}.", js_string(customer_id), js_string(item_id)),
        Some(json!({ "item_id": item_id, "customer_id": customer_id, "item_customer_type": item_type, "actual_customer_type": actual })),
    )
}

pub fn insufficient_quantity(item_id: &str, customer_id: &str, delta: i64) -> KnownError {
    known(KnownCode::ItemQuantityInsufficientAmount, format!("The item with ID {} has an insufficient quantity for the customer with ID {}. An attempt was made to charge {delta} credits.", js_string(item_id), js_string(customer_id)),
        Some(json!({ "item_id": item_id, "customer_id": customer_id, "quantity": delta })),
    )
}

pub fn product_does_not_exist(product_id: &str, context: Option<&str>) -> KnownError {
    let message = match context {
        Some("item_exists") => format!(
            "Product with ID {} does not exist, but an item with this ID exists.",
            js_string(product_id)
        ),
        Some("server_only") => format!(
            "Product with ID {} is marked as server-only and cannot be accessed client side.",
            js_string(product_id)
        ),
        _ => format!("Product with ID {} does not exist.", js_string(product_id)),
    };
    known(
        KnownCode::ProductDoesNotExist,
        message,
        Some(json!({ "product_id": product_id, "context": context })),
    )
}

pub fn product_customer_type_mismatch(
    product_id: Option<&str>,
    customer_id: &str,
    product_type: &str,
    actual: &str,
) -> KnownError {
    known(KnownCode::ProductCustomerTypeDoesNotMatch, format!("The {actual} with ID {} is not a valid customer for the inline product that has been passed in. The product is configured to only be available for {product_type} customers, but the customer is a {actual}.", js_string(customer_id)),
        Some(json!({ "product_id": product_id, "customer_id": customer_id, "product_customer_type": product_type, "actual_customer_type": actual })),
    )
}

pub fn product_already_granted(product_id: &str, customer_id: &str) -> KnownError {
    known(
        KnownCode::ProductAlreadyGranted,
        format!(
            "Customer with ID {} already owns product {}.",
            js_string(customer_id),
            js_string(product_id)
        ),
        Some(json!({ "product_id": product_id, "customer_id": customer_id })),
    )
}

pub fn new_purchases_blocked() -> KnownError {
    known(KnownCode::NewPurchasesBlocked, "New purchases are currently blocked for this project. Please contact support for more information.", None)
}

pub fn default_payment_method_required(customer_type: &str, customer_id: &str) -> KnownError {
    known(
        KnownCode::DefaultPaymentMethodRequired,
        "No default payment method is set for this customer.",
        Some(json!({ "customer_type": customer_type, "customer_id": customer_id })),
    )
}
