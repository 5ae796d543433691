package naming

import (
	"testing"
	"time"
)

func TestUpperSnake(t *testing.T) {
	for in, want := range map[string]string{
		"UserError":    "USER_ERROR",
		"HTTPError":    "HTTP_ERROR",
		"Error":        "ERROR",
		"OAuth2Error":  "O_AUTH2_ERROR",
		"V2Error":      "V2_ERROR",
		"user_error":   "USER_ERROR",
		"AccountError": "ACCOUNT_ERROR",
		"APIKeyError":  "API_KEY_ERROR",
	} {
		if got := UpperSnake(in); got != want {
			t.Errorf("UpperSnake(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestCamel(t *testing.T) {
	for in, want := range map[string]string{
		"NAME_TAKEN":   "NameTaken",
		"HTTP2_FAILED": "Http2Failed",
		"X":            "X",
		"A__B_":        "AB",
	} {
		if got := Camel(in); got != want {
			t.Errorf("Camel(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestDurationUnit(t *testing.T) {
	for _, tt := range []struct {
		d    time.Duration
		n    int64
		unit string
	}{
		{2 * time.Hour, 2, "Hour"},
		{90 * time.Minute, 90, "Minute"},
		{1500 * time.Millisecond, 1500, "Millisecond"},
		{time.Second, 1, "Second"},
		{1001 * time.Microsecond, 1001, "Microsecond"},
		{7, 7, "Nanosecond"},
	} {
		if n, unit := DurationUnit(tt.d); n != tt.n || unit != tt.unit {
			t.Errorf("DurationUnit(%v) = %d %s, want %d %s", tt.d, n, unit, tt.n, tt.unit)
		}
	}
}

func TestFloats(t *testing.T) {
	if got, want := Floats([]float64{0.005, 1, 2.5, 1e-7}), "0.005, 1, 2.5, 1e-07"; got != want {
		t.Errorf("Floats = %q, want %q", got, want)
	}
}
