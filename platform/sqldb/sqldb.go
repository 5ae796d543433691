// Package sqldb opens the SQL database a service owns and migrates its schema.
//
// Every service keeps its state in either SQLite (one file, zero set-up: the
// default for development, tests and small deployments) or PostgreSQL (for
// deployments that need several replicas or a managed database). Services
// write one set of queries that runs on both, so this package fixes the
// conventions that make that possible.
//
// # Opening
//
// Open takes a DSN whose scheme picks the database:
//
//	sqlite:///var/lib/tremolo/app.db   absolute path (three slashes)
//	sqlite://data/app.db               path relative to the working directory
//	sqlite::memory:                    private in-memory database (tests)
//	postgres://user:pass@host:5432/db?sslmode=disable   (or postgresql://)
//
// A SQLite file belongs to one process: Open locks "<path>.lock" and fails,
// naming the file, while another process holds it (DB.Owned and owner.go say
// why).
//
// Query parameters on a sqlite DSN are handed to the modernc.org/sqlite
// driver: _pragma values run after this package's own (for example
// ?_pragma=cache_size(-20000)), other keys such as _txlock replace its own.
// A postgres DSN is parsed by pgx, so every libpq-style parameter works.
//
// # Queries: placeholders are $1, $2, ...
//
// Write placeholders PostgreSQL-style, $1, $2, ..., in both dialects. SQLite
// treats $1 as a parameter named "$1", and the modernc driver binds it to the
// first argument, so the same query string works unchanged on both and a
// placeholder may be repeated ($1 ... $1). Do not use ? (PostgreSQL rejects
// it) or :name. Placeholders builds "$3, $4, $5" lists for IN clauses.
//
// Stick to SQL both databases understand: INSERT ... ON CONFLICT, RETURNING,
// LIMIT/OFFSET, CASE and COALESCE all work on both; anything dialect-specific
// belongs in the migrations, which are per dialect.
//
// # Column types
//
//   - ids: INTEGER PRIMARY KEY on SQLite (an alias of the 64-bit rowid),
//     BIGINT PRIMARY KEY on PostgreSQL; scan into int64.
//   - text: TEXT on both.
//   - times: TIMESTAMP on SQLite (stored as UTC text, read back as UTC
//     time.Time), TIMESTAMPTZ on PostgreSQL. PostgreSQL keeps microseconds, so
//     truncate with t.UTC().Truncate(time.Microsecond) before storing if the
//     value is compared after a round trip, and call .UTC() after scanning.
//   - booleans: BOOLEAN on PostgreSQL, INTEGER 0/1 on SQLite; both scan into bool.
//
// # Migrations
//
// Each service embeds its migrations and calls Migrate on start-up. The FS
// handed to Migrate holds one folder per dialect with goose SQL files of the
// same version numbers:
//
//	sqlite/0001_users.sql      postgres/0001_users.sql
//	sqlite/0002_avatars.sql    postgres/0002_avatars.sql
//
// Each file starts with "-- +goose Up" and may have a "-- +goose Down"
// section; see https://pressly.github.io/goose/documentation/annotations/.
// Applied versions are recorded in the table <service>_schema_version, so
// several services can share one database file or PostgreSQL database; the
// service's own tables must then have names that do not collide with other
// services' tables.
//
// # Transactions and SQLite's single writer
//
// SQLite allows one writer at a time. The pool opens every transaction with
// BEGIN IMMEDIATE, which takes the write lock up front: a transaction that
// reads first and writes later can then never fail with an unrecoverable
// "database is locked" upgrade deadlock; it waits (up to the 5 s busy timeout)
// for the lock instead. The price is that transactions serialise, even
// read-only ones, so keep them short and run plain reads on the DB itself,
// where WAL mode lets them proceed in parallel with the writer. Use WithTx for
// transactions, and inside its callback use only the *sql.Tx it is given.
//
// Detect duplicate keys with IsUniqueViolation, whichever the driver.
package sqldb

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/stdlib"
	_ "modernc.org/sqlite" // registers the pure-Go "sqlite" database/sql driver
)

// Dialect names the SQL database behind a DB. Its value is also the name of
// the migration folder Migrate reads for it.
type Dialect string

const (
	// DialectSQLite is SQLite through the pure-Go modernc.org/sqlite driver.
	DialectSQLite Dialect = "sqlite"
	// DialectPostgres is PostgreSQL through pgx's database/sql driver.
	DialectPostgres Dialect = "postgres"
)

