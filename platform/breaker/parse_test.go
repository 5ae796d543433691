package breaker

import (
	"strings"
	"testing"
	"time"
)

func TestParseSettings(t *testing.T) {
	got, err := ParseSettings([]byte("failure_ratio: 0.25\nsleep_window: 2s\n"))
	if err != nil {
		t.Fatal(err)
	}
	want := DefaultSettings()
	want.FailureRatio, want.SleepWindow = 0.25, 2*time.Second
	if got != want {
		t.Errorf("ParseSettings = %+v, want %+v", got, want)
	}
	if got, err := ParseSettings(nil); err != nil || got != DefaultSettings() {
		t.Errorf("empty document = %+v, %v; want the defaults", got, err)
	}
	for doc, wantErr := range map[string]string{
		"failure_ratio: 1.5":        "failure ratio 1.5 is outside (0, 1]",
		"min_requests: 0":           "minimum requests 0",
		"window: soon":              `window "soon" is not a duration`,
		"sleep_windw: 5s":           `unknown field "sleep_windw"`,
		"half_open_probes: -1":      "half-open probes -1",
		"[1, 2]":                    "breaker: settings:",
		"failure_ratio: [nan]":      "breaker: settings:",
		"sleep_window: 0s":          "sleep window 0s is not positive",
		"failure_ratio: .nan":       "breaker: settings",
		"min_requests: 99999999999": "minimum requests",
	} {
		_, err := ParseSettings([]byte(doc))
		if err == nil || !strings.Contains(err.Error(), wantErr) {
			t.Errorf("ParseSettings(%q) error = %v, want one containing %q", doc, err, wantErr)
		}
	}
}

func FuzzParseSettings(f *testing.F) {
	f.Add([]byte("failure_ratio: 0.5\nwindow: 10s"))
	f.Add([]byte(`{"min_requests": 3}`))
	f.Fuzz(func(t *testing.T, doc []byte) {
		s, err := ParseSettings(doc)
		if err == nil {
			if verr := s.Validate(); verr != nil {
				t.Fatalf("ParseSettings accepted settings Validate refuses: %v", verr)
			}
		}
	})
}
