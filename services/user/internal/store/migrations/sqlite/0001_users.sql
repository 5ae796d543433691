-- +goose Up
-- id is an INTEGER PRIMARY KEY, SQLite's alias for the 64-bit rowid; ids
-- come from platform/ids, never from AUTOINCREMENT.
CREATE TABLE users (
    id               INTEGER PRIMARY KEY,
    name             TEXT      NOT NULL,
    password_hash    TEXT      NOT NULL,
    avatar           TEXT      NOT NULL DEFAULT '',
    background_image TEXT      NOT NULL DEFAULT '',
    signature        TEXT      NOT NULL DEFAULT '',
    created_at       TIMESTAMP NOT NULL,
    CONSTRAINT users_name_key UNIQUE (name)
);

-- +goose Down
DROP TABLE users;
