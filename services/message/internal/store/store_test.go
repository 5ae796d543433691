package store_test

import (
	"context"
	"fmt"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/tremolo-dev/tremolo/platform/sqldb"
	"github.com/tremolo-dev/tremolo/platform/sqldb/pgtest"
	"github.com/tremolo-dev/tremolo/services/message/internal/store"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

func testCtx(t *testing.T) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	t.Cleanup(cancel)
	return ctx
}

// forEachDialect runs fn against a store on a fresh SQLite file and on a
// fresh database of a real PostgreSQL server.
func forEachDialect(t *testing.T, fn func(t *testing.T, st *store.Store)) {
	run := func(t *testing.T, dsn string) {
		db, err := sqldb.Open(testCtx(t), dsn)
		if err != nil {
			t.Fatalf("sqldb.Open: %v", err)
		}
		t.Cleanup(func() { _ = db.Close() })
		st, err := store.New(testCtx(t), db)
		if err != nil {
			t.Fatalf("store.New: %v", err)
		}
		fn(t, st)
	}
	t.Run("sqlite", func(t *testing.T) { run(t, "sqlite://"+filepath.Join(t.TempDir(), "message.db")) })
	t.Run("postgres", func(t *testing.T) { run(t, pgtest.Shared(t).NewDatabase(t)) })
}

func add(t *testing.T, st *store.Store, id, from, to, at int64) store.Message {
	t.Helper()
	m := store.Message{ID: id, From: from, To: to, Content: fmt.Sprintf("m%d: 你好 %d→%d", id, from, to), CreatedAt: at}
	if err := st.Add(testCtx(t), m); err != nil {
		t.Fatalf("Add(%+v): %v", m, err)
	}
	return m
}

func ids(ms []store.Message) []int64 {
	out := make([]int64, len(ms))
	for i, m := range ms {
		out[i] = m.ID
	}
	return out
}

func wantChat(t *testing.T, st *store.Store, a, b, after int64, limit int, want ...int64) []store.Message {
	t.Helper()
	got, err := st.Chat(testCtx(t), a, b, after, limit)
	if want == nil {
		want = []int64{}
	}
	if err != nil || !slices.Equal(ids(got), want) {
		t.Fatalf("Chat(%d, %d, after %d, limit %d) = %v, %v; want %v", a, b, after, limit, ids(got), err, want)
	}
	return got
}

func TestChatOrderAndAfter(t *testing.T) {
	forEachDialect(t, func(t *testing.T, st *store.Store) {
		m1 := add(t, st, 10, 1, 2, 1000)
		add(t, st, 30, 2, 1, 1001)
		add(t, st, 20, 1, 2, 1001) // same millisecond as 30, smaller id: first
		add(t, st, 40, 1, 3, 1002) // another chat
		add(t, st, 50, 2, 1, 1003)

		got := wantChat(t, st, 1, 2, 0, 100, 10, 20, 30, 50)
		if got[0] != m1 {
			t.Fatalf("read back %+v; want %+v", got[0], m1)
		}
		wantChat(t, st, 2, 1, 0, 100, 10, 20, 30, 50) // either side reads the same chat
		wantChat(t, st, 1, 2, -5, 100, 10, 20, 30, 50)
		wantChat(t, st, 1, 2, 1000, 100, 20, 30, 50) // strictly after
		wantChat(t, st, 1, 2, 1001, 100, 50)
		wantChat(t, st, 1, 2, 1003, 100)
		wantChat(t, st, 1, 3, 0, 100, 40)
		wantChat(t, st, 2, 3, 0, 100)

		for _, p := range [][2]int64{{1, 2}, {2, 1}, {3, 1}} {
			if ok, err := st.HasChat(testCtx(t), p[0], p[1]); err != nil || !ok {
				t.Fatalf("HasChat(%v) = %v, %v", p, ok, err)
			}
		}
		if ok, err := st.HasChat(testCtx(t), 2, 3); err != nil || ok {
			t.Fatalf("HasChat(2, 3) = %v, %v", ok, err)
		}
	})
}

