package allinone_test

// The API test suite: the real all-in-one app (every service, the feed and
// the edge, as cmd/tremolo runs them) on loopback ports, driven over HTTP
// exactly as the Douyin app drives it, against SQLite files in a data
// directory and against PostgreSQL (one database per service). The
// contract is douyin-api.md; api_client_test.go checks every answer's
// shape, the scenarios here and in api_*_test.go its values.

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"go.uber.org/fx"
	"go.uber.org/fx/fxtest"

	"github.com/tremolo-dev/tremolo/platform/app"
	"github.com/tremolo-dev/tremolo/platform/config"
	"github.com/tremolo-dev/tremolo/platform/server"
	"github.com/tremolo-dev/tremolo/platform/sqldb/pgtest"
	"github.com/tremolo-dev/tremolo/services/allinone"
	"github.com/tremolo-dev/tremolo/wasm-plugins/plugintest"
)

func TestMain(m *testing.M) {
	// The shared PostgreSQL server, and the plugin modules built for the
	// tests, are removed when the tests end.
	pgtest.Main(pgtest.RunFunc(func() int {
		code := plugintest.Main(m)
		_ = os.RemoveAll(compiledPlugins())
		return code
	}))
}

// testKey signs the tokens of every app the tests start, so that a token
// survives a restart and the tests can sign expired ones.
const testKey = "api-test-key-api-test-key-api-test-key"

// maxUpload is the edge's upload bound in the tests (-edge-max-upload-bytes),
// small so that an oversized upload is cheap to send.
const maxUpload = 1 << 20

// services are the services with a database, by their DSN flag's prefix.
var services = []string{"user", "video", "favorite", "comment", "relation", "message"}

// env is one running all-in-one app.
type env struct {
	dir  string            // the data directory
	dsns map[string]string // per service; empty: SQLite in dir
	args []string          // extra flags, kept across restarts
	tmp  string            // the process's TMPDIR (the edge spools uploads there)
	app  *fxtest.App
	base string // http://127.0.0.1:port
	c    *client

	stopped bool
}

// startEnv runs the all-in-one app on dir with the flags cmd/tremolo has
// (their defaults, but loopback ports, the test key, quiet logs and a 1 MiB
// upload bound) and dsns' databases.
func startEnv(t *testing.T, dir string, dsns map[string]string, extraArgs ...string) *env {
	t.Helper()
	start := time.Now()
	args := []string{
		"-data-dir", dir,
		"-grpc-addr", "127.0.0.1:0", "-http-addr", "127.0.0.1:0",
		"-log-level", "error",
		"-jwt-key", testKey,
		"-edge-max-upload-bytes", strconv.Itoa(maxUpload),
		"-shutdown-timeout", "2s",
		// The native middleware unless a test asks for the plugin chain
		// (which needs its modules built: see wasmArgs).
		"-edge-middleware", "native",
	}
	for _, s := range services {
		if dsn := dsns[s]; dsn != "" {
			args = append(args, "-"+s+"-db", dsn)
		}
	}
	args = append(args, extraArgs...)
	var (
		pcfg app.Config
		acfg allinone.Config
	)
	// Flags only (not the TREMOLO_* environment): the tests must not depend
	// on the machine's settings.
	if err := config.NewFlagSet("tremolo-api-test", &pcfg, &acfg).Parse(args); err != nil {
		t.Fatal(err)
	}
	e := &env{dir: dir, dsns: dsns, args: extraArgs, tmp: os.Getenv("TMPDIR")}
	var srv *server.Server
	e.app = fxtest.New(t, app.Options(pcfg), allinone.Modules(acfg), fx.Populate(&srv))
	e.app.RequireStart()
	t.Cleanup(e.stop)
	e.base = "http://" + srv.HTTPAddr().String()
	e.c = newClient(e.base)
	t.Logf("app on %s (data %s) started in %v", e.base, dir, time.Since(start).Round(time.Millisecond))
	return e
}

func (e *env) stop() {
	if !e.stopped {
		e.stopped = true
		e.app.RequireStop()
	}
}

// restart stops e and starts a new app on the same data and databases.
func (e *env) restart(t *testing.T) *env {
	t.Helper()
	e.stop()
	return startEnv(t, e.dir, e.dsns, e.args...)
}

