// Package redistest runs a real, throw-away redis-server for tests, so code
// that talks to Redis (the token buckets of package ratelimit, and the edge
// through them) is tested against Redis itself rather than a mock.
//
//	srv := redistest.Start(t)
//	store := ratelimit.NewRedis(srv.Client(t), ratelimit.RedisOptions{})
//
// The server is /usr/bin/redis-server (Debian's redis-server package),
// listening on 127.0.0.1 on a free port, without persistence (--save ""
// --appendonly no), with its working directory in t.TempDir. It is stopped
// by its PID when the test ends, or earlier by Stop, which is how tests
// find out what their code does when Redis goes away. When the binary is
// missing the test is skipped with a message saying so.
package redistest

import (
	"context"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// Binary is the redis-server the tests run.
const Binary = "/usr/bin/redis-server"

// Server is a running redis-server.
type Server struct {
	// Addr is host:port on the loopback interface.
	Addr string
	cmd  *exec.Cmd
	once sync.Once
}

// Start starts a server for t and waits until it answers PING. It skips t
// if redis-server is not installed and fails t if it does not start.
func Start(t testing.TB) *Server {
	t.Helper()
	if _, err := os.Stat(Binary); err != nil {
		t.Skipf("redis-server is not installed at %s (apt-get install redis-server): %v", Binary, err)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	dir := t.TempDir()
	logFile := filepath.Join(dir, "redis.log")
	cmd := exec.Command(Binary, "--port", strconv.Itoa(port), "--bind", "127.0.0.1",
		"--save", "", "--appendonly", "no", "--dir", dir, "--logfile", logFile)
	if err := cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", Binary, err)
	}
	s := &Server{Addr: net.JoinHostPort("127.0.0.1", strconv.Itoa(port)), cmd: cmd}
	t.Cleanup(s.Stop)
	c := redis.NewClient(&redis.Options{Addr: s.Addr})
	defer c.Close()
	deadline := time.Now().Add(10 * time.Second)
	for {
		err := c.Ping(context.Background()).Err()
		if err == nil {
			return s
		}
		if time.Now().After(deadline) {
			log, _ := os.ReadFile(logFile)
			t.Fatalf("redis-server on %s did not answer PING within 10s: %v\n%s", s.Addr, err, log)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// Stop kills the server by its PID and waits for it to exit. It may be
// called more than once.
func (s *Server) Stop() {
	s.once.Do(func() {
		_ = s.cmd.Process.Kill() // it may have exited already; Wait reports nothing useful then
		_ = s.cmd.Wait()
	})
}

// Client returns a client of the server, closed when t ends. It does not
// retry, and dials with a short timeout, so a stopped server shows up as an
// error at once.
func (s *Server) Client(t testing.TB) *redis.Client {
	c := redis.NewClient(&redis.Options{Addr: s.Addr, MaxRetries: -1, DialTimeout: time.Second})
	t.Cleanup(func() { c.Close() })
	return c
}
