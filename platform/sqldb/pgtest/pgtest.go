// Package pgtest runs a real, throw-away PostgreSQL server for tests, so code
// that talks to PostgreSQL is tested against the database it will meet in
// production rather than a mock.
//
// A test binary normally shares one server and gives every test its own empty
// database:
//
//	func TestMain(m *testing.M) { pgtest.Main(m) }
//
//	func TestSomething(t *testing.T) {
//		dsn := pgtest.Shared(t).NewDatabase(t) // postgres://...
//		...
//	}
//
// Start gives a test a private server instead, stopped when the test ends.
//
// The server is the newest PostgreSQL found under /usr/lib/postgresql/*/bin
// (Debian's layout), the bindir reported by pg_config, or initdb on PATH. It
// is initialised into a fresh temporary directory, listens only on 127.0.0.1
// on a free port with its unix socket inside that directory, and runs with
// fsync off: durability is worthless for test data and costs seconds. When the
// binaries are missing the test fails (it does not skip) and says to run
// tools/setup.sh, because a silently skipped database test hides regressions.
//
// PostgreSQL refuses to run as root. When the test runs as root (as in CI
// containers), pgtest runs initdb and postgres as the "postgres" system user,
// and keeps its data in a directory that user can reach.
//
// If TREMOLO_TEST_POSTGRES_DSN is set (a postgres:// URL of a role allowed to
// CREATE DATABASE), no server is started and that server is used instead.
package pgtest

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/stdlib"
)

// EnvDSN names the environment variable that points tests at an existing
// server instead of starting one.
const EnvDSN = "TREMOLO_TEST_POSTGRES_DSN"

const (
	// startTimeout bounds how long a freshly started server may take to
	// accept connections.
	startTimeout = 60 * time.Second
	// stopTimeout is how long a fast shutdown (SIGINT) may take before the
	// server is killed.
	stopTimeout = 15 * time.Second
	// startAttempts retries start-up when the free port we picked was taken
	// by someone else before the server bound it.
	startAttempts = 3
	// superuser is the role initdb creates and the DSNs connect as.
	superuser = "postgres"
)

// Server is a PostgreSQL server tests can create databases on: either one
// this package started, or the external one named by TREMOLO_TEST_POSTGRES_DSN.
type Server struct {
	adminDSN string  // postgres:// URL of the maintenance database
	admin    *sql.DB // connection pool used to create and drop databases

	// Set only for servers this package started.
	proc    *process
	rootDir string
}

// Main runs the tests of a package that uses Shared and then stops the
// shared server and removes its files. Call it from TestMain:
//
//	func TestMain(m *testing.M) { pgtest.Main(m) }
//
// It calls os.Exit with the tests' exit code, so it does not return.
func Main(m Runner) {
	sharedMu.Lock()
	mainActive = true
	sharedMu.Unlock()

	code := m.Run()

	sharedMu.Lock()
	srv := shared
	shared, sharedErr, sharedDone = nil, nil, false
	sharedMu.Unlock()
	if srv != nil {
		if err := srv.stop(); err != nil {
			fmt.Fprintf(os.Stderr, "pgtest: stopping the shared PostgreSQL server: %v\n", err)
			if code == 0 {
				code = 1
			}
		}
	}
	os.Exit(code)
}

// Runner runs a package's tests: *testing.M, or a wrapper that also
// cleans up after them.
type Runner interface{ Run() int }

// RunFunc is a Runner made of a function.
type RunFunc func() int

// Run calls f.
func (f RunFunc) Run() int { return f() }

var (
	sharedMu   sync.Mutex
	mainActive bool
	sharedDone bool
	shared     *Server
	sharedErr  error
)

// Shared returns the server shared by all tests of this test binary,
// starting it on first use. The package's TestMain must call Main, which
// stops the server after the last test; Shared fails the test otherwise, so
// no server outlives its test binary.
func Shared(t testing.TB) *Server {
	t.Helper()
	sharedMu.Lock()
	defer sharedMu.Unlock()
	if !mainActive {
		t.Fatal("pgtest.Shared needs the package's TestMain to call pgtest.Main(m), which stops the shared server after the tests")
	}
	if !sharedDone {
		shared, sharedErr = open()
		sharedDone = true
	}
	if sharedErr != nil {
		t.Fatalf("pgtest: %v", sharedErr)
	}
	return shared
}

