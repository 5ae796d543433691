package config

import (
	"flag"
	"strings"
	"testing"
	"time"
)

type sample struct {
	Addr    string
	Timeout time.Duration
}

func (s *sample) RegisterFlags(fs *flag.FlagSet) {
	fs.StringVar(&s.Addr, "grpc-addr", ":9000", "listen address")
	fs.DurationVar(&s.Timeout, "shutdown-timeout", time.Second, "budget | with a pipe")
}

func TestEnvironmentAndFlags(t *testing.T) {
	t.Setenv("TREMOLO_GRPC_ADDR", "127.0.0.1:1")
	t.Setenv("TREMOLO_SHUTDOWN_TIMEOUT", "3s")
	var s sample
	if err := Parse(NewFlagSet("t", &s), []string{"-shutdown-timeout", "5s"}); err != nil {
		t.Fatal(err)
	}
	if s.Addr != "127.0.0.1:1" {
		t.Errorf("env not applied: addr %q", s.Addr)
	}
	if s.Timeout != 5*time.Second {
		t.Errorf("flag did not win over env: %v", s.Timeout)
	}
}

func TestBadValueNamesTheSetting(t *testing.T) {
	t.Setenv("TREMOLO_SHUTDOWN_TIMEOUT", "soon")
	var s sample
	err := Parse(NewFlagSet("t", &s), nil)
	if err == nil || !strings.Contains(err.Error(), "shutdown") {
		t.Fatalf("err = %v; want one naming the setting", err)
	}
}

func TestMarkdown(t *testing.T) {
	var s sample
	md := Markdown(NewFlagSet("t", &s))
	for _, want := range []string{"| `-grpc-addr` | `TREMOLO_GRPC_ADDR` | `:9000` | listen address |", `budget \| with a pipe`} {
		if !strings.Contains(md, want) {
			t.Errorf("table lacks %q:\n%s", want, md)
		}
	}
	if EnvVar("jwt-key-file") != "TREMOLO_JWT_KEY_FILE" {
		t.Fatal(EnvVar("jwt-key-file"))
	}
}
