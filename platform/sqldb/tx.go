package sqldb

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
)

// TxBeginner is what WithTx needs: satisfied by *DB, *sql.DB and *sql.Conn.
type TxBeginner interface {
	BeginTx(ctx context.Context, opts *sql.TxOptions) (*sql.Tx, error)
}

// WithTx runs fn in a transaction and commits it if fn returns nil. If fn
// returns an error or panics, the transaction is rolled back; fn's error is
// returned together with any rollback error (errors.Join), and a panic is
// re-raised after the rollback. Hand-written Begin/Commit/Rollback code tends
// to drop either the rollback error or a panic; this keeps both.
//
// fn must do all its work through tx. On SQLite the transaction holds the
// write lock from the start (see the package doc), so keep fn short and free
// of network calls.
func WithTx(ctx context.Context, db TxBeginner, fn func(tx *sql.Tx) error) (err error) {
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("sqldb: beginning transaction: %w", err)
	}
	committed := false
	defer func() {
		if committed {
			return
		}
		if rbErr := tx.Rollback(); rbErr != nil && !errors.Is(rbErr, sql.ErrTxDone) {
			err = errors.Join(err, fmt.Errorf("sqldb: rolling back transaction: %w", rbErr))
		}
	}()
	if err := fn(tx); err != nil {
		return err
	}
	if err := tx.Commit(); err != nil {
		committed = true // Commit ends the transaction even when it fails.
		return fmt.Errorf("sqldb: committing transaction: %w", err)
	}
	committed = true
	return nil
}
