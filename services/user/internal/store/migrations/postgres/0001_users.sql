-- +goose Up
CREATE TABLE users (
    id               BIGINT      PRIMARY KEY,
    name             TEXT        NOT NULL,
    password_hash    TEXT        NOT NULL,
    avatar           TEXT        NOT NULL DEFAULT '',
    background_image TEXT        NOT NULL DEFAULT '',
    signature        TEXT        NOT NULL DEFAULT '',
    created_at       TIMESTAMPTZ NOT NULL,
    CONSTRAINT users_name_key UNIQUE (name)
);

-- +goose Down
DROP TABLE users;