// Start returns a server private to t, stopped and removed when t ends. It
// costs a second or two, so prefer Shared unless the test needs to stop or
// reconfigure the server. With TREMOLO_TEST_POSTGRES_DSN set it returns the
// external server.
func Start(t testing.TB) *Server {
	t.Helper()
	s, err := open()
	if err != nil {
		t.Fatalf("pgtest: %v", err)
	}
	t.Cleanup(func() {
		if err := s.stop(); err != nil {
			t.Errorf("pgtest: stopping PostgreSQL: %v", err)
		}
	})
	return s
}

// DSN returns a postgres:// URL for the server's maintenance database
// ("postgres" for a started server) as the superuser. Tests should normally
// use NewDatabase instead, so they do not see each other's tables.
func (s *Server) DSN() string { return s.adminDSN }

// NewDatabase creates an empty database and returns a postgres:// URL for it.
// The database is dropped when t ends, even if connections to it are still
// open.
func (s *Server) NewDatabase(t testing.TB) string {
	t.Helper()
	name, err := randomName()
	if err != nil {
		t.Fatalf("pgtest: %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if _, err := s.admin.ExecContext(ctx, "CREATE DATABASE "+name); err != nil {
		t.Fatalf("pgtest: creating database %s: %v", name, err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		// WITH (FORCE) (PostgreSQL 13+) disconnects pools the test left open.
		if _, err := s.admin.ExecContext(ctx, "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)"); err != nil {
			t.Errorf("pgtest: dropping database %s: %v", name, err)
		}
	})
	dsn, err := withDatabase(s.adminDSN, name)
	if err != nil {
		t.Fatalf("pgtest: %v", err)
	}
	return dsn
}

func randomName() (string, error) {
	var b [8]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", fmt.Errorf("generating a database name: %w", err)
	}
	return "test_" + hex.EncodeToString(b[:]), nil
}

// withDatabase returns dsn (a postgres:// URL) with its database replaced.
func withDatabase(dsn, db string) (string, error) {
	u, err := url.Parse(dsn)
	if err != nil {
		return "", fmt.Errorf("parsing DSN: %w", err)
	}
	u.Path = "/" + db
	u.RawPath = ""
	return u.String(), nil
}

// open connects to the external server if one is configured, else starts one.
func open() (*Server, error) {
	if dsn := os.Getenv(EnvDSN); dsn != "" {
		if !strings.HasPrefix(dsn, "postgres://") && !strings.HasPrefix(dsn, "postgresql://") {
			return nil, fmt.Errorf("%s must be a postgres:// URL, got %q", EnvDSN, redact(dsn))
		}
		admin, err := connect(dsn, startTimeout)
		if err != nil {
			return nil, fmt.Errorf("connecting to the server named by %s (%s): %w", EnvDSN, redact(dsn), err)
		}
		return &Server{adminDSN: dsn, admin: admin}, nil
	}
	return startServer()
}

// redact hides a password in a URL for error messages.
func redact(dsn string) string {
	if u, err := url.Parse(dsn); err == nil {
		return u.Redacted()
	}
	return "<unparsable DSN>"
}

// connect opens a small pool to dsn and waits until the server answers.
func connect(dsn string, timeout time.Duration) (*sql.DB, error) {
	cfg, err := pgx.ParseConfig(dsn)
	if err != nil {
		return nil, fmt.Errorf("parsing DSN: %w", err)
	}
	db := stdlib.OpenDB(*cfg)
	db.SetMaxOpenConns(4)
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	if err := db.PingContext(ctx); err != nil {
		return nil, errors.Join(err, db.Close())
	}
	return db, nil
}

// stop closes the admin pool and, for a started server, shuts it down and
// removes its files.
func (s *Server) stop() error {
	errs := []error{}
	if err := s.admin.Close(); err != nil {
		errs = append(errs, fmt.Errorf("closing admin connection: %w", err))
	}
	if s.proc != nil {
		if err := s.proc.stop(stopTimeout); err != nil {
			errs = append(errs, err)
		}
	}
	if s.rootDir != "" {
		if err := os.RemoveAll(s.rootDir); err != nil {
			errs = append(errs, fmt.Errorf("removing %s: %w", s.rootDir, err))
		}
	}
	return errors.Join(errs...)
}