// Pool and timeout settings. They are constants because every service should
// behave alike; tune them here, not per service.
const (
	// SQLiteBusyTimeout is how long a statement waits for SQLite's write lock
	// (held by another connection or process) before failing with
	// SQLITE_BUSY.
	SQLiteBusyTimeout = 5 * time.Second
	// sqliteMaxConns bounds the SQLite pool. WAL readers run in parallel,
	// writers queue on the lock anyway, so a few connections are enough and
	// more only add waiters competing in SQLite's (unfair) busy handler.
	sqliteMaxConns = 8
	// postgresMaxConns bounds each service's PostgreSQL pool; the server's
	// default max_connections (100) is shared by all services and replicas.
	postgresMaxConns     = 10
	postgresMaxIdleConns = 5
	postgresConnMaxIdle  = 5 * time.Minute
	postgresConnMaxLife  = 30 * time.Minute
	// pingTimeout bounds the connectivity check in Open, so a service with a
	// wrong host fails fast at start-up instead of hanging.
	pingTimeout = 10 * time.Second
)

// DB is a service's database: the database/sql pool plus the dialect, which
// Migrate uses to pick the migration folder and which queries may consult in
// the rare case they must differ.
type DB struct {
	*sql.DB
	// Dialect is the database behind DB.
	Dialect Dialect

	// stmts caches prepared statements for QueryContext, QueryRowContext
	// and ExecContext (stmtcache.go).
	stmts *stmtCache
	// owned is set when no other process can write the database (owner.go);
	// lock is the file lock that guarantees it for a SQLite file.
	owned bool
	lock  *ownerLock
}

// Owned reports whether this process is the only writer of the database: a
// SQLite file (locked by Open, see owner.go) or an in-memory SQLite. Then a
// store may keep what it read in memory, as long as it forgets it on each of
// its own writes. A PostgreSQL database is never owned: replicas and other
// tools may write to it at any time.
func (db *DB) Owned() bool { return db != nil && db.owned }

// Open opens and pings the database named by dsn (see the package doc for
// the forms). For SQLite it creates the file and its parent directory if
// needed, and configures every pooled connection for WAL, a busy timeout,
// foreign keys and BEGIN IMMEDIATE transactions. The caller must Close the DB.
func Open(ctx context.Context, dsn string) (*DB, error) {
	scheme, _, ok := strings.Cut(dsn, ":")
	if !ok {
		return nil, fmt.Errorf("sqldb: DSN %q has no scheme; want sqlite://PATH, sqlite::memory: or postgres://...", redact(dsn))
	}
	var (
		db      *sql.DB
		dialect Dialect
		lock    *ownerLock
		err     error
	)
	switch strings.ToLower(scheme) {
	case "sqlite":
		db, lock, err = openSQLite(dsn)
		dialect = DialectSQLite
	case "postgres", "postgresql":
		db, err = openPostgres(dsn)
		dialect = DialectPostgres
	default:
		return nil, fmt.Errorf("sqldb: DSN %q has unsupported scheme %q; want sqlite or postgres", redact(dsn), scheme)
	}
	if err != nil {
		return nil, err
	}
	pingCtx, cancel := context.WithTimeout(ctx, pingTimeout)
	defer cancel()
	if err := db.PingContext(pingCtx); err != nil {
		return nil, errors.Join(fmt.Errorf("sqldb: connecting to %s: %w", redact(dsn), err), db.Close(), lock.release())
	}
	return &DB{DB: db, Dialect: dialect, stmts: &stmtCache{stmts: map[string]*sql.Stmt{}},
		owned: dialect == DialectSQLite, lock: lock}, nil
}

// sqliteParams are applied to every connection the pool opens. _pragma
// values run in order, so busy_timeout comes first: switching to WAL needs a
// lock that another connection may briefly hold.
func sqliteParams(memory bool) url.Values {
	v := url.Values{}
	v.Add("_pragma", fmt.Sprintf("busy_timeout(%d)", SQLiteBusyTimeout.Milliseconds()))
	if !memory {
		// WAL: readers do not block the writer or each other. NORMAL
		// synchronous is durable against process crashes and, in WAL mode,
		// only risks the last transactions on power loss, at a fraction
		// of FULL's fsync cost.
		v.Add("_pragma", "journal_mode(WAL)")
		v.Add("_pragma", "synchronous(NORMAL)")
	}
	v.Add("_pragma", "foreign_keys(ON)")
	v.Set("_txlock", "immediate")
	// Write times as "2006-01-02 15:04:05.999999999-07:00" in UTC: sortable
	// text that SQLite's date functions understand, read back as UTC.
	v.Set("_time_format", "sqlite")
	v.Set("_timezone", "UTC")
	return v
}

