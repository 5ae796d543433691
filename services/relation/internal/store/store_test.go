package store_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/tremolo-dev/tremolo/platform/sqldb"
	"github.com/tremolo-dev/tremolo/platform/sqldb/pgtest"
	"github.com/tremolo-dev/tremolo/services/relation/internal/store"
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
		t.Fatalf("sqldb.Open: %v", err)
	}
	t.Cleanup(func() {
		if err := db.Close(); err != nil {
			t.Errorf("closing database: %v", err)
		}
	})
	return db
}

// forEachDialect runs fn against a store on a fresh SQLite file and on a
// fresh database of a real PostgreSQL server.
func forEachDialect(t *testing.T, fn func(t *testing.T, db *sqldb.DB, st *store.Store)) {
	run := func(t *testing.T, dsn string) {
		db := openDB(t, dsn)
		st, err := store.New(testCtx(t), db)
		if err != nil {
			t.Fatalf("store.New: %v", err)
		}
		fn(t, db, st)
	}
	t.Run("sqlite", func(t *testing.T) { run(t, "sqlite://"+filepath.Join(t.TempDir(), "relation.db")) })
	t.Run("postgres", func(t *testing.T) { run(t, pgtest.Shared(t).NewDatabase(t)) })
}

var t0 = time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)

func at(ms int) time.Time { return t0.Add(time.Duration(ms) * time.Millisecond) }

func follow(t *testing.T, st *store.Store, a, b int64, when time.Time, wantAdded bool) {
	t.Helper()
	added, err := st.Follow(testCtx(t), a, b, when)
	if err != nil || added != wantAdded {
		t.Fatalf("Follow(%d, %d) = %v, %v; want %v", a, b, added, err, wantAdded)
	}
}

func unfollow(t *testing.T, st *store.Store, a, b int64, wantRemoved bool) {
	t.Helper()
	removed, err := st.Unfollow(testCtx(t), a, b)
	if err != nil || removed != wantRemoved {
		t.Fatalf("Unfollow(%d, %d) = %v, %v; want %v", a, b, removed, err, wantRemoved)
	}
}

func wantIDs(t *testing.T, what string, got []int64, err error, want ...int64) {
	t.Helper()
	if want == nil {
		want = []int64{}
	}
	if err != nil || !slices.Equal(got, want) {
		t.Fatalf("%s = %v, %v; want %v", what, got, err, want)
	}
}

func TestListsAndOrder(t *testing.T) {
	forEachDialect(t, func(t *testing.T, _ *sqldb.DB, st *store.Store) {
		ctx := testCtx(t)
		follow(t, st, 1, 2, at(0), true)
		follow(t, st, 1, 3, at(1), true)
		follow(t, st, 1, 4, at(1), true) // same millisecond as 3: higher id first
		follow(t, st, 3, 1, at(5), true)
		follow(t, st, 2, 1, at(7), true)
		follow(t, st, 4, 2, at(8), true)
		follow(t, st, 1, 2, at(9), false) // again: keeps the first time

		got, err := st.Following(ctx, 1)
		wantIDs(t, "Following(1)", got, err, 4, 3, 2)
		got, err = st.Followers(ctx, 1)
		wantIDs(t, "Followers(1)", got, err, 2, 3)
		got, err = st.Followers(ctx, 2)
		wantIDs(t, "Followers(2)", got, err, 4, 1)
		// Friends of 1: 2 (mutual since 7) and 3 (mutual since 5); 4 does not follow back.
		got, err = st.Friends(ctx, 1)
		wantIDs(t, "Friends(1)", got, err, 2, 3)
		got, err = st.Friends(ctx, 3)
		wantIDs(t, "Friends(3)", got, err, 1)
		got, err = st.Friends(ctx, 4)
		wantIDs(t, "Friends(4)", got, err)
		got, err = st.Following(ctx, 99)
		wantIDs(t, "Following(99)", got, err)

		// Unfollowing and following again moves the user to the front.
		unfollow(t, st, 1, 2, true)
		unfollow(t, st, 1, 2, false)
		got, err = st.Friends(ctx, 2)
		wantIDs(t, "Friends(2) after unfollow", got, err)
		follow(t, st, 1, 2, at(20), true)
		got, err = st.Following(ctx, 1)
		wantIDs(t, "Following(1) after re-follow", got, err, 2, 4, 3)
	})
}

