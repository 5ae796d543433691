// Package store keeps the video service's videos table in its SQL database
// (SQLite or PostgreSQL, see platform/sqldb). It owns the table and its
// migrations; the media files themselves live on disk (see package video).
package store

import (
	"context"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"slices"

	"github.com/tremolo-dev/tremolo/platform/sqldb"
)

// Service is the name the video service's schema versions are recorded
// under (table video_schema_version).
const Service = "video"

// MaxIDsPerQuery bounds how many ids one IN list holds; larger batches are
// split. 500 is the API's batch limit, far below both databases' parameter
// limits.
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

// Video is a stored video.
type Video struct {
	// ID is the video's id, issued by platform/ids (positive, < 2^53).
	ID       int64
	AuthorID int64
	Title    string
	// PlayPath and CoverPath are the files' paths under the media route
	// ("/media/videos/<id>.mp4"); the service derives them from the id.
	PlayPath  string
	CoverPath string
	// CreatedAt is Unix milliseconds.
	CreatedAt int64
}

// Store reads and writes videos. It is safe for concurrent use.
type Store struct {
	db *sqldb.DB
}

// New migrates db's video schema (idempotent, so it runs on every start) and
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

const columns = "id, author_id, title, play_path, cover_path, created_at"

// Create inserts v. v.ID and v.AuthorID must be positive.
func (s *Store) Create(ctx context.Context, v Video) error {
	if v.ID <= 0 || v.AuthorID <= 0 {
		return fmt.Errorf("store: creating video %d of author %d: ids must be positive", v.ID, v.AuthorID)
	}
	_, err := s.db.ExecContext(ctx,
		"INSERT INTO videos ("+columns+") VALUES ($1, $2, $3, $4, $5, $6)",
		v.ID, v.AuthorID, v.Title, v.PlayPath, v.CoverPath, v.CreatedAt)
	if err != nil {
		return fmt.Errorf("store: creating video %d: %w", v.ID, err)
	}
	return nil
}

// ByAuthor returns all of an author's videos, newest first (ties by id,
// highest first). An author without videos yields an empty slice.
func (s *Store) ByAuthor(ctx context.Context, authorID int64) ([]Video, error) {
	out, err := s.query(ctx,
		"SELECT "+columns+" FROM videos WHERE author_id = $1 ORDER BY created_at DESC, id DESC", authorID)
	if err != nil {
		return nil, fmt.Errorf("store: videos of author %d: %w", authorID, err)
	}
	return out, nil
}

// Latest returns up to limit videos created strictly before before (Unix
// milliseconds), newest first (ties by id, highest first).
//
// The app pages with the oldest returned time as the next "before", at
// millisecond precision. So a full page never ends inside a millisecond:
// when the video after the page shares the last video's millisecond, the
// page stops before that millisecond, and the next page starts with all of
// its videos. (A millisecond holding more than a whole page cannot be split
// this way; it is returned as it is.)
func (s *Store) Latest(ctx context.Context, before int64, limit int) ([]Video, error) {
	if limit <= 0 {
		return []Video{}, nil
	}
	out, err := s.query(ctx,
		"SELECT "+columns+" FROM videos WHERE created_at < $1 ORDER BY created_at DESC, id DESC LIMIT $2", before, limit+1)
	if err != nil {
		return nil, fmt.Errorf("store: %d latest videos before %d: %w", limit, before, err)
	}
	if len(out) <= limit {
		return out, nil
	}
	next, page := out[limit], out[:limit]
	if next.CreatedAt != page[limit-1].CreatedAt {
		return page, nil
	}
	cut := limit
	for cut > 0 && page[cut-1].CreatedAt == next.CreatedAt {
		cut--
	}
	if cut == 0 {
		return page, nil
	}
	return page[:cut], nil
}

// ByIDs returns the videos with the given ids, keyed by id. Missing ids are
// absent (not an error), duplicates are looked up once, and no ids means no
// query. Each MaxIDsPerQuery ids cost one query.
func (s *Store) ByIDs(ctx context.Context, ids []int64) (map[int64]Video, error) {
	unique := uniq(ids)
	out := make(map[int64]Video, len(unique))
	for chunk := range slices.Chunk(unique, MaxIDsPerQuery) {
		found, err := s.query(ctx,
			"SELECT "+columns+" FROM videos WHERE id IN ("+sqldb.Placeholders(1, len(chunk))+")", args(chunk)...)
		if err != nil {
			return nil, fmt.Errorf("store: videos by %d ids (%d..%d): %w", len(chunk), chunk[0], chunk[len(chunk)-1], err)
		}
		for _, v := range found {
			out[v.ID] = v
		}
	}
	return out, nil
}

// CountByAuthors returns how many videos each author has, with one GROUP BY
// query per MaxIDsPerQuery authors. Authors without videos are absent.
func (s *Store) CountByAuthors(ctx context.Context, authorIDs []int64) (map[int64]int64, error) {
	unique := uniq(authorIDs)
	out := make(map[int64]int64, len(unique))
	for chunk := range slices.Chunk(unique, MaxIDsPerQuery) {
		if err := s.count(ctx, chunk, out); err != nil {
			return nil, err
		}
	}
	return out, nil
}

func (s *Store) count(ctx context.Context, authorIDs []int64, out map[int64]int64) (err error) {
	rows, err := s.db.QueryContext(ctx,
		"SELECT author_id, COUNT(*) FROM videos WHERE author_id IN ("+sqldb.Placeholders(1, len(authorIDs))+") GROUP BY author_id",
		args(authorIDs)...)
	if err != nil {
		return fmt.Errorf("store: counting videos of %d authors: %w", len(authorIDs), err)
	}
	defer func() {
		if cerr := rows.Close(); cerr != nil && err == nil {
			err = fmt.Errorf("store: counting videos: closing rows: %w", cerr)
		}
	}()
	for rows.Next() {
		var author, n int64
		if err := rows.Scan(&author, &n); err != nil {
			return fmt.Errorf("store: counting videos: %w", err)
		}
		out[author] = n
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("store: counting videos: %w", err)
	}
	return nil
}

func (s *Store) query(ctx context.Context, q string, args ...any) (_ []Video, err error) {
	rows, err := s.db.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, err
	}
	defer func() {
		if cerr := rows.Close(); cerr != nil && err == nil {
			err = fmt.Errorf("closing rows: %w", cerr)
		}
	}()
	out := []Video{}
	for rows.Next() {
		var v Video
		if err := rows.Scan(&v.ID, &v.AuthorID, &v.Title, &v.PlayPath, &v.CoverPath, &v.CreatedAt); err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	return out, rows.Err()
}

func uniq(ids []int64) []int64 {
	out := slices.Clone(ids)
	slices.Sort(out)
	return slices.Compact(out)
}

func args(ids []int64) []any {
	out := make([]any, len(ids))
	for i, id := range ids {
		out[i] = id
	}
	return out
}