// openSQLite opens a pool for sqlite://PATH or sqlite::memory:, with the
// owner lock of a file database (nil for memory).
func openSQLite(dsn string) (*sql.DB, *ownerLock, error) {
	rest := dsn[len("sqlite:"):]
	rest, rawQuery, _ := strings.Cut(rest, "?")
	extra, err := url.ParseQuery(rawQuery)
	if err != nil {
		return nil, nil, fmt.Errorf("sqldb: DSN %q has malformed query parameters: %w", dsn, err)
	}

	if rest == ":memory:" {
		params := sqliteParams(true)
		appendValues(params, extra)
		db, err := sql.Open("sqlite", ":memory:?"+params.Encode())
		if err != nil {
			return nil, nil, fmt.Errorf("sqldb: opening in-memory SQLite: %w", err)
		}
		// Every SQLite connection to ":memory:" is a separate database, so
		// the pool must hold exactly one connection, forever. Consequence:
		// everything serialises, and code that uses the DB while holding a
		// transaction blocks until its context ends.
		db.SetMaxOpenConns(1)
		db.SetMaxIdleConns(1)
		db.SetConnMaxLifetime(0)
		db.SetConnMaxIdleTime(0)
		return db, nil, nil
	}

	path, ok := strings.CutPrefix(rest, "//")
	if !ok || path == "" {
		return nil, nil, fmt.Errorf("sqldb: SQLite DSN %q: want sqlite:///absolute/path.db, sqlite://relative/path.db or sqlite::memory:", dsn)
	}
	if path, err = url.PathUnescape(path); err != nil {
		return nil, nil, fmt.Errorf("sqldb: SQLite DSN %q: bad escape in path: %w", dsn, err)
	}
	if strings.ContainsRune(path, '?') {
		return nil, nil, fmt.Errorf("sqldb: SQLite path %q contains '?', which the driver cannot open", path)
	}
	if path, err = filepath.Abs(path); err != nil {
		return nil, nil, fmt.Errorf("sqldb: resolving SQLite path: %w", err)
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o750); err != nil {
		return nil, nil, fmt.Errorf("sqldb: creating directory for SQLite database %s: %w", path, err)
	}
	lock, err := lockOwner(path)
	if err != nil {
		return nil, nil, err
	}
	params := sqliteParams(false)
	appendValues(params, extra)
	// A plain path (not a file: URI) makes the driver strip the query before
	// opening, so only its own underscore parameters are interpreted.
	db, err := sql.Open("sqlite", path+"?"+params.Encode())
	if err != nil {
		return nil, nil, errors.Join(fmt.Errorf("sqldb: opening SQLite database %s: %w", path, err), lock.release())
	}
	db.SetMaxOpenConns(sqliteMaxConns)
	db.SetMaxIdleConns(sqliteMaxConns)
	db.SetConnMaxLifetime(0)
	db.SetConnMaxIdleTime(0)
	return db, lock, nil
}

// appendValues merges a DSN's own query parameters into ours: _pragma values
// run after ours (so a later PRAGMA wins), any other key replaces our value
// (the driver reads only the first).
func appendValues(dst, src url.Values) {
	for k, vs := range src {
		if k == "_pragma" {
			dst[k] = append(dst[k], vs...)
		} else {
			dst[k] = vs
		}
	}
}

// openPostgres opens a pgx-backed pool for a postgres:// URL.
func openPostgres(dsn string) (*sql.DB, error) {
	cfg, err := pgx.ParseConfig(dsn)
	if err != nil {
		// pgx's parse errors already redact the password.
		return nil, fmt.Errorf("sqldb: parsing PostgreSQL DSN: %w", err)
	}
	db := stdlib.OpenDB(*cfg)
	db.SetMaxOpenConns(postgresMaxConns)
	db.SetMaxIdleConns(postgresMaxIdleConns)
	db.SetConnMaxIdleTime(postgresConnMaxIdle)
	db.SetConnMaxLifetime(postgresConnMaxLife)
	return db, nil
}

// redact hides the password of a URL-style DSN in error messages.
func redact(dsn string) string {
	u, err := url.Parse(dsn)
	if err != nil {
		if strings.Contains(dsn, "@") {
			return "<unparsable DSN>" // may hold a password
		}
		return dsn
	}
	return u.Redacted()
}
