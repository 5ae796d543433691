// Package store keeps the favorite service's likes in its SQL database
// (SQLite or PostgreSQL, see platform/sqldb).
//
// A like is one row of favorites, keyed by (user_id, video_id): liking twice
// inserts nothing the second time (INSERT ... ON CONFLICT DO NOTHING), and
// unliking deletes the row if there is one. The counts the service reports
// (likes of a video, likes a user gave, likes a user's videos received) are
// counter rows changed in the same transaction as the like they count, and
// only when the like row really was inserted or deleted, so they equal a
// COUNT(*) over favorites however likes and unlikes interleave. Reading a
// batch of counts is then one indexed lookup per id, whatever the video's
// popularity.
//
// When the store owns its database (sqldb.DB.Owned: a SQLite file), it keeps
// the last range of each user's likes LikedAmong read (a feed page's worth)
// and forgets it whenever that user likes or unlikes: the feed asks for the
// same page for every viewer, many times a second. Over PostgreSQL, which
// replicas share, every read goes to the database.
//
// Lock order, which keeps concurrent transactions on PostgreSQL free of
// deadlocks: the favorites row, then the video's counter, then the users'
// counters in increasing user id.
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

	"github.com/tremolo-dev/tremolo/platform/rowcache"
	"github.com/tremolo-dev/tremolo/platform/sqldb"
)

// Service is the name the favorite service's schema versions are recorded
// under (table favorite_schema_version).
const Service = "favorite"

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

// VideoStats are a video's likes, and whether the asking user is among them.
type VideoStats struct {
	FavoriteCount int64
	IsFavorite    bool
}

// UserStats are the likes a user gave and the likes the user's videos
// received.
type UserStats struct {
	FavoriteCount  int64
	TotalFavorited int64
}

// Store reads and writes likes. It is safe for concurrent use.
type Store struct {
	db *sqldb.DB
	// recent is, per user, the likes LikedAmong last read from a range of
	// videos; nil (keeping nothing) unless the store owns its database.
	recent *rowcache.Cache[int64, likedRange]
}

// A store keeps the recent likes of at most cachedUsers users, each entry a
// range of at most cachedLikesPerUser likes (a feed page asks for 30 ids,
// so its range holds fewer than 120): 20 MB at the very worst, a few
// hundred bytes a user in practice.
const (
	cachedUsers        = 20_000
	cachedLikesPerUser = 128
)

// likedRange is every like of one user of a video with an id in [lo, hi],
// in increasing video id.
type likedRange struct {
	lo, hi int64
	liked  []int64
}

// among returns the ids of r.liked that are also in ids (sorted), as a new
// slice: r is shared.
func (r likedRange) among(ids []int64) []int64 {
	var out []int64
	for _, id := range r.liked {
		if _, ok := slices.BinarySearch(ids, id); ok {
			out = append(out, id)
		}
	}
	return out
}

// New migrates db's favorite schema (idempotent, so it runs on every start)
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
		st.recent = rowcache.New[int64, likedRange](cachedUsers)
	}
	return st, nil
}

// Like records that userID likes videoID, whose author is authorID, at the
// time at. It reports whether a like was added: false when userID already
// liked the video (the stored like, its time and the counters are then
// unchanged). All ids must be positive and at set.
func (s *Store) Like(ctx context.Context, userID, videoID, authorID int64, at time.Time) (added bool, err error) {
	if userID <= 0 || videoID <= 0 || authorID <= 0 {
		return false, fmt.Errorf("store: like by %d of video %d (author %d): ids must be positive", userID, videoID, authorID)
	}
	if at.IsZero() {
		return false, fmt.Errorf("store: like by %d of video %d: time not set", userID, videoID)
	}
	// Forgotten after every attempt, even a failed one: a commit may have
	// succeeded although the store heard an error.
	defer s.recent.Invalidate(userID)
	err = sqldb.WithTx(ctx, s.db, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx,
			`INSERT INTO favorites (user_id, video_id, author_id, created_at) VALUES ($1, $2, $3, $4)
			 ON CONFLICT (user_id, video_id) DO NOTHING`,
			userID, videoID, authorID, normalizeTime(at))
		if err != nil {
			return err
		}
		n, err := res.RowsAffected()
		if err != nil {
			return err
		}
		if n == 0 {
			return nil
		}
		added = true
		return count(ctx, tx, userID, videoID, authorID, +1)
	})
	if err != nil {
		return false, fmt.Errorf("store: like by %d of video %d: %w", userID, videoID, err)
	}
	return added, nil
}

