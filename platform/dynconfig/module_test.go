package dynconfig

import (
	"flag"
	"log/slog"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/fx"
	"go.uber.org/fx/fxtest"
)

func TestConfigFlags(t *testing.T) {
	var c Config
	fs := flag.NewFlagSet("x", flag.ContinueOnError)
	c.RegisterFlags(fs)
	if err := fs.Parse(nil); err != nil {
		t.Fatal(err)
	}
	want := Config{Source: "file", Dir: "config", Prefix: DefaultPrefix, Poll: time.Second, StartWait: 5 * time.Second}
	if c != want {
		t.Errorf("defaults %+v, want %+v", c, want)
	}
}

func TestNewSourceSaysWhatIsWrong(t *testing.T) {
	for _, tc := range []struct {
		cfg  Config
		want string
	}{
		{Config{Source: "consul", Dir: "x"}, `-config-source "consul": want file or etcd`},
		{Config{Source: "etcd"}, "set -registry etcd and -etcd-endpoints"},
		{Config{Source: "file"}, "-config-dir is empty"},
		{Config{Source: "file", Dir: "x", Poll: -time.Second}, "-config-poll -1s is negative"},
	} {
		_, err := NewSource(tc.cfg, nil, nil)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("NewSource(%+v) = %v, want an error saying %q", tc.cfg, err, tc.want)
		}
	}
	src, err := NewSource(Config{Source: "file", Dir: "x"}, nil, nil)
	if _, ok := src.(*FileSource); !ok || err != nil {
		t.Errorf("the file source is %T, %v; want a FileSource", src, err)
	}
	// The zero Config (no flags parsed) has no documents.
	src, err = NewSource(Config{}, nil, nil)
	if _, ok := src.(*MemorySource); !ok || err != nil {
		t.Errorf("the zero Config's source is %T, %v; want an empty MemorySource", src, err)
	}
}

func TestModule(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "abrouting.yaml"), "experiments: []")
	got := make(chan string, 1)
	app := fxtest.New(t,
		fx.Supply(Config{Source: "file", Dir: dir, Poll: poll}, slog.New(slog.DiscardHandler)),
		fx.Provide(func() prometheus.Registerer { return prometheus.NewRegistry() }),
		Module,
		fx.Invoke(func(w *Watcher) {
			w.Subscribe("abrouting", func(data []byte, present bool) error {
				got <- string(data)
				return nil
			})
		}),
	)
	app.RequireStart()
	select {
	case s := <-got: // Start waited for the first documents
		if s != "experiments: []" {
			t.Errorf("got %q", s)
		}
	default:
		t.Error("the document was not applied by the time the app started")
	}
	app.RequireStop()
}

func TestModuleEtcdWithoutClientFails(t *testing.T) {
	app := fx.New(
		fx.Supply(Config{Source: "etcd"}, slog.New(slog.DiscardHandler)),
		Module,
		fx.Invoke(func(*Watcher) {}),
		fx.NopLogger,
	)
	if err := app.Err(); err == nil || !strings.Contains(err.Error(), "-etcd-endpoints") {
		t.Errorf("app.Err() = %v", err)
	}
}
