package sqldb_test

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"testing/fstest"
	"time"

	"github.com/tremolo-dev/tremolo/platform/sqldb"
	"github.com/tremolo-dev/tremolo/platform/sqldb/pgtest"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

func testCtx(t *testing.T) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func mustOpen(t *testing.T, dsn string) *sqldb.DB {
	t.Helper()
	db, err := sqldb.Open(testCtx(t), dsn)
	if err != nil {
		t.Fatalf("Open(%q): %v", dsn, err)
	}
	t.Cleanup(func() {
		if err := db.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return db
}

// forEachDialect runs fn against a fresh SQLite file and a fresh database on
// a real PostgreSQL server.
func forEachDialect(t *testing.T, fn func(t *testing.T, db *sqldb.DB)) {
	t.Run("sqlite", func(t *testing.T) {
		fn(t, mustOpen(t, "sqlite://"+filepath.Join(t.TempDir(), "test.db")))
	})
	t.Run("postgres", func(t *testing.T) {
		fn(t, mustOpen(t, pgtest.Shared(t).NewDatabase(t)))
	})
}

func mustExec(t *testing.T, db *sqldb.DB, query string, args ...any) {
	t.Helper()
	if _, err := db.ExecContext(testCtx(t), query, args...); err != nil {
		t.Fatalf("exec %q: %v", query, err)
	}
}

func TestOpenRejectsBadDSNs(t *testing.T) {
	ctx := testCtx(t)
	for _, tc := range []struct{ dsn, wantInErr string }{
		{"mysql://localhost/db", `unsupported scheme "mysql"`},
		{"/var/lib/app.db", "no scheme"},
		{"sqlite:app.db", "want sqlite:///absolute/path.db"},
		{"sqlite://", "want sqlite:///absolute/path.db"},
		{"sqlite:///tmp/x.db?%zz", "malformed query"},
		{"postgres://u:secret@[::1", "PostgreSQL DSN"},
	} {
		db, err := sqldb.Open(ctx, tc.dsn)
		if err == nil {
			db.Close()
			t.Errorf("Open(%q) succeeded, want an error", tc.dsn)
			continue
		}
		if !strings.Contains(err.Error(), tc.wantInErr) {
			t.Errorf("Open(%q) error %q does not mention %q", tc.dsn, err, tc.wantInErr)
		}
		if strings.Contains(err.Error(), "secret") {
			t.Errorf("Open(%q) error leaks the password: %v", tc.dsn, err)
		}
	}
}

func TestOpenPostgresUnreachableFailsWithoutLeakingPassword(t *testing.T) {
	// Port 1 on loopback: nothing listens there, so connecting is refused at once.
	_, err := sqldb.Open(testCtx(t), "postgres://u:secret@127.0.0.1:1/db?connect_timeout=2")
	if err == nil {
		t.Fatal("Open of an unreachable server succeeded")
	}
	if !strings.Contains(err.Error(), "connecting to") || strings.Contains(err.Error(), "secret") {
		t.Fatalf("unexpected error: %v", err)
	}
}

func TestOpenSQLiteCreatesParentDirectoriesAndRelativePaths(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "a", "b", "svc.db")
	db := mustOpen(t, "sqlite://"+path)
	mustExec(t, db, "CREATE TABLE t (x INTEGER)")
	if _, err := os.Stat(path); err != nil {
		t.Fatalf("database file not created at %s: %v", path, err)
	}
	if db.Dialect != sqldb.DialectSQLite {
		t.Fatalf("Dialect = %q, want sqlite", db.Dialect)
	}

	t.Chdir(dir)
	rel := mustOpen(t, "sqlite://rel/dir/r.db")
	mustExec(t, rel, "CREATE TABLE t (x INTEGER)")
	if _, err := os.Stat(filepath.Join(dir, "rel", "dir", "r.db")); err != nil {
		t.Fatalf("relative DSN did not create the file under the working directory: %v", err)
	}
}

// Every pooled connection, not just the first, must carry the settings:
// a connection without busy_timeout or foreign_keys fails only under load.
func TestOpenSQLiteConfiguresEveryPooledConnection(t *testing.T) {
	ctx := testCtx(t)
	db := mustOpen(t, "sqlite://"+filepath.Join(t.TempDir(), "p.db"))

	const n = 4
	conns := make([]*sql.Conn, 0, n)
	for range n {
		c, err := db.Conn(ctx) // held open, so each is a distinct connection
		if err != nil {
			t.Fatalf("Conn: %v", err)
		}
		conns = append(conns, c)
	}
	for i, c := range conns {
		var journal string
		var busy, fk, sync int
		if err := c.QueryRowContext(ctx, "PRAGMA journal_mode").Scan(&journal); err != nil {
			t.Fatal(err)
		}
		if err := c.QueryRowContext(ctx, "PRAGMA busy_timeout").Scan(&busy); err != nil {
			t.Fatal(err)
		}
		if err := c.QueryRowContext(ctx, "PRAGMA foreign_keys").Scan(&fk); err != nil {
			t.Fatal(err)
		}
		if err := c.QueryRowContext(ctx, "PRAGMA synchronous").Scan(&sync); err != nil {
			t.Fatal(err)
		}
		if journal != "wal" || busy != int(sqldb.SQLiteBusyTimeout.Milliseconds()) || fk != 1 || sync != 1 {
			t.Errorf("connection %d: journal_mode=%s busy_timeout=%d foreign_keys=%d synchronous=%d; want wal, %d, 1, 1 (NORMAL)",
				i, journal, busy, fk, sync, sqldb.SQLiteBusyTimeout.Milliseconds())
		}
	}
	for _, c := range conns {
		if err := c.Close(); err != nil {
			t.Fatal(err)
		}
	}
}

func TestOpenSQLiteExtraParametersReachTheDriver(t *testing.T) {
	db := mustOpen(t, "sqlite://"+filepath.Join(t.TempDir(), "x.db")+"?_pragma=cache_size(-1234)")
	var size int
	if err := db.QueryRowContext(testCtx(t), "PRAGMA cache_size").Scan(&size); err != nil {
		t.Fatal(err)
	}
	if size != -1234 {
		t.Fatalf("cache_size = %d, want -1234 from the DSN", size)
	}
}

func TestOpenSQLiteMemoryKeepsDataAcrossStatements(t *testing.T) {
	ctx := testCtx(t)
	db := mustOpen(t, "sqlite::memory:")
	mustExec(t, db, "CREATE TABLE t (x INTEGER)")
	// Concurrent use must all reach the same single database.
	var wg sync.WaitGroup
	for i := range 10 {
		wg.Go(func() {
			if _, err := db.ExecContext(ctx, "INSERT INTO t (x) VALUES ($1)", i); err != nil {
				t.Errorf("insert: %v", err)
			}
		})
	}
	wg.Wait()
	var n int
	if err := db.QueryRowContext(ctx, "SELECT count(*) FROM t").Scan(&n); err != nil {
		t.Fatal(err)
	}
	if n != 10 {
		t.Fatalf("count = %d, want 10", n)
	}
	// A second in-memory DB is a different, empty database.
	other := mustOpen(t, "sqlite::memory:")
	if _, err := other.ExecContext(ctx, "SELECT count(*) FROM t"); err == nil {
		t.Fatal("second in-memory database sees the first one's table")
	}
}

func TestForeignKeysAreEnforced(t *testing.T) {
	forEachDialect(t, func(t *testing.T, db *sqldb.DB) {
		mustExec(t, db, "CREATE TABLE parent (id BIGINT PRIMARY KEY)")
		mustExec(t, db, "CREATE TABLE child (id BIGINT PRIMARY KEY, parent_id BIGINT NOT NULL REFERENCES parent (id))")
		if _, err := db.ExecContext(testCtx(t), "INSERT INTO child (id, parent_id) VALUES (1, 42)"); err == nil {
			t.Fatal("insert referencing a missing parent succeeded; foreign keys are off")
		}
	})
}

func TestDollarPlaceholdersWorkInBothDialects(t *testing.T) {
	forEachDialect(t, func(t *testing.T, db *sqldb.DB) {
		ctx := testCtx(t)
		mustExec(t, db, "CREATE TABLE kv (k TEXT PRIMARY KEY, v TEXT NOT NULL, w TEXT NOT NULL)")
		// $2 before $1 and $1 repeated: binding is by number, not position.
		mustExec(t, db, "INSERT INTO kv (v, k, w) VALUES ($2, $1, $2)", "key", "val")
		var k, v, w string
		if err := db.QueryRowContext(ctx, "SELECT k, v, w FROM kv WHERE k = $1 AND (v = $2 OR v = $2)", "key", "val").Scan(&k, &v, &w); err != nil {
			t.Fatalf("select: %v", err)
		}
		if k != "key" || v != "val" || w != "val" {
			t.Fatalf("got (%q, %q, %q), want (key, val, val)", k, v, w)
		}

		ids := []any{"a", "b", "c"}
		for _, id := range ids {
			mustExec(t, db, "INSERT INTO kv (k, v, w) VALUES ($1, '', '')", id)
		}
		var n int
		q := "SELECT count(*) FROM kv WHERE k IN (" + sqldb.Placeholders(1, len(ids)) + ")"
		if err := db.QueryRowContext(ctx, q, ids...).Scan(&n); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
		if n != 3 {
			t.Fatalf("IN list matched %d rows, want 3", n)
		}
	})
}

func TestPlaceholders(t *testing.T) {
	for _, tc := range []struct {
		first, n int
		want     string
	}{
		{1, 0, ""}, {1, -1, ""}, {1, 1, "$1"}, {3, 3, "$3, $4, $5"},
	} {
		if got := sqldb.Placeholders(tc.first, tc.n); got != tc.want {
			t.Errorf("Placeholders(%d, %d) = %q, want %q", tc.first, tc.n, got, tc.want)
		}
	}
}

func TestTimesRoundTripAsUTC(t *testing.T) {
	forEachDialect(t, func(t *testing.T, db *sqldb.DB) {
		ctx := testCtx(t)
		ts := "TIMESTAMP"
		if db.Dialect == sqldb.DialectPostgres {
			ts = "TIMESTAMPTZ"
		}
		mustExec(t, db, "CREATE TABLE ev (id BIGINT PRIMARY KEY, at "+ts+" NOT NULL)")
		berlin := time.FixedZone("CEST", 2*60*60)
		want := time.Date(2025, 7, 1, 14, 30, 15, 123456000, berlin)
		mustExec(t, db, "INSERT INTO ev (id, at) VALUES ($1, $2)", 1, want)
		var got time.Time
		if err := db.QueryRowContext(ctx, "SELECT at FROM ev WHERE id = $1", 1).Scan(&got); err != nil {
			t.Fatalf("scan: %v", err)
		}
		if !got.Equal(want) {
			t.Fatalf("read back %v, want %v", got, want)
		}
		// Ordering by the column is chronological.
		mustExec(t, db, "INSERT INTO ev (id, at) VALUES ($1, $2)", 2, want.Add(-time.Hour).UTC())
		var first int64
		if err := db.QueryRowContext(ctx, "SELECT id FROM ev ORDER BY at LIMIT 1").Scan(&first); err != nil {
			t.Fatal(err)
		}
		if first != 2 {
			t.Fatalf("ORDER BY at returned id %d first, want 2", first)
		}
	})
}

func TestIsUniqueViolation(t *testing.T) {
	forEachDialect(t, func(t *testing.T, db *sqldb.DB) {
		ctx := testCtx(t)
		mustExec(t, db, "CREATE TABLE u (id BIGINT PRIMARY KEY, name TEXT NOT NULL UNIQUE)")
		mustExec(t, db, "INSERT INTO u (id, name) VALUES (1, 'a')")

		_, err := db.ExecContext(ctx, "INSERT INTO u (id, name) VALUES (2, 'a')")
		if !sqldb.IsUniqueViolation(err) {
			t.Errorf("duplicate UNIQUE column: IsUniqueViolation(%v) = false", err)
		}
		_, err = db.ExecContext(ctx, "INSERT INTO u (id, name) VALUES (1, 'b')")
		if !sqldb.IsUniqueViolation(err) {
			t.Errorf("duplicate PRIMARY KEY: IsUniqueViolation(%v) = false", err)
		}
		if !sqldb.IsUniqueViolation(fmt.Errorf("wrapped: %w", err)) {
			t.Error("IsUniqueViolation does not look through wrapping")
		}
		_, err = db.ExecContext(ctx, "INSERT INTO u (id, name) VALUES (3, NULL)")
		if err == nil || sqldb.IsUniqueViolation(err) {
			t.Errorf("NOT NULL violation: err = %v, IsUniqueViolation = true", err)
		}
		if sqldb.IsUniqueViolation(nil) || sqldb.IsUniqueViolation(errors.New("x")) {
			t.Error("IsUniqueViolation true for nil or a plain error")
		}
	})
}

func count(t *testing.T, db *sqldb.DB, table string) int {
	t.Helper()
	var n int
	if err := db.QueryRowContext(testCtx(t), "SELECT count(*) FROM "+table).Scan(&n); err != nil {
		t.Fatalf("count %s: %v", table, err)
	}
	return n
}

func TestWithTx(t *testing.T) {
	forEachDialect(t, func(t *testing.T, db *sqldb.DB) {
		ctx := testCtx(t)
		mustExec(t, db, "CREATE TABLE t (x BIGINT PRIMARY KEY)")
		insert := func(tx *sql.Tx, x int) error {
			_, err := tx.ExecContext(ctx, "INSERT INTO t (x) VALUES ($1)", x)
			return err
		}

		if err := sqldb.WithTx(ctx, db, func(tx *sql.Tx) error { return insert(tx, 1) }); err != nil {
			t.Fatalf("WithTx: %v", err)
		}
		if n := count(t, db, "t"); n != 1 {
			t.Fatalf("after commit: %d rows, want 1", n)
		}

		boom := errors.New("boom")
		err := sqldb.WithTx(ctx, db, func(tx *sql.Tx) error {
			if err := insert(tx, 2); err != nil {
				return err
			}
			return boom
		})
		if !errors.Is(err, boom) {
			t.Fatalf("WithTx returned %v, want the callback's error", err)
		}
		if n := count(t, db, "t"); n != 1 {
			t.Fatalf("after a failed callback: %d rows, want 1 (rolled back)", n)
		}

		func() {
			defer func() {
				if r := recover(); r != "panic in tx" {
					t.Fatalf("recovered %v, want the callback's panic", r)
				}
			}()
			_ = sqldb.WithTx(ctx, db, func(tx *sql.Tx) error {
				if err := insert(tx, 3); err != nil {
					return err
				}
				panic("panic in tx")
			})
		}()
		if n := count(t, db, "t"); n != 1 {
			t.Fatalf("after a panicking callback: %d rows, want 1 (rolled back)", n)
		}

		// The pool is still usable: nothing leaked a connection or a lock.
		if err := sqldb.WithTx(ctx, db, func(tx *sql.Tx) error { return insert(tx, 4) }); err != nil {
			t.Fatalf("WithTx after rollbacks: %v", err)
		}
	})
}

// With SQLite's default deferred transactions, two transactions that both
// read and then write deadlock, and one fails at once with SQLITE_BUSY
// whatever the busy timeout. BEGIN IMMEDIATE makes them queue instead.
func TestSQLiteReadThenWriteTransactionsDoNotFailUnderContention(t *testing.T) {
	ctx := testCtx(t)
	db := mustOpen(t, "sqlite://"+filepath.Join(t.TempDir(), "c.db"))
	mustExec(t, db, "CREATE TABLE counter (id INTEGER PRIMARY KEY, n INTEGER NOT NULL)")
	mustExec(t, db, "INSERT INTO counter (id, n) VALUES (1, 0)")

	const workers, perWorker = 8, 25
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			for range perWorker {
				err := sqldb.WithTx(ctx, db, func(tx *sql.Tx) error {
					var n int
					if err := tx.QueryRowContext(ctx, "SELECT n FROM counter WHERE id = 1").Scan(&n); err != nil {
						return err
					}
					// Widen the read-to-write window so transactions overlap;
					// without BEGIN IMMEDIATE this fails with SQLITE_BUSY_SNAPSHOT.
					time.Sleep(time.Millisecond)
					_, err := tx.ExecContext(ctx, "UPDATE counter SET n = $1 WHERE id = 1", n+1)
					return err
				})
				if err != nil {
					t.Errorf("increment: %v", err)
					return
				}
			}
		})
	}
	wg.Wait()
	var n int
	if err := db.QueryRowContext(ctx, "SELECT n FROM counter WHERE id = 1").Scan(&n); err != nil {
		t.Fatal(err)
	}
	if n != workers*perWorker {
		t.Fatalf("counter = %d, want %d (lost updates)", n, workers*perWorker)
	}
}

