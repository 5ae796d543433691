package sqldb

import (
	"context"
	"database/sql"
	"errors"
	"sync"
)

// maxCachedStatements bounds the statement cache. Services have a few dozen
// distinct queries; queries built per call (an IN list of variable length)
// would otherwise grow it without bound, so past the bound they run
// unprepared.
const maxCachedStatements = 512

// stmtCache keeps one prepared statement per query text. Preparing costs
// a parse and plan per call otherwise: about a tenth of the CPU of a feed
// request on SQLite, whose pure-Go parser is slow.
type stmtCache struct {
	mu    sync.RWMutex
	stmts map[string]*sql.Stmt
}

func (db *DB) stmt(ctx context.Context, query string) (*sql.Stmt, error) {
	c := db.stmts
	c.mu.RLock()
	st, ok := c.stmts[query]
	c.mu.RUnlock()
	if ok {
		return st, nil
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if st, ok := c.stmts[query]; ok {
		return st, nil
	}
	if len(c.stmts) >= maxCachedStatements {
		return nil, nil
	}
	st, err := db.DB.PrepareContext(ctx, query)
	if err != nil {
		return nil, err
	}
	c.stmts[query] = st
	return st, nil
}

// QueryContext runs a query through a cached prepared statement.
func (db *DB) QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error) {
	st, err := db.stmt(ctx, query)
	if err != nil || st == nil {
		if err != nil && ctx.Err() == nil {
			return nil, err
		}
		return db.DB.QueryContext(ctx, query, args...)
	}
	return st.QueryContext(ctx, args...)
}

// QueryRowContext runs a single-row query through a cached prepared
// statement.
func (db *DB) QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row {
	st, err := db.stmt(ctx, query)
	if err != nil || st == nil {
		return db.DB.QueryRowContext(ctx, query, args...)
	}
	return st.QueryRowContext(ctx, args...)
}

// ExecContext runs a statement through a cached prepared statement.
func (db *DB) ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error) {
	st, err := db.stmt(ctx, query)
	if err != nil || st == nil {
		if err != nil && ctx.Err() == nil {
			return nil, err
		}
		return db.DB.ExecContext(ctx, query, args...)
	}
	return st.ExecContext(ctx, args...)
}

// Close closes the cached statements and the pool, then gives up the
// ownership of a SQLite file.
func (db *DB) Close() error {
	db.stmts.mu.Lock()
	var errs []error
	for q, st := range db.stmts.stmts {
		errs = append(errs, st.Close())
		delete(db.stmts.stmts, q)
	}
	db.stmts.mu.Unlock()
	errs = append(errs, db.DB.Close())
	if db.lock != nil {
		errs = append(errs, db.lock.release())
		db.lock = nil
	}
	return errors.Join(errs...)
}
