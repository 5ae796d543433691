// Package store keeps the user service's accounts in its SQL database
// (SQLite or PostgreSQL, see platform/sqldb): it owns the users table and its
// migrations, and turns driver errors into the service's sentinel errors.
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
	"time"

	"github.com/tremolo-dev/tremolo/platform/sqldb"
)

// Service is the name the user service's schema versions are recorded under
// (table user_schema_version), keeping them apart from other services that
// share the database.
const Service = "user"

// MaxIDsPerQuery bounds how many ids ByIDs puts in one IN list. Larger
// batches are split into several queries; 500 keeps statements small and far
// below SQLite's and PostgreSQL's parameter limits.
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

var (
	// ErrNotFound is returned when no user has the requested id or name.
	ErrNotFound = errors.New("user not found")
	// ErrNameTaken is returned by Create when another user already has the
	// name, including when a concurrent Create for the same name won.
	ErrNameTaken = errors.New("user name already taken")
)

// User is a stored account.
type User struct {
	// ID is the user's id, issued by platform/ids (positive, < 2^53).
	ID int64
	// Name is the unique sign-in name. Uniqueness is exact (byte-wise):
	// "Alice" and "alice" are different names.
	Name string
	// PasswordHash is the encoded password hash; the store never sees the
	// password.
	PasswordHash string
	// Avatar, BackgroundImage and Signature are profile fields, empty when
	// unset.
	Avatar          string
	BackgroundImage string
	Signature       string
	// CreatedAt is when the account was created. The store keeps it in UTC
	// at microsecond precision (PostgreSQL's), and returns it in UTC.
	CreatedAt time.Time
}

// Store reads and writes users. It is safe for concurrent use.
type Store struct {
	db *sqldb.DB
}

// New migrates db's user schema (idempotent, so it runs on every start) and
// returns a Store over it. The caller keeps ownership of db and closes it.
func New(ctx context.Context, db *sqldb.DB) (*Store, error) {
	if db == nil {
		return nil, errors.New("store: nil database")
	}
	if err := db.Migrate(ctx, Migrations(), Service); err != nil {
		return nil, fmt.Errorf("store: %w", err)
	}
	return &Store{db: db}, nil
}

const columns = "id, name, password_hash, avatar, background_image, signature, created_at"

// Create inserts u. It returns ErrNameTaken if the name is in use; the
// database's unique constraint decides, so concurrent registrations of one
// name yield exactly one success. u.ID must be positive and u.CreatedAt set.
func (s *Store) Create(ctx context.Context, u User) error {
	if u.ID <= 0 {
		return fmt.Errorf("store: creating user %q: id %d is not positive", u.Name, u.ID)
	}
	if u.CreatedAt.IsZero() {
		return fmt.Errorf("store: creating user %q: CreatedAt is not set", u.Name)
	}
	_, err := s.db.ExecContext(ctx,
		"INSERT INTO users ("+columns+") VALUES ($1, $2, $3, $4, $5, $6, $7)",
		u.ID, u.Name, u.PasswordHash, u.Avatar, u.BackgroundImage, u.Signature, normalizeTime(u.CreatedAt))
	if err == nil {
		return nil
	}
	if sqldb.IsUniqueViolation(err) {
		// The violated key is either the name or the id. Telling them
		// apart by constraint name would differ per driver; asking the
		// table does not. The conflicting row is committed by now.
		taken, lookupErr := s.nameExists(ctx, u.Name)
		switch {
		case lookupErr != nil:
			return fmt.Errorf("store: creating user %q: %w (and checking which key clashed failed: %v)", u.Name, err, lookupErr)
		case taken:
			return ErrNameTaken
		default:
			return fmt.Errorf("store: creating user %q: id %d already exists: %w", u.Name, u.ID, err)
		}
	}
	return fmt.Errorf("store: creating user %q: %w", u.Name, err)
}

func (s *Store) nameExists(ctx context.Context, name string) (bool, error) {
	var one int
	err := s.db.QueryRowContext(ctx, "SELECT 1 FROM users WHERE name = $1", name).Scan(&one)
	if errors.Is(err, sql.ErrNoRows) {
		return false, nil
	}
	return err == nil, err
}

// ByName returns the user with exactly this name, or ErrNotFound.
func (s *Store) ByName(ctx context.Context, name string) (User, error) {
	u, err := scanUser(s.db.QueryRowContext(ctx, "SELECT "+columns+" FROM users WHERE name = $1", name))
	if errors.Is(err, sql.ErrNoRows) {
		return User{}, ErrNotFound
	}
	if err != nil {
		return User{}, fmt.Errorf("store: user named %q: %w", name, err)
	}
	return u, nil
}

// ByID returns the user with this id, or ErrNotFound.
func (s *Store) ByID(ctx context.Context, id int64) (User, error) {
	u, err := scanUser(s.db.QueryRowContext(ctx, "SELECT "+columns+" FROM users WHERE id = $1", id))
	if errors.Is(err, sql.ErrNoRows) {
		return User{}, ErrNotFound
	}
	if err != nil {
		return User{}, fmt.Errorf("store: user %d: %w", id, err)
	}
	return u, nil
}

// ByIDs returns the users with the given ids, keyed by id. Ids that do not
// exist are absent from the map (not an error), duplicates are looked up
// once, and an empty ids yields an empty map without a query. Each
// MaxIDsPerQuery ids cost one query.
func (s *Store) ByIDs(ctx context.Context, ids []int64) (map[int64]User, error) {
	unique := slices.Clone(ids)
	slices.Sort(unique)
	unique = slices.Compact(unique)

	out := make(map[int64]User, len(unique))
	for chunk := range slices.Chunk(unique, MaxIDsPerQuery) {
		if err := s.byIDs(ctx, chunk, out); err != nil {
			return nil, err
		}
	}
	return out, nil
}

func (s *Store) byIDs(ctx context.Context, ids []int64, out map[int64]User) (err error) {
	args := make([]any, len(ids))
	for i, id := range ids {
		args[i] = id
	}
	var q strings.Builder
	q.WriteString("SELECT " + columns + " FROM users WHERE id IN (")
	q.WriteString(sqldb.Placeholders(1, len(ids)))
	q.WriteString(")")
	rows, err := s.db.QueryContext(ctx, q.String(), args...)
	if err != nil {
		return fmt.Errorf("store: users by %d ids (%d..%d): %w", len(ids), ids[0], ids[len(ids)-1], err)
	}
	defer func() {
		if closeErr := rows.Close(); closeErr != nil && err == nil {
			err = fmt.Errorf("store: users by ids: closing rows: %w", closeErr)
		}
	}()
	for rows.Next() {
		u, err := scanUser(rows)
		if err != nil {
			return fmt.Errorf("store: users by ids: %w", err)
		}
		out[u.ID] = u
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("store: users by ids: %w", err)
	}
	return nil
}

// scanner is the part of *sql.Row and *sql.Rows scanUser needs.
type scanner interface {
	Scan(dest ...any) error
}

func scanUser(r scanner) (User, error) {
	var u User
	if err := r.Scan(&u.ID, &u.Name, &u.PasswordHash, &u.Avatar, &u.BackgroundImage, &u.Signature, &u.CreatedAt); err != nil {
		return User{}, err
	}
	u.CreatedAt = u.CreatedAt.UTC()
	return u, nil
}

// normalizeTime drops the monotonic reading and sub-microsecond digits and
// converts to UTC, so a time reads back equal on both databases.
func normalizeTime(t time.Time) time.Time {
	return t.UTC().Truncate(time.Microsecond)
}