// migrations returns a two-version migration set for both dialects creating
// table <prefix>_items and then adding a column.
func migrations(prefix string) fstest.MapFS {
	fs := fstest.MapFS{}
	for _, d := range []string{"sqlite", "postgres"} {
		fs[d+"/0001_items.sql"] = &fstest.MapFile{Data: []byte(`-- +goose Up
CREATE TABLE ` + prefix + `_items (id BIGINT PRIMARY KEY, name TEXT NOT NULL);

-- +goose Down
DROP TABLE ` + prefix + `_items;
`)}
		fs[d+"/0002_color.sql"] = &fstest.MapFile{Data: []byte(`-- +goose Up
ALTER TABLE ` + prefix + `_items ADD COLUMN color TEXT NOT NULL DEFAULT '';
`)}
	}
	return fs
}

func appliedVersions(t *testing.T, db *sqldb.DB, service string) []int64 {
	t.Helper()
	rows, err := db.QueryContext(testCtx(t),
		"SELECT version_id FROM "+sqldb.VersionTable(service)+" WHERE version_id > 0 ORDER BY version_id")
	if err != nil {
		t.Fatalf("reading %s: %v", sqldb.VersionTable(service), err)
	}
	defer rows.Close()
	var vs []int64
	for rows.Next() {
		var v int64
		if err := rows.Scan(&v); err != nil {
			t.Fatal(err)
		}
		vs = append(vs, v)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return vs
}

func TestMigrateAppliesOnceAndIsIdempotent(t *testing.T) {
	forEachDialect(t, func(t *testing.T, db *sqldb.DB) {
		ctx := testCtx(t)
		if err := db.Migrate(ctx, migrations("shop"), "shop"); err != nil {
			t.Fatalf("first Migrate: %v", err)
		}
		mustExec(t, db, "INSERT INTO shop_items (id, name, color) VALUES (1, 'a', 'red')")
		if err := db.Migrate(ctx, migrations("shop"), "shop"); err != nil {
			t.Fatalf("second Migrate: %v", err)
		}
		if n := count(t, db, "shop_items"); n != 1 {
			t.Fatalf("second Migrate changed data: %d rows, want 1", n)
		}
		if got := appliedVersions(t, db, "shop"); fmt.Sprint(got) != "[1 2]" {
			t.Fatalf("applied versions = %v, want [1 2]", got)
		}

		// A later release adds a migration: only that one runs.
		next := migrations("shop")
		next[string(db.Dialect)+"/0003_size.sql"] = &fstest.MapFile{Data: []byte(
			"-- +goose Up\nALTER TABLE shop_items ADD COLUMN size INTEGER NOT NULL DEFAULT 0;\n")}
		if err := db.Migrate(ctx, next, "shop"); err != nil {
			t.Fatalf("Migrate with a new version: %v", err)
		}
		mustExec(t, db, "UPDATE shop_items SET size = 3 WHERE id = 1")
		if got := appliedVersions(t, db, "shop"); fmt.Sprint(got) != "[1 2 3]" {
			t.Fatalf("applied versions = %v, want [1 2 3]", got)
		}
	})
}

func TestMigrateKeepsServicesApart(t *testing.T) {
	forEachDialect(t, func(t *testing.T, db *sqldb.DB) {
		ctx := testCtx(t)
		if err := db.Migrate(ctx, migrations("a"), "svc_a"); err != nil {
			t.Fatalf("Migrate svc_a: %v", err)
		}
		// svc_b has the same version numbers; it must not be considered
		// already applied.
		if err := db.Migrate(ctx, migrations("b"), "svc_b"); err != nil {
			t.Fatalf("Migrate svc_b: %v", err)
		}
		mustExec(t, db, "INSERT INTO a_items (id, name) VALUES (1, 'x')")
		mustExec(t, db, "INSERT INTO b_items (id, name) VALUES (1, 'x')")
	})
}

func TestMigrateErrors(t *testing.T) {
	forEachDialect(t, func(t *testing.T, db *sqldb.DB) {
		ctx := testCtx(t)
		for _, bad := range []string{"", "User", "1svc", "svc-x", "svc x", "a;drop", strings.Repeat("a", 60)} {
			if err := db.Migrate(ctx, migrations("x"), bad); err == nil || !strings.Contains(err.Error(), "invalid service name") {
				t.Errorf("Migrate(service %q) err = %v, want invalid service name", bad, err)
			}
		}

		onlyOther := fstest.MapFS{"elsewhere/0001_x.sql": &fstest.MapFile{Data: []byte("-- +goose Up\nSELECT 1;\n")}}
		if err := db.Migrate(ctx, onlyOther, "svc"); err == nil || !strings.Contains(err.Error(), "no "+string(db.Dialect)+"/ folder") {
			t.Errorf("Migrate without a dialect folder: err = %v", err)
		}

		empty := fstest.MapFS{string(db.Dialect) + "/README": &fstest.MapFile{Data: []byte("hi")}}
		if err := db.Migrate(ctx, empty, "svc"); err == nil || !strings.Contains(err.Error(), "no migration files") {
			t.Errorf("Migrate with an empty folder: err = %v", err)
		}

		broken := fstest.MapFS{
			string(db.Dialect) + "/0001_ok.sql":     &fstest.MapFile{Data: []byte("-- +goose Up\nCREATE TABLE ok_t (x INTEGER);\n")},
			string(db.Dialect) + "/0002_broken.sql": &fstest.MapFile{Data: []byte("-- +goose Up\nCREATE TABLE broken_t (x INTEGER);\nTHIS IS NOT SQL;\n")},
		}
		err := db.Migrate(ctx, broken, "brk")
		if err == nil || !strings.Contains(err.Error(), "brk") || !strings.Contains(err.Error(), "0002_broken.sql") {
			t.Fatalf("Migrate with a broken migration: err = %v, want it to name the service and the file", err)
		}
		// 0001 stays applied; 0002 was rolled back as a whole.
		if got := appliedVersions(t, db, "brk"); fmt.Sprint(got) != "[1]" {
			t.Fatalf("applied versions after failure = %v, want [1]", got)
		}
		if _, err := db.ExecContext(ctx, "SELECT count(*) FROM broken_t"); err == nil {
			t.Fatal("table from the failed migration exists; its transaction was not rolled back")
		}
	})
}

// Replicas of one service starting together on PostgreSQL must not both run
// a migration.
func TestMigrateConcurrentlyOnPostgres(t *testing.T) {
	dsn := pgtest.Shared(t).NewDatabase(t)
	ctx := testCtx(t)
	const replicas = 4
	dbs := make([]*sqldb.DB, replicas)
	for i := range dbs {
		dbs[i] = mustOpen(t, dsn)
	}
	var wg sync.WaitGroup
	errs := make([]error, replicas)
	for i, db := range dbs {
		wg.Go(func() { errs[i] = db.Migrate(ctx, migrations("conc"), "conc") })
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("replica %d: %v", i, err)
		}
	}
	if got := appliedVersions(t, dbs[0], "conc"); fmt.Sprint(got) != "[1 2]" {
		t.Fatalf("applied versions = %v, want [1 2] exactly once each", got)
	}
}
