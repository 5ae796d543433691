package tracing

import (
	"context"
	"flag"
	"math"
	"strings"
	"testing"
)

func TestFlagsDefaults(t *testing.T) {
	var c Config
	fs := flag.NewFlagSet("x", flag.ContinueOnError)
	c.RegisterFlags(fs)
	if err := fs.Parse(nil); err != nil {
		t.Fatal(err)
	}
	if want := (Config{Enabled: true, SampleRatio: 1, OTLPInsecure: true}); c != want {
		t.Errorf("defaults %+v, want %+v", c, want)
	}
	if err := fs.Parse([]string{"-tracing=false", "-trace-sample=0.25", "-otlp-endpoint=otel:4317", "-otlp-insecure=false"}); err != nil {
		t.Fatal(err)
	}
	if want := (Config{SampleRatio: 0.25, OTLPEndpoint: "otel:4317"}); c != want {
		t.Errorf("parsed %+v, want %+v", c, want)
	}
}

func TestValidate(t *testing.T) {
	for _, tc := range []struct {
		cfg  Config
		want string // substring of the error; "" for none
	}{
		{Config{SampleRatio: 0}, ""},
		{Config{SampleRatio: 1, OTLPEndpoint: "localhost:4317"}, ""},
		{Config{SampleRatio: 0.5, OTLPEndpoint: "[::1]:4317"}, ""},
		{Config{SampleRatio: -0.1}, "-trace-sample -0.1: want a ratio from 0 to 1"},
		{Config{SampleRatio: 1.5}, "-trace-sample 1.5"},
		{Config{SampleRatio: math.NaN()}, "-trace-sample NaN"},
		{Config{SampleRatio: 1, OTLPEndpoint: "http://localhost:4317"}, "not a URL"},
		{Config{SampleRatio: 1, OTLPEndpoint: "localhost"}, "want host:port"},
		{Config{SampleRatio: 1, OTLPEndpoint: ":4317"}, "missing host"},
		{Config{SampleRatio: 1, OTLPEndpoint: "localhost:otlp"}, `port "otlp"`},
		{Config{SampleRatio: 1, OTLPEndpoint: "localhost:0"}, `port "0"`},
		{Config{SampleRatio: 1, OTLPEndpoint: "localhost:65536"}, `port "65536"`},
	} {
		err := tc.cfg.Validate()
		switch {
		case tc.want == "" && err != nil:
			t.Errorf("%+v: %v", tc.cfg, err)
		case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
			t.Errorf("%+v: error %v, want one containing %q", tc.cfg, err, tc.want)
		}
	}
}

func TestNewProviderRefusesBadConfig(t *testing.T) {
	if _, _, err := NewProvider(Config{Enabled: true, SampleRatio: 2}, "a"); err == nil {
		t.Error("ratio 2 accepted")
	}
	if _, _, err := NewProvider(Config{Enabled: true, SampleRatio: 1}, ""); err == nil || !strings.Contains(err.Error(), "empty service name") {
		t.Errorf("empty service name: %v", err)
	}
	// Off needs no name: nothing is exported.
	if _, shutdown, err := NewProvider(Config{}, ""); err != nil {
		t.Errorf("off: %v", err)
	} else if err := shutdown(context.Background()); err != nil {
		t.Errorf("off: shutdown: %v", err)
	}
}
