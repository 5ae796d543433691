// Package store keeps the relation service's follows in its SQL database
// (SQLite or PostgreSQL, see platform/sqldb).
//
// It owns two tables: relation_follows, one row per (follower, followee) pair
// under a primary key, and relation_stats, each user's follow and follower
// counts. The counters change only in the transaction that inserts or deletes
// a follows row, and only when that statement really inserted or deleted one
// (INSERT ... ON CONFLICT DO NOTHING / DELETE report how many rows they
// touched), so they equal COUNT(*) over the rows at every commit, whatever
// the concurrency: repeated follows and unfollows change nothing, and reading
// a count costs one primary-key lookup instead of counting a popular user's
// followers.
//
// When the store owns its database (sqldb.DB.Owned: a SQLite file), it keeps
// the followees of users who follow few (up to cachedFollowsPerUser) for
// FollowingAmong, which every feed page asks, and forgets them whenever that
// user follows or unfollows. Over PostgreSQL, which replicas share, every
// read goes to the database.
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

	"github.com/tremolo-dev/tremolo/platform/rowcache"
	"github.com/tremolo-dev/tremolo/platform/sqldb"
)

// Service is the name the relation service's schema versions are recorded
// under (table relation_schema_version).
const Service = "relation"

// MaxIDsPerQuery bounds how many ids Stats puts in one IN list; larger
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

// Stats are a user's follow counts, and whether the viewer follows them.
type Stats struct {
	FollowCount   int64
	FollowerCount int64
	IsFollow      bool
}

// Store reads and writes follows. It is safe for concurrent use.
type Store struct {
	db *sqldb.DB
	// followees is, per user, everyone they follow; nil (keeping nothing)
	// unless the store owns its database.
	followees *rowcache.Cache[int64, followeeSet]
}

// followeeSet is everyone a user follows, in increasing id, unless tooMany.
type followeeSet struct {
	ids []int64
	// tooMany says the user follows more than cachedFollowsPerUser: kept so
	// that FollowingAmong does not read their follows in full again each
	// time, only to find them too many.
	tooMany bool
}

const (
	// cachedUsers bounds how many users' followees a store keeps.
	cachedUsers = 10_000
	// cachedFollowsPerUser is the most followees kept for one user (2 KB);
	// FollowingAmong asks the database about users who follow more. At
	// the very worst the cache holds 20 MB.
	cachedFollowsPerUser = 256
)

// New migrates db's relation schema (idempotent, so it runs on every start)
// and returns a Store over it. The caller keeps ownership of db.
func New(ctx context.Context, db *sqldb.DB) (*Store, error) {
	if db == nil {
		return nil, errors.New("store: nil database")
	}
	if err := db.Migrate(ctx, Migrations(), Service); err != nil {
		return nil, fmt.Errorf("store: %w", err)
	}
	st := &Store{db: db}
	if db.Owned() {
		st.followees = rowcache.New[int64, followeeSet](cachedUsers)
	}
	return st, nil
}

// Follow records that follower follows followee since at. It reports whether
// a row was added: following again keeps the first row (and its time) and
// returns false. Both ids must be positive and different; the caller checks
// that followee exists.
func (s *Store) Follow(ctx context.Context, follower, followee int64, at time.Time) (added bool, err error) {
	if err := checkPair(follower, followee); err != nil {
		return false, err
	}
	// Forgotten after every attempt, even a failed one: a commit may have
	// succeeded although the store heard an error.
	defer s.followees.Invalidate(follower)
	err = sqldb.WithTx(ctx, s.db, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx,
			"INSERT INTO relation_follows (follower_id, followee_id, created_at) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING",
			follower, followee, at.UnixMilli())
		if err != nil {
			return err
		}
		if added, err = affected(res); err != nil || !added {
			return err
		}
		return bump(ctx, tx, follower, followee, +1)
	})
	if err != nil {
		return false, fmt.Errorf("store: %d follows %d: %w", follower, followee, err)
	}
	return added, nil
}

// Unfollow removes the follow of followee by follower. It reports whether
// there was one to remove.
func (s *Store) Unfollow(ctx context.Context, follower, followee int64) (removed bool, err error) {
	if err := checkPair(follower, followee); err != nil {
		return false, err
	}
	defer s.followees.Invalidate(follower)
	err = sqldb.WithTx(ctx, s.db, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx,
			"DELETE FROM relation_follows WHERE follower_id = $1 AND followee_id = $2", follower, followee)
		if err != nil {
			return err
		}
		if removed, err = affected(res); err != nil || !removed {
			return err
		}
		return bump(ctx, tx, follower, followee, -1)
	})
	if err != nil {
		return false, fmt.Errorf("store: %d unfollows %d: %w", follower, followee, err)
	}
	return removed, nil
}

