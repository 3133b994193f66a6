-- Config overrides (the original's layered config document; payments lives there), purchases
-- (subscriptions and one-time purchases, with their product snapshots) and manual item changes.
-- Item balances are folded from purchases and changes; customer_locks serialises every payments
-- write of one customer.

CREATE TABLE config_overrides (
    project_id TEXT NOT NULL REFERENCES projects(id) ON DELETE CASCADE,
    level TEXT NOT NULL,
    config TEXT NOT NULL,
    PRIMARY KEY (project_id, level)
);

CREATE TABLE purchases (
    id TEXT PRIMARY KEY,
    project_id TEXT NOT NULL REFERENCES projects(id) ON DELETE CASCADE,
    customer_type TEXT NOT NULL,
    customer_id TEXT NOT NULL,
    product_id TEXT,
    price_id TEXT,
    product TEXT NOT NULL,
    quantity BIGINT NOT NULL,
    -- 'subscription' or 'one_time'
    kind TEXT NOT NULL,
    status TEXT NOT NULL,
    creation_source TEXT NOT NULL,
    current_period_start BIGINT,
    current_period_end BIGINT,
    cancel_at_period_end BIGINT NOT NULL DEFAULT 0,
    canceled_at BIGINT,
    ended_at BIGINT,
    refunded_at BIGINT,
    created_at BIGINT NOT NULL
);
CREATE INDEX purchases_customer ON purchases (project_id, customer_type, customer_id, created_at);
CREATE INDEX purchases_project ON purchases (project_id, created_at);

CREATE TABLE item_changes (
    id TEXT PRIMARY KEY,
    project_id TEXT NOT NULL REFERENCES projects(id) ON DELETE CASCADE,
    customer_type TEXT NOT NULL,
    customer_id TEXT NOT NULL,
    item_id TEXT NOT NULL,
    quantity BIGINT NOT NULL,
    expires_at BIGINT,
    description TEXT,
    created_at BIGINT NOT NULL
);
CREATE INDEX item_changes_balance ON item_changes (project_id, customer_type, customer_id, item_id, created_at);
CREATE INDEX item_changes_project ON item_changes (project_id, created_at);

CREATE TABLE customer_locks (
    project_id TEXT NOT NULL REFERENCES projects(id) ON DELETE CASCADE,
    customer_type TEXT NOT NULL,
    customer_id TEXT NOT NULL,
    version BIGINT NOT NULL,
    PRIMARY KEY (project_id, customer_type, customer_id)
);

-- A balance's fold state as of a moment (live grants with expiries, and debt), written by the
-- writer holding the customer's lock, so reads fold only what came after it.
CREATE TABLE item_checkpoints (
    project_id TEXT NOT NULL REFERENCES projects(id) ON DELETE CASCADE,
    customer_type TEXT NOT NULL,
    customer_id TEXT NOT NULL,
    item_id TEXT NOT NULL,
    as_of BIGINT NOT NULL,
    state TEXT NOT NULL,
    PRIMARY KEY (project_id, customer_type, customer_id, item_id)
);
