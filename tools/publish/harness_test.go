package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// harness is how the tests run the publisher: under `bazel test` the
// Bazel-built publisher with the Bazel-built service binaries (its
// runfiles, //tools/publish:binaries); under `go test` a publisher built
// here that builds the services once with go build (CGO_ENABLED=0,
// -trimpath) into a directory the later runs read (--build=dir).
type harness struct {
	publisher string
	args      []string // where the service binaries come from
	bazel     bool
	root      string // repository root (go test only)
}

var (
	harnessOnce sync.Once
	theHarness  *harness
	harnessErr  error
	harnessTmp  string
)

func TestMain(m *testing.M) {
	code := m.Run()
	if harnessTmp != "" {
		os.RemoveAll(harnessTmp)
	}
	os.Exit(code)
}

func getHarness(t *testing.T) *harness {
	t.Helper()
	if testing.Short() {
		t.Skip("builds every service for two platforms: not in -short mode")
	}
	harnessOnce.Do(func() { theHarness, harnessErr = newHarness() })
	if harnessErr != nil {
		t.Fatal(harnessErr)
	}
	return theHarness
}

func newHarness() (*harness, error) {
	if BazelAvailable() {
		p, ok := findRunfile("tools/publish/publish_/publish")
		if !ok {
			return nil, fmt.Errorf("the publish binary is not in the test's runfiles (data = [\":publish\"])")
		}
		return &harness{publisher: p, args: []string{"--build=bazel"}, bazel: true}, nil
	}
	root, err := FindRoot(".")
	if err != nil {
		return nil, err
	}
	if harnessTmp, err = os.MkdirTemp("", "publish-test-"); err != nil {
		return nil, err
	}
	pub := filepath.Join(harnessTmp, "publish")
	cmd := exec.Command("go", "build", "-o", pub, ".")
	if out, err := cmd.CombinedOutput(); err != nil {
		return nil, fmt.Errorf("go build of the publisher: %v\n%s", err, out)
	}
	bin := filepath.Join(harnessTmp, "bin")
	cmd = exec.Command(pub, "--build=go", "--root", root, "--bin-dir", bin, "--revision", "harness")
	if out, err := cmd.CombinedOutput(); err != nil {
		return nil, fmt.Errorf("building the services: %v\n%s", err, out)
	}
	return &harness{publisher: pub, args: []string{"--build=dir", "--bin-dir", bin}, root: root}, nil
}

// publish runs the publisher with the harness's binaries plus args and
// returns its summary.
func (h *harness) publish(t *testing.T, args ...string) Summary {
	t.Helper()
	summary := filepath.Join(t.TempDir(), "summary.json")
	return h.publishArgs(t, append(append(append([]string{}, h.args...), "--summary", summary), args...), summary)
}

func (h *harness) publishArgs(t *testing.T, args []string, summary string) Summary {
	t.Helper()
	var out bytes.Buffer
	start := time.Now()
	cmd := exec.Command(h.publisher, args...)
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	t.Logf("publish %s (%.1fs)\n%s", strings.Join(args, " "), time.Since(start).Seconds(), out.String())
	if err != nil {
		t.Fatalf("publish: %v", err)
	}
	var s Summary
	data, err := os.ReadFile(summary)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(data, &s); err != nil {
		t.Fatal(err)
	}
	return s
}

// lookTool finds a Debian-packaged program the tests need.
func lookTool(t *testing.T, pkg string, names ...string) string {
	t.Helper()
	for _, n := range names {
		if p, err := exec.LookPath(n); err == nil {
			return p
		}
		if p := "/usr/bin/" + n; fileExists(p) {
			return p
		}
	}
	t.Fatalf("%s not found: install the Debian package %s (tools/setup.sh does)", strings.Join(names, " or "), pkg)
	return ""
}

func fileExists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}

func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// process is a program the test started; stop ends it by its PID.
type process struct {
	cmd  *exec.Cmd
	out  *bytes.Buffer
	done chan error
}

func start(t *testing.T, dir string, env []string, name string, args ...string) *process {
	t.Helper()
	cmd := exec.Command(name, args...)
	cmd.Dir = dir
	if env != nil {
		cmd.Env = env
	}
	out := &bytes.Buffer{}
	cmd.Stdout, cmd.Stderr = out, out
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	p := &process{cmd: cmd, out: out, done: make(chan error, 1)}
	go func() { p.done <- cmd.Wait() }()
	t.Cleanup(func() { p.stop(t) })
	return p
}

// stop sends SIGTERM, then SIGKILL after 10 s.
func (p *process) stop(t *testing.T) {
	if p.cmd.ProcessState != nil {
		return
	}
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(10 * time.Second):
		t.Logf("pid %d did not stop on SIGTERM: killing it", p.cmd.Process.Pid)
		_ = p.cmd.Process.Kill()
		<-p.done
	}
}

// waitHTTP polls url until it answers 200, the process exits, or timeout.
func waitHTTP(t *testing.T, p *process, url string, timeout time.Duration) error {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	client := &http.Client{Timeout: 2 * time.Second}
	for {
		resp, err := client.Get(url)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
			err = fmt.Errorf("status %s", resp.Status)
		}
		select {
		case werr := <-p.done:
			p.done <- werr
			return fmt.Errorf("exited (%v) before %s answered; output:\n%s", werr, url, p.out)
		case <-ctx.Done():
			return fmt.Errorf("%s: %v after %s; output:\n%s", url, err, timeout, p.out)
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// startRegistry runs Debian's docker-registry (distribution v2) on a free
// loopback port with its storage in a temporary directory, and returns
// host:port. It is stopped (by PID) when the test ends.
func startRegistry(t *testing.T) string {
	t.Helper()
	bin := lookTool(t, "docker-registry", "docker-registry")
	dir := t.TempDir()
	addr := fmt.Sprintf("127.0.0.1:%d", freePort(t))
	config := fmt.Sprintf(`version: 0.1
log:
  level: warn
  accesslog:
    disabled: true
storage:
  filesystem:
    rootdirectory: %s
  delete:
    enabled: true
http:
  addr: %s
`, filepath.Join(dir, "data"), addr)
	if err := os.WriteFile(filepath.Join(dir, "config.yml"), []byte(config), 0o644); err != nil {
		t.Fatal(err)
	}
	p := start(t, dir, nil, bin, "serve", filepath.Join(dir, "config.yml"))
	if err := waitHTTP(t, p, "http://"+addr+"/v2/", 30*time.Second); err != nil {
		t.Fatalf("registry: %v", err)
	}
	return addr
}
