package store_test

import (
	"context"
	"errors"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/tremolo-dev/tremolo/platform/sqldb"
	"github.com/tremolo-dev/tremolo/platform/sqldb/pgtest"
	"github.com/tremolo-dev/tremolo/services/comment/internal/store"
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

func forEachDialect(t *testing.T, fn func(t *testing.T, st *store.Store)) {
	t.Run("sqlite", func(t *testing.T) {
		fn(t, newStore(t, openDB(t, "sqlite://"+filepath.Join(t.TempDir(), "comment.db"))))
	})
	t.Run("postgres", func(t *testing.T) {
		fn(t, newStore(t, openDB(t, pgtest.Shared(t).NewDatabase(t))))
	})
}

var t0 = time.Date(2025, 6, 1, 12, 0, 0, 123456789, time.FixedZone("X", 8*60*60))

func mustCreate(t *testing.T, st *store.Store, c store.Comment) store.Comment {
	t.Helper()
	got, err := st.Create(testCtx(t), c)
	if err != nil {
		t.Fatalf("Create(%+v): %v", c, err)
	}
	return got
}

func comment(id, video, user int64, at time.Time) store.Comment {
	return store.Comment{ID: id, VideoID: video, UserID: user, Content: "comment 😀\nline two", CreatedAt: at}
}

func TestCreateListCount(t *testing.T) {
	forEachDialect(t, func(t *testing.T, st *store.Store) {
		ctx := testCtx(t)
		// Times with fractions of different lengths and across a second:
		// SQLite stores them as text, yet order must be by time.
		a := mustCreate(t, st, comment(1, 10, 100, t0.Add(time.Second)))
		b := mustCreate(t, st, comment(2, 10, 101, t0))
		c := mustCreate(t, st, comment(3, 10, 100, t0.Add(877*time.Millisecond)))
		d := mustCreate(t, st, comment(4, 10, 100, t0.Add(877*time.Millisecond))) // same time as c
		mustCreate(t, st, comment(5, 11, 100, t0))

		if a.CreatedAt != t0.Add(time.Second).UTC().Truncate(time.Microsecond) {
			t.Fatalf("Create returned time %v, want the normalised time", a.CreatedAt)
		}
		got, err := st.ByVideo(ctx, 10)
		if err != nil {
			t.Fatal(err)
		}
		want := []store.Comment{a, d, c, b}
		if len(got) != len(want) {
			t.Fatalf("ByVideo = %+v, want %+v", got, want)
		}
		for i := range want {
			if got[i] != want[i] {
				t.Fatalf("ByVideo[%d] = %+v, want %+v", i, got[i], want[i])
			}
		}
		if byID, err := st.ByID(ctx, 2); err != nil || byID != b {
			t.Fatalf("ByID(2) = %+v, %v", byID, err)
		}
		if _, err := st.ByID(ctx, 99); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("ByID(99) err = %v", err)
		}
		if got, err := st.ByVideo(ctx, 404); err != nil || got == nil || len(got) != 0 {
			t.Fatalf("ByVideo(404) = %#v, %v; want empty and non-nil", got, err)
		}

		counts, err := st.Counts(ctx, []int64{11, 10, 404, 10})
		if err != nil {
			t.Fatal(err)
		}
		if len(counts) != 3 || counts[10] != 4 || counts[11] != 1 || counts[404] != 0 {
			t.Fatalf("Counts = %v", counts)
		}
		for _, ids := range [][]int64{nil, {}} {
			if counts, err := st.Counts(ctx, ids); err != nil || counts == nil || len(counts) != 0 {
				t.Fatalf("Counts(%v) = %#v, %v", ids, counts, err)
			}
		}
	})
}

