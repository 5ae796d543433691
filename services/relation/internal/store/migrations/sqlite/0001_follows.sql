-- +goose Up
-- A row means follower_id follows followee_id; created_at is Unix
-- milliseconds (an integer, so ordering and comparison are exact on both
-- dialects). The primary key makes following idempotent.
CREATE TABLE relation_follows (
    follower_id INTEGER NOT NULL,
    followee_id INTEGER NOT NULL,
    created_at  INTEGER NOT NULL,
    PRIMARY KEY (follower_id, followee_id)
) WITHOUT ROWID;

-- "whom does X follow, most recent first" and "who follows X, most recent first".
CREATE INDEX relation_follows_following ON relation_follows (follower_id, created_at, followee_id);
CREATE INDEX relation_follows_followers ON relation_follows (followee_id, created_at, follower_id);

-- Counters kept in the same transaction as the follows rows they count.
CREATE TABLE relation_stats (
    user_id        INTEGER PRIMARY KEY,
    follow_count   INTEGER NOT NULL DEFAULT 0 CHECK (follow_count >= 0),
    follower_count INTEGER NOT NULL DEFAULT 0 CHECK (follower_count >= 0)
);

-- +goose Down
DROP TABLE relation_stats;
DROP TABLE relation_follows;
