package edge

import (
	"os"
	"testing"

	"github.com/tremolo-dev/tremolo/wasm-plugins/plugintest"
)

// TestMain removes the plugin modules the benchmarks build (plugintest).
func TestMain(m *testing.M) { os.Exit(plugintest.Main(m)) }
