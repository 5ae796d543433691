package faultinject

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"google.golang.org/grpc/codes"
)

func TestParse(t *testing.T) {
	want := []Rule{{Service: "video", Method: "GetVideos", Probability: 0.5, Delay: 200 * time.Millisecond, Abort: codes.Unavailable}}
	docs := map[string]string{
		"yaml flow": `{faults: [{service: video, method: GetVideos, probability: 0.5, delay: 200ms, abort: UNAVAILABLE}]}`,
		"yaml block": `
faults:
  - service: video
    method: GetVideos
    probability: 0.5
    delay: 200ms
    abort: unavailable
`,
		"json": `{"faults": [{"service": "video", "method": "GetVideos", "probability": 0.5, "delay": "200ms", "abort": "Unavailable"}]}`,
	}
	for name, doc := range docs {
		got, err := Parse([]byte(doc))
		if err != nil || !reflect.DeepEqual(got, want) {
			t.Errorf("%s: Parse = %+v, %v; want %+v", name, got, err, want)
		}
	}

	got, err := Parse([]byte("faults:\n- {service: '*', abort: DEADLINE_EXCEEDED, message: drill}\n- {method: /a.B/C, delay: 1s}\n- {abort: cancelled}\n- {abort: CANCELED}"))
	wantMore := []Rule{
		{Service: "*", Probability: 1, Abort: codes.DeadlineExceeded, Message: "drill"},
		{Method: "/a.B/C", Probability: 1, Delay: time.Second},
		{Probability: 1, Abort: codes.Canceled},
		{Probability: 1, Abort: codes.Canceled},
	}
	if err != nil || !reflect.DeepEqual(got, wantMore) {
		t.Errorf("Parse = %+v, %v; want %+v", got, err, wantMore)
	}
	for _, empty := range []string{"", "   \n", "null", "{}", "faults: []", "faults: null", "{\"faults\": []}"} {
		if got, err := Parse([]byte(empty)); err != nil || len(got) != 0 {
			t.Errorf("Parse(%q) = %v, %v; want no rules", empty, got, err)
		}
	}
}

func TestParseErrors(t *testing.T) {
	bad := map[string]string{
		"faults: [{abort: UNAVAILBLE}]":                             `faults[0].abort: unknown code "UNAVAILBLE"`,
		"faults: [{abort: 14}]":                                     "faults[0].abort: must be a gRPC code name",
		"faults: [{abort: OK}]":                                     "faults[0].abort: OK is not a failure",
		"faults: [{delay: 1s}, {delay: soon}]":                      `faults[1].delay: "soon" is not a duration`,
		"faults: [{delay: 200}]":                                    "faults[0].delay: must be a duration",
		"faults: [{delay: -1s}]":                                    "faults[0].delay: -1s is negative",
		"faults: [{abort: INTERNAL, probability: 1.5}]":             "faults[0].probability: 1.5 is outside (0, 1]",
		"faults: [{abort: INTERNAL, probability: 0}]":               "faults[0].probability: 0 is outside (0, 1]",
		"faults: [{abort: INTERNAL, probability: half}]":            "faults[0].probability: must be a number",
		"faults: [{abort: INTERNAL, probabilty: 0.01}]":             `faults[0]: unknown field "probabilty"`,
		"faults: [{service: video}]":                                "faults[0]: the rule does nothing",
		"faults: [{delay: 1s, message: hi}]":                        "faults[0].message: is only sent with an abort",
		"faults: [{abort: INTERNAL, service: [a]}]":                 "faults[0].service: must be a string",
		"faults: [{abort: INTERNAL, service: a.B/C}]":               "faults[0].service: \"a.B/C\" has a slash",
		"faults: [{abort: INTERNAL, method: 3}]":                    "faults[0].method: must be a string",
		"faults: [INTERNAL]":                                        "faults[0]: a rule must be a mapping",
		"faults: {abort: INTERNAL}":                                 "faults must be a list",
		"fault: []":                                                 `unknown key "fault"`,
		"- abort: INTERNAL":                                         "must be a mapping with a faults list",
		"faults: [":                                                 "neither JSON nor YAML",
		`{"faults": [{"abort": "INTERNAL", "delay": 5}]}`:           "faults[0].delay: must be a duration",
		`{"faults": [{"abort": "INTERNAL"}, {"abort": "INTRNAL"}]}`: "faults[1].abort",
	}
	for doc, want := range bad {
		_, err := Parse([]byte(doc))
		if err == nil || !strings.Contains(err.Error(), want) || !strings.HasPrefix(err.Error(), "faultinject: ") {
			t.Errorf("Parse(%q): err = %v; want one containing %q", doc, err, want)
		}
	}
}

// format writes rules in the file format, for round trips.
func format(rules []Rule) []byte {
	type raw struct {
		Service     string  `json:"service,omitempty"`
		Method      string  `json:"method,omitempty"`
		Probability float64 `json:"probability"`
		Delay       string  `json:"delay,omitempty"`
		Abort       string  `json:"abort,omitempty"`
		Message     string  `json:"message,omitempty"`
	}
	out := struct {
		Faults []raw `json:"faults"`
	}{Faults: []raw{}}
	for _, r := range rules {
		x := raw{Service: r.Service, Method: r.Method, Probability: r.Probability, Message: r.Message}
		if r.Delay != 0 {
			x.Delay = r.Delay.String()
		}
		if r.Abort != codes.OK {
			x.Abort = r.Abort.String()
		}
		out.Faults = append(out.Faults, x)
	}
	b, _ := json.Marshal(out)
	return b
}

// FuzzParse checks that Parse never panics, that what it accepts a
// server accepts too, and that accepted rules survive being written out
// and read back.
func FuzzParse(f *testing.F) {
	f.Add([]byte(`{faults: [{service: video, method: GetVideos, probability: 0.5, delay: 200ms, abort: UNAVAILABLE}]}`))
	f.Add([]byte("faults:\n- {service: '*', abort: DEADLINE_EXCEEDED, message: drill}\n- {method: /a.B/C, delay: 1s}"))
	f.Add([]byte(`{"faults": [{"probability": 1e-300, "delay": "1h2m3.5s", "abort": "data_loss"}]}`))
	f.Add([]byte(`faults: [{abort: INTERNAL, probabilty: 0.01}]`))
	f.Add([]byte("faults: &a [*a]"))
	f.Add([]byte(""))
	f.Fuzz(func(t *testing.T, data []byte) {
		rules, err := Parse(data)
		if err != nil {
			return
		}
		if err := New().Set(rules); err != nil {
			t.Fatalf("Parse accepted rules that Set refuses: %v", err)
		}
		for _, r := range rules {
			if !utf8.ValidString(r.Service + r.Method + r.Message) {
				return // JSON output replaces invalid UTF-8
			}
		}
		again, err := Parse(format(rules))
		if err != nil {
			t.Fatalf("rules written out do not parse: %v\n%s", err, format(rules))
		}
		if len(rules) == 0 && len(again) == 0 {
			return
		}
		if !reflect.DeepEqual(again, rules) {
			t.Fatalf("round trip changed the rules:\n%+v\n%+v", rules, again)
		}
	})
}
