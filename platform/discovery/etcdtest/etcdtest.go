// Package etcdtest runs a real, throw-away etcd server for tests, so code
// that registers, watches and leases through etcd (discovery, dynamic
// configuration, id leasing) is tested against etcd itself.
//
//	srv := etcdtest.Start(t)
//	cli := srv.Client(t)
//
// The server is /usr/bin/etcd (Debian's etcd-server package), a single
// member listening on two free loopback ports, with its data in t.TempDir.
// Stop kills it by its PID and Restart starts it again on the same ports
// and data, which is how tests find out what their code does while etcd is
// away and after it returns; Proxy cuts one client off while etcd stays up.
// When the binary is missing the test is skipped with a message saying so.
package etcdtest

import (
	"context"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"sync"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
)

// Binary is the etcd server the tests run.
const Binary = "/usr/bin/etcd"

// Server is a running single-member etcd.
type Server struct {
	// Endpoint is the client URL, "http://127.0.0.1:port".
	Endpoint string

	t        testing.TB
	dir      string
	peerPort int
	port     int

	mu  sync.Mutex
	cmd *exec.Cmd
}

// Start starts a server for t and waits until it answers. It skips t if etcd
// is not installed and fails t if it does not start within 20 seconds.
func Start(t testing.TB) *Server {
	t.Helper()
	if _, err := os.Stat(Binary); err != nil {
		t.Skipf("etcd is not installed at %s (apt-get install etcd-server): %v", Binary, err)
	}
	s := &Server{t: t, dir: t.TempDir(), port: freePort(t), peerPort: freePort(t)}
	s.Endpoint = "http://127.0.0.1:" + strconv.Itoa(s.port)
	t.Cleanup(s.Stop)
	s.Restart()
	return s
}

// Endpoints returns the client endpoints, as clientv3.Config wants them.
func (s *Server) Endpoints() []string { return []string{s.Endpoint} }

// Restart starts the server again after Stop, on the same ports and data
// directory, and waits until it answers.
func (s *Server) Restart() {
	s.t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cmd != nil {
		s.t.Fatal("etcdtest: Restart while the server is running")
	}
	peer := "http://127.0.0.1:" + strconv.Itoa(s.peerPort)
	logFile, err := os.OpenFile(filepath.Join(s.dir, "etcd.log"), os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
	if err != nil {
		s.t.Fatal(err)
	}
	defer logFile.Close()
	cmd := exec.Command(Binary,
		"--name", "test",
		"--data-dir", filepath.Join(s.dir, "data"),
		"--listen-client-urls", s.Endpoint,
		"--advertise-client-urls", s.Endpoint,
		"--listen-peer-urls", peer,
		"--initial-advertise-peer-urls", peer,
		"--initial-cluster", "test="+peer,
		"--initial-cluster-state", "new",
		"--logger", "zap",
		"--log-outputs", "stderr",
		"--snapshot-count", "10000",
	)
	cmd.Stdout, cmd.Stderr = logFile, logFile
	// etcd 3.4 on arm64 refuses to start without this; harmless elsewhere.
	cmd.Env = append(os.Environ(), "ETCD_UNSUPPORTED_ARCH="+runtime.GOARCH)
	if err := cmd.Start(); err != nil {
		s.t.Fatalf("etcdtest: start %s: %v", Binary, err)
	}
	s.cmd = cmd
	if err := s.waitReady(20 * time.Second); err != nil {
		log, _ := os.ReadFile(filepath.Join(s.dir, "etcd.log"))
		s.t.Fatalf("etcdtest: etcd on %s did not answer within 20s: %v\n%s", s.Endpoint, err, tail(log, 4000))
	}
}

func (s *Server) waitReady(limit time.Duration) error {
	cli, err := clientv3.New(clientv3.Config{Endpoints: s.Endpoints(), DialTimeout: time.Second})
	if err != nil {
		return err
	}
	defer cli.Close()
	deadline := time.Now().Add(limit)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		_, err := cli.Get(ctx, "etcdtest-ready")
		cancel()
		if err == nil {
			return nil
		}
		if time.Now().After(deadline) {
			return err
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// Stop kills the server by its PID and waits for it to exit. It may be
// called more than once; Restart starts it again.
func (s *Server) Stop() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cmd == nil {
		return
	}
	_ = s.cmd.Process.Kill() // it may have exited already; Wait says nothing useful then
	_ = s.cmd.Wait()
	s.cmd = nil
}

// Client returns a client of the server, closed when t ends.
func (s *Server) Client(t testing.TB) *clientv3.Client {
	t.Helper()
	cli, err := clientv3.New(clientv3.Config{Endpoints: s.Endpoints(), DialTimeout: 2 * time.Second})
	if err != nil {
		t.Fatalf("etcdtest: client: %v", err)
	}
	t.Cleanup(func() { cli.Close() })
	return cli
}

// Log returns the server's log so far, for failure messages.
func (s *Server) Log() string {
	b, _ := os.ReadFile(filepath.Join(s.dir, "etcd.log"))
	return string(b)
}

func freePort(t testing.TB) int {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

func tail(b []byte, n int) string {
	if len(b) > n {
		b = b[len(b)-n:]
	}
	return string(b)
}
