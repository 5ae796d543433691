package sqldb_test

import (
	"context"
	"database/sql"
	"fmt"
	"testing/fstest"

	"github.com/tremolo-dev/tremolo/platform/sqldb"
)

// A service opens its database, migrates it, and writes $N-style queries that
// run unchanged on SQLite and PostgreSQL. Real services embed their
// migrations with //go:embed instead of the in-memory FS used here.
func Example() {
	ctx := context.Background()
	migrations := fstest.MapFS{
		"sqlite/0001_notes.sql": {Data: []byte(`-- +goose Up
CREATE TABLE notes (id INTEGER PRIMARY KEY, title TEXT NOT NULL UNIQUE);
-- +goose Down
DROP TABLE notes;
`)},
		"postgres/0001_notes.sql": {Data: []byte(`-- +goose Up
CREATE TABLE notes (id BIGINT PRIMARY KEY, title TEXT NOT NULL UNIQUE);
-- +goose Down
DROP TABLE notes;
`)},
	}

	db, err := sqldb.Open(ctx, "sqlite::memory:")
	if err != nil {
		panic(err)
	}
	defer db.Close()
	if err := db.Migrate(ctx, migrations, "notes"); err != nil {
		panic(err)
	}

	err = sqldb.WithTx(ctx, db, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, "INSERT INTO notes (id, title) VALUES ($1, $2)", 1, "hello")
		return err
	})
	fmt.Println("insert:", err)

	_, err = db.ExecContext(ctx, "INSERT INTO notes (id, title) VALUES ($1, $2)", 2, "hello")
	fmt.Println("duplicate title is a unique violation:", sqldb.IsUniqueViolation(err))

	var title string
	err = db.QueryRowContext(ctx, "SELECT title FROM notes WHERE id = $1", 1).Scan(&title)
	fmt.Println(title, err)
	// Output:
	// insert: <nil>
	// duplicate title is a unique violation: true
	// hello <nil>
}
