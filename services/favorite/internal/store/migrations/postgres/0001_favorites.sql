-- +goose Up
-- favorites holds one row per (user, video) like; the primary key makes a
-- second like of the same video a no-op (INSERT ... ON CONFLICT DO NOTHING).
-- author_id is the video's author when it was liked, so that likes received
-- are counted without asking the video service.
CREATE TABLE favorites (
    user_id    BIGINT      NOT NULL,
    video_id   BIGINT      NOT NULL,
    author_id  BIGINT      NOT NULL,
    created_at TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (user_id, video_id)
);
-- ListLiked: a user's likes, most recent first.
CREATE INDEX favorites_user_created_idx ON favorites (user_id, created_at DESC, video_id DESC);

-- Counters, changed in the same transaction as the favorites row they count.
CREATE TABLE favorite_video_counts (
    video_id       BIGINT PRIMARY KEY,
    favorite_count BIGINT NOT NULL DEFAULT 0
);

CREATE TABLE favorite_user_counts (
    user_id         BIGINT PRIMARY KEY,
    -- likes the user gave
    favorite_count  BIGINT NOT NULL DEFAULT 0,
    -- likes the user's videos received
    total_favorited BIGINT NOT NULL DEFAULT 0
);

-- +goose Down
DROP TABLE favorite_user_counts;
DROP TABLE favorite_video_counts;
DROP TABLE favorites;
