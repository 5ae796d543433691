package store_test

import (
	"context"
	"fmt"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/tremolo-dev/tremolo/platform/sqldb"
	"github.com/tremolo-dev/tremolo/platform/sqldb/pgtest"
	"github.com/tremolo-dev/tremolo/services/video/internal/store"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

func testCtx(t *testing.T) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	t.Cleanup(cancel)
	return ctx
}

func newStore(t *testing.T, dsn string) (*store.Store, *sqldb.DB) {
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
	st, err := store.New(testCtx(t), db)
	if err != nil {
		t.Fatalf("store.New: %v", err)
	}
	return st, db
}

// forEachDialect runs fn against a store on a fresh SQLite file and on a
// fresh database of a real PostgreSQL server.
func forEachDialect(t *testing.T, fn func(t *testing.T, st *store.Store)) {
	t.Run("sqlite", func(t *testing.T) {
		st, _ := newStore(t, "sqlite://"+filepath.Join(t.TempDir(), "video.db"))
		fn(t, st)
	})
	t.Run("postgres", func(t *testing.T) {
		st, _ := newStore(t, pgtest.Shared(t).NewDatabase(t))
		fn(t, st)
	})
}

func video(id, author, created int64) store.Video {
	return store.Video{
		ID: id, AuthorID: author, Title: fmt.Sprintf("video %d by %d 😀", id, author),
		PlayPath:  fmt.Sprintf("/media/videos/%d.mp4", id),
		CoverPath: fmt.Sprintf("/media/covers/%d.jpg", id),
		CreatedAt: created,
	}
}

func mustCreate(t *testing.T, st *store.Store, vs ...store.Video) {
	t.Helper()
	for _, v := range vs {
		if err := st.Create(testCtx(t), v); err != nil {
			t.Fatalf("Create(%+v): %v", v, err)
		}
	}
}

func idsOf(vs []store.Video) []int64 {
	out := []int64{}
	for _, v := range vs {
		out = append(out, v.ID)
	}
	return out
}

func TestCreateAndByIDs(t *testing.T) {
	forEachDialect(t, func(t *testing.T, st *store.Store) {
		ctx := testCtx(t)
		a, b := video(1, 10, 1000), video(2, 11, 2000)
		mustCreate(t, st, a, b)
		got, err := st.ByIDs(ctx, []int64{2, 1, 1, 404, -3})
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(got, map[int64]store.Video{1: a, 2: b}) {
			t.Fatalf("ByIDs = %+v", got)
		}
		for _, ids := range [][]int64{nil, {}, {404}} {
			got, err := st.ByIDs(ctx, ids)
			if err != nil || got == nil || len(got) != 0 {
				t.Fatalf("ByIDs(%v) = %#v, %v; want an empty map", ids, got, err)
			}
		}
		if err := st.Create(ctx, video(1, 12, 3000)); err == nil || !sqldb.IsUniqueViolation(err) {
			t.Fatalf("Create with a used id: %v", err)
		}
		if err := st.Create(ctx, video(0, 12, 3000)); err == nil {
			t.Fatal("Create with id 0 succeeded")
		}
		if err := st.Create(ctx, video(5, 0, 3000)); err == nil {
			t.Fatal("Create with author 0 succeeded")
		}
	})
}

func TestOrderAndPaging(t *testing.T) {
	forEachDialect(t, func(t *testing.T, st *store.Store) {
		ctx := testCtx(t)
		// Videos 3 and 4 share a millisecond: the higher id comes first.
		mustCreate(t, st, video(1, 7, 100), video(2, 8, 200), video(3, 7, 300), video(4, 7, 300), video(5, 8, 500))

		byAuthor, err := st.ByAuthor(ctx, 7)
		if err != nil || !reflect.DeepEqual(idsOf(byAuthor), []int64{4, 3, 1}) {
			t.Fatalf("ByAuthor(7) = %v, %v", idsOf(byAuthor), err)
		}
		none, err := st.ByAuthor(ctx, 99)
		if err != nil || none == nil || len(none) != 0 {
			t.Fatalf("ByAuthor(99) = %#v, %v", none, err)
		}

		for _, c := range []struct {
			before int64
			limit  int
			want   []int64
		}{
			{1 << 62, 30, []int64{5, 4, 3, 2, 1}},
			{1 << 62, 2, []int64{5}}, // 4 and 3 share a millisecond: the page ends before it
			{500, 2, []int64{4, 3}},
			{500, 30, []int64{4, 3, 2, 1}}, // strictly before
			{300, 30, []int64{2, 1}},
			{100, 30, []int64{}},
			{1 << 62, 0, []int64{}},
		} {
			got, err := st.Latest(ctx, c.before, c.limit)
			if err != nil || !reflect.DeepEqual(idsOf(got), c.want) {
				t.Errorf("Latest(%d, %d) = %v, %v; want %v", c.before, c.limit, idsOf(got), err, c.want)
			}
		}
	})
}

