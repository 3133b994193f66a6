-- The publishable key the checkout page gives Stripe.js (public by design, so not sealed).
ALTER TABLE stripe_accounts ADD COLUMN publishable_key TEXT;

-- The purchase a paid checkout granted: the subscription row renewals, cancels and refunds act on.
ALTER TABLE stripe_checkouts ADD COLUMN purchase_id TEXT;
CREATE INDEX stripe_checkouts_purchase ON stripe_checkouts (project_id, purchase_id);
-- The checkout page asks how its code's payment stands.
CREATE INDEX stripe_checkouts_code ON stripe_checkouts (project_id, code_hash);

-- How many units a refund revoked (the original revokes the refunded quantity, not always all).
ALTER TABLE purchases ADD COLUMN refunded_quantity BIGINT;

-- Payments of a Stripe subscription that failed since its last paid invoice; the third suspends
-- it (no renewals, no new purchases for the customer) until an invoice is paid.
ALTER TABLE purchases ADD COLUMN failed_payments BIGINT NOT NULL DEFAULT 0;

-- Invoices of our Stripe subscriptions, as the webhooks report them: the customer's invoice
-- list, and for each paid `subscription_cycle` invoice one renewal of the included items.
CREATE TABLE stripe_invoices (
    id TEXT PRIMARY KEY,
    project_id TEXT NOT NULL REFERENCES projects(id) ON DELETE CASCADE,
    stripe_invoice_id TEXT NOT NULL,
    subscription_id TEXT NOT NULL,
    purchase_id TEXT,
    customer_type TEXT NOT NULL,
    customer_id TEXT NOT NULL,
    billing_reason TEXT,
    status TEXT,
    amount_total BIGINT NOT NULL,
    payment_intent TEXT,
    hosted_invoice_url TEXT,
    invoice_pdf TEXT,
    period_end BIGINT,
    paid_at BIGINT,
    created_at BIGINT NOT NULL
);
CREATE UNIQUE INDEX uq_stripe_invoices_stripe_invoice_id ON stripe_invoices (project_id, stripe_invoice_id);
CREATE INDEX stripe_invoices_customer ON stripe_invoices (project_id, customer_type, customer_id, created_at);
CREATE INDEX stripe_invoices_purchase ON stripe_invoices (purchase_id);
