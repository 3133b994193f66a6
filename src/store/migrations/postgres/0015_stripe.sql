-- A project's own Stripe account: its secret key and webhook signing secret, sealed.
CREATE TABLE stripe_accounts (
    project_id TEXT PRIMARY KEY REFERENCES projects(id) ON DELETE CASCADE,
    account_id TEXT NOT NULL,
    secret_key_sealed TEXT NOT NULL,
    webhook_secret_sealed TEXT NOT NULL,
    charges_enabled INTEGER NOT NULL,
    details_submitted INTEGER NOT NULL,
    payouts_enabled INTEGER NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);

-- Our customer (user, team or custom id) as a Stripe customer, made on first purchase.
CREATE TABLE stripe_customers (
    id TEXT PRIMARY KEY,
    project_id TEXT NOT NULL REFERENCES projects(id) ON DELETE CASCADE,
    customer_type TEXT NOT NULL,
    customer_id TEXT NOT NULL,
    stripe_customer_id TEXT NOT NULL,
    created_at BIGINT NOT NULL
);
CREATE UNIQUE INDEX uq_stripe_customers_customer ON stripe_customers (project_id, customer_type, customer_id);
CREATE UNIQUE INDEX uq_stripe_customers_stripe_customer_id ON stripe_customers (project_id, stripe_customer_id);

-- A checkout waiting for Stripe to confirm its payment: what the purchase grants once it does.
-- `payment_id` is the PaymentIntent's id; `granted_at` is set in the transaction that grants.
CREATE TABLE stripe_checkouts (
    payment_id TEXT PRIMARY KEY,
    project_id TEXT NOT NULL REFERENCES projects(id) ON DELETE CASCADE,
    customer_type TEXT NOT NULL,
    customer_id TEXT NOT NULL,
    stripe_customer_id TEXT NOT NULL,
    product_id TEXT,
    product TEXT NOT NULL,
    price_id TEXT NOT NULL,
    quantity BIGINT NOT NULL,
    amount_cents BIGINT NOT NULL,
    code_hash TEXT NOT NULL,
    status TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    granted_at BIGINT
);
CREATE INDEX stripe_checkouts_customer ON stripe_checkouts (project_id, customer_type, customer_id);

-- Webhook events applied, written in the transaction of their effect: a retried event whose
-- first attempt failed midway finds no mark and is applied then.
CREATE TABLE stripe_events (
    id TEXT PRIMARY KEY,
    project_id TEXT NOT NULL REFERENCES projects(id) ON DELETE CASCADE,
    type TEXT NOT NULL,
    applied_at BIGINT NOT NULL
);
