package discovery

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestSnapshotWriteIsAtomicAndReadable(t *testing.T) {
	dir := t.TempDir()
	if _, _, ok, err := readSnapshot(dir, "user"); ok || err != nil {
		t.Fatalf("missing snapshot: ok=%v err=%v; want none, no error", ok, err)
	}
	list := []Instance{inst("user", "a", "127.0.0.1:1"), inst("user", "b", "127.0.0.1:2")}
	if err := writeSnapshot(dir, "user", list); err != nil {
		t.Fatal(err)
	}
	if err := writeSnapshot(dir, "user", list[:1]); err != nil {
		t.Fatal(err)
	}
	got, skipped, ok, err := readSnapshot(dir, "user")
	if err != nil || !ok || len(skipped) != 0 || !equalLists(got, list[:1]) {
		t.Fatalf("read %v, %v, %v, %v; want the last list written", ids(got), skipped, ok, err)
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 || entries[0].Name() != "user.json" {
		var names []string
		for _, e := range entries {
			names = append(names, e.Name())
		}
		t.Fatalf("directory holds %v; want only user.json (no temporary files left)", names)
	}
}

func TestSnapshotRejectsAnotherServicesFileAndSkipsBadInstances(t *testing.T) {
	dir := t.TempDir()
	if err := writeSnapshot(dir, "feed", []Instance{inst("feed", "f", "127.0.0.1:1")}); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(filepath.Join(dir, "feed.json"), filepath.Join(dir, "user.json")); err != nil {
		t.Fatal(err)
	}
	if _, _, _, err := readSnapshot(dir, "user"); err == nil || !strings.Contains(err.Error(), `holds service "feed"`) {
		t.Fatalf("reading feed's list as user's: %v", err)
	}
	b := `{"service":"user","instances":[{"service":"user","id":"ok","addr":"h:1"},{"service":"user","id":"bad","addr":"h"},"junk"]}`
	list, skipped, err := decodeSnapshot([]byte(b), "user")
	if err != nil || len(skipped) != 2 || len(list) != 1 || list[0].ID != "ok" {
		t.Fatalf("decode: %v, skipped %v, %v", ids(list), skipped, err)
	}
}
