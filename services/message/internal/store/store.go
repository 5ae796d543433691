// Package store keeps the message service's chats in its SQL database
// (SQLite or PostgreSQL, see platform/sqldb).
//
// It owns two tables: messages, each message under the pair of users it is
// between (smaller id first, so both directions share one index range), and
// message_chats, one row per pair that has exchanged a message, which lets
// Latest probe the newest message of each requested pair with one index seek
// instead of scanning whole histories.
package store

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"slices"
	"strings"

	"github.com/tremolo-dev/tremolo/platform/sqldb"
)

// Service is the name the message service's schema versions are recorded
// under (table message_schema_version).
const Service = "message"

// MaxIDsPerQuery bounds how many peers Latest puts in one query; larger
// batches are split into several queries.
const MaxIDsPerQuery = 500

//go:embed migrations/sqlite/*.sql migrations/postgres/*.sql
var embedded embed.FS

// Migrations returns the store's schema migrations in the layout
// sqldb.DB.Migrate expects (sqlite/ and postgres/ folders).
func Migrations() fs.FS {
	sub, err := fs.Sub(embedded, "migrations")
	if err != nil {
		panic(fmt.Sprintf("store: embedded migrations: %v", err)) // impossible: the path is a constant
	}
	return sub
}

// Message is a stored message.
type Message struct {
	ID       int64
	From, To int64
	Content  string
	// CreatedAt is Unix milliseconds.
	CreatedAt int64
}

// Store reads and writes messages. It is safe for concurrent use.
type Store struct {
	db *sqldb.DB
}

// New migrates db's message schema (idempotent, so it runs on every start)
// and returns a Store over it. The caller keeps ownership of db.
func New(ctx context.Context, db *sqldb.DB) (*Store, error) {
	if db == nil {
		return nil, errors.New("store: nil database")
	}
	if err := db.Migrate(ctx, Migrations(), Service); err != nil {
		return nil, fmt.Errorf("store: %w", err)
	}
	return &Store{db: db}, nil
}

func pair(a, b int64) (lo, hi int64) {
	if a < b {
		return a, b
	}
	return b, a
}

const columns = "id, from_user_id, to_user_id, content, created_at"

// Add stores m. Its id must be new and positive, its users positive and
// different; the caller validates the content.
func (s *Store) Add(ctx context.Context, m Message) error {
	if m.ID <= 0 || m.From <= 0 || m.To <= 0 || m.From == m.To {
		return fmt.Errorf("store: invalid message %d from %d to %d", m.ID, m.From, m.To)
	}
	lo, hi := pair(m.From, m.To)
	err := sqldb.WithTx(ctx, s.db, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx,
			"INSERT INTO message_chats (user_lo, user_hi) VALUES ($1, $2) ON CONFLICT DO NOTHING", lo, hi); err != nil {
			return err
		}
		_, err := tx.ExecContext(ctx,
			"INSERT INTO messages (id, user_lo, user_hi, from_user_id, to_user_id, content, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7)",
			m.ID, lo, hi, m.From, m.To, m.Content, m.CreatedAt)
		return err
	})
	if err != nil {
		return fmt.Errorf("store: adding message %d from %d to %d: %w", m.ID, m.From, m.To, err)
	}
	return nil
}

// HasChat reports whether a and b have exchanged a message.
func (s *Store) HasChat(ctx context.Context, a, b int64) (bool, error) {
	lo, hi := pair(a, b)
	var one int
	err := s.db.QueryRowContext(ctx, "SELECT 1 FROM message_chats WHERE user_lo = $1 AND user_hi = $2", lo, hi).Scan(&one)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return false, nil
	case err != nil:
		return false, fmt.Errorf("store: chat of %d and %d: %w", a, b, err)
	}
	return true, nil
}

