// Package app assembles a Tremolo process: the platform's runtime modules,
// the configuration read from flags and environment, and the run loop.
//
// A service binary is a few lines (services/user/cmd/user):
//
//	func main() {
//		var cfg user.Config
//		app.Main("user", []config.Flags{&cfg}, func(app.Config) fx.Option {
//			return fx.Options(fx.Supply(cfg), user.Module) // cfg is parsed by now
//		})
//	}
package app

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"runtime/debug"
	"syscall"
	"time"

	"go.uber.org/fx"

	"github.com/tremolo-dev/tremolo/platform/changes"
	"github.com/tremolo-dev/tremolo/platform/client"
	"github.com/tremolo-dev/tremolo/platform/config"
	"github.com/tremolo-dev/tremolo/platform/discovery"
	"github.com/tremolo-dev/tremolo/platform/dynconfig"
	"github.com/tremolo-dev/tremolo/platform/ids/idlease"
	"github.com/tremolo-dev/tremolo/platform/logging"
	"github.com/tremolo-dev/tremolo/platform/metrics"
	"github.com/tremolo-dev/tremolo/platform/server"
	"github.com/tremolo-dev/tremolo/platform/tracing"
)

// Config is the configuration every process has.
type Config struct {
	Log    logging.Config
	Server server.Config
	Client client.Config
	// Discovery is the service registry and this process's instances.
	Discovery discovery.Config
	// Tracing says whether spans are made and where they go.
	Tracing tracing.Config
	// Dynamic is where dynamic configuration comes from.
	Dynamic dynconfig.Config
	// IDLease is where node ids are leased with -registry etcd.
	IDLease idlease.Config
	// Program names the process (its spans' service.name); Parse sets it.
	Program string
	// DataDir holds the embedded defaults' files (SQLite databases, keys,
	// media) when no external store is configured.
	DataDir string
	// NodeID distinguishes this process among replicas in the ids it makes.
	NodeID int64
	// MaxInFlight is how many calls the process serves at once before it
	// sheds the rest with RESOURCE_EXHAUSTED; 0 means no limit.
	MaxInFlight int
}

// RegisterFlags adds the platform's flags.
func (c *Config) RegisterFlags(fs *flag.FlagSet) {
	c.Log.RegisterFlags(fs)
	c.Server.RegisterFlags(fs)
	c.Client.RegisterFlags(fs)
	c.Discovery.RegisterFlags(fs)
	c.Tracing.RegisterFlags(fs)
	c.Dynamic.RegisterFlags(fs)
	c.IDLease.RegisterFlags(fs)
	fs.StringVar(&c.DataDir, "data-dir", "data", "directory for the embedded defaults: SQLite databases, generated keys, media")
	fs.IntVar(&c.MaxInFlight, "max-in-flight", 2048, "calls served at once before the rest are refused with RESOURCE_EXHAUSTED (load shedding); 0: no limit")
	fs.Int64Var(&c.NodeID, "node-id", 0, "this replica's node id in generated ids (0-31), unique among live replicas; with -registry etcd it is leased from etcd instead")
}

// Runtime is the platform's modules: logging, metrics, servers, clients and
// the change counter caches read. It needs the parts of Config supplied
// (Options does that).
var Runtime = fx.Options(logging.Module, metrics.Module, server.Module, client.Module, changes.Module, tracing.Module, governance)

// Options supplies cfg's parts and the Runtime. The app's stop timeout
// leaves room for the server's drain delay and graceful stop, so that hooks
// after it (closing databases) still run.
func Options(cfg Config) fx.Option {
	stop := cfg.Server.DrainDelay + cfg.Server.ShutdownTimeout + 5*time.Second
	if cfg.Discovery.Registry == discovery.RegistryEtcd && cfg.Discovery.SnapshotDir == "" {
		cfg.Discovery.SnapshotDir = filepath.Join(cfg.DataDir, "discovery")
	}
	return fx.Options(
		fx.Supply(cfg, cfg.Log, cfg.Server, cfg.Client, cfg.Discovery, cfg.Tracing, cfg.Dynamic, tracing.ServiceName(cfg.Program)),
		Runtime, fx.StopTimeout(stop))
}

// Parse reads the platform's configuration and each of cfgs from args and
// the environment.
func Parse(program string, args []string, cfgs ...config.Flags) (Config, error) {
	cfg := Config{Program: program}
	fs := config.NewFlagSet(program, append([]config.Flags{&cfg}, cfgs...)...)
	return cfg, config.Parse(fs, args)
}

// DefaultGCPercent is the garbage collector's target (GOGC) of the
// platform's processes when the environment does not set GOGC. A service's
// live heap is small (tens of MB) and its allocation rate high, so Go's
// default of 100 collects several times a second under load; 400 lets the
// heap grow to five times the live data between collections and costs a
// request a quarter less CPU (the feed route: docs/benchmarks.md). Bound
// the memory with GOMEMLIMIT where it matters; set GOGC to choose another
// target.
const DefaultGCPercent = 400

// Main parses the command line into the platform's configuration and cfgs,
// runs an fx app of the Runtime plus opts until SIGINT or SIGTERM, and exits
// with its status: 2 when the command line or environment cannot be parsed,
// 1 when the app cannot be built or started (including values that parse
// but are refused, such as a short -jwt-key) or fails while running.
func Main(program string, cfgs []config.Flags, opts func(Config) fx.Option) {
	cfg, err := Parse(program, os.Args[1:], cfgs...)
	if errors.Is(err, flag.ErrHelp) {
		os.Exit(0)
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "%s: %v\n", program, err)
		os.Exit(2)
	}
	if os.Getenv("GOGC") == "" {
		debug.SetGCPercent(DefaultGCPercent)
	}
	os.Exit(Run(fx.New(Options(cfg), opts(cfg))))
}

// Run starts app, waits for a signal or an fx shutdown, stops it, and
// returns the exit code.
func Run(app *fx.App) int {
	if err := app.Err(); err != nil {
		fmt.Fprintf(os.Stderr, "building the app: %v\n", err)
		return 1
	}
	startCtx, cancel := context.WithTimeout(context.Background(), app.StartTimeout())
	defer cancel()
	if err := app.Start(startCtx); err != nil {
		fmt.Fprintf(os.Stderr, "starting: %v\n", err)
		return 1
	}
	sig := <-app.Wait()
	signal.Reset(os.Interrupt, syscall.SIGTERM)
	stopCtx, cancelStop := context.WithTimeout(context.Background(), app.StopTimeout())
	defer cancelStop()
	if err := app.Stop(stopCtx); err != nil {
		fmt.Fprintf(os.Stderr, "stopping: %v\n", err)
		return 1
	}
	return sig.ExitCode
}