func TestStats(t *testing.T) {
	forEachDialect(t, func(t *testing.T, _ *sqldb.DB, st *store.Store) {
		ctx := testCtx(t)
		follow(t, st, 1, 2, at(0), true)
		follow(t, st, 3, 2, at(0), true)
		follow(t, st, 2, 1, at(0), true)
		follow(t, st, 1, 3, at(0), true)
		unfollow(t, st, 1, 3, true)

		got, err := st.Stats(ctx, []int64{2, 1, 3, 77, 2}, 1)
		want := map[int64]store.Stats{
			1:  {FollowCount: 1, FollowerCount: 1, IsFollow: false},
			2:  {FollowCount: 1, FollowerCount: 2, IsFollow: true},
			3:  {FollowCount: 1, FollowerCount: 0, IsFollow: false},
			77: {},
		}
		if err != nil || !mapsEqual(got, want) {
			t.Fatalf("Stats = %v, %v; want %v", got, err, want)
		}
		got, err = st.Stats(ctx, []int64{2}, 0)
		if err != nil || got[2] != (store.Stats{FollowCount: 1, FollowerCount: 2}) {
			t.Fatalf("Stats without viewer = %v, %v", got, err)
		}
		got, err = st.Stats(ctx, nil, 1)
		if err != nil || len(got) != 0 {
			t.Fatalf("Stats(nil) = %v, %v", got, err)
		}
		// More ids than one query holds.
		many := make([]int64, 1200)
		for i := range many {
			many[i] = int64(i + 1)
		}
		got, err = st.Stats(ctx, many, 3)
		if err != nil || len(got) != 1200 || got[2] != (store.Stats{FollowCount: 1, FollowerCount: 2, IsFollow: true}) {
			t.Fatalf("Stats(1200 ids): %d entries, [2] = %v, %v", len(got), got[2], err)
		}
	})
}

func mapsEqual(a, b map[int64]store.Stats) bool {
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

func TestRejectsInvalidPairs(t *testing.T) {
	forEachDialect(t, func(t *testing.T, db *sqldb.DB, st *store.Store) {
		ctx := testCtx(t)
		for _, p := range [][2]int64{{1, 1}, {0, 2}, {2, 0}, {-1, 2}} {
			if _, err := st.Follow(ctx, p[0], p[1], t0); err == nil {
				t.Errorf("Follow(%d, %d) succeeded", p[0], p[1])
			}
			if _, err := st.Unfollow(ctx, p[0], p[1]); err == nil {
				t.Errorf("Unfollow(%d, %d) succeeded", p[0], p[1])
			}
		}
		checkCounters(t, db)
	})
}

// checkCounters asserts that every counter row equals COUNT(*) over the
// follows rows, and that every user with follows has a counter row.
func checkCounters(t *testing.T, db *sqldb.DB) {
	t.Helper()
	rows, err := db.QueryContext(testCtx(t), `
SELECT u.id,
       COALESCE(s.follow_count, 0),   (SELECT COUNT(*) FROM relation_follows f WHERE f.follower_id = u.id),
       COALESCE(s.follower_count, 0), (SELECT COUNT(*) FROM relation_follows f WHERE f.followee_id = u.id)
FROM (SELECT follower_id AS id FROM relation_follows UNION SELECT followee_id FROM relation_follows UNION SELECT user_id FROM relation_stats) u
LEFT JOIN relation_stats s ON s.user_id = u.id`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	for rows.Next() {
		var id, follows, followsRows, followers, followerRows int64
		if err := rows.Scan(&id, &follows, &followsRows, &followers, &followerRows); err != nil {
			t.Fatal(err)
		}
		if follows != followsRows || followers != followerRows {
			t.Errorf("user %d: counters say %d follows, %d followers; rows say %d, %d", id, follows, followers, followsRows, followerRows)
		}
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
}

// TestConcurrentFollowUnfollowKeepsCountersExact storms a few pairs in both
// directions (a follows b while b follows a, which would deadlock on
// PostgreSQL if counter rows were locked in varying order) and checks the
// counters against the rows, and each pair against the last operation.
func TestConcurrentFollowUnfollowKeepsCountersExact(t *testing.T) {
	forEachDialect(t, func(t *testing.T, db *sqldb.DB, st *store.Store) {
		ctx := testCtx(t)
		const workers, ops = 8, 40
		var wg sync.WaitGroup
		errs := make(chan error, workers*ops)
		for w := range workers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				r := rand.New(rand.NewPCG(uint64(w), 7))
				for range ops {
					a, b := int64(1+r.IntN(4)), int64(1+r.IntN(4))
					if a == b {
						b = a%4 + 1
					}
					var err error
					if r.IntN(2) == 0 {
						_, err = st.Follow(ctx, a, b, time.Now())
					} else {
						_, err = st.Unfollow(ctx, a, b)
					}
					if err != nil {
						errs <- err
					}
				}
			}()
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Errorf("concurrent follow/unfollow: %v", err)
		}
		checkCounters(t, db)

		// 8 goroutines following the same user at once: one row, count 1.
		var added sync.Map
		for w := range workers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				ok, err := st.Follow(ctx, 10, 11, time.Now())
				if err != nil {
					t.Errorf("Follow: %v", err)
				}
				added.Store(w, ok)
			}()
		}
		wg.Wait()
		n := 0
		added.Range(func(_, v any) bool {
			if v.(bool) {
				n++
			}
			return true
		})
		got, err := st.Stats(ctx, []int64{11}, 10)
		if err != nil || n != 1 || got[11] != (store.Stats{FollowerCount: 1, IsFollow: true}) {
			t.Fatalf("after 8 concurrent follows: %d added, stats %v, %v", n, got, err)
		}
		checkCounters(t, db)
	})
}

