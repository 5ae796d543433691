package sdk

import (
	"net/url"
	"strings"
	"testing"
)

// FuzzQueryValue checks QueryValue against net/url, which the services
// behind the edge parse the same query with. Left out are the two known
// differences (see QueryValue): semicolons, and more pairs than net/url
// parses.
func FuzzQueryValue(f *testing.F) {
	f.Add("latest_time=0&token=abc.def.ghi", "token")
	f.Add("tok%65n=x&token=y", "token")
	f.Add("a=%zz&a=1", "a")
	f.Add("token&token=1", "token")
	f.Fuzz(func(t *testing.T, query, name string) {
		if strings.Contains(query, ";") || strings.Count(query, "&") >= 10_000 {
			return
		}
		vals, _ := url.ParseQuery(query)
		want, wantOK := "", false
		if vs, ok := vals[name]; ok {
			want, wantOK = vs[0], true
		}
		if got, ok := QueryValue(query, name); got != want || ok != wantOK {
			t.Errorf("QueryValue(%q, %q) = %q, %v; net/url finds %q, %v", query, name, got, ok, want, wantOK)
		}
	})
}

func TestQueryValue(t *testing.T) {
	for _, c := range []struct {
		query, name, want string
		ok                bool
	}{
		{"a=1&token=abc", "token", "abc", true},
		{"token=a%2Bb+c", "token", "a+b c", true},
		{"tok%65n=x", "token", "x", true},
		{"token=%zz&token=ok", "token", "ok", true},
		{"token", "token", "", true},
		{"tokens=1", "token", "", false},
		{"", "token", "", false},
		{"token=%4", "token", "", false},
	} {
		got, ok := QueryValue(c.query, c.name)
		if got != c.want || ok != c.ok {
			t.Errorf("QueryValue(%q, %q) = %q, %v; want %q, %v", c.query, c.name, got, ok, c.want, c.ok)
		}
	}
	if n := testing.AllocsPerRun(100, func() { QueryValue("a=1&token=abc.def.ghi", "token") }); n != 0 {
		t.Errorf("QueryValue without escapes allocates %v times", n)
	}
}

func TestCookieValue(t *testing.T) {
	for _, c := range []struct{ header, name, want string }{
		{"a=1; b=2", "b", "2"},
		{`a="quoted"`, "a", "quoted"},
		{"\ta=1 ;b=2", "a", "1"},
		{"ab=1; b=2", "b", "2"},
	} {
		if got, _ := CookieValue(c.header, c.name); got != c.want {
			t.Errorf("CookieValue(%q, %q) = %q, want %q", c.header, c.name, got, c.want)
		}
	}
}

func TestClientIP(t *testing.T) {
	for addr, want := range map[string]string{
		"1.2.3.4:80": "1.2.3.4", "[::1]:80": "::1", "1.2.3.4": "1.2.3.4", "::1": "::1", "": "",
	} {
		if got := ClientIP(addr); got != want {
			t.Errorf("ClientIP(%q) = %q, want %q", addr, got, want)
		}
	}
}

func TestEnvelope(t *testing.T) {
	got := string(Envelope(1008, "too \"many\"\n"))
	if want := `{"status_code":1008,"status_msg":"too \"many\"\u000a"}`; got != want {
		t.Errorf("Envelope = %s, want %s", got, want)
	}
}

func TestDecodeConfig(t *testing.T) {
	type cfg struct {
		Rate  float64  `json:"rate"`
		Names []string `json:"names"`
	}
	c := cfg{Rate: 5}
	if err := DecodeConfig([]byte("  "), &c); err != nil || c.Rate != 5 {
		t.Errorf("blank config: %v, %+v", err, c)
	}
	for config, want := range map[string]string{
		`{"rate":"x"}`:   "config field rate: got a JSON string, want a number (float64)",
		`{"names":{}}`:   "config field names: got a JSON object, want an array",
		`{"rat":1}`:      `config: unknown field "rat"`,
		`{"rate":1} {}`:  "unexpected data after",
		`{"rate":1`:      "config:",
		`["not object"]`: "config field (top level)",
	} {
		err := DecodeConfig([]byte(config), &c)
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("DecodeConfig(%s) = %v, want %q", config, err, want)
		}
	}
}

func TestPerSecond(t *testing.T) {
	for _, c := range []struct {
		rate  float64
		burst int
		ok    bool
	}{{0, 1, false}, {-1, 1, false}, {1, 0, false}, {0.0001, 1, true}, {1e9, 1, true}, {2e9, 1, false}} {
		if _, err := PerSecond(c.rate, c.burst); (err == nil) != c.ok {
			t.Errorf("PerSecond(%v, %d): %v", c.rate, c.burst, err)
		}
	}
}
