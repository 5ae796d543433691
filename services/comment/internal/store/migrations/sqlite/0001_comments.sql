-- +goose Up
-- id is an INTEGER PRIMARY KEY, SQLite's alias for the 64-bit rowid; ids
-- come from platform/ids, never from AUTOINCREMENT.
CREATE TABLE comments (
    id         INTEGER   PRIMARY KEY,
    video_id   INTEGER   NOT NULL,
    user_id    INTEGER   NOT NULL,
    content    TEXT      NOT NULL,
    created_at TIMESTAMP NOT NULL
);
-- List (a video's comments, newest first) and BatchCount (GROUP BY video_id).
CREATE INDEX comments_video_created_idx ON comments (video_id, created_at DESC, id DESC);

-- +goose Down
DROP TABLE comments;
