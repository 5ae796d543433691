package store_test

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/tremolo-dev/tremolo/platform/sqldb"
	"github.com/tremolo-dev/tremolo/platform/sqldb/pgtest"
	"github.com/tremolo-dev/tremolo/services/user/internal/store"
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
// fresh database of a real PostgreSQL server.
func forEachDialect(t *testing.T, fn func(t *testing.T, st *store.Store)) {
	t.Run("sqlite", func(t *testing.T) {
		fn(t, newStore(t, openDB(t, "sqlite://"+filepath.Join(t.TempDir(), "user.db"))))
	})
	t.Run("postgres", func(t *testing.T) {
		fn(t, newStore(t, openDB(t, pgtest.Shared(t).NewDatabase(t))))
	})
}

// created is a fixed creation time with sub-microsecond digits and a
// non-UTC zone, which the store must normalise.
var created = time.Date(2025, 3, 4, 5, 6, 7, 891234567, time.FixedZone("X", 3*60*60))

func user(id int64, name string) store.User {
	return store.User{
		ID: id, Name: name, PasswordHash: "hash-of-" + name,
		Avatar: "https://a/" + name, BackgroundImage: "https://b/" + name, Signature: "hi, I am " + name,
		CreatedAt: created,
	}
}

func mustCreate(t *testing.T, st *store.Store, u store.User) {
	t.Helper()
	if err := st.Create(testCtx(t), u); err != nil {
		t.Fatalf("Create(%d, %q): %v", u.ID, u.Name, err)
	}
}

// want is what reading u back must return.
func want(u store.User) store.User {
	u.CreatedAt = u.CreatedAt.UTC().Truncate(time.Microsecond)
	return u
}

func TestCreateAndRead(t *testing.T) {
	forEachDialect(t, func(t *testing.T, st *store.Store) {
		ctx := testCtx(t)
		alice := user(101, "alice")
		mustCreate(t, st, alice)
		// Unicode names and empty profile fields round-trip too.
		bob := store.User{ID: 102, Name: "bób 😀", PasswordHash: "h", CreatedAt: created}
		mustCreate(t, st, bob)

		for _, u := range []store.User{alice, bob} {
			byName, err := st.ByName(ctx, u.Name)
			if err != nil {
				t.Fatalf("ByName(%q): %v", u.Name, err)
			}
			if byName != want(u) {
				t.Fatalf("ByName(%q) = %+v, want %+v", u.Name, byName, want(u))
			}
			byID, err := st.ByID(ctx, u.ID)
			if err != nil {
				t.Fatalf("ByID(%d): %v", u.ID, err)
			}
			if byID != want(u) {
				t.Fatalf("ByID(%d) = %+v, want %+v", u.ID, byID, want(u))
			}
			if byID.CreatedAt.Location() != time.UTC {
				t.Fatalf("CreatedAt location = %v, want UTC", byID.CreatedAt.Location())
			}
		}
	})
}

func TestMissingUsersAreErrNotFound(t *testing.T) {
	forEachDialect(t, func(t *testing.T, st *store.Store) {
		ctx := testCtx(t)
		mustCreate(t, st, user(1, "alice"))
		if _, err := st.ByName(ctx, "nobody"); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("ByName(missing) err = %v, want ErrNotFound", err)
		}
		if _, err := st.ByName(ctx, "ALICE"); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("ByName is not exact: ByName(ALICE) err = %v, want ErrNotFound", err)
		}
		if _, err := st.ByID(ctx, 999); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("ByID(missing) err = %v, want ErrNotFound", err)
		}
	})
}

func TestCreateTakenNameKeepsTheFirstUser(t *testing.T) {
	forEachDialect(t, func(t *testing.T, st *store.Store) {
		ctx := testCtx(t)
		first := user(1, "alice")
		mustCreate(t, st, first)

		second := user(2, "alice")
		second.PasswordHash = "other"
		if err := st.Create(ctx, second); !errors.Is(err, store.ErrNameTaken) {
			t.Fatalf("Create with a taken name: err = %v, want ErrNameTaken", err)
		}
		got, err := st.ByName(ctx, "alice")
		if err != nil {
			t.Fatal(err)
		}
		if got != want(first) {
			t.Fatalf("after a rejected duplicate, ByName = %+v, want the first user %+v", got, want(first))
		}
		if _, err := st.ByID(ctx, 2); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("rejected user was stored: ByID(2) err = %v", err)
		}
	})
}

func TestCreateDuplicateIDIsNotReportedAsNameTaken(t *testing.T) {
	forEachDialect(t, func(t *testing.T, st *store.Store) {
		mustCreate(t, st, user(7, "alice"))
		err := st.Create(testCtx(t), user(7, "bob"))
		if err == nil || errors.Is(err, store.ErrNameTaken) {
			t.Fatalf("Create with a used id: err = %v, want a non-ErrNameTaken error", err)
		}
		if !sqldb.IsUniqueViolation(err) {
			t.Fatalf("Create with a used id: err = %v does not wrap the unique violation", err)
		}
	})
}