// startServer initialises a cluster in a new temporary directory and starts
// postgres on it.
func startServer() (srv *Server, err error) {
	bindir, err := findBindir()
	if err != nil {
		return nil, err
	}
	cred, err := credential()
	if err != nil {
		return nil, err
	}
	root, err := makeRootDir(cred)
	if err != nil {
		return nil, err
	}
	defer func() {
		if err != nil {
			if rmErr := os.RemoveAll(root); rmErr != nil {
				err = errors.Join(err, fmt.Errorf("removing %s: %w", root, rmErr))
			}
		}
	}()

	data := filepath.Join(root, "data")
	if err := initdb(bindir, data, root, cred); err != nil {
		return nil, err
	}

	var lastErr error
	for range startAttempts {
		port, err := freePort()
		if err != nil {
			return nil, err
		}
		proc, err := startPostgres(bindir, data, root, port, cred)
		if err != nil {
			return nil, err
		}
		dsn := fmt.Sprintf("postgres://%s@127.0.0.1:%d/postgres?sslmode=disable", superuser, port)
		admin, err := waitReady(proc, dsn)
		if err == nil {
			return &Server{adminDSN: dsn, admin: admin, proc: proc, rootDir: root}, nil
		}
		stopErr := proc.stop(stopTimeout)
		log := proc.logTail()
		lastErr = errors.Join(fmt.Errorf("PostgreSQL (%s) on port %d did not start: %w\n--- server log (last lines) ---\n%s", bindir, port, err, log), stopErr)
		if !strings.Contains(log, "could not bind") && !strings.Contains(log, "already in use") {
			break // not a lost port race: retrying will not help
		}
	}
	return nil, lastErr
}

// findBindir locates a directory holding both initdb and postgres: the
// newest /usr/lib/postgresql/N/bin, then pg_config --bindir, then PATH.
func findBindir() (string, error) {
	var candidates []string
	if dirs, _ := filepath.Glob("/usr/lib/postgresql/*/bin"); len(dirs) > 0 {
		slices.SortFunc(dirs, func(a, b string) int { return pgVersion(b) - pgVersion(a) })
		candidates = append(candidates, dirs...)
	}
	if out, err := exec.Command("pg_config", "--bindir").Output(); err == nil {
		candidates = append(candidates, strings.TrimSpace(string(out)))
	}
	if p, err := exec.LookPath("initdb"); err == nil {
		candidates = append(candidates, filepath.Dir(p))
	}
	for _, dir := range candidates {
		if isExecutable(filepath.Join(dir, "initdb")) && isExecutable(filepath.Join(dir, "postgres")) {
			return dir, nil
		}
	}
	return "", errors.New("PostgreSQL server binaries (initdb, postgres) not found in /usr/lib/postgresql/*/bin, pg_config --bindir or PATH; run tools/setup.sh to install them (or set " + EnvDSN + " to use an existing server)")
}

// pgVersion extracts N from /usr/lib/postgresql/N/bin for sorting; 0 if it is
// not a number.
func pgVersion(bindir string) int {
	v, err := strconv.Atoi(filepath.Base(filepath.Dir(bindir)))
	if err != nil {
		return 0
	}
	return v
}

func isExecutable(path string) bool {
	fi, err := os.Stat(path)
	return err == nil && fi.Mode().IsRegular() && fi.Mode()&0o111 != 0
}

// credential returns the identity to run PostgreSQL as: nil (ourselves)
// unless we are root, which PostgreSQL refuses; then the postgres user.
func credential() (*syscall.Credential, error) {
	if os.Geteuid() != 0 {
		return nil, nil
	}
	u, err := user.Lookup("postgres")
	if err != nil {
		return nil, fmt.Errorf("running as root, PostgreSQL must run as another user, but looking up the \"postgres\" user failed (run tools/setup.sh, whose postgresql package creates it): %w", err)
	}
	uid, err := strconv.ParseUint(u.Uid, 10, 32)
	if err != nil {
		return nil, fmt.Errorf("postgres user has a non-numeric uid %q", u.Uid)
	}
	gid, err := strconv.ParseUint(u.Gid, 10, 32)
	if err != nil {
		return nil, fmt.Errorf("postgres user has a non-numeric gid %q", u.Gid)
	}
	return &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid), Groups: []uint32{}}, nil
}

