-- Hearth schema v1 (SQLite dialect; keep in step with ../postgres).
-- Ids are TEXT, timestamps are INTEGER Unix milliseconds, booleans are
-- INTEGER 0/1 (the sqlx Any driver refuses SQLite columns declared BOOLEAN).

CREATE TABLE instance (
    key   TEXT PRIMARY KEY NOT NULL,
    value TEXT NOT NULL
);

CREATE TABLE orgs (
    id                  TEXT PRIMARY KEY NOT NULL,
    name                TEXT NOT NULL UNIQUE,
    requests_per_minute INTEGER NULL,
    tokens_per_minute   INTEGER NULL,
    created_at          INTEGER NOT NULL
);

CREATE TABLE users (
    id         TEXT PRIMARY KEY NOT NULL,
    org_id     TEXT NOT NULL REFERENCES orgs (id),
    email      TEXT NOT NULL,
    role       TEXT NOT NULL,
    disabled   INTEGER NOT NULL,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL,
    UNIQUE (org_id, email)
);

CREATE TABLE api_keys (
    id                  TEXT PRIMARY KEY NOT NULL,
    org_id              TEXT NOT NULL REFERENCES orgs (id),
    user_id             TEXT NOT NULL REFERENCES users (id),
    name                TEXT NULL,
    prefix              TEXT NOT NULL,
    key_hash            TEXT NOT NULL UNIQUE,
    created_at          INTEGER NOT NULL,
    expires_at          INTEGER NULL,
    revoked_at          INTEGER NULL,
    last_used_at        INTEGER NULL,
    requests_per_minute INTEGER NULL
);

CREATE INDEX api_keys_org_user ON api_keys (org_id, user_id);

-- No foreign key on org_id: unauthenticated calls have none, and audit
-- records must outlive whatever they mention.
CREATE TABLE audit_log (
    seq           INTEGER PRIMARY KEY NOT NULL,
    id            TEXT NOT NULL UNIQUE,
    created_at    INTEGER NOT NULL,
    request_id    TEXT NOT NULL,
    org_id        TEXT NULL,
    user_id       TEXT NULL,
    key_prefix    TEXT NULL,
    method        TEXT NOT NULL,
    path          TEXT NOT NULL,
    status        INTEGER NOT NULL,
    latency_us    INTEGER NOT NULL,
    client_addr   TEXT NULL,
    user_agent    TEXT NULL,
    action        TEXT NULL,
    resource_id   TEXT NULL,
    model         TEXT NULL,
    input_tokens  INTEGER NULL,
    output_tokens INTEGER NULL,
    prev_hash     TEXT NOT NULL,
    hash          TEXT NOT NULL
);

CREATE INDEX audit_log_org_seq ON audit_log (org_id, seq);