func checkPair(follower, followee int64) error {
	if follower <= 0 || followee <= 0 || follower == followee {
		return fmt.Errorf("store: invalid follow %d -> %d: ids must be positive and different", follower, followee)
	}
	return nil
}

func affected(res sql.Result) (bool, error) {
	n, err := res.RowsAffected()
	if err != nil {
		return false, err
	}
	return n == 1, nil
}

// bump adds delta to follower's follow count and followee's follower count.
// The two counter rows are always locked in ascending user id order, so
// concurrent transactions on PostgreSQL (a follows b while b follows a)
// cannot deadlock on them.
func bump(ctx context.Context, tx *sql.Tx, follower, followee, delta int64) error {
	type change struct{ user, follows, followers int64 }
	changes := []change{{follower, delta, 0}, {followee, 0, delta}}
	if followee < follower {
		changes[0], changes[1] = changes[1], changes[0]
	}
	for _, c := range changes {
		var err error
		if delta > 0 {
			_, err = tx.ExecContext(ctx, `INSERT INTO relation_stats (user_id, follow_count, follower_count) VALUES ($1, $2, $3)
ON CONFLICT (user_id) DO UPDATE SET
    follow_count = relation_stats.follow_count + excluded.follow_count,
    follower_count = relation_stats.follower_count + excluded.follower_count`,
				c.user, c.follows, c.followers)
		} else {
			// The row exists: the follow being undone created it. (An
			// upsert would not do here: PostgreSQL checks the CHECK
			// constraints on the proposed negative row before it sees the
			// conflict.) The CHECK constraints fail loudly on drift.
			var res sql.Result
			res, err = tx.ExecContext(ctx,
				"UPDATE relation_stats SET follow_count = follow_count + $2, follower_count = follower_count + $3 WHERE user_id = $1",
				c.user, c.follows, c.followers)
			if err == nil {
				var ok bool
				if ok, err = affected(res); err == nil && !ok {
					err = errors.New("no counter row")
				}
			}
		}
		if err != nil {
			return fmt.Errorf("counters of %d: %w", c.user, err)
		}
	}
	return nil
}

// Following returns the users user follows, most recently followed first.
func (s *Store) Following(ctx context.Context, user int64) ([]int64, error) {
	return s.ids(ctx, "SELECT followee_id FROM relation_follows WHERE follower_id = $1 ORDER BY created_at DESC, followee_id DESC", user)
}

// Followers returns user's followers, most recent first.
func (s *Store) Followers(ctx context.Context, user int64) ([]int64, error) {
	return s.ids(ctx, "SELECT follower_id FROM relation_follows WHERE followee_id = $1 ORDER BY created_at DESC, follower_id DESC", user)
}

// Friends returns the users user follows who follow user back, those who
// became friends most recently (the later of the two follows) first. One
// query: the follows table joined with itself.
func (s *Store) Friends(ctx context.Context, user int64) ([]int64, error) {
	return s.ids(ctx, `SELECT a.followee_id FROM relation_follows a
JOIN relation_follows b ON b.follower_id = a.followee_id AND b.followee_id = a.follower_id
WHERE a.follower_id = $1
ORDER BY CASE WHEN a.created_at > b.created_at THEN a.created_at ELSE b.created_at END DESC, a.followee_id DESC`, user)
}

func (s *Store) ids(ctx context.Context, query string, user int64) (out []int64, err error) {
	rows, err := s.db.QueryContext(ctx, query, user)
	if err != nil {
		return nil, fmt.Errorf("store: relations of %d: %w", user, err)
	}
	defer func() {
		if closeErr := rows.Close(); closeErr != nil && err == nil {
			err = fmt.Errorf("store: relations of %d: closing rows: %w", user, closeErr)
		}
	}()
	out = []int64{}
	for rows.Next() {
		var id int64
		if err := rows.Scan(&id); err != nil {
			return nil, fmt.Errorf("store: relations of %d: %w", user, err)
		}
		out = append(out, id)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("store: relations of %d: %w", user, err)
	}
	return out, nil
}

// Stats returns the counts of every user in users (zero for users without
// follows; duplicates are looked up once) and, when viewer is positive,
// whether viewer follows each of them. Each MaxIDsPerQuery users cost two
// queries: one for the counters, one for the viewer's follows (skipped
// without a viewer).
func (s *Store) Stats(ctx context.Context, users []int64, viewer int64) (map[int64]Stats, error) {
	unique := slices.Clone(users)
	slices.Sort(unique)
	unique = slices.Compact(unique)

	out := make(map[int64]Stats, len(unique))
	for _, id := range unique {
		out[id] = Stats{}
	}
	for chunk := range slices.Chunk(unique, MaxIDsPerQuery) {
		if err := s.counts(ctx, chunk, out); err != nil {
			return nil, err
		}
		if viewer > 0 {
			if err := s.followed(ctx, viewer, chunk, out); err != nil {
				return nil, err
			}
		}
	}
	return out, nil
}

