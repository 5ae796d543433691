package store_test

import (
	"context"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/tremolo-dev/tremolo/platform/sqldb"
	"github.com/tremolo-dev/tremolo/platform/sqldb/pgtest"
	"github.com/tremolo-dev/tremolo/services/favorite/internal/store"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

func testCtx(t *testing.T) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	t.Cleanup(cancel)
	return ctx
}

func openDB(t *testing.T, dsn string) *sqldb.DB {
	t.Helper()
	db, err := sqldb.Open(testCtx(t), dsn)
	if err != nil {
		t.Fatalf("sqldb.Open(%q): %v", dsn, err)
	}
	t.Cleanup(func() {
		if err := db.Close(); err != nil {
			t.Errorf("closing database: %v", err)
		}
	})
	return db
}

func newStore(t *testing.T, db *sqldb.DB) *store.Store {
	t.Helper()
	st, err := store.New(testCtx(t), db)
	if err != nil {
		t.Fatalf("store.New: %v", err)
	}
	return st
}

// forEachDialect runs fn against a store on a fresh SQLite file and on a
// fresh database of a real PostgreSQL server; fn also gets the database, to
// check the counters against the rows.
func forEachDialect(t *testing.T, fn func(t *testing.T, st *store.Store, db *sqldb.DB)) {
	t.Run("sqlite", func(t *testing.T) {
		db := openDB(t, "sqlite://"+filepath.Join(t.TempDir(), "favorite.db"))
		fn(t, newStore(t, db), db)
	})
	t.Run("postgres", func(t *testing.T) {
		db := openDB(t, pgtest.Shared(t).NewDatabase(t))
		fn(t, newStore(t, db), db)
	})
}

var t0 = time.Date(2025, 6, 1, 12, 0, 0, 123456789, time.FixedZone("X", 8*60*60))

func like(t *testing.T, st *store.Store, user, video, author int64, at time.Time, wantAdded bool) {
	t.Helper()
	added, err := st.Like(testCtx(t), user, video, author, at)
	if err != nil || added != wantAdded {
		t.Fatalf("Like(%d, %d, %d) = %v, %v; want %v", user, video, author, added, err, wantAdded)
	}
}

func unlike(t *testing.T, st *store.Store, user, video int64, wantRemoved bool) {
	t.Helper()
	removed, err := st.Unlike(testCtx(t), user, video)
	if err != nil || removed != wantRemoved {
		t.Fatalf("Unlike(%d, %d) = %v, %v; want %v", user, video, removed, err, wantRemoved)
	}
}

// checkCounters fails unless every counter equals the COUNT(*) of the rows
// it counts.
func checkCounters(t *testing.T, db *sqldb.DB) {
	t.Helper()
	ctx := testCtx(t)
	queries := map[string]string{
		"video counts": `SELECT COUNT(*) FROM (
			SELECT COALESCE(c.video_id, f.video_id) AS id, COALESCE(c.favorite_count, 0) AS stored, COUNT(f.video_id) AS actual
			FROM favorite_video_counts c FULL OUTER JOIN favorites f ON f.video_id = c.video_id
			GROUP BY COALESCE(c.video_id, f.video_id), COALESCE(c.favorite_count, 0)) x WHERE stored <> actual`,
		"likes given": `SELECT COUNT(*) FROM favorite_user_counts c
			WHERE c.favorite_count <> (SELECT COUNT(*) FROM favorites f WHERE f.user_id = c.user_id)`,
		"likes received": `SELECT COUNT(*) FROM favorite_user_counts c
			WHERE c.total_favorited <> (SELECT COUNT(*) FROM favorites f WHERE f.author_id = c.user_id)`,
		"likers without counters": `SELECT COUNT(*) FROM favorites f
			WHERE NOT EXISTS (SELECT 1 FROM favorite_user_counts c WHERE c.user_id = f.user_id)
			   OR NOT EXISTS (SELECT 1 FROM favorite_user_counts c WHERE c.user_id = f.author_id)`,
	}
	for name, q := range queries {
		var bad int
		if err := db.QueryRowContext(ctx, q).Scan(&bad); err != nil {
			t.Fatalf("checking %s: %v", name, err)
		}
		if bad != 0 {
			t.Fatalf("%d %s differ from the rows", bad, name)
		}
	}
}