// makeRootDir creates the directory holding the cluster and the socket.
//
// When PostgreSQL runs as another user, every ancestor of that directory must
// be searchable by it. $TMPDIR may not be (Bazel and t.TempDir() put
// directories under 0700 parents), so candidates are tried in order and the
// first whose ancestors are all world-searchable wins. The path is also kept
// short because a unix socket path may not exceed ~107 bytes.
func makeRootDir(cred *syscall.Credential) (string, error) {
	candidates := []string{os.TempDir(), "/tmp", "/var/tmp", "/dev/shm"}
	var rejected []string
	for _, base := range candidates {
		base, err := filepath.Abs(base)
		if err != nil {
			continue
		}
		// socket file name ".s.PGSQL.NNNNN" plus "/pgtest-NNNNNNNNNN/" ~ 40 bytes.
		if len(base) > 60 {
			rejected = append(rejected, base+" (path too long for a unix socket)")
			continue
		}
		if cred != nil {
			if err := searchableByOthers(base); err != nil {
				rejected = append(rejected, err.Error())
				continue
			}
		}
		dir, err := os.MkdirTemp(base, "pgtest-")
		if err != nil {
			rejected = append(rejected, fmt.Sprintf("%s (%v)", base, err))
			continue
		}
		if cred != nil {
			if err := os.Chown(dir, int(cred.Uid), int(cred.Gid)); err != nil {
				return "", errors.Join(fmt.Errorf("handing %s to the postgres user: %w", dir, err), os.RemoveAll(dir))
			}
		}
		return dir, nil
	}
	return "", fmt.Errorf("no usable temporary directory for PostgreSQL: %s", strings.Join(rejected, "; "))
}

// searchableByOthers checks that dir and all its ancestors have the
// world-execute bit, so an unrelated user can reach files below dir.
func searchableByOthers(dir string) error {
	for p := dir; ; p = filepath.Dir(p) {
		fi, err := os.Stat(p)
		if err != nil {
			return fmt.Errorf("%s (%v)", dir, err)
		}
		if fi.Mode().Perm()&0o001 == 0 {
			return fmt.Errorf("%s (%s is not searchable by the postgres user)", dir, p)
		}
		if p == filepath.Dir(p) {
			return nil
		}
	}
}

// childEnv is the environment of initdb and postgres: fixed and minimal so
// that neither HOME, the caller's locale nor PG* variables change behaviour.
func childEnv() []string {
	return []string{"LC_ALL=C", "LANG=C", "TZ=UTC", "PATH=/usr/bin:/bin"}
}

func initdb(bindir, data, dir string, cred *syscall.Credential) error {
	cmd := exec.Command(filepath.Join(bindir, "initdb"),
		"--pgdata="+data,
		"--username="+superuser,
		"--auth=trust",
		"--encoding=UTF8",
		"--locale=C",
		"--no-sync",
	)
	cmd.Dir = dir
	cmd.Env = childEnv()
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: cred}
	out, err := cmd.CombinedOutput()
	if err != nil {
		return fmt.Errorf("initdb %s failed: %w\n%s", data, err, tail(string(out), 30))
	}
	return nil
}

// freePort asks the kernel for a currently unused loopback port. Another
// process may take it before postgres binds it; startServer retries then.
func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("finding a free port: %w", err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	if err := l.Close(); err != nil {
		return 0, fmt.Errorf("releasing probe port %d: %w", port, err)
	}
	return port, nil
}

// process is a running postgres started by this package.
type process struct {
	cmd     *exec.Cmd
	logPath string
	done    chan struct{} // closed when the process has exited
	waitErr error         // valid after done is closed
}

