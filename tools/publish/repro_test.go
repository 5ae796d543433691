package main

import (
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestReproducibleSecondRun: publishing the same binaries twice gives the
// same digests and, byte for byte, the same OCI layout and tarball (under
// bazel test: the Bazel-built binaries).
func TestReproducibleSecondRun(t *testing.T) {
	h := getHarness(t)
	tmp := t.TempDir()
	var sums []Summary
	for _, run := range []string{"one", "two"} {
		sums = append(sums, h.publish(t, "--revision", "repro", "-q",
			"--layout", filepath.Join(tmp, run, "oci"), "--tarball", filepath.Join(tmp, run, "images.tar")))
	}
	if a, b := mustJSON(t, sums[0]), mustJSON(t, sums[1]); a != b {
		t.Fatalf("two runs, different digests:\n%s\n%s", a, b)
	}
	if diff := diffTrees(t, filepath.Join(tmp, "one", "oci"), filepath.Join(tmp, "two", "oci")); diff != "" {
		t.Fatalf("layouts differ: %s", diff)
	}
	a, _ := os.ReadFile(filepath.Join(tmp, "one", "images.tar"))
	b, _ := os.ReadFile(filepath.Join(tmp, "two", "images.tar"))
	if len(a) == 0 || !bytes.Equal(a, b) {
		t.Fatalf("tarballs differ (%d and %d bytes)", len(a), len(b))
	}
	if len(sums[0].Services) != len(declaredNames(t)) {
		t.Fatalf("%d services published", len(sums[0].Services))
	}
	// The goal is per service: 15 MB. The all-in-one (every service, the
	// edge and the governance clients in one binary) has its own bound, so
	// that it cannot grow unnoticed either.
	for _, s := range sums[0].Services {
		limit, what := 15e6, "the 15 MB goal per service"
		if s.Name == "tremolo" {
			limit, what = 18e6, "the all-in-one's 18 MB bound"
		}
		for _, img := range s.Images {
			if float64(img.Size) > limit {
				t.Errorf("%s %s: %d bytes compressed, over %s", s.Name, img.Platform, img.Size, what)
			}
		}
	}
}

// TestReproducibleFromCleanCheckouts: two fresh clones of HEAD, in two
// different directories, built with go build and published give the same
// digests and layouts; the revision label is HEAD's commit, without
// "-dirty". (go test only: it needs the git repository.)
func TestReproducibleFromCleanCheckouts(t *testing.T) {
	h := getHarness(t)
	if h.bazel {
		t.Skip("needs the git repository (runs under go test)")
	}
	head, err := exec.Command("git", "-C", h.root, "rev-parse", "HEAD").Output()
	if err != nil {
		t.Skipf("not a git checkout: %v", err)
	}
	rev := strings.TrimSpace(string(head))
	tmp := t.TempDir()
	var sums []Summary
	for _, name := range []string{"checkout-a", "nested/checkout-b"} {
		dir := filepath.Join(tmp, name)
		for _, args := range [][]string{
			{"clone", "--quiet", "--no-checkout", h.root, dir},
			{"-C", dir, "checkout", "--quiet", "--detach", rev},
		} {
			if out, err := exec.Command("git", args...).CombinedOutput(); err != nil {
				t.Fatalf("git %v: %v\n%s", args, err, out)
			}
		}
		summary := filepath.Join(tmp, name+".json")
		sums = append(sums, h.publishArgs(t, []string{"--build=go", "--root", dir, "--bin-dir", filepath.Join(tmp, name+".bin"),
			"--layout", filepath.Join(tmp, name+".oci"), "--summary", summary, "-q"}, summary))
	}
	if sums[0].Revision != rev {
		t.Errorf("revision of a clean checkout: %q, want %q", sums[0].Revision, rev)
	}
	if a, b := mustJSON(t, sums[0]), mustJSON(t, sums[1]); a != b {
		t.Fatalf("two checkouts of %s, different digests:\n%s\n%s", rev, a, b)
	}
	if diff := diffTrees(t, filepath.Join(tmp, "checkout-a.oci"), filepath.Join(tmp, "nested/checkout-b.oci")); diff != "" {
		t.Fatalf("layouts differ: %s", diff)
	}
}

func mustJSON(t *testing.T, v any) string {
	t.Helper()
	b, err := json.MarshalIndent(v, "", " ")
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// diffTrees returns "" when two directories hold the same files, byte for byte.
func diffTrees(t *testing.T, a, b string) string {
	t.Helper()
	read := func(root string) map[string][]byte {
		out := map[string][]byte{}
		err := filepath.Walk(root, func(p string, fi os.FileInfo, err error) error {
			if err != nil || fi.IsDir() {
				return err
			}
			rel, _ := filepath.Rel(root, p)
			out[rel], err = os.ReadFile(p)
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
		return out
	}
	ta, tb := read(a), read(b)
	for name, data := range ta {
		if other, ok := tb[name]; !ok {
			return name + " only in " + a
		} else if !bytes.Equal(data, other) {
			return name + " differs"
		}
	}
	if len(ta) != len(tb) {
		return "files only in " + b
	}
	if len(ta) == 0 {
		return "empty layouts"
	}
	return ""
}
