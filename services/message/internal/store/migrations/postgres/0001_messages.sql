-- +goose Up
-- user_lo and user_hi are the two users of a chat, smaller id first, so
-- both directions of a conversation share one index range. created_at is
-- Unix milliseconds (an integer: exact comparison and order on both
-- dialects); a chat is ordered by (created_at, id).
CREATE TABLE messages (
    id           BIGINT PRIMARY KEY,
    user_lo      BIGINT NOT NULL,
    user_hi      BIGINT NOT NULL,
    from_user_id BIGINT NOT NULL,
    to_user_id   BIGINT NOT NULL,
    content      TEXT   NOT NULL,
    created_at   BIGINT NOT NULL,
    CHECK (user_lo < user_hi)
);
CREATE INDEX messages_chat ON messages (user_lo, user_hi, created_at, id);

-- One row per pair of users who have exchanged a message: the row source
-- for "latest message with each of these peers" (one index probe per peer).
CREATE TABLE message_chats (
    user_lo BIGINT NOT NULL,
    user_hi BIGINT NOT NULL,
    PRIMARY KEY (user_lo, user_hi)
);
CREATE INDEX message_chats_hi ON message_chats (user_hi, user_lo);

-- +goose Down
DROP TABLE message_chats;
DROP TABLE messages;