func TestLikeUnlikeAndCounts(t *testing.T) {
	forEachDialect(t, func(t *testing.T, st *store.Store, db *sqldb.DB) {
		ctx := testCtx(t)
		// Author 100 owns videos 1 and 2, author 200 owns video 3.
		like(t, st, 10, 1, 100, t0, true)
		like(t, st, 10, 1, 100, t0.Add(time.Hour), false) // twice: nothing changes
		like(t, st, 11, 1, 100, t0, true)
		like(t, st, 10, 3, 200, t0, true)
		like(t, st, 100, 2, 100, t0, true) // the author likes their own video
		checkCounters(t, db)

		vs, err := st.VideoStats(ctx, 10, []int64{3, 1, 2, 404, 1})
		if err != nil {
			t.Fatal(err)
		}
		want := map[int64]store.VideoStats{1: {2, true}, 2: {1, false}, 3: {1, true}, 404: {0, false}}
		if !mapsEqual(vs, want) {
			t.Fatalf("VideoStats = %v, want %v", vs, want)
		}
		vs, err = st.VideoStats(ctx, 0, []int64{1, 2})
		if err != nil || !mapsEqual(vs, map[int64]store.VideoStats{1: {2, false}, 2: {1, false}}) {
			t.Fatalf("VideoStats without a caller = %v, %v", vs, err)
		}

		us, err := st.UserStats(ctx, []int64{10, 11, 100, 200, 999})
		if err != nil {
			t.Fatal(err)
		}
		wantUsers := map[int64]store.UserStats{10: {2, 0}, 11: {1, 0}, 100: {1, 3}, 200: {0, 1}, 999: {0, 0}}
		if !mapsEqual(us, wantUsers) {
			t.Fatalf("UserStats = %v, want %v", us, wantUsers)
		}

		unlike(t, st, 10, 1, true)
		unlike(t, st, 10, 1, false) // twice: nothing changes
		unlike(t, st, 10, 404, false)
		unlike(t, st, 100, 2, true)
		checkCounters(t, db)
		us, _ = st.UserStats(ctx, []int64{10, 100})
		if !mapsEqual(us, map[int64]store.UserStats{10: {1, 0}, 100: {0, 1}}) {
			t.Fatalf("UserStats after unlikes = %v", us)
		}
		vs, _ = st.VideoStats(ctx, 10, []int64{1, 2})
		if !mapsEqual(vs, map[int64]store.VideoStats{1: {1, false}, 2: {0, false}}) {
			t.Fatalf("VideoStats after unlikes = %v", vs)
		}

		for _, ids := range [][]int64{nil, {}} {
			if vs, err := st.VideoStats(ctx, 1, ids); err != nil || vs == nil || len(vs) != 0 {
				t.Fatalf("VideoStats(%v) = %#v, %v", ids, vs, err)
			}
			if us, err := st.UserStats(ctx, ids); err != nil || us == nil || len(us) != 0 {
				t.Fatalf("UserStats(%v) = %#v, %v", ids, us, err)
			}
		}
	})
}

func mapsEqual[K comparable, V comparable](a, b map[K]V) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if w, ok := b[k]; !ok || w != v {
			return false
		}
	}
	return true
}

func TestLikedMostRecentFirst(t *testing.T) {
	forEachDialect(t, func(t *testing.T, st *store.Store, _ *sqldb.DB) {
		ctx := testCtx(t)
		// Times across a second boundary and with fractions of different
		// lengths, which SQLite stores as text: ordering must be by time.
		times := []time.Time{
			t0.Add(-time.Microsecond), t0, t0.Add(time.Millisecond), t0.Add(877 * time.Millisecond), t0.Add(time.Second),
		}
		videos := []int64{50, 10, 40, 20, 30}
		for i, v := range videos {
			like(t, st, 7, v, 1, times[i], true)
		}
		like(t, st, 8, 99, 1, t0.Add(time.Hour), true) // someone else's
		got, err := st.Liked(ctx, 7)
		if err != nil {
			t.Fatal(err)
		}
		if want := []int64{30, 20, 40, 10, 50}; !slices.Equal(got, want) {
			t.Fatalf("Liked = %v, want %v", got, want)
		}
		// Unlike and like again: the like is new, so it moves to the front.
		unlike(t, st, 7, 50, true)
		like(t, st, 7, 50, 1, t0.Add(2*time.Second), true)
		got, _ = st.Liked(ctx, 7)
		if want := []int64{50, 30, 20, 40, 10}; !slices.Equal(got, want) {
			t.Fatalf("Liked after re-like = %v, want %v", got, want)
		}
		// Liking again keeps the first time.
		like(t, st, 7, 10, 1, t0.Add(time.Hour), false)
		got, _ = st.Liked(ctx, 7)
		if got[len(got)-1] != 10 {
			t.Fatalf("a repeated like moved the video: %v", got)
		}
		if got, err := st.Liked(ctx, 12345); err != nil || got == nil || len(got) != 0 {
			t.Fatalf("Liked(nobody) = %#v, %v; want an empty, non-nil slice", got, err)
		}
	})
}

