// Package store keeps the comment service's comments in its SQL database
// (SQLite or PostgreSQL, see platform/sqldb): it owns the comments table and
// its migrations, and turns driver errors into the service's sentinel errors.
//
// Counts are COUNT(*) over the comments of a video, read through the
// (video_id, created_at, id) index in one GROUP BY query per batch: they are
// exact whatever the interleaving of posts and deletes, since there is no
// second copy to keep in step.
package store

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"slices"
	"time"

	"github.com/tremolo-dev/tremolo/platform/sqldb"
)

// Service is the name the comment service's schema versions are recorded
// under (table comment_schema_version).
const Service = "comment"

// MaxIDsPerQuery bounds how many ids one IN list holds; larger batches are
// split into several queries.
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
	// ErrNotFound is returned when no comment has the id (on the video, when
	// one is given).
	ErrNotFound = errors.New("comment not found")
	// ErrNotAuthor is returned by Delete when the comment is someone else's.
	ErrNotAuthor = errors.New("not the comment's author")
)

// Comment is a stored comment.
type Comment struct {
	// ID is the comment's id, issued by platform/ids (positive, < 2^53).
	ID      int64
	VideoID int64
	// UserID is the author.
	UserID  int64
	Content string
	// CreatedAt is kept in UTC at microsecond precision and returned in UTC.
	CreatedAt time.Time
}

// Store reads and writes comments. It is safe for concurrent use.
type Store struct {
	db *sqldb.DB
}

// New migrates db's comment schema (idempotent, so it runs on every start)
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

const columns = "id, video_id, user_id, content, created_at"

// Create inserts c and returns it as stored (its time normalised). c's ids
// must be positive and CreatedAt set.
func (s *Store) Create(ctx context.Context, c Comment) (Comment, error) {
	if c.ID <= 0 || c.VideoID <= 0 || c.UserID <= 0 {
		return Comment{}, fmt.Errorf("store: creating comment %d on video %d by %d: ids must be positive", c.ID, c.VideoID, c.UserID)
	}
	if c.CreatedAt.IsZero() {
		return Comment{}, fmt.Errorf("store: creating comment %d: CreatedAt is not set", c.ID)
	}
	c.CreatedAt = normalizeTime(c.CreatedAt)
	if _, err := s.db.ExecContext(ctx,
		"INSERT INTO comments ("+columns+") VALUES ($1, $2, $3, $4, $5)",
		c.ID, c.VideoID, c.UserID, c.Content, c.CreatedAt); err != nil {
		return Comment{}, fmt.Errorf("store: creating comment %d on video %d: %w", c.ID, c.VideoID, err)
	}
	return c, nil
}

// Delete removes comment id if userID wrote it and, when videoID is not 0,
// it is on that video. It returns ErrNotFound when there is no such comment
// (none with the id, or it is on another video, or it was already deleted)
// and ErrNotAuthor when someone else wrote it; nothing is deleted then.
func (s *Store) Delete(ctx context.Context, id, userID, videoID int64) error {
	q := "DELETE FROM comments WHERE id = $1 AND user_id = $2"
	args := []any{id, userID}
	if videoID != 0 {
		q += " AND video_id = $3"
		args = append(args, videoID)
	}
	res, err := s.db.ExecContext(ctx, q, args...)
	if err != nil {
		return fmt.Errorf("store: deleting comment %d: %w", id, err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return fmt.Errorf("store: deleting comment %d: %w", id, err)
	}
	if n > 0 {
		return nil
	}
	// Nothing deleted: say why. A comment that exists but is on another
	// video is reported as missing before its author is compared, so that
	// a wrong video reveals nothing about whose comment it is.
	var author, video int64
	err = s.db.QueryRowContext(ctx, "SELECT user_id, video_id FROM comments WHERE id = $1", id).Scan(&author, &video)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return ErrNotFound
	case err != nil:
		return fmt.Errorf("store: deleting comment %d: looking it up: %w", id, err)
	case videoID != 0 && video != videoID:
		return ErrNotFound
	case author != userID:
		return ErrNotAuthor
	default:
		// Matching, yet not deleted: it cannot exist again after a
		// concurrent delete (ids are never reused), so this is unreachable
		// short of a bug; refuse rather than claim success.
		return fmt.Errorf("store: deleting comment %d: matching row was not deleted", id)
	}
}

