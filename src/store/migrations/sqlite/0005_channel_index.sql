-- A user's emails are read by (project, user): one index serves that exactly, so no planner can
-- prefer the project-wide search index. Search (a substring match, so a scan) reads the search
-- index alone once it also carries the user id.
CREATE INDEX contact_channels_user ON contact_channels (project_id, user_id);
DROP INDEX contact_channels_search;
CREATE INDEX contact_channels_search ON contact_channels (project_id, value, user_id);
