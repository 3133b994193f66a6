-- SQLite has no trigram index: substring search scans the covering indexes (migration 0005).
SELECT 1;
