-- Substring search over users (display names) and their emails: trigram indexes let
-- `LIKE '%…%'` read only candidate rows instead of scanning the project. pg_trgm ships with
-- PostgreSQL and is a trusted extension (a database owner may create it).
CREATE EXTENSION IF NOT EXISTS pg_trgm;
CREATE INDEX users_display_name_trgm ON users USING gin (LOWER(display_name) gin_trgm_ops);
CREATE INDEX contact_channels_value_trgm ON contact_channels USING gin (value gin_trgm_ops);