func TestCreateRejectsIncompleteUsers(t *testing.T) {
	forEachDialect(t, func(t *testing.T, st *store.Store) {
		ctx := testCtx(t)
		noID := user(0, "a")
		noTime := user(1, "b")
		noTime.CreatedAt = time.Time{}
		for _, u := range []store.User{noID, noTime} {
			if err := st.Create(ctx, u); err == nil {
				t.Errorf("Create(%+v) succeeded, want an error", u)
			}
		}
	})
}

func TestConcurrentCreateOfOneNameHasExactlyOneWinner(t *testing.T) {
	forEachDialect(t, func(t *testing.T, st *store.Store) {
		ctx := testCtx(t)
		const rounds, racers = 10, 2
		for round := range rounds {
			name := fmt.Sprintf("racer-%d", round)
			start := make(chan struct{})
			errs := make([]error, racers)
			var wg sync.WaitGroup
			for i := range racers {
				wg.Go(func() {
					<-start
					errs[i] = st.Create(ctx, user(int64(round*racers+i+1), name))
				})
			}
			close(start)
			wg.Wait()

			won, taken := 0, 0
			for _, err := range errs {
				switch {
				case err == nil:
					won++
				case errors.Is(err, store.ErrNameTaken):
					taken++
				default:
					t.Fatalf("round %d: unexpected error %v", round, err)
				}
			}
			if won != 1 || taken != racers-1 {
				t.Fatalf("round %d: %d winners and %d ErrNameTaken, want 1 and %d", round, won, taken, racers-1)
			}
			if _, err := st.ByName(ctx, name); err != nil {
				t.Fatalf("round %d: winner not readable: %v", round, err)
			}
		}
	})
}

func TestByIDs(t *testing.T) {
	forEachDialect(t, func(t *testing.T, st *store.Store) {
		ctx := testCtx(t)
		for id := int64(1); id <= 3; id++ {
			mustCreate(t, st, user(id, fmt.Sprintf("u%d", id)))
		}

		got, err := st.ByIDs(ctx, []int64{3, 1, 404, 1, 3, 3, -5})
		if err != nil {
			t.Fatalf("ByIDs: %v", err)
		}
		if len(got) != 2 || got[1] != want(user(1, "u1")) || got[3] != want(user(3, "u3")) {
			t.Fatalf("ByIDs(3,1,404,1,3,3,-5) = %+v, want exactly users 1 and 3", got)
		}

		for _, ids := range [][]int64{nil, {}, {404, 405}} {
			got, err := st.ByIDs(ctx, ids)
			if err != nil {
				t.Fatalf("ByIDs(%v): %v", ids, err)
			}
			if got == nil || len(got) != 0 {
				t.Fatalf("ByIDs(%v) = %#v, want an empty, non-nil map", ids, got)
			}
		}
	})
}

func TestByIDsLargeBatchSpansChunks(t *testing.T) {
	forEachDialect(t, func(t *testing.T, st *store.Store) {
		ctx := testCtx(t)
		const n = 2*store.MaxIDsPerQuery + 37
		var ids []int64
		for id := int64(1); id <= n; id++ {
			mustCreate(t, st, user(id, fmt.Sprintf("user-%d", id)))
			ids = append(ids, id, id) // every id twice
		}
		ids = append(ids, n+1, n+2) // and some missing ones
		got, err := st.ByIDs(ctx, ids)
		if err != nil {
			t.Fatalf("ByIDs of %d ids: %v", len(ids), err)
		}
		if len(got) != n {
			t.Fatalf("ByIDs returned %d users, want %d", len(got), n)
		}
		for id := int64(1); id <= n; id++ {
			if got[id].Name != fmt.Sprintf("user-%d", id) {
				t.Fatalf("ByIDs[%d] = %+v", id, got[id])
			}
		}
	})
}

func TestSQLiteReopenKeepsDataAndMigrationsAreIdempotent(t *testing.T) {
	ctx := testCtx(t)
	dsn := "sqlite://" + filepath.Join(t.TempDir(), "nested", "user.db")

	db1, err := sqldb.Open(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	st1, err := store.New(ctx, db1)
	if err != nil {
		t.Fatal(err)
	}
	mustCreate(t, st1, user(42, "persisted"))
	if err := db1.Close(); err != nil {
		t.Fatal(err)
	}

	db2 := openDB(t, dsn)
	st2 := newStore(t, db2) // migrates again: must be a no-op
	got, err := st2.ByName(ctx, "persisted")
	if err != nil {
		t.Fatalf("after reopening: %v", err)
	}
	if got != want(user(42, "persisted")) {
		t.Fatalf("after reopening: %+v, want %+v", got, want(user(42, "persisted")))
	}
	// A third migration on the same DB, and the version table records
	// version 1 exactly once.
	if _, err := store.New(ctx, db2); err != nil {
		t.Fatalf("store.New again: %v", err)
	}
	var n int
	if err := db2.QueryRowContext(ctx,
		"SELECT count(*) FROM "+sqldb.VersionTable(store.Service)+" WHERE version_id = 1").Scan(&n); err != nil {
		t.Fatal(err)
	}
	if n != 1 {
		t.Fatalf("version 1 recorded %d times, want 1", n)
	}
}

func TestNewRejectsNilDB(t *testing.T) {
	if _, err := store.New(testCtx(t), nil); err == nil {
		t.Fatal("store.New(nil) succeeded")
	}
}