// Unlike removes userID's like of videoID and reports whether there was one.
func (s *Store) Unlike(ctx context.Context, userID, videoID int64) (removed bool, err error) {
	defer s.recent.Invalidate(userID)
	err = sqldb.WithTx(ctx, s.db, func(tx *sql.Tx) error {
		var authorID int64
		err := tx.QueryRowContext(ctx,
			"DELETE FROM favorites WHERE user_id = $1 AND video_id = $2 RETURNING author_id",
			userID, videoID).Scan(&authorID)
		if errors.Is(err, sql.ErrNoRows) {
			return nil
		}
		if err != nil {
			return err
		}
		removed = true
		return count(ctx, tx, userID, videoID, authorID, -1)
	})
	if err != nil {
		return false, fmt.Errorf("store: unlike by %d of video %d: %w", userID, videoID, err)
	}
	return removed, nil
}

// count adds delta (+1 or -1) to the counters of a like: the video's likes,
// the liker's likes given, the author's likes received. Users are updated in
// increasing id order (see the package doc); liking one's own video is one
// row changed once.
func count(ctx context.Context, tx *sql.Tx, userID, videoID, authorID, delta int64) error {
	if _, err := tx.ExecContext(ctx,
		`INSERT INTO favorite_video_counts (video_id, favorite_count) VALUES ($1, $2)
		 ON CONFLICT (video_id) DO UPDATE SET favorite_count = favorite_video_counts.favorite_count + excluded.favorite_count`,
		videoID, delta); err != nil {
		return fmt.Errorf("counting video %d: %w", videoID, err)
	}
	type change struct{ user, given, received int64 }
	changes := []change{{userID, delta, 0}, {authorID, 0, delta}}
	switch {
	case userID == authorID:
		changes = []change{{userID, delta, delta}}
	case authorID < userID:
		changes[0], changes[1] = changes[1], changes[0]
	}
	for _, c := range changes {
		if _, err := tx.ExecContext(ctx,
			`INSERT INTO favorite_user_counts (user_id, favorite_count, total_favorited) VALUES ($1, $2, $3)
			 ON CONFLICT (user_id) DO UPDATE SET
			   favorite_count = favorite_user_counts.favorite_count + excluded.favorite_count,
			   total_favorited = favorite_user_counts.total_favorited + excluded.total_favorited`,
			c.user, c.given, c.received); err != nil {
			return fmt.Errorf("counting user %d: %w", c.user, err)
		}
	}
	return nil
}

// Liked returns the videos userID likes, most recent like first (ties, which
// need two likes in one microsecond, by decreasing video id).
func (s *Store) Liked(ctx context.Context, userID int64) (_ []int64, err error) {
	rows, err := s.db.QueryContext(ctx,
		"SELECT video_id FROM favorites WHERE user_id = $1 ORDER BY created_at DESC, video_id DESC", userID)
	if err != nil {
		return nil, fmt.Errorf("store: likes of %d: %w", userID, err)
	}
	defer closeRows(rows, &err)
	out := []int64{}
	for rows.Next() {
		var id int64
		if err := rows.Scan(&id); err != nil {
			return nil, fmt.Errorf("store: likes of %d: %w", userID, err)
		}
		out = append(out, id)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("store: likes of %d: %w", userID, err)
	}
	return out, nil
}

// VideoStats returns the stats of every video in videoIDs (zero for videos
// nobody likes), with IsFavorite telling whether caller likes it; caller 0
// means nobody. Counts and IsFavorite come from one statement, so they agree.
// Each MaxIDsPerQuery distinct ids cost one query.
func (s *Store) VideoStats(ctx context.Context, caller int64, videoIDs []int64) (map[int64]VideoStats, error) {
	ids := unique(videoIDs)
	out := make(map[int64]VideoStats, len(ids))
	for _, id := range ids {
		out[id] = VideoStats{}
	}
	for chunk := range slices.Chunk(ids, MaxIDsPerQuery) {
		err := s.query(ctx,
			`SELECT c.video_id, c.favorite_count, f.user_id IS NOT NULL
			 FROM favorite_video_counts c
			 LEFT JOIN favorites f ON f.user_id = $1 AND f.video_id = c.video_id
			 WHERE c.video_id IN (`+sqldb.Placeholders(2, len(chunk))+`)`,
			append([]any{caller}, args(chunk)...),
			func(rows *sql.Rows) error {
				var id int64
				var st VideoStats
				if err := rows.Scan(&id, &st.FavoriteCount, &st.IsFavorite); err != nil {
					return err
				}
				out[id] = st
				return nil
			})
		if err != nil {
			return nil, fmt.Errorf("store: stats of %d videos: %w", len(chunk), err)
		}
	}
	return out, nil
}

