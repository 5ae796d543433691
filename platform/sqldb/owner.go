package sqldb

import (
	"errors"
	"fmt"
	"os"
	"sync"
	"syscall"
)

// A SQLite file is written by one process at a time: Open takes an
// exclusive flock(2) on "<path>.lock" and keeps it until Close. SQLite itself
// would let several processes share the file, but then no process could keep
// anything it read from the database in memory, since another could change
// the rows behind its back. With the lock, a process that opened the file is
// its only writer (see DB.Owned), and a second process pointed at the same
// data directory fails at start-up with a clear message instead of quietly
// serving stale caches. Opens within one process share the lock, so services
// of an all-in-one binary may still share one file.
//
// flock, not the fcntl locks SQLite uses: the two are independent on Linux,
// and closing a descriptor never drops a flock held through another one, so
// this lock cannot disturb SQLite's.

// ownerLocks are the lock files this process holds, by lock path.
var ownerLocks = struct {
	sync.Mutex
	held map[string]*ownerLock
}{held: map[string]*ownerLock{}}

// ownerLock is one held lock file and the number of open DBs relying on it.
type ownerLock struct {
	path string
	f    *os.File
	refs int
}

// lockOwner takes (or shares, within this process) the lock of the SQLite
// database at path, which must be absolute.
func lockOwner(path string) (*ownerLock, error) {
	lockPath := path + ".lock"
	ownerLocks.Lock()
	defer ownerLocks.Unlock()
	if l := ownerLocks.held[lockPath]; l != nil {
		l.refs++
		return l, nil
	}
	f, err := os.OpenFile(lockPath, os.O_RDWR|os.O_CREATE, 0o640)
	if err != nil {
		return nil, fmt.Errorf("sqldb: opening lock file of SQLite database %s: %w", path, err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		_ = f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			return nil, fmt.Errorf("sqldb: SQLite database %s is in use by another process (it holds %s); "+
				"a SQLite file belongs to one process: stop the other one, or give this one its own data directory", path, lockPath)
		}
		return nil, fmt.Errorf("sqldb: locking SQLite database %s (%s): %w", path, lockPath, err)
	}
	l := &ownerLock{path: lockPath, f: f, refs: 1}
	ownerLocks.held[lockPath] = l
	return l, nil
}

// release drops one reference; the last one unlocks and closes the file.
// The lock file stays: removing it would race with a process about to lock
// it.
func (l *ownerLock) release() error {
	if l == nil {
		return nil
	}
	ownerLocks.Lock()
	defer ownerLocks.Unlock()
	if l.refs--; l.refs > 0 {
		return nil
	}
	delete(ownerLocks.held, l.path)
	if err := l.f.Close(); err != nil { // closing the descriptor drops the flock
		return fmt.Errorf("sqldb: releasing %s: %w", l.path, err)
	}
	return nil
}
