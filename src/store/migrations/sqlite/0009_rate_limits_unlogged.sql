-- PostgreSQL makes the rate-limit counters unlogged; SQLite has nothing to change.
SELECT 1;
