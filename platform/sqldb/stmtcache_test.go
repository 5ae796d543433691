package sqldb

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"
)

// Queries go through cached prepared statements: the same text is prepared
// once, results stay right, and a query past the cache's bound still runs.
func TestStatementCache(t *testing.T) {
	ctx := context.Background()
	db, err := Open(ctx, "sqlite://"+filepath.Join(t.TempDir(), "c.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := db.ExecContext(ctx, `CREATE TABLE kv (k INTEGER PRIMARY KEY, v TEXT)`); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 3; i++ {
		if _, err := db.ExecContext(ctx, `INSERT INTO kv (k, v) VALUES ($1, $2)`, i, fmt.Sprint("v", i)); err != nil {
			t.Fatal(err)
		}
	}
	if n := len(db.stmts.stmts); n != 2 {
		t.Fatalf("%d statements cached; want 2 (CREATE and one INSERT)", n)
	}
	var v string
	if err := db.QueryRowContext(ctx, `SELECT v FROM kv WHERE k = $1`, 2).Scan(&v); err != nil || v != "v2" {
		t.Fatalf("cached query: %q, %v", v, err)
	}
	for i := 0; i < maxCachedStatements+5; i++ { // distinct texts beyond the bound
		q := fmt.Sprintf(`SELECT COUNT(*) FROM kv WHERE k >= %d`, i)
		var n int
		if err := db.QueryRowContext(ctx, q).Scan(&n); err != nil {
			t.Fatalf("query %d: %v", i, err)
		}
	}
	if n := len(db.stmts.stmts); n > maxCachedStatements {
		t.Fatalf("cache grew to %d", n)
	}
	if _, err := db.QueryContext(ctx, `SELEC nonsense`); err == nil {
		t.Fatal("a malformed query succeeded")
	}
}
