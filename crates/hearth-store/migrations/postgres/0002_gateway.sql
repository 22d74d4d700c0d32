-- Hearth schema v2 (PostgreSQL): per-organisation model allow-lists and the
-- token usage of every model call.

ALTER TABLE orgs ADD COLUMN allowed_models TEXT NULL;

CREATE TABLE usage_records (
    id            TEXT COLLATE "C" PRIMARY KEY NOT NULL,
    created_at    BIGINT NOT NULL,
    request_id    TEXT NOT NULL,
    org_id        TEXT COLLATE "C" NOT NULL,
    user_id       TEXT COLLATE "C" NOT NULL,
    key_id        TEXT COLLATE "C" NULL,
    model         TEXT NOT NULL,
    input_tokens  BIGINT NOT NULL,
    output_tokens BIGINT NOT NULL,
    -- true when the upstream reported no usage (e.g. an abandoned stream)
    -- and the counts are Hearth's estimate.
    estimated     BOOLEAN NOT NULL
);

CREATE INDEX usage_records_org_time ON usage_records (org_id, created_at);