func TestDelete(t *testing.T) {
	forEachDialect(t, func(t *testing.T, st *store.Store) {
		ctx := testCtx(t)
		mustCreate(t, st, comment(1, 10, 100, t0))
		mustCreate(t, st, comment(2, 10, 101, t0))

		cases := []struct {
			id, user, video int64
			want            error
		}{
			{99, 100, 0, store.ErrNotFound}, // no such comment
			{1, 101, 0, store.ErrNotAuthor}, // someone else's
			{1, 101, 11, store.ErrNotFound}, // someone else's, on another video: not found first
			{1, 100, 11, store.ErrNotFound}, // own, but not on that video
			{1, 100, 10, nil},               // own, right video
			{1, 100, 10, store.ErrNotFound}, // twice
			{2, 101, 0, nil},                // own, video not checked
		}
		for _, c := range cases {
			if err := st.Delete(ctx, c.id, c.user, c.video); !errors.Is(err, c.want) || (c.want == nil) != (err == nil) {
				t.Fatalf("Delete(%d, by %d, on %d) = %v, want %v", c.id, c.user, c.video, err, c.want)
			}
		}
		if counts, _ := st.Counts(ctx, []int64{10}); counts[10] != 0 {
			t.Fatalf("after deleting both, count = %d", counts[10])
		}
	})
}

func TestCountsUnderConcurrentPostsAndDeletes(t *testing.T) {
	forEachDialect(t, func(t *testing.T, st *store.Store) {
		ctx := testCtx(t)
		const workers, per = 8, 15
		var wg sync.WaitGroup
		errs := make(chan error, workers)
		for w := range workers {
			wg.Go(func() {
				for i := range per {
					id := int64(w*per + i + 1)
					if _, err := st.Create(ctx, comment(id, 7, int64(w+1), time.Now())); err != nil {
						errs <- err
						return
					}
					if i%3 == 0 { // delete every third
						if err := st.Delete(ctx, id, int64(w+1), 7); err != nil {
							errs <- err
							return
						}
					}
				}
			})
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Fatal(err)
		}
		want := int64(workers * (per - 5))
		counts, err := st.Counts(ctx, []int64{7})
		if err != nil || counts[7] != want {
			t.Fatalf("Counts = %v, %v; want %d", counts, err, want)
		}
		list, _ := st.ByVideo(ctx, 7)
		if int64(len(list)) != want {
			t.Fatalf("ByVideo has %d comments, count says %d", len(list), want)
		}
	})
}

func TestCreateRejectsIncompleteComments(t *testing.T) {
	forEachDialect(t, func(t *testing.T, st *store.Store) {
		ctx := testCtx(t)
		for _, c := range []store.Comment{
			comment(0, 1, 1, t0), comment(1, 0, 1, t0), comment(1, 1, -1, t0), comment(1, 1, 1, time.Time{}),
		} {
			if _, err := st.Create(ctx, c); err == nil {
				t.Errorf("Create(%+v) succeeded", c)
			}
		}
		mustCreate(t, st, comment(1, 1, 1, t0))
		if _, err := st.Create(ctx, comment(1, 2, 2, t0)); err == nil || !sqldb.IsUniqueViolation(err) {
			t.Fatalf("Create with a used id: %v", err)
		}
	})
}

func TestSQLiteReopenKeepsComments(t *testing.T) {
	ctx := testCtx(t)
	dsn := "sqlite://" + filepath.Join(t.TempDir(), "comment.db")
	db1, err := sqldb.Open(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	st1, err := store.New(ctx, db1)
	if err != nil {
		t.Fatal(err)
	}
	mustCreate(t, st1, comment(1, 2, 3, t0))
	if err := db1.Close(); err != nil {
		t.Fatal(err)
	}
	st2 := newStore(t, openDB(t, dsn))
	if got, err := st2.ByVideo(ctx, 2); err != nil || len(got) != 1 || got[0].ID != 1 {
		t.Fatalf("after reopening: %v, %v", got, err)
	}
	if _, err := store.New(ctx, nil); err == nil {
		t.Fatal("store.New(nil) succeeded")
	}
}
