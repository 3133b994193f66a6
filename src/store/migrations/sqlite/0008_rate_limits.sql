-- Fixed-window rate-limit counters, shared by every replica using this database. `key` is a hash
-- of the rule and what it counts (an address, an account, a client IP), never the value itself.
CREATE TABLE rate_limits (
    key TEXT PRIMARY KEY,
    window_start INTEGER NOT NULL,
    count INTEGER NOT NULL
);
CREATE INDEX rate_limits_window ON rate_limits (window_start);