// Paging the way the app does (next "before" = the oldest time returned)
// visits every video exactly once, however the videos share milliseconds.
func TestPagingVisitsEveryVideoOnce(t *testing.T) {
	forEachDialect(t, func(t *testing.T, st *store.Store) {
		ctx := testCtx(t)
		var want []int64
		for id := int64(1); id <= 20; id++ {
			mustCreate(t, st, video(id, 7, 1000+id/3*10)) // three videos per millisecond
			want = append(want, id)
		}
		seen := map[int64]int{}
		before := int64(1 << 62)
		for page := 0; page < 30; page++ {
			got, err := st.Latest(ctx, before, 4)
			if err != nil {
				t.Fatal(err)
			}
			if len(got) == 0 {
				break
			}
			for _, v := range got {
				seen[v.ID]++
			}
			before = got[len(got)-1].CreatedAt
		}
		for _, id := range want {
			if seen[id] != 1 {
				t.Fatalf("video %d seen %d times while paging by time: %v", id, seen[id], seen)
			}
		}
	})
}

func TestCountByAuthors(t *testing.T) {
	forEachDialect(t, func(t *testing.T, st *store.Store) {
		ctx := testCtx(t)
		mustCreate(t, st, video(1, 7, 100), video(2, 8, 200), video(3, 7, 300))
		got, err := st.CountByAuthors(ctx, []int64{7, 8, 9, 7})
		if err != nil || !reflect.DeepEqual(got, map[int64]int64{7: 2, 8: 1}) {
			t.Fatalf("CountByAuthors = %v, %v", got, err)
		}
		got, err = st.CountByAuthors(ctx, nil)
		if err != nil || got == nil || len(got) != 0 {
			t.Fatalf("CountByAuthors(nil) = %#v, %v", got, err)
		}
	})
}

func TestLargeBatchesSpanChunks(t *testing.T) {
	forEachDialect(t, func(t *testing.T, st *store.Store) {
		ctx := testCtx(t)
		const n = 2*store.MaxIDsPerQuery + 3
		var ids []int64
		for id := int64(1); id <= n; id++ {
			mustCreate(t, st, video(id, id, id))
			ids = append(ids, id)
		}
		got, err := st.ByIDs(ctx, ids)
		if err != nil || len(got) != n {
			t.Fatalf("ByIDs of %d: %d found, %v", n, len(got), err)
		}
		counts, err := st.CountByAuthors(ctx, ids)
		if err != nil || len(counts) != n || counts[n] != 1 {
			t.Fatalf("CountByAuthors of %d: %d found, %v", n, len(counts), err)
		}
	})
}

func TestQueriesUseTheIndexes(t *testing.T) {
	_, db := newStore(t, "sqlite://"+filepath.Join(t.TempDir(), "video.db"))
	for q, index := range map[string]string{
		"SELECT id FROM videos WHERE author_id = 1 ORDER BY created_at DESC, id DESC":           "videos_author_created",
		"SELECT id FROM videos WHERE created_at < 5 ORDER BY created_at DESC, id DESC LIMIT 30": "videos_created",
		"SELECT author_id, COUNT(*) FROM videos WHERE author_id IN (1, 2) GROUP BY author_id":   "videos_author_created",
	} {
		rows, err := db.QueryContext(testCtx(t), "EXPLAIN QUERY PLAN "+q)
		if err != nil {
			t.Fatal(err)
		}
		var plan string
		for rows.Next() {
			var id, parent, unused int
			var detail string
			if err := rows.Scan(&id, &parent, &unused, &detail); err != nil {
				t.Fatal(err)
			}
			plan += detail + "\n"
		}
		_ = rows.Close()
		if !strings.Contains(plan, index) || strings.Contains(plan, "TEMP B-TREE") {
			t.Errorf("plan of %q does not use %s without sorting:\n%s", q, index, plan)
		}
	}
}