// ByID returns one comment, or ErrNotFound.
func (s *Store) ByID(ctx context.Context, id int64) (Comment, error) {
	c, err := scanComment(s.db.QueryRowContext(ctx, "SELECT "+columns+" FROM comments WHERE id = $1", id))
	if errors.Is(err, sql.ErrNoRows) {
		return Comment{}, ErrNotFound
	}
	if err != nil {
		return Comment{}, fmt.Errorf("store: comment %d: %w", id, err)
	}
	return c, nil
}

// ByVideo returns a video's comments, newest first (ties by decreasing id).
// A video without comments, or unknown, has an empty, non-nil list.
func (s *Store) ByVideo(ctx context.Context, videoID int64) (_ []Comment, err error) {
	rows, err := s.db.QueryContext(ctx,
		"SELECT "+columns+" FROM comments WHERE video_id = $1 ORDER BY created_at DESC, id DESC", videoID)
	if err != nil {
		return nil, fmt.Errorf("store: comments of video %d: %w", videoID, err)
	}
	defer func() {
		if cerr := rows.Close(); cerr != nil && err == nil {
			err = fmt.Errorf("store: comments of video %d: closing rows: %w", videoID, cerr)
		}
	}()
	out := []Comment{}
	for rows.Next() {
		c, err := scanComment(rows)
		if err != nil {
			return nil, fmt.Errorf("store: comments of video %d: %w", videoID, err)
		}
		out = append(out, c)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("store: comments of video %d: %w", videoID, err)
	}
	return out, nil
}

// Counts returns the number of comments of every video in videoIDs, zero
// included. Each MaxIDsPerQuery distinct ids cost one GROUP BY query.
func (s *Store) Counts(ctx context.Context, videoIDs []int64) (map[int64]int64, error) {
	ids := slices.Clone(videoIDs)
	slices.Sort(ids)
	ids = slices.Compact(ids)
	out := make(map[int64]int64, len(ids))
	for _, id := range ids {
		out[id] = 0
	}
	for chunk := range slices.Chunk(ids, MaxIDsPerQuery) {
		if err := s.counts(ctx, chunk, out); err != nil {
			return nil, err
		}
	}
	return out, nil
}

func (s *Store) counts(ctx context.Context, ids []int64, out map[int64]int64) (err error) {
	args := make([]any, len(ids))
	for i, id := range ids {
		args[i] = id
	}
	rows, err := s.db.QueryContext(ctx,
		"SELECT video_id, COUNT(*) FROM comments WHERE video_id IN ("+sqldb.Placeholders(1, len(ids))+") GROUP BY video_id",
		args...)
	if err != nil {
		return fmt.Errorf("store: counting comments of %d videos: %w", len(ids), err)
	}
	defer func() {
		if cerr := rows.Close(); cerr != nil && err == nil {
			err = fmt.Errorf("store: counting comments: closing rows: %w", cerr)
		}
	}()
	for rows.Next() {
		var id, n int64
		if err := rows.Scan(&id, &n); err != nil {
			return fmt.Errorf("store: counting comments: %w", err)
		}
		out[id] = n
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("store: counting comments: %w", err)
	}
	return nil
}

// scanner is the part of *sql.Row and *sql.Rows scanComment needs.
type scanner interface {
	Scan(dest ...any) error
}

func scanComment(r scanner) (Comment, error) {
	var c Comment
	if err := r.Scan(&c.ID, &c.VideoID, &c.UserID, &c.Content, &c.CreatedAt); err != nil {
		return Comment{}, err
	}
	c.CreatedAt = c.CreatedAt.UTC()
	return c, nil
}

// normalizeTime drops the monotonic reading and sub-microsecond digits and
// converts to UTC, so a time orders and reads back alike on both databases.
func normalizeTime(t time.Time) time.Time {
	return t.UTC().Truncate(time.Microsecond)
}
