-- Hearth schema v2 (SQLite): per-organisation model allow-lists and the
-- token usage of every model call.

ALTER TABLE orgs ADD COLUMN allowed_models TEXT NULL;

CREATE TABLE usage_records (
    id            TEXT PRIMARY KEY NOT NULL,
    created_at    INTEGER NOT NULL,
    request_id    TEXT NOT NULL,
    org_id        TEXT NOT NULL,
    user_id       TEXT NOT NULL,
    key_id        TEXT NULL,
    model         TEXT NOT NULL,
    input_tokens  INTEGER NOT NULL,
    output_tokens INTEGER NOT NULL,
    -- 1 when the upstream reported no usage (e.g. an abandoned stream) and
    -- the counts are Hearth's estimate.
    estimated     INTEGER NOT NULL
);

CREATE INDEX usage_records_org_time ON usage_records (org_id, created_at);
