// Package wasmhosttest builds the test guests of platform/wasmhost: small Go
// programs under platform/wasmhost/testdata/guests/<name>, a module apart
// from Tremolo's (stdlib only), that pass requests on (passthrough), answer
// them (answer), or misbehave when a request header asks them to: panic
// (X-Panic), loop forever (X-Loop), allocate without bound (X-Alloc), break
// the ABI (X-Garbage), ... (see each guest's doc comment).
//
// Each is built once per test binary with the Go toolchain that runs the
// tests (GOOS=wasip1 GOARCH=wasm -buildmode=c-shared). Bazel, which cannot
// run the go command in a test, sets WASMHOST_TESTDATA_DIR to a directory
// of prebuilt <name>.wasm instead.
package wasmhosttest

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sync"
	"testing"
)

// DirEnv names the environment variable of a directory of prebuilt guests.
const DirEnv = "WASMHOST_TESTDATA_DIR"

var (
	mu     sync.Mutex
	builds = map[string]*build{}
)

type build struct {
	once sync.Once
	wasm []byte
	err  error
}

// Guest returns the module of the test guest name, building it on first
// use; the test fails when it cannot be had.
func Guest(tb testing.TB, name string) []byte {
	tb.Helper()
	mu.Lock()
	b := builds[name]
	if b == nil {
		b = &build{}
		builds[name] = b
	}
	mu.Unlock()
	b.once.Do(func() { b.wasm, b.err = buildGuest(name) })
	if b.err != nil {
		tb.Fatalf("test guest %s: %v", name, b.err)
	}
	return b.wasm
}

func buildGuest(name string) ([]byte, error) {
	if dir := os.Getenv(DirEnv); dir != "" {
		return os.ReadFile(filepath.Join(dir, name+".wasm"))
	}
	src, err := guestsDir()
	if err != nil {
		return nil, err
	}
	tmp, err := os.MkdirTemp("", "wasmhost-guest-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(tmp)
	out := filepath.Join(tmp, name+".wasm")
	cmd := exec.Command(filepath.Join(runtime.GOROOT(), "bin", "go"), "build", "-buildmode=c-shared", "-o", out, "./"+name)
	cmd.Dir = src
	cmd.Env = append(os.Environ(), "GOOS=wasip1", "GOARCH=wasm", "GOFLAGS=-mod=mod", "GOPROXY=off", "GOWORK=off", "CGO_ENABLED=0")
	if msg, err := cmd.CombinedOutput(); err != nil {
		return nil, fmt.Errorf("go build ./%s in %s (or set %s to prebuilt modules): %v\n%s", name, src, DirEnv, err, msg)
	}
	return os.ReadFile(out)
}

// guestsDir is platform/wasmhost/testdata/guests of the repository.
func guestsDir() (string, error) {
	root, err := RepoRoot()
	if err != nil {
		return "", err
	}
	return filepath.Join(root, "platform", "wasmhost", "testdata", "guests"), nil
}

// RepoRoot returns the directory of Tremolo's go.mod, found upwards from
// the working directory (a test's package directory).
func RepoRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if data, err := os.ReadFile(filepath.Join(dir, "go.mod")); err == nil && bytes.Contains(data, []byte("module github.com/tremolo-dev/tremolo\n")) {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", fmt.Errorf("no go.mod of github.com/tremolo-dev/tremolo above the working directory")
		}
		dir = parent
	}
}