// Chat returns the messages between a and b created after after (Unix
// milliseconds; 0 or less for the whole history), ordered by (created_at,
// id), at most limit of them (limit > 0) unless one millisecond holds more.
//
// A millisecond is never split: when the limit falls inside one, its
// messages are left out, so a reader that asks again with after set to the
// last created_at it got misses nothing. If the first millisecond alone holds
// more than limit messages, all of them are returned.
func (s *Store) Chat(ctx context.Context, a, b, after int64, limit int) ([]Message, error) {
	if limit <= 0 {
		return nil, fmt.Errorf("store: chat limit %d is not positive", limit)
	}
	if after < 0 {
		after = 0 // every created_at is positive
	}
	lo, hi := pair(a, b)
	out, err := s.query(ctx, "SELECT "+columns+" FROM messages WHERE user_lo = $1 AND user_hi = $2 AND created_at > $3 ORDER BY created_at, id LIMIT $4",
		lo, hi, after, limit+1)
	if err != nil {
		return nil, fmt.Errorf("store: chat of %d and %d: %w", a, b, err)
	}
	if len(out) <= limit {
		return out, nil
	}
	cut, last := limit, out[limit].CreatedAt
	for cut > 0 && out[cut-1].CreatedAt == last {
		cut--
	}
	if cut > 0 {
		return out[:cut], nil
	}
	out, err = s.query(ctx, "SELECT "+columns+" FROM messages WHERE user_lo = $1 AND user_hi = $2 AND created_at = $3 ORDER BY id",
		lo, hi, last)
	if err != nil {
		return nil, fmt.Errorf("store: chat of %d and %d at %d: %w", a, b, last, err)
	}
	return out, nil
}

// Latest returns, for each of peers that has exchanged a message with me,
// the latest message between them (by created_at, then id), keyed by peer.
// Peers without messages, and me itself, are absent. Each MaxIDsPerQuery
// peers cost one query.
func (s *Store) Latest(ctx context.Context, me int64, peers []int64) (map[int64]Message, error) {
	unique := slices.Clone(peers)
	slices.Sort(unique)
	unique = slices.Compact(unique)
	out := make(map[int64]Message, len(unique))
	for chunk := range slices.Chunk(unique, MaxIDsPerQuery) {
		if err := s.latest(ctx, me, chunk, out); err != nil {
			return nil, err
		}
	}
	return out, nil
}

func (s *Store) latest(ctx context.Context, me int64, peers []int64, out map[int64]Message) error {
	// Peers above me are user_hi of chats whose user_lo is me, peers below
	// are user_lo of chats whose user_hi is me: one index range each.
	var below, above []int64
	for _, p := range peers {
		switch {
		case p < me:
			below = append(below, p)
		case p > me:
			above = append(above, p)
		}
	}
	const newest = ` JOIN messages m ON m.id = (
    SELECT n.id FROM messages n WHERE n.user_lo = c.user_lo AND n.user_hi = c.user_hi
    ORDER BY n.created_at DESC, n.id DESC LIMIT 1)`
	args := []any{me}
	var parts []string
	if len(above) > 0 {
		parts = append(parts, "SELECT m.id, m.from_user_id, m.to_user_id, m.content, m.created_at FROM message_chats c"+newest+
			" WHERE c.user_lo = $1 AND c.user_hi IN ("+sqldb.Placeholders(len(args)+1, len(above))+")")
		for _, p := range above {
			args = append(args, p)
		}
	}
	if len(below) > 0 {
		parts = append(parts, "SELECT m.id, m.from_user_id, m.to_user_id, m.content, m.created_at FROM message_chats c"+newest+
			" WHERE c.user_hi = $1 AND c.user_lo IN ("+sqldb.Placeholders(len(args)+1, len(below))+")")
		for _, p := range below {
			args = append(args, p)
		}
	}
	if len(parts) == 0 {
		return nil
	}
	msgs, err := s.query(ctx, strings.Join(parts, "\nUNION ALL\n"), args...)
	if err != nil {
		return fmt.Errorf("store: latest messages of %d with %d peers: %w", me, len(peers), err)
	}
	for _, m := range msgs {
		peer := m.From
		if peer == me {
			peer = m.To
		}
		out[peer] = m
	}
	return nil
}

func (s *Store) query(ctx context.Context, query string, args ...any) (out []Message, err error) {
	rows, err := s.db.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	defer func() {
		if closeErr := rows.Close(); closeErr != nil && err == nil {
			err = fmt.Errorf("closing rows: %w", closeErr)
		}
	}()
	out = []Message{}
	for rows.Next() {
		var m Message
		if err := rows.Scan(&m.ID, &m.From, &m.To, &m.Content, &m.CreatedAt); err != nil {
			return nil, err
		}
		out = append(out, m)
	}
	return out, rows.Err()
}
