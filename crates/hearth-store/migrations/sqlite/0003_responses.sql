-- Hearth schema v3 (SQLite; keep in step with ../postgres): the Responses
-- API's conversations, stored responses and their items.
--
-- Every table carries org_id and every query filters on it. There are no
-- foreign keys between these tables: deleting a conversation or a response
-- says explicitly what goes with it (see conversations.rs, responses.rs).

CREATE TABLE conversations (
    id         TEXT PRIMARY KEY NOT NULL,
    org_id     TEXT NOT NULL,
    user_id    TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    -- A JSON object.
    metadata   TEXT NOT NULL
);

CREATE INDEX conversations_org ON conversations (org_id);

CREATE TABLE responses (
    id                   TEXT PRIMARY KEY NOT NULL,
    org_id               TEXT NOT NULL,
    user_id              TEXT NOT NULL,
    conversation_id      TEXT NULL,
    previous_response_id TEXT NULL,
    created_at           INTEGER NOT NULL,
    -- The whole Response object, as JSON.
    body                 TEXT NOT NULL
);

CREATE INDEX responses_org_conversation ON responses (org_id, conversation_id);

-- seq numbers an item within its conversation, or within its response when
-- it has no conversation. Uniqueness of (conversation_id, seq) cannot be a
-- constraint that treats NULL conversations alike on both backends, so the
-- appender guarantees it under a lock instead.
CREATE TABLE conversation_items (
    id              TEXT PRIMARY KEY NOT NULL,
    org_id          TEXT NOT NULL,
    conversation_id TEXT NULL,
    response_id     TEXT NULL,
    -- 'input' or 'output'.
    kind            TEXT NOT NULL,
    seq             INTEGER NOT NULL,
    created_at      INTEGER NOT NULL,
    -- The item as the API shows it, as JSON.
    body            TEXT NOT NULL
);

CREATE INDEX conversation_items_conversation
    ON conversation_items (org_id, conversation_id, seq);
CREATE INDEX conversation_items_response
    ON conversation_items (org_id, response_id, seq);