// startPostgres starts the server in the background.
//
// The process is started from a goroutine locked to its OS thread, which
// stays alive exactly as long as the server: Pdeathsig is tied to the thread
// that forked the child, so if the test binary dies without cleaning up (a
// panic, a timeout, a kill), the kernel sends postgres SIGQUIT instead of
// leaving an orphaned server behind.
func startPostgres(bindir, data, dir string, port int, cred *syscall.Credential) (*process, error) {
	logPath := filepath.Join(dir, "postgres.log")
	logFile, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o644)
	if err != nil {
		return nil, fmt.Errorf("creating server log: %w", err)
	}
	cmd := exec.Command(filepath.Join(bindir, "postgres"),
		"-D", data,
		"-c", "listen_addresses=127.0.0.1",
		"-c", "port="+strconv.Itoa(port),
		"-c", "unix_socket_directories="+dir,
		"-c", "fsync=off",
		"-c", "synchronous_commit=off",
		"-c", "full_page_writes=off",
		"-c", "max_connections=200",
		"-c", "shared_buffers=32MB",
		"-c", "logging_collector=off",
		"-c", "log_min_messages=warning",
	)
	cmd.Dir = dir
	cmd.Env = childEnv()
	cmd.Stdout = logFile
	cmd.Stderr = logFile
	cmd.SysProcAttr = &syscall.SysProcAttr{
		Credential: cred,
		Pdeathsig:  syscall.SIGQUIT,
		Setpgid:    true, // keep terminal signals (Ctrl-C) for us to handle
	}
	p := &process{cmd: cmd, logPath: logPath, done: make(chan struct{})}
	started := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		// Deliberately never unlocked: the thread exits with this goroutine,
		// after the server has exited.
		if err := cmd.Start(); err != nil {
			started <- err
			return
		}
		started <- nil
		p.waitErr = cmd.Wait()
		close(p.done)
	}()
	err = <-started
	if closeErr := logFile.Close(); closeErr != nil && err == nil {
		err = fmt.Errorf("closing our handle on the server log: %w", closeErr)
	}
	if err != nil {
		return nil, fmt.Errorf("starting %s: %w", cmd.Path, err)
	}
	return p, nil
}

// waitReady polls until the server accepts connections, it exits, or
// startTimeout passes.
func waitReady(p *process, dsn string) (*sql.DB, error) {
	deadline := time.Now().Add(startTimeout)
	var lastErr error
	for time.Now().Before(deadline) {
		select {
		case <-p.done:
			return nil, fmt.Errorf("server exited during start-up: %v", p.waitErr)
		default:
		}
		db, err := connect(dsn, 2*time.Second)
		if err == nil {
			return db, nil
		}
		lastErr = err
		select {
		case <-p.done:
		case <-time.After(50 * time.Millisecond):
		}
	}
	return nil, fmt.Errorf("server did not accept connections within %v: %w", startTimeout, lastErr)
}

// stop asks for a fast shutdown (SIGINT: roll back open transactions,
// disconnect clients) and kills the server if that takes longer than timeout.
func (p *process) stop(timeout time.Duration) error {
	select {
	case <-p.done:
		return nil // already exited (e.g. failed start-up)
	default:
	}
	if err := p.cmd.Process.Signal(syscall.SIGINT); err != nil && !errors.Is(err, os.ErrProcessDone) {
		return fmt.Errorf("signalling postgres (pid %d): %w", p.cmd.Process.Pid, err)
	}
	select {
	case <-p.done:
		return nil
	case <-time.After(timeout):
	}
	if err := p.cmd.Process.Kill(); err != nil && !errors.Is(err, os.ErrProcessDone) {
		return fmt.Errorf("killing postgres (pid %d) after it ignored SIGINT for %v: %w", p.cmd.Process.Pid, timeout, err)
	}
	<-p.done
	return fmt.Errorf("postgres (pid %d) did not shut down within %v and was killed\n%s", p.cmd.Process.Pid, timeout, p.logTail())
}

// logTail returns the last lines of the server log, for error messages.
func (p *process) logTail() string {
	b, err := os.ReadFile(p.logPath)
	if err != nil {
		return fmt.Sprintf("(server log unreadable: %v)", err)
	}
	return tail(string(b), 30)
}

func tail(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
