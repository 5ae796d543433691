package pgtest_test

import (
	"context"
	"database/sql"
	"os"
	"testing"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib" // registers the "pgx" database/sql driver

	"github.com/tremolo-dev/tremolo/platform/sqldb/pgtest"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

func openDB(t *testing.T, dsn string) *sql.DB {
	t.Helper()
	db, err := sql.Open("pgx", dsn)
	if err != nil {
		t.Fatalf("sql.Open(%q): %v", dsn, err)
	}
	t.Cleanup(func() {
		if err := db.Close(); err != nil {
			t.Errorf("closing %q: %v", dsn, err)
		}
	})
	return db
}

func TestNewDatabaseIsEmptyAndIsolated(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	srv := pgtest.Shared(t)

	a := openDB(t, srv.NewDatabase(t))
	b := openDB(t, srv.NewDatabase(t))

	if _, err := a.ExecContext(ctx, "CREATE TABLE only_in_a (id int)"); err != nil {
		t.Fatalf("create table in a: %v", err)
	}
	var n int
	if err := b.QueryRowContext(ctx,
		"SELECT count(*) FROM information_schema.tables WHERE table_schema = 'public'").Scan(&n); err != nil {
		t.Fatalf("counting tables in b: %v", err)
	}
	if n != 0 {
		t.Fatalf("fresh database b has %d tables, want 0 (databases must be isolated)", n)
	}

	var dbA, dbB string
	if err := a.QueryRowContext(ctx, "SELECT current_database()").Scan(&dbA); err != nil {
		t.Fatal(err)
	}
	if err := b.QueryRowContext(ctx, "SELECT current_database()").Scan(&dbB); err != nil {
		t.Fatal(err)
	}
	if dbA == dbB {
		t.Fatalf("both DSNs point at database %q", dbA)
	}
}

func TestSharedReturnsTheSameServer(t *testing.T) {
	if pgtest.Shared(t) != pgtest.Shared(t) {
		t.Fatal("Shared returned two different servers in one test binary")
	}
}

func TestDatabaseIsDroppedAfterTheTest(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	srv := pgtest.Shared(t)
	var name string
	t.Run("inner", func(t *testing.T) {
		db := openDB(t, srv.NewDatabase(t))
		if err := db.QueryRowContext(ctx, "SELECT current_database()").Scan(&name); err != nil {
			t.Fatal(err)
		}
		// db is deliberately still open when the database is dropped: the
		// pool is closed by a cleanup registered earlier, which runs later.
	})
	admin := openDB(t, srv.DSN())
	var exists bool
	if err := admin.QueryRowContext(ctx,
		"SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)", name).Scan(&exists); err != nil {
		t.Fatal(err)
	}
	if exists {
		t.Fatalf("database %q still exists after its test ended", name)
	}
}

func TestStartGivesAPrivateServerThatStops(t *testing.T) {
	if os.Getenv(pgtest.EnvDSN) != "" {
		t.Skip("an external server is configured; Start returns it instead of a private one")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var dsn, dataDir string
	t.Run("private", func(t *testing.T) {
		srv := pgtest.Start(t)
		if srv.DSN() == pgtest.Shared(t).DSN() {
			t.Fatal("Start returned the shared server")
		}
		dsn = srv.DSN()
		db := openDB(t, dsn)
		var one int
		if err := db.QueryRowContext(ctx, "SELECT 1").Scan(&one); err != nil {
			t.Fatalf("query on private server: %v", err)
		}
		if err := db.QueryRowContext(ctx, "SHOW data_directory").Scan(&dataDir); err != nil {
			t.Fatal(err)
		}
		if _, err := os.Stat(dataDir); err != nil {
			t.Fatalf("data directory %s not visible to the test: %v", dataDir, err)
		}
	})
	// The private server has been stopped and its files removed.
	db := openDB(t, dsn)
	pingCtx, cancelPing := context.WithTimeout(ctx, 2*time.Second)
	defer cancelPing()
	if err := db.PingContext(pingCtx); err == nil {
		t.Fatal("private server still accepts connections after its test ended")
	}
	if _, err := os.Stat(dataDir); !os.IsNotExist(err) {
		t.Fatalf("data directory %s still present after its test ended (stat err: %v)", dataDir, err)
	}
}
