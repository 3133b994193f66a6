-- Rate-limit counters need no crash safety (a lost count is harmless) but every failed sign-in
-- writes them: unlogged, they cost no WAL flush.
ALTER TABLE rate_limits SET UNLOGGED;