// TestConcurrentLikesAndUnlikes hammers a few videos with likes and unlikes
// from many goroutines, some users liking their own videos, then checks every
// counter against the rows and against the count each goroutine's last
// action implies.
func TestConcurrentLikesAndUnlikes(t *testing.T) {
	forEachDialect(t, func(t *testing.T, st *store.Store, db *sqldb.DB) {
		ctx := testCtx(t)
		const (
			workers = 8
			rounds  = 25
		)
		// Video v (1..3) belongs to author v; user w+1 is worker w, so users
		// 1..3 sometimes like their own videos.
		var wg sync.WaitGroup
		errs := make(chan error, workers)
		start := make(chan struct{})
		for w := range workers {
			wg.Go(func() {
				<-start
				user := int64(w + 1)
				for r := range rounds {
					v := int64((w+r)%3 + 1)
					if _, err := st.Like(ctx, user, v, v, time.Now()); err != nil {
						errs <- err
						return
					}
					if (w+r)%4 != 0 {
						if _, err := st.Unlike(ctx, user, v); err != nil {
							errs <- err
							return
						}
					}
				}
			})
		}
		close(start)
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Fatal(err)
		}
		checkCounters(t, db)

		// The expected state: a worker's like of v stands if its last
		// action on v was a like without an unlike.
		wantVideo := map[int64]int64{1: 0, 2: 0, 3: 0}
		for w := range workers {
			last := map[int64]bool{}
			for r := range rounds {
				v := int64((w+r)%3 + 1)
				last[v] = (w+r)%4 == 0
			}
			for v, liked := range last {
				if liked {
					wantVideo[v]++
				}
			}
		}
		vs, err := st.VideoStats(ctx, 0, []int64{1, 2, 3})
		if err != nil {
			t.Fatal(err)
		}
		for v, n := range wantVideo {
			if vs[v].FavoriteCount != n {
				t.Fatalf("video %d has %d likes, want %d (all: %v)", v, vs[v].FavoriteCount, n, vs)
			}
		}
	})
}

// TestConcurrentSameLike races likes and unlikes of one (user, video):
// whatever the interleaving, the count is 0 or 1 and matches the row.
func TestConcurrentSameLike(t *testing.T) {
	forEachDialect(t, func(t *testing.T, st *store.Store, db *sqldb.DB) {
		ctx := testCtx(t)
		var wg sync.WaitGroup
		var mu sync.Mutex
		var firstErr error
		for i := range 8 {
			wg.Go(func() {
				for range 20 {
					var err error
					if i%2 == 0 {
						_, err = st.Like(ctx, 5, 9, 6, time.Now())
					} else {
						_, err = st.Unlike(ctx, 5, 9)
					}
					if err != nil {
						mu.Lock()
						firstErr = err
						mu.Unlock()
						return
					}
				}
			})
		}
		wg.Wait()
		if firstErr != nil {
			t.Fatal(firstErr)
		}
		checkCounters(t, db)
		liked, _ := st.Liked(ctx, 5)
		vs, _ := st.VideoStats(ctx, 5, []int64{9})
		us, _ := st.UserStats(ctx, []int64{5, 6})
		n := int64(len(liked))
		if vs[9].FavoriteCount != n || vs[9].IsFavorite != (n == 1) || us[5].FavoriteCount != n || us[6].TotalFavorited != n {
			t.Fatalf("rows %v but video stats %v, user stats %v", liked, vs, us)
		}
	})
}

func TestLargeBatchesSpanChunks(t *testing.T) {
	forEachDialect(t, func(t *testing.T, st *store.Store, _ *sqldb.DB) {
		ctx := testCtx(t)
		const n = store.MaxIDsPerQuery + 37
		var ids []int64
		for id := int64(1); id <= n; id++ {
			ids = append(ids, id)
		}
		like(t, st, 1, 3, 2, t0, true)
		like(t, st, 1, n, 2, t0, true)
		vs, err := st.VideoStats(ctx, 1, ids)
		if err != nil || len(vs) != n || vs[3] != (store.VideoStats{1, true}) || vs[n] != (store.VideoStats{1, true}) || vs[4] != (store.VideoStats{}) {
			t.Fatalf("VideoStats of %d ids: %d results, %v", n, len(vs), err)
		}
		us, err := st.UserStats(ctx, ids)
		if err != nil || len(us) != n || us[1].FavoriteCount != 2 || us[2].TotalFavorited != 2 {
			t.Fatalf("UserStats of %d ids: %d results, %v", n, len(us), err)
		}
	})
}

