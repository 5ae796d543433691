-- +goose Up
-- id is an INTEGER PRIMARY KEY, SQLite's alias for the 64-bit rowid; ids
-- come from platform/ids, never from AUTOINCREMENT. created_at is Unix
-- milliseconds. The trailing id in both indexes breaks ties between videos
-- of the same millisecond, so the order is total and stable.
CREATE TABLE videos (
    id         INTEGER PRIMARY KEY,
    author_id  INTEGER NOT NULL,
    title      TEXT    NOT NULL,
    play_path  TEXT    NOT NULL,
    cover_path TEXT    NOT NULL,
    created_at INTEGER NOT NULL
);
CREATE INDEX videos_author_created ON videos (author_id, created_at DESC, id DESC);
CREATE INDEX videos_created ON videos (created_at DESC, id DESC);

-- +goose Down
DROP TABLE videos;
