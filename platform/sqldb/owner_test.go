package sqldb_test

import (
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/tremolo-dev/tremolo/platform/sqldb"
	"github.com/tremolo-dev/tremolo/platform/sqldb/pgtest"
)

// A SQLite file belongs to one process. flock(2) locks belong to an open
// file description, so locking the file through a descriptor of our own is
// exactly what another process holding it looks like.
func TestSQLiteFileHasOneOwnerProcess(t *testing.T) {
	path := filepath.Join(t.TempDir(), "svc.db")
	other, err := os.OpenFile(path+".lock", os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	if err := syscall.Flock(int(other.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		t.Fatal(err)
	}

	_, err = sqldb.Open(testCtx(t), "sqlite://"+path)
	if err == nil || !strings.Contains(err.Error(), "in use by another process") || !strings.Contains(err.Error(), path) {
		t.Fatalf("Open while another process holds the file: err = %v, want one naming the file and saying it is in use", err)
	}

	// The other process stops: the file opens, and is owned.
	if err := other.Close(); err != nil {
		t.Fatal(err)
	}
	db := mustOpen(t, "sqlite://"+path)
	if !db.Owned() {
		t.Fatal("Owned() = false for a locked SQLite file")
	}

	// Within this process the file may be opened again (services of the
	// all-in-one binary may share one), and the lock outlives the first
	// Close while the second DB is open.
	second, err := sqldb.Open(testCtx(t), "sqlite://"+path)
	if err != nil {
		t.Fatalf("second Open in the owning process: %v", err)
	}
	if err := second.Close(); err != nil {
		t.Fatal(err)
	}
	probe, err := os.OpenFile(path+".lock", os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer probe.Close()
	if err := syscall.Flock(int(probe.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err == nil {
		t.Fatal("the lock was dropped while a DB on the file is still open")
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Flock(int(probe.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		t.Fatalf("the lock outlived the last Close: %v", err)
	}
}

func TestOwned(t *testing.T) {
	if !mustOpen(t, "sqlite::memory:").Owned() {
		t.Error("in-memory SQLite is not Owned")
	}
	if mustOpen(t, pgtest.Shared(t).NewDatabase(t)).Owned() {
		t.Error("PostgreSQL is Owned: other replicas may write to it")
	}
	var nilDB *sqldb.DB
	if nilDB.Owned() {
		t.Error("a nil DB is Owned")
	}
}