func TestLikeRejectsIncompleteLikes(t *testing.T) {
	forEachDialect(t, func(t *testing.T, st *store.Store, db *sqldb.DB) {
		ctx := testCtx(t)
		for _, c := range []struct {
			user, video, author int64
			at                  time.Time
		}{{0, 1, 1, t0}, {1, 0, 1, t0}, {1, 1, -1, t0}, {1, 1, 1, time.Time{}}} {
			if _, err := st.Like(ctx, c.user, c.video, c.author, c.at); err == nil {
				t.Errorf("Like(%+v) succeeded", c)
			}
		}
		var n int
		if err := db.QueryRowContext(ctx, "SELECT COUNT(*) FROM favorites").Scan(&n); err != nil || n != 0 {
			t.Fatalf("rejected likes were stored: %d rows, %v", n, err)
		}
	})
}

func TestSQLiteReopenKeepsLikes(t *testing.T) {
	ctx := testCtx(t)
	dsn := "sqlite://" + filepath.Join(t.TempDir(), "favorite.db")
	db1, err := sqldb.Open(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	st1, err := store.New(ctx, db1)
	if err != nil {
		t.Fatal(err)
	}
	like(t, st1, 1, 2, 3, t0, true)
	if err := db1.Close(); err != nil {
		t.Fatal(err)
	}
	db2 := openDB(t, dsn)
	st2 := newStore(t, db2) // migrates again: a no-op
	if got, err := st2.Liked(ctx, 1); err != nil || !slices.Equal(got, []int64{2}) {
		t.Fatalf("after reopening: %v, %v", got, err)
	}
	if _, err := store.New(ctx, nil); err == nil {
		t.Fatal("store.New(nil) succeeded")
	}
}

// LikedAmong answers from a range of the user's likes when the asked ids
// are neighbours, and id by id when the range holds many more likes than
// ids asked: both ways must give the same answer.
func TestLikedAmong(t *testing.T) {
	forEachDialect(t, func(t *testing.T, st *store.Store, _ *sqldb.DB) {
		const user = 7
		for v := int64(100); v <= 200; v += 2 { // even videos 100..200
			like(t, st, user, v, 1, t0, true)
		}
		like(t, st, 8, 101, 1, t0, true) // someone else's like
		for _, tc := range []struct {
			name string
			ask  []int64
			want []int64
		}{
			{"neighbours", []int64{101, 102, 103, 104, 104}, []int64{102, 104}},
			{"inside the range read before", []int64{102, 103}, []int64{102}},
			{"none liked", []int64{101, 103, 105}, nil},
			{"far apart: 51 likes between 2 ids", []int64{100, 200}, []int64{100, 200}},
			{"far apart, neither liked", []int64{99, 201}, nil},
			{"outside every like", []int64{5000, 5001}, nil},
			{"nothing asked", nil, nil},
		} {
			got, err := st.LikedAmong(testCtx(t), user, tc.ask)
			if err != nil {
				t.Fatalf("%s: LikedAmong: %v", tc.name, err)
			}
			slices.Sort(got)
			if !slices.Equal(got, tc.want) {
				t.Errorf("%s: LikedAmong(%v) = %v, want %v", tc.name, tc.ask, got, tc.want)
			}
		}
	})
}

// A like or unlike shows in the next LikedAmong, however often the same
// page was asked for before (on SQLite the store answers repeated pages from
// memory).
func TestLikedAmongSeesEveryWrite(t *testing.T) {
	forEachDialect(t, func(t *testing.T, st *store.Store, _ *sqldb.DB) {
		const user = 3
		page := []int64{10, 11, 12, 13, 14}
		ask := func(want ...int64) {
			t.Helper()
			for range 3 {
				got, err := st.LikedAmong(testCtx(t), user, page)
				slices.Sort(got)
				if err != nil || !slices.Equal(got, want) {
					t.Fatalf("LikedAmong(%v) = %v, %v; want %v", page, got, err, want)
				}
			}
		}
		ask()
		like(t, st, user, 12, 1, t0, true)
		ask(12)
		like(t, st, 4, 13, 1, t0, true) // another user's like changes nothing
		ask(12)
		like(t, st, user, 14, 1, t0, true)
		ask(12, 14)
		unlike(t, st, user, 12, true)
		ask(14)
		unlike(t, st, user, 12, false)
		ask(14)
	})
}
