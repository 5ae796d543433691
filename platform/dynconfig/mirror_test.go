package dynconfig

import (
	"errors"
	"os"
	"path/filepath"
	"testing"
)

func TestMirrorFile(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "chain.yaml")
	var reloads []string
	fail := false
	apply := MirrorFile(path, func() error {
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		reloads = append(reloads, string(b))
		if fail {
			return errors.New("plugin jwt: module not found")
		}
		return nil
	})
	read := func() string {
		b, err := os.ReadFile(path)
		if err != nil {
			return "<" + err.Error() + ">"
		}
		return string(b)
	}

	// A refused first document leaves no file behind.
	fail = true
	if err := apply([]byte("plugins: [bad]"), true); err == nil {
		t.Fatal("refused reload not reported")
	}
	if _, err := os.Stat(path); !os.IsNotExist(err) {
		t.Errorf("the refused first document stayed on disk: %v", err)
	}

	fail = false
	if err := apply([]byte("plugins: []"), true); err != nil {
		t.Fatal(err)
	}
	if read() != "plugins: []" {
		t.Errorf("file holds %q", read())
	}

	// A refused document: the previous file is back.
	fail = true
	if err := apply([]byte("plugins: [{name: x}]"), true); err == nil {
		t.Fatal("refused reload not reported")
	}
	if read() != "plugins: []" {
		t.Errorf("after a refused reload the file holds %q, want the previous content", read())
	}
	if reloads[len(reloads)-1] != "plugins: [{name: x}]" {
		t.Errorf("reload saw %q, want the new document", reloads[len(reloads)-1])
	}

	// Removal leaves the file and does not reload.
	n := len(reloads)
	if err := apply(nil, false); err != nil || read() != "plugins: []" || len(reloads) != n {
		t.Errorf("removal: %v, file %q, %d reloads", err, read(), len(reloads)-n)
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 {
		t.Errorf("temporary files left behind: %v", entries)
	}
}