// TestAPI runs the whole suite on each backend: one app per backend,
// shared by the scenarios (each uses its own accounts), then restarted on
// the same data.
func TestAPI(t *testing.T) {
	for _, backend := range []string{"sqlite", "postgres"} {
		t.Run(backend, func(t *testing.T) {
			began := time.Now()
			dsns := map[string]string{}
			if backend == "postgres" {
				srv := pgtest.Shared(t)
				for _, s := range services {
					dsns[s] = srv.NewDatabase(t)
				}
			}
			// The edge spools uploads to TMPDIR: a private one shows that
			// failed uploads leave nothing behind.
			t.Setenv("TMPDIR", t.TempDir())
			// The edge's two middlewares, each on one backend: the plugin
			// chain (the default) and the native token check (the
			// benchmark baseline) must answer the app alike.
			args := []string{"-edge-middleware", "native"}
			if backend == "sqlite" {
				args = wasmArgs(t)
			}
			e := startEnv(t, t.TempDir(), dsns, args...)
			runSuite(t, e)
			t.Logf("%s: %v", backend, time.Since(began).Round(time.Millisecond))
		})
	}
}

// TestAPIWithoutDemo: seeding the demo is optional (-seed-demo=false);
// a store without videos answers an empty feed, its list still [].
func TestAPIWithoutDemo(t *testing.T) {
	e := startEnv(t, t.TempDir(), nil, "-seed-demo=false")
	r := e.c.get(t, "/douyin/feed/", nil).ok(t, "feed of an empty store")
	if len(r.VideoList) != 0 || !strings.Contains(string(r.raw), `"video_list":[]`) {
		t.Fatalf("feed of an empty store: %s", r.raw)
	}
	a := register(t, e, inForm, allinone.DemoUser, "pw") // the demo user's name is free
	if r := e.c.get(t, "/douyin/publish/list/", vals("token", a.token)).ok(t, "publish list"); !strings.Contains(string(r.raw), `"video_list":[]`) {
		t.Fatalf("publish list without videos: %s", r.raw)
	}
}

// runSuite runs every scenario on e, in an order where each finds the
// state the previous left.
func runSuite(t *testing.T, e *env) {
	step := func(name string, f func(t *testing.T)) {
		t.Helper()
		began := time.Now()
		if !t.Run(name, f) {
			t.FailNow() // later steps build on this one's state
		}
		t.Logf("%s: %v", name, time.Since(began).Round(time.Millisecond))
	}
	step("fresh install", func(t *testing.T) { freshInstall(t, e) })
	var w *world
	step("happy path", func(t *testing.T) { w = happyPath(t, e, "a-") })
	step("bad input", func(t *testing.T) { badInput(t, e, w) })
	step("concurrency", func(t *testing.T) { concurrency(t, e, w) })
	step("restart", func(t *testing.T) {
		before := snapshot(t, e, w)
		e = e.restart(t)
		restarted(t, e, w, before)
		happyPath(t, e, "b-")
	})
}

// listFiles returns the names of the regular files in dir (none if it
// does not exist).
func listFiles(t testing.TB, dir string) []string {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil && !os.IsNotExist(err) {
		t.Fatal(err)
	}
	var out []string
	for _, en := range entries {
		if en.Type().IsRegular() {
			out = append(out, en.Name())
		}
	}
	return out
}

// mediaState describes what is on disk: the published files and any
// temporary upload left in the media folder or the edge's TMPDIR. An
// abandoned upload is removed by the video service once it sees the call
// cancelled, which may be just after the edge answered: leftovers get up
// to 5 s to go.
func (e *env) mediaState(t testing.TB) string {
	media := filepath.Join(e.dir, "media")
	var tmp, spool []string
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		tmp, spool = listFiles(t, filepath.Join(media, "tmp")), listFiles(t, e.tmp)
		if len(tmp)+len(spool) == 0 || time.Now().After(deadline) {
			break
		}
	}
	return fmt.Sprintf("videos=%d covers=%d media-tmp=%v spool=%v",
		len(listFiles(t, filepath.Join(media, "videos"))), len(listFiles(t, filepath.Join(media, "covers"))), tmp, spool)
}
