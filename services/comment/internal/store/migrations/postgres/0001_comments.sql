-- +goose Up
CREATE TABLE comments (
    id         BIGINT      PRIMARY KEY,
    video_id   BIGINT      NOT NULL,
    user_id    BIGINT      NOT NULL,
    content    TEXT        NOT NULL,
    created_at TIMESTAMPTZ NOT NULL
);
-- List (a video's comments, newest first) and BatchCount (GROUP BY video_id).
CREATE INDEX comments_video_created_idx ON comments (video_id, created_at DESC, id DESC);

-- +goose Down
DROP TABLE comments;
