//! Payment emails through the outbox, queued in the transaction of the event that causes them
//! (so a retried webhook sends once): a receipt for each paid checkout and renewal, a notice of
//! each failed payment (with Stripe's invoice page to pay it), and one when a subscription is
//! canceled. Their templates are overridable like every built-in one (`email_templates`).
//!
//! They go to a user customer's primary email; team and custom customers have no one address
//! and get none.

use crate::contact_channels::primary_emails;
use crate::emails::outbox::enqueue_template;
use crate::emails::templates::Template;
use crate::http::ApiResult;
use crate::projects::Project;
use serde_json::Value;
use sqlx::AnyConnection;

/// Who a payment email is about, and what it says.
pub struct Notice<'a> {
    pub customer_type: &'a str,
    pub customer_id: &'a str,
    pub template: Template,
    pub variables: Value,
}

/// Queues `notice` for the customer, if they have an address. Returns whether it was queued.
pub async fn queue(
    tx: &mut AnyConnection,
    project: &Project,
    notice: Notice<'_>,
) -> ApiResult<bool> {
    if notice.customer_type != "user" {
        return Ok(false);
    }
    let user_id = [notice.customer_id.to_owned()];
    let Some((_, email)) = primary_emails(tx, &project.id, &user_id).await?.pop() else {
        return Ok(false);
    };
    enqueue_template(
        tx,
        project,
        Some(notice.customer_id),
        &email,
        notice.template,
        notice.variables,
    )
    .await?;
    Ok(true)
}

/// `1999` cents → `"$19.99"`.
pub fn dollars(cents: i64) -> String {
    format!("${}.{:02}", cents / 100, (cents % 100).abs())
}

/// The display name of a product snapshot (`"Subscription"` when it has none).
pub fn product_name(snapshot: &Value) -> String {
    snapshot["displayName"]
        .as_str()
        .unwrap_or("Subscription")
        .to_owned()
}
