-- +goose Up
-- created_at is Unix milliseconds. The trailing id in both indexes breaks
-- ties between videos of the same millisecond, so the order is total and
-- stable.
CREATE TABLE videos (
    id         BIGINT PRIMARY KEY,
    author_id  BIGINT NOT NULL,
    title      TEXT   NOT NULL,
    play_path  TEXT   NOT NULL,
    cover_path TEXT   NOT NULL,
    created_at BIGINT NOT NULL
);
CREATE INDEX videos_author_created ON videos (author_id, created_at DESC, id DESC);
CREATE INDEX videos_created ON videos (created_at DESC, id DESC);

-- +goose Down
DROP TABLE videos;
