-- Checkpoints become balances a decrement can update in one conditional write. They are derived
-- data (the fold of purchases and item_changes), so the old rows are simply dropped.
DROP TABLE item_checkpoints;

-- A balance folded as of a moment, covering every item change of its key. While no live grant
-- expires, the balance is the plain number `quantity` (and `state` is NULL); otherwise `state`
-- holds the live grants with their expiries (and `quantity` is NULL). Until `settled_until` no
-- included grant of an owned product falls due, so the row alone is the balance.
CREATE TABLE item_balances (
    project_id TEXT NOT NULL REFERENCES projects(id) ON DELETE CASCADE,
    customer_type TEXT NOT NULL,
    customer_id TEXT NOT NULL,
    item_id TEXT NOT NULL,
    as_of INTEGER NOT NULL,
    quantity INTEGER,
    state TEXT,
    settled_until INTEGER NOT NULL,
    PRIMARY KEY (project_id, customer_type, customer_id, item_id)
);