func TestChatLimitNeverSplitsAMillisecond(t *testing.T) {
	forEachDialect(t, func(t *testing.T, st *store.Store) {
		add(t, st, 1, 1, 2, 100)
		add(t, st, 2, 1, 2, 101)
		add(t, st, 3, 2, 1, 101)
		add(t, st, 4, 1, 2, 101)
		add(t, st, 5, 1, 2, 102)
		wantChat(t, st, 1, 2, 0, 5, 1, 2, 3, 4, 5)
		wantChat(t, st, 1, 2, 0, 4, 1, 2, 3, 4)
		// A limit of 2 or 3 would cut millisecond 101: stop before it.
		wantChat(t, st, 1, 2, 0, 3, 1)
		wantChat(t, st, 1, 2, 0, 2, 1)
		wantChat(t, st, 1, 2, 0, 1, 1)
		// Asking again from the last time seen continues without loss; a
		// millisecond larger than the limit comes whole.
		wantChat(t, st, 1, 2, 100, 1, 2, 3, 4)
		wantChat(t, st, 1, 2, 101, 1, 5)
		if _, err := st.Chat(testCtx(t), 1, 2, 0, 0); err == nil {
			t.Fatal("Chat with limit 0 succeeded")
		}
	})
}

func TestLatest(t *testing.T) {
	forEachDialect(t, func(t *testing.T, st *store.Store) {
		ctx := testCtx(t)
		// User 5 chats with 2 (below) and 9 (above); 7 never wrote.
		add(t, st, 1, 5, 2, 100)
		add(t, st, 2, 2, 5, 200)
		add(t, st, 3, 9, 5, 150)
		add(t, st, 5, 5, 9, 300)
		add(t, st, 4, 9, 5, 300) // same millisecond as 5, smaller id: 5 is the latest
		add(t, st, 6, 2, 9, 999) // not with 5

		got, err := st.Latest(ctx, 5, []int64{9, 2, 7, 5, 2, 12345})
		if err != nil || len(got) != 2 || got[2].ID != 2 || got[9].ID != 5 {
			t.Fatalf("Latest(5) = %+v, %v; want 2→#2, 9→#5", got, err)
		}
		if got[9] != (store.Message{ID: 5, From: 5, To: 9, Content: "m5: 你好 5→9", CreatedAt: 300}) {
			t.Fatalf("latest with 9 = %+v", got[9])
		}
		got, err = st.Latest(ctx, 2, []int64{9})
		if err != nil || len(got) != 1 || got[9].ID != 6 {
			t.Fatalf("Latest(2, [9]) = %+v, %v", got, err)
		}
		got, err = st.Latest(ctx, 5, nil)
		if err != nil || len(got) != 0 {
			t.Fatalf("Latest(5, nil) = %+v, %v", got, err)
		}
		// Many peers on both sides of me, several queries.
		many := make([]int64, 1100)
		for i := range many {
			many[i] = int64(i + 1)
		}
		got, err = st.Latest(ctx, 5, many)
		if err != nil || len(got) != 2 || got[2].ID != 2 || got[9].ID != 5 {
			t.Fatalf("Latest(5, 1100 peers) = %+v, %v", got, err)
		}
	})
}

func TestAddRejectsInvalidMessages(t *testing.T) {
	forEachDialect(t, func(t *testing.T, st *store.Store) {
		ctx := testCtx(t)
		for _, m := range []store.Message{
			{ID: 0, From: 1, To: 2, Content: "x", CreatedAt: 1},
			{ID: 1, From: 1, To: 1, Content: "x", CreatedAt: 1},
			{ID: 1, From: 0, To: 2, Content: "x", CreatedAt: 1},
			{ID: 1, From: 1, To: -2, Content: "x", CreatedAt: 1},
		} {
			if err := st.Add(ctx, m); err == nil {
				t.Errorf("Add(%+v) succeeded", m)
			}
		}
		add(t, st, 7, 1, 2, 1)
		if err := st.Add(ctx, store.Message{ID: 7, From: 2, To: 1, Content: "dup", CreatedAt: 2}); err == nil {
			t.Fatal("a duplicate id was stored")
		}
		wantChat(t, st, 1, 2, 0, 10, 7)
	})
}
