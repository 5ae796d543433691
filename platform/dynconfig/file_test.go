package dynconfig

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
)

const poll = 20 * time.Millisecond

// within is how long a file edit may take to arrive: a few polls, with
// room for a loaded machine.
const within = 50 * poll

func TestFileSourceFollowsEdits(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "ratelimit.yaml"), "rate: 1\n")
	w := startWatcher(t, &FileSource{Dir: dir, Poll: poll}, Options{})
	r := record(t, w, "ratelimit")
	r.expect(t, call{"rate: 1\n", true}, 0)

	// Replaced by a rename.
	writeFile(t, filepath.Join(dir, "ratelimit.yaml"), "rate: 2\n")
	r.expect(t, call{"rate: 2\n", true}, within)

	// Written in place, same size, same modification time: only the
	// content tells.
	path := filepath.Join(dir, "ratelimit.yaml")
	st, _ := os.Stat(path)
	if err := os.WriteFile(path, []byte("rate: 3\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Chtimes(path, st.ModTime(), st.ModTime()); err != nil {
		t.Fatal(err)
	}
	r.expect(t, call{"rate: 3\n", true}, within)

	// Touched, or rewritten with the same bytes: no call.
	now := time.Now()
	os.Chtimes(path, now, now)
	writeFile(t, path, "rate: 3\n")
	r.expectNone(t, 10*poll)

	// .yml and .json are documents too; other files are not.
	other := record(t, w, "abrouting")
	other.expect(t, call{"", false}, 0)
	writeFile(t, filepath.Join(dir, "abrouting.json"), `{"a": 1}`)
	writeFile(t, filepath.Join(dir, "abrouting.json~"), `backup`)
	writeFile(t, filepath.Join(dir, ".abrouting.yaml.swp"), `swap`)
	other.expect(t, call{`{"a": 1}`, true}, within)

	// Removed.
	if err := os.Remove(path); err != nil {
		t.Fatal(err)
	}
	r.expect(t, call{"", false}, within)
	other.expectNone(t, 5*poll)
}

func TestFileSourceMissingDirectoryIsEmpty(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "config")
	logger, logs := newLogger(t)
	w := startWatcher(t, &FileSource{Dir: dir, Poll: poll, Logger: logger}, Options{})
	r := record(t, w, "faults")
	r.expect(t, call{"", false}, 0)
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	writeFile(t, filepath.Join(dir, "faults.yml"), "delay: 1s")
	r.expect(t, call{"delay: 1s", true}, within)
	if n := strings.Count(logs.String(), "directory does not exist"); n != 1 {
		t.Errorf("the missing directory was logged %d times, want once:\n%s", n, logs)
	}
	if strings.Contains(logs.String(), "level=WARN") || strings.Contains(logs.String(), "level=ERROR") {
		t.Errorf("a missing directory is not a problem, but:\n%s", logs)
	}
}

// A file that cannot be read keeps its document's last good bytes.
func TestFileSourceKeepsLastGoodBytes(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "breakers.yaml")
	writeFile(t, path, "good")
	logger, logs := newLogger(t)
	w := startWatcher(t, &FileSource{Dir: dir, Poll: poll, Logger: logger}, Options{})
	r := record(t, w, "breakers")
	r.expect(t, call{"good", true}, 0)

	// Too big.
	writeFile(t, path, strings.Repeat("x", MaxDocumentBytes+1))
	r.expectNone(t, 10*poll)
	if !strings.Contains(logs.String(), "more than the 1048576") {
		t.Errorf("the oversized file is not logged:\n%s", logs)
	}
	writeFile(t, path, "good 2")
	r.expect(t, call{"good 2", true}, within)

	// Two files for one document: both refused until one goes.
	writeFile(t, filepath.Join(dir, "breakers.json"), "{}")
	r.expectNone(t, 10*poll)
	if n := strings.Count(logs.String(), "is defined by 2 files"); n != 2 { // once per file, not once per poll
		t.Errorf("the conflict is logged %d times, want 2:\n%s", n, logs)
	}
	os.Remove(path)
	r.expect(t, call{"{}", true}, within)

	// Not a regular file (a directory named like a document).
	os.Remove(filepath.Join(dir, "breakers.json"))
	r.expect(t, call{"", false}, within)
	if err := os.Mkdir(filepath.Join(dir, "breakers.yaml"), 0o755); err != nil {
		t.Fatal(err)
	}
	r.expectNone(t, 10*poll)
}