// LikedAmong returns which of videoIDs the user liked, each once.
//
// A page of the feed asks this for 30 videos of neighbouring ids (ids grow
// with time), and a user has liked few of them. So it first reads the user's
// likes between the smallest and largest id, a range of the primary key that
// costs in proportion to the likes it finds (one seek per id would cost 30
// seeks whatever the answer), and falls back to looking up each id when the
// range holds more than a few likes per id asked (ids far apart).
func (s *Store) LikedAmong(ctx context.Context, userID int64, videoIDs []int64) ([]int64, error) {
	ids := unique(videoIDs)
	if len(ids) == 0 {
		return nil, nil
	}
	lo, hi := ids[0], ids[len(ids)-1]
	if r, ok := s.recent.Get(userID); ok && r.lo <= lo && hi <= r.hi {
		return r.among(ids), nil
	}
	ticket := s.recent.Ticket()
	limit := rangeLikesPerID * len(ids)
	var inRange []int64
	err := s.query(ctx,
		"SELECT video_id FROM favorites WHERE user_id = $1 AND video_id BETWEEN $2 AND $3 LIMIT $4",
		[]any{userID, lo, hi, limit},
		func(rows *sql.Rows) error {
			var id int64
			if err := rows.Scan(&id); err != nil {
				return err
			}
			inRange = append(inRange, id)
			return nil
		})
	if err != nil {
		return nil, fmt.Errorf("store: likes of user %d between videos %d and %d: %w", userID, lo, hi, err)
	}
	if len(inRange) < limit { // every like in the range
		slices.Sort(inRange)
		r := likedRange{lo: lo, hi: hi, liked: inRange}
		if len(inRange) <= cachedLikesPerUser {
			s.recent.Add(ticket, userID, r)
		}
		return r.among(ids), nil
	}
	var out []int64
	for chunk := range slices.Chunk(ids, MaxIDsPerQuery) {
		err := s.query(ctx,
			"SELECT video_id FROM favorites WHERE user_id = $1 AND video_id IN ("+sqldb.Placeholders(2, len(chunk))+")",
			append([]any{userID}, args(chunk)...),
			func(rows *sql.Rows) error {
				var id int64
				if err := rows.Scan(&id); err != nil {
					return err
				}
				out = append(out, id)
				return nil
			})
		if err != nil {
			return nil, fmt.Errorf("store: likes of user %d among %d videos: %w", userID, len(chunk), err)
		}
	}
	return out, nil
}

// rangeLikesPerID is how many likes per asked id LikedAmong reads from the
// range before it looks the ids up one by one instead.
const rangeLikesPerID = 4

// UserStats returns the stats of every user in userIDs (zero for users who
// never liked nor were liked). Each MaxIDsPerQuery distinct ids cost one
// query.
func (s *Store) UserStats(ctx context.Context, userIDs []int64) (map[int64]UserStats, error) {
	ids := unique(userIDs)
	out := make(map[int64]UserStats, len(ids))
	for _, id := range ids {
		out[id] = UserStats{}
	}
	for chunk := range slices.Chunk(ids, MaxIDsPerQuery) {
		err := s.query(ctx,
			"SELECT user_id, favorite_count, total_favorited FROM favorite_user_counts WHERE user_id IN ("+
				sqldb.Placeholders(1, len(chunk))+")",
			args(chunk),
			func(rows *sql.Rows) error {
				var id int64
				var st UserStats
				if err := rows.Scan(&id, &st.FavoriteCount, &st.TotalFavorited); err != nil {
					return err
				}
				out[id] = st
				return nil
			})
		if err != nil {
			return nil, fmt.Errorf("store: stats of %d users: %w", len(chunk), err)
		}
	}
	return out, nil
}

func (s *Store) query(ctx context.Context, q string, args []any, scan func(*sql.Rows) error) (err error) {
	rows, err := s.db.QueryContext(ctx, q, args...)
	if err != nil {
		return err
	}
	defer closeRows(rows, &err)
	for rows.Next() {
		if err := scan(rows); err != nil {
			return err
		}
	}
	return rows.Err()
}

func closeRows(rows *sql.Rows, err *error) {
	if cerr := rows.Close(); cerr != nil && *err == nil {
		*err = fmt.Errorf("closing rows: %w", cerr)
	}
}

func unique(ids []int64) []int64 {
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

// normalizeTime drops the monotonic reading and sub-microsecond digits and
// converts to UTC, so a time orders and reads back alike on both databases.
func normalizeTime(t time.Time) time.Time {
	return t.UTC().Truncate(time.Microsecond)
}
