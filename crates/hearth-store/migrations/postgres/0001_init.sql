-- Hearth schema v1 (PostgreSQL dialect; keep in step with ../sqlite).
-- Ids are TEXT with the byte-order "C" collation, so ORDER BY id and the
-- `id > cursor` pagination agree with SQLite whatever the database locale.
-- Every integer is BIGINT: the sqlx Any driver decodes INT4 as i32.

CREATE TABLE instance (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
);

CREATE TABLE orgs (
    id                  TEXT COLLATE "C" PRIMARY KEY,
    name                TEXT NOT NULL CONSTRAINT orgs_name_key UNIQUE,
    requests_per_minute BIGINT NULL,
    tokens_per_minute   BIGINT NULL,
    created_at          BIGINT NOT NULL
);

CREATE TABLE users (
    id         TEXT COLLATE "C" PRIMARY KEY,
    org_id     TEXT COLLATE "C" NOT NULL REFERENCES orgs (id),
    email      TEXT NOT NULL,
    role       TEXT NOT NULL,
    disabled   BOOLEAN NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    CONSTRAINT users_org_email_key UNIQUE (org_id, email)
);

CREATE TABLE api_keys (
    id                  TEXT COLLATE "C" PRIMARY KEY,
    org_id              TEXT COLLATE "C" NOT NULL REFERENCES orgs (id),
    user_id             TEXT COLLATE "C" NOT NULL REFERENCES users (id),
    name                TEXT NULL,
    prefix              TEXT NOT NULL,
    key_hash            TEXT NOT NULL CONSTRAINT api_keys_key_hash_key UNIQUE,
    created_at          BIGINT NOT NULL,
    expires_at          BIGINT NULL,
    revoked_at          BIGINT NULL,
    last_used_at        BIGINT NULL,
    requests_per_minute BIGINT NULL
);

CREATE INDEX api_keys_org_user ON api_keys (org_id, user_id);

-- No foreign key on org_id: unauthenticated calls have none, and audit
-- records must outlive whatever they mention.
CREATE TABLE audit_log (
    seq           BIGINT PRIMARY KEY,
    id            TEXT NOT NULL UNIQUE,
    created_at    BIGINT NOT NULL,
    request_id    TEXT NOT NULL,
    org_id        TEXT COLLATE "C" NULL,
    user_id       TEXT COLLATE "C" NULL,
    key_prefix    TEXT NULL,
    method        TEXT NOT NULL,
    path          TEXT NOT NULL,
    status        BIGINT NOT NULL,
    latency_us    BIGINT NOT NULL,
    client_addr   TEXT NULL,
    user_agent    TEXT NULL,
    action        TEXT NULL,
    resource_id   TEXT NULL,
    model         TEXT NULL,
    input_tokens  BIGINT NULL,
    output_tokens BIGINT NULL,
    prev_hash     TEXT NOT NULL,
    hash          TEXT NOT NULL
);

CREATE INDEX audit_log_org_seq ON audit_log (org_id, seq);