// The directory becoming unreadable is not the documents going away.
func TestFileSourceUnlistableDirectoryKeepsDocuments(t *testing.T) {
	// The configuration directory is a symbolic link, so that it can be
	// swapped atomically (rename over it) for one to a regular file, where
	// listing fails with ENOTDIR, and back: no poll ever sees it missing,
	// which would rightly mean "no documents".
	base, real := t.TempDir(), t.TempDir()
	writeFile(t, filepath.Join(real, "a.yaml"), "a")
	notDir := filepath.Join(base, "not-a-directory")
	if err := os.WriteFile(notDir, []byte("not a directory"), 0o644); err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(base, "config")
	point := func(target string) {
		t.Helper()
		tmp := filepath.Join(base, "config.tmp")
		if err := os.Symlink(target, tmp); err != nil {
			t.Fatal(err)
		}
		if err := os.Rename(tmp, dir); err != nil {
			t.Fatal(err)
		}
	}
	point(real)
	w := startWatcher(t, &FileSource{Dir: dir, Poll: poll}, Options{})
	r := record(t, w, "a")
	r.expect(t, call{"a", true}, 0)
	point(notDir)
	r.expectNone(t, 10*poll)
	point(real)
	writeFile(t, filepath.Join(real, "a.yaml"), "a2")
	r.expect(t, call{"a2", true}, within)
}

// A bad document is refused by its consumer, which keeps the old one; a
// good one after it is applied.
func TestFileSourceBadDocumentRejectedThenGoodApplied(t *testing.T) {
	type limits struct {
		Rate int `json:"rate"`
	}
	dir := t.TempDir()
	path := filepath.Join(dir, "ratelimit.yaml")
	writeFile(t, path, "rate: 5\n")
	w := startWatcher(t, &FileSource{Dir: dir, Poll: poll}, Options{})
	applied := make(chan limits, 10)
	Bind(w, "ratelimit", DecodeYAML[limits], func(l limits) error {
		if l.Rate <= 0 {
			return errors.New("rate must be positive")
		}
		applied <- l
		return nil
	})
	if l := <-applied; l.Rate != 5 {
		t.Fatalf("first: %+v", l)
	}
	for _, bad := range []string{"rate: [unterminated", "rate: 0\n", "rate: 1\nbogus: true\n"} {
		before := testutil.ToFloat64(w.metrics.rejected.WithLabelValues("ratelimit"))
		writeFile(t, path, bad)
		waitFor(t, func() bool { return testutil.ToFloat64(w.metrics.rejected.WithLabelValues("ratelimit")) == before+1 })
	}
	select {
	case l := <-applied:
		t.Fatalf("a bad document was applied: %+v", l)
	default:
	}
	writeFile(t, path, "rate: 7\n")
	select {
	case l := <-applied:
		if l.Rate != 7 {
			t.Fatalf("got %+v", l)
		}
	case <-time.After(within):
		t.Fatal("the good document was not applied")
	}
}

func TestFileSourceStopsWithContext(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	ch, err := (&FileSource{Dir: t.TempDir(), Poll: poll}).Watch(ctx)
	if err != nil {
		t.Fatal(err)
	}
	<-ch
	cancel()
	select {
	case _, ok := <-ch:
		if ok {
			<-ch
		}
	case <-time.After(time.Second):
		t.Fatal("channel not closed after the context ended")
	}
	if _, err := (&FileSource{}).Watch(ctx); err == nil {
		t.Error("Watch without a directory succeeded")
	}
}