func (s *Store) counts(ctx context.Context, users []int64, out map[int64]Stats) (err error) {
	args := make([]any, len(users))
	for i, id := range users {
		args[i] = id
	}
	rows, err := s.db.QueryContext(ctx,
		"SELECT user_id, follow_count, follower_count FROM relation_stats WHERE user_id IN ("+sqldb.Placeholders(1, len(users))+")", args...)
	if err != nil {
		return fmt.Errorf("store: counts of %d users: %w", len(users), err)
	}
	defer func() {
		if closeErr := rows.Close(); closeErr != nil && err == nil {
			err = fmt.Errorf("store: counts: closing rows: %w", closeErr)
		}
	}()
	for rows.Next() {
		var (
			id int64
			st Stats
		)
		if err := rows.Scan(&id, &st.FollowCount, &st.FollowerCount); err != nil {
			return fmt.Errorf("store: counts: %w", err)
		}
		out[id] = st
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("store: counts: %w", err)
	}
	return nil
}

// FollowingAmong returns which of users the viewer follows, each once. Each
// MaxIDsPerQuery distinct ids cost one query on the primary key, unless the
// store keeps the viewer's followees.
func (s *Store) FollowingAmong(ctx context.Context, viewer int64, users []int64) ([]int64, error) {
	unique := slices.Clone(users)
	slices.Sort(unique)
	unique = slices.Compact(unique)
	if s.followees != nil {
		set, err := s.followeeSet(ctx, viewer)
		if err != nil {
			return nil, err
		}
		if !set.tooMany {
			out := make([]int64, 0, len(set.ids))
			for _, id := range unique {
				if _, ok := slices.BinarySearch(set.ids, id); ok {
					out = append(out, id)
				}
			}
			return out, nil
		}
	}
	found := make(map[int64]Stats, len(unique))
	for chunk := range slices.Chunk(unique, MaxIDsPerQuery) {
		if err := s.followed(ctx, viewer, chunk, found); err != nil {
			return nil, err
		}
	}
	out := make([]int64, 0, len(found))
	for id := range found {
		out = append(out, id)
	}
	return out, nil
}

// followeeSet returns everyone viewer follows, kept or read (and then
// kept).
func (s *Store) followeeSet(ctx context.Context, viewer int64) (followeeSet, error) {
	if set, ok := s.followees.Get(viewer); ok {
		return set, nil
	}
	ticket := s.followees.Ticket()
	ids, err := s.ids(ctx, followeesQuery, viewer)
	if err != nil {
		return followeeSet{}, err
	}
	set := followeeSet{ids: ids, tooMany: len(ids) > cachedFollowsPerUser}
	if set.tooMany {
		set.ids = nil
	}
	s.followees.Add(ticket, viewer, set)
	return set, nil
}

// followeesQuery reads a user's followees in increasing id, one more than
// the most a followeeSet keeps.
var followeesQuery = fmt.Sprintf(
	"SELECT followee_id FROM relation_follows WHERE follower_id = $1 ORDER BY followee_id LIMIT %d", cachedFollowsPerUser+1)

func (s *Store) followed(ctx context.Context, viewer int64, users []int64, out map[int64]Stats) (err error) {
	args := make([]any, 0, len(users)+1)
	args = append(args, viewer)
	for _, id := range users {
		args = append(args, id)
	}
	var q strings.Builder
	q.WriteString("SELECT followee_id FROM relation_follows WHERE follower_id = $1 AND followee_id IN (")
	q.WriteString(sqldb.Placeholders(2, len(users)))
	q.WriteString(")")
	rows, err := s.db.QueryContext(ctx, q.String(), args...)
	if err != nil {
		return fmt.Errorf("store: follows of %d among %d users: %w", viewer, len(users), err)
	}
	defer func() {
		if closeErr := rows.Close(); closeErr != nil && err == nil {
			err = fmt.Errorf("store: follows of %d: closing rows: %w", viewer, closeErr)
		}
	}()
	for rows.Next() {
		var id int64
		if err := rows.Scan(&id); err != nil {
			return fmt.Errorf("store: follows of %d: %w", viewer, err)
		}
		st := out[id]
		st.IsFollow = true
		out[id] = st
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("store: follows of %d: %w", viewer, err)
	}
	return nil
}
