package sqldb

import (
	"errors"

	"github.com/jackc/pgx/v5/pgconn"
	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"
)

// pgUniqueViolation is PostgreSQL's SQLSTATE for unique_violation, raised by
// both UNIQUE and PRIMARY KEY constraints.
const pgUniqueViolation = "23505"

// IsUniqueViolation reports whether err (or an error it wraps) is a
// duplicate-key error from either driver: a UNIQUE or PRIMARY KEY constraint
// failure in SQLite, SQLSTATE 23505 in PostgreSQL. Services map it to their
// own "already exists" errors instead of parsing driver messages.
func IsUniqueViolation(err error) bool {
	if pgErr, ok := errors.AsType[*pgconn.PgError](err); ok {
		return pgErr.Code == pgUniqueViolation
	}
	if sqlErr, ok := errors.AsType[*sqlite.Error](err); ok {
		switch sqlErr.Code() {
		case sqlite3.SQLITE_CONSTRAINT_UNIQUE, sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY:
			return true
		}
	}
	return false
}