// FollowingAmong answers which of some users a viewer follows: each once,
// whatever the order or repeats of the ids asked.
func TestFollowingAmong(t *testing.T) {
	forEachDialect(t, func(t *testing.T, _ *sqldb.DB, st *store.Store) {
		follow(t, st, 1, 2, at(0), true)
		follow(t, st, 1, 4, at(1), true)
		follow(t, st, 3, 5, at(2), true) // someone else's follow
		got, err := st.FollowingAmong(testCtx(t), 1, []int64{5, 4, 3, 2, 4})
		slices.Sort(got)
		wantIDs(t, "FollowingAmong(1, 5 4 3 2 4)", got, err, 2, 4)
		got, err = st.FollowingAmong(testCtx(t), 2, []int64{1, 3})
		wantIDs(t, "FollowingAmong(2, 1 3)", got, err)
	})
}

// A follow or unfollow shows in the next FollowingAmong, however often it
// was asked before (on SQLite the store answers from memory), for users who
// follow few and for users who follow more than the store keeps.
func TestFollowingAmongSeesEveryWrite(t *testing.T) {
	forEachDialect(t, func(t *testing.T, _ *sqldb.DB, st *store.Store) {
		for _, n := range []int{0, store.CachedFollowsPerUser + 1} {
			viewer := int64(1_000_000 + n)
			for i := range n { // followees 10_000...
				follow(t, st, viewer, int64(10_000+i), at(0), true)
			}
			page := []int64{2, 3, 4}
			ask := func(want ...int64) {
				t.Helper()
				for range 3 {
					got, err := st.FollowingAmong(testCtx(t), viewer, page)
					slices.Sort(got)
					wantIDs(t, fmt.Sprintf("viewer following %d: FollowingAmong(%v)", n, page), got, err, want...)
				}
			}
			ask()
			follow(t, st, viewer, 3, at(1), true)
			ask(3)
			follow(t, st, viewer+1, 4, at(1), true) // someone else's follow changes nothing
			ask(3)
			follow(t, st, viewer, 2, at(2), true)
			ask(2, 3)
			unfollow(t, st, viewer, 3, true)
			ask(2)
			unfollow(t, st, viewer, 3, false)
			ask(2)
		}
	})
}
