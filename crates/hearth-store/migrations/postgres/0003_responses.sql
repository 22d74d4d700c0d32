-- Hearth schema v3 (PostgreSQL; keep in step with ../sqlite): the Responses
-- API's conversations, stored responses and their items.
--
-- Every table carries org_id and every query filters on it. There are no
-- foreign keys between these tables: deleting a conversation or a response
-- says explicitly what goes with it (see conversations.rs, responses.rs).

CREATE TABLE conversations (
    id         TEXT COLLATE "C" PRIMARY KEY,
    org_id     TEXT COLLATE "C" NOT NULL,
    user_id    TEXT COLLATE "C" NOT NULL,
    created_at BIGINT NOT NULL,
    -- A JSON object.
    metadata   TEXT NOT NULL
);

CREATE INDEX conversations_org ON conversations (org_id);

CREATE TABLE responses (
    id                   TEXT COLLATE "C" PRIMARY KEY,
    org_id               TEXT COLLATE "C" NOT NULL,
    user_id              TEXT COLLATE "C" NOT NULL,
    conversation_id      TEXT COLLATE "C" NULL,
    previous_response_id TEXT COLLATE "C" NULL,
    created_at           BIGINT NOT NULL,
    -- The whole Response object, as JSON.
    body                 TEXT NOT NULL
);

CREATE INDEX responses_org_conversation ON responses (org_id, conversation_id);

-- seq numbers an item within its conversation, or within its response when
-- it has no conversation. Uniqueness of (conversation_id, seq) cannot be a
-- constraint that treats NULL conversations alike on both backends, so the
-- appender guarantees it under a lock instead.
CREATE TABLE conversation_items (
    id              TEXT COLLATE "C" PRIMARY KEY,
    org_id          TEXT COLLATE "C" NOT NULL,
    conversation_id TEXT COLLATE "C" NULL,
    response_id     TEXT COLLATE "C" NULL,
    -- 'input' or 'output'.
    kind            TEXT NOT NULL,
    seq             BIGINT NOT NULL,
    created_at      BIGINT NOT NULL,
    -- The item as the API shows it, as JSON.
    body            TEXT NOT NULL
);

CREATE INDEX conversation_items_conversation
    ON conversation_items (org_id, conversation_id, seq);
CREATE INDEX conversation_items_response
    ON conversation_items (org_id, response_id, seq);
