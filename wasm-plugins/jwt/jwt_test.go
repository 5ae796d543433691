package jwt_test

import (
	"crypto/ed25519"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"strings"
	"testing"
	"time"

	gojwt "github.com/golang-jwt/jwt/v5"

	"github.com/tremolo-dev/tremolo/platform/token"
	"github.com/tremolo-dev/tremolo/wasm-plugins/jwt"
	"github.com/tremolo-dev/tremolo/wasm-plugins/plugintest"
	"github.com/tremolo-dev/tremolo/wasm-plugins/sdk/nethttp"
)

func TestMain(m *testing.M) { os.Exit(plugintest.Main(m)) }

const hsKey = "0123456789abcdef0123456789abcdef-test-key"

var (
	rsaKey, _       = rsa.GenerateKey(rand.Reader, 2048)
	edPub, edKey, _ = ed25519.GenerateKey(rand.Reader)
	rsaPEM          = pemOf(&rsaKey.PublicKey)
	edPEM           = pemOf(edPub)
)

func pemOf(pub any) string {
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		panic(err)
	}
	return string(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}))
}

// config is the plugin config of the tests: all three algorithms, the
// app's public routes.
func config() []byte {
	c := map[string]any{
		"keys": []map[string]string{
			{"alg": "HS256", "key": hsKey},
			{"alg": "RS256", "key": rsaPEM},
			{"alg": "EdDSA", "key_base64": base64.StdEncoding.EncodeToString(edPub)},
		},
		"public":        []string{"/douyin/feed", "/douyin/user/register", "/douyin/user/login", "/static/*"},
		"claim_headers": map[string]string{"tier": "X-Tremolo-Tier"},
	}
	b, _ := json.Marshal(c)
	return b
}

func platformToken(t testing.TB, id int64) string {
	s, err := token.NewSigner([]byte(hsKey), time.Hour, 30*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	tok, err := s.Sign(id)
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

func sign(t testing.TB, method gojwt.SigningMethod, key any, claims gojwt.MapClaims) string {
	tok, err := gojwt.NewWithClaims(method, claims).SignedString(key)
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

func claims(sub string, extra ...any) gojwt.MapClaims {
	now := time.Now()
	c := gojwt.MapClaims{"iss": "tremolo", "sub": sub, "iat": now.Unix(), "exp": now.Add(time.Hour).Unix()}
	for i := 0; i+1 < len(extra); i += 2 {
		if extra[i+1] == nil {
			delete(c, extra[i].(string))
			continue
		}
		c[extra[i].(string)] = extra[i+1]
	}
	return c
}

// noneToken is an unsigned token (alg none).
func noneToken(c gojwt.MapClaims) string {
	h := base64.RawURLEncoding.EncodeToString([]byte(`{"alg":"none","typ":"JWT"}`))
	p, _ := json.Marshal(c)
	return h + "." + base64.RawURLEncoding.EncodeToString(p) + "."
}

// rawToken signs header and payload JSON as given with the HS256 key.
func rawToken(t testing.TB, header, payload string) string {
	signing := base64.RawURLEncoding.EncodeToString([]byte(header)) + "." + base64.RawURLEncoding.EncodeToString([]byte(payload))
	sig, err := gojwt.SigningMethodHS256.Sign(signing, []byte(hsKey))
	if err != nil {
		t.Fatal(err)
	}
	return signing + "." + base64.RawURLEncoding.EncodeToString(sig)
}

type outcome struct {
	next   bool   // the next handler ran
	user   string // its X-Tremolo-User-Id
	code   int    // the envelope's status_code when refused
	tier   string
	form   url.Values
	header http.Header
}

type runner func(t *testing.T, config []byte) http.Handler

// serve runs one request through h and reports what happened.
func serve(t *testing.T, h http.Handler, r *http.Request) outcome {
	t.Helper()
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	var o outcome
	if w.Header().Get("X-Next") == "1" {
		o.next = true
		o.user = w.Header().Get("X-Seen-User")
		o.tier = w.Header().Get("X-Seen-Tier")
		_ = json.Unmarshal([]byte(w.Header().Get("X-Seen-Form")), &o.form)
		return o
	}
	if w.Code != 200 || w.Header().Get("Content-Type") != "application/json" {
		t.Fatalf("refusal is HTTP %d %q, want 200 application/json; body %s", w.Code, w.Header().Get("Content-Type"), w.Body)
	}
	var env struct {
		StatusCode int    `json:"status_code"`
		StatusMsg  string `json:"status_msg"`
	}
	if err := json.Unmarshal(w.Body.Bytes(), &env); err != nil || env.StatusMsg == "" {
		t.Fatalf("refusal body %q is not an envelope", w.Body)
	}
	o.code = env.StatusCode
	return o
}

// next records what the next handler saw in response headers (the wasm
// host runs it on the same goroutine, but headers keep this simple).
var next = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("X-Next", "1")
	w.Header().Set("X-Seen-User", strings.Join(r.Header.Values(jwt.UserHeader), ","))
	w.Header().Set("X-Seen-Tier", r.Header.Get("X-Tremolo-Tier"))
	if err := r.ParseForm(); err == nil {
		b, _ := json.Marshal(r.PostForm)
		w.Header().Set("X-Seen-Form", string(b))
	}
})

func native(t *testing.T, config []byte) http.Handler {
	mw, err := nethttp.Middleware(jwt.New, config)
	if err != nil {
		t.Fatal(err)
	}
	return mw(next)
}

func wasm(t *testing.T, config []byte) http.Handler {
	return plugintest.Handler(t, plugintest.Wasm(t, "jwt", true), config, next)
}

// wasmhost runs the default build, which verifies with the host's
// tremolo.signature_verify, in Tremolo's host.
func wasmhost(t *testing.T, config []byte) http.Handler {
	return plugintest.WasmhostHandler(t, "jwt", plugintest.Wasm(t, "jwt", false), config, next)
}

var runners = map[string]runner{"native": native, "wasm": wasm, "wasmhost": wasmhost}

func get(path, tok string) *http.Request {
	r := httptest.NewRequest("GET", path, nil)
	if tok != "" {
		r.URL.RawQuery = "token=" + url.QueryEscape(tok)
	}
	return r
}

func bearer(path, tok string) *http.Request {
	r := httptest.NewRequest("GET", path, nil)
	r.Header.Set("Authorization", "Bearer "+tok)
	return r
}

func form(path string, v url.Values) *http.Request {
	r := httptest.NewRequest("POST", path, strings.NewReader(v.Encode()))
	r.Header.Set("Content-Type", "application/x-www-form-urlencoded; charset=utf-8")
	return r
}

func TestPlugin(t *testing.T) {
	for name, run := range runners {
		t.Run(name, func(t *testing.T) { testPlugin(t, run(t, config())) })
	}
}

func testPlugin(t *testing.T, h http.Handler) {
	const priv = "/douyin/favorite/action"
	rsaConfused := sign(t, gojwt.SigningMethodHS256, []byte(rsaPEM), claims("7"))
	cases := []struct {
		name string
		req  *http.Request
		want outcome
	}{
		{"platform token in the query", get(priv, platformToken(t, 42)), outcome{next: true, user: "42"}},
		{"platform token as bearer", bearer(priv, platformToken(t, 43)), outcome{next: true, user: "43"}},
		{"RS256", get(priv, sign(t, gojwt.SigningMethodRS256, rsaKey, claims("44"))), outcome{next: true, user: "44"}},
		{"EdDSA", get(priv, sign(t, gojwt.SigningMethodEdDSA, edKey, claims("45"))), outcome{next: true, user: "45"}},
		{"a claim copied to a header", get(priv, sign(t, gojwt.SigningMethodHS256, []byte(hsKey), claims("46", "tier", "vip"))), outcome{next: true, user: "46", tier: "vip"}},
		{"no token", get(priv, ""), outcome{code: jwt.CodeTokenRequired}},
		{"garbage", get(priv, "not.a.token"), outcome{code: jwt.CodeTokenInvalid}},
		{"expired", get(priv, sign(t, gojwt.SigningMethodHS256, []byte(hsKey), claims("1", "exp", time.Now().Add(-time.Hour).Unix()))), outcome{code: jwt.CodeTokenExpired}},
		{"expired within the leeway", get(priv, sign(t, gojwt.SigningMethodHS256, []byte(hsKey), claims("1", "exp", time.Now().Add(-10*time.Second).Unix()))), outcome{next: true, user: "1"}},
		{"alg none", get(priv, noneToken(claims("1"))), outcome{code: jwt.CodeTokenInvalid}},
		{"HS256 with the RSA public key as secret", get(priv, rsaConfused), outcome{code: jwt.CodeTokenInvalid}},
		{"wrong HS256 key", get(priv, sign(t, gojwt.SigningMethodHS256, []byte(strings.Repeat("x", 32)), claims("1"))), outcome{code: jwt.CodeTokenInvalid}},
		{"another issuer", get(priv, sign(t, gojwt.SigningMethodHS256, []byte(hsKey), claims("1", "iss", "evil"))), outcome{code: jwt.CodeTokenInvalid}},
		{"no exp", get(priv, sign(t, gojwt.SigningMethodHS256, []byte(hsKey), claims("1", "exp", nil))), outcome{code: jwt.CodeTokenInvalid}},
		{"not yet valid", get(priv, sign(t, gojwt.SigningMethodHS256, []byte(hsKey), claims("1", "nbf", time.Now().Add(time.Hour).Unix()))), outcome{code: jwt.CodeTokenInvalid}},
		{"issued in the future", get(priv, sign(t, gojwt.SigningMethodHS256, []byte(hsKey), claims("1", "iat", time.Now().Add(time.Hour).Unix()))), outcome{code: jwt.CodeTokenInvalid}},
		{"sub not a number", get(priv, sign(t, gojwt.SigningMethodHS256, []byte(hsKey), claims("alice"))), outcome{code: jwt.CodeTokenInvalid}},
		{"sub with a leading zero", get(priv, sign(t, gojwt.SigningMethodHS256, []byte(hsKey), claims("042"))), outcome{code: jwt.CodeTokenInvalid}},
		{"sub zero", get(priv, sign(t, gojwt.SigningMethodHS256, []byte(hsKey), claims("0"))), outcome{code: jwt.CodeTokenInvalid}},
		{"sub a JSON number", get(priv, sign(t, gojwt.SigningMethodHS256, []byte(hsKey), claims("1", "sub", 5))), outcome{code: jwt.CodeTokenInvalid}},
		{"duplicate sub", get(priv, rawToken(t, `{"alg":"HS256"}`, `{"iss":"tremolo","sub":"1","sub":"2","exp":9999999999}`)), outcome{code: jwt.CodeTokenInvalid}},
		{"sub and SUB", get(priv, rawToken(t, `{"alg":"HS256"}`, `{"iss":"tremolo","sub":"1","SUB":"2","exp":9999999999}`)), outcome{code: jwt.CodeTokenInvalid}},
		{"crit header", get(priv, rawToken(t, `{"alg":"HS256","crit":["b64"],"b64":false}`, `{"iss":"tremolo","sub":"1","exp":9999999999}`)), outcome{code: jwt.CodeTokenInvalid}},
		{"escaped claim names", get(priv, rawToken(t, `{"\u0061lg":"HS256"}`, `{"iss":"tremolo","s\u0075b":"9","exp":9999999999}`)), outcome{next: true, user: "9"}},
		{"public route without token", get("/douyin/feed", ""), outcome{next: true}},
		{"public route with trailing slash", get("/douyin/feed/", ""), outcome{next: true}},
		{"public route with a bad token", get("/douyin/user/login/", "bad"), outcome{next: true}},
		{"public route with an expired token", get("/douyin/feed", sign(t, gojwt.SigningMethodHS256, []byte(hsKey), claims("1", "exp", time.Now().Add(-time.Hour).Unix()))), outcome{next: true}},
		{"public route with a good token has the user", get("/douyin/feed", platformToken(t, 50)), outcome{next: true, user: "50"}},
		{"public prefix", get("/static/a/b.png", ""), outcome{next: true}},
		{"no traversal out of a public route", get("/douyin/feed/../relation/action", ""), outcome{code: jwt.CodeTokenRequired}},
		{"no escapes in a public route", get("/douyin/%66eed", ""), outcome{code: jwt.CodeTokenRequired}},
		{"form token", form(priv, url.Values{"token": {platformToken(t, 51)}, "video_id": {"7"}}), outcome{next: true, user: "51", form: url.Values{"token": {platformToken(t, 51)}, "video_id": {"7"}}}},
		{"query wins over bearer", func() *http.Request {
			r := get(priv, platformToken(t, 52))
			r.Header.Set("Authorization", "Bearer bad")
			return r
		}(), outcome{next: true, user: "52"}},
		{"a client-sent user id is removed", func() *http.Request {
			r := get("/douyin/feed", "")
			r.Header.Set(jwt.UserHeader, "1")
			r.Header.Set("X-Tremolo-Tier", "vip")
			return r
		}(), outcome{next: true}},
		{"a client-sent user id is replaced", func() *http.Request {
			r := get(priv, platformToken(t, 53))
			r.Header.Add(jwt.UserHeader, "1")
			r.Header.Add(jwt.UserHeader, "2")
			return r
		}(), outcome{next: true, user: "53"}},
		{"a client-sent claim header is removed when the token has no such claim", func() *http.Request {
			r := get(priv, platformToken(t, 54))
			r.Header.Set("X-Tremolo-Tier", "vip")
			return r
		}(), outcome{next: true, user: "54"}},
		{"a client-sent user id is removed on a public route with a bad token", func() *http.Request {
			r := get("/douyin/feed", "not.a.token")
			r.Header.Set(jwt.UserHeader, "1")
			r.Header.Set("X-Tremolo-Tier", "vip")
			return r
		}(), outcome{next: true}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got := serve(t, h, c.req)
			if got.next != c.want.next || got.user != c.want.user || got.code != c.want.code || got.tier != c.want.tier {
				t.Errorf("got next=%v user=%q code=%d tier=%q, want next=%v user=%q code=%d tier=%q",
					got.next, got.user, got.code, got.tier, c.want.next, c.want.user, c.want.code, c.want.tier)
			}
			if c.want.form != nil && got.form.Encode() != c.want.form.Encode() {
				t.Errorf("the next handler's form is %v, want %v: the body was not put back", got.form, c.want.form)
			}
		})
	}
}

// TestFormBodyPutBack checks that a form body too large to search, and
// one without a token, still reach the next handler whole.
func TestFormBodyPutBack(t *testing.T) {
	cfg := strings.Replace(string(config()), `"keys"`, `"max_form_bytes":100,"keys"`, 1)
	for name, run := range runners {
		t.Run(name, func(t *testing.T) {
			h := run(t, []byte(cfg))
			big := url.Values{"comment_text": {strings.Repeat("y", 100_000)}, "video_id": {"9"}}
			r := form("/douyin/user/register", big)
			if got := serve(t, h, r); !got.next || got.form.Encode() != big.Encode() {
				t.Errorf("a large form reached the next handler as %d bytes, want %d", len(got.form.Encode()), len(big.Encode()))
			}
			// On a route that needs a token, a form too large to search
			// is refused for its size (10001, as the edge refuses it), not
			// with "sign in": the token may be in the unsearched part.
			if got := serve(t, h, form("/douyin/comment/action", big)); got.next || got.code != jwt.CodeInvalidParameter {
				t.Errorf("a large form without a token on a private route: %+v, want refused with %d", got, jwt.CodeInvalidParameter)
			}
			withQuery := form("/douyin/comment/action?token="+platformToken(t, 61), big)
			if got := serve(t, h, withQuery); !got.next || got.user != "61" {
				t.Errorf("a large form with the token in the query: %+v, want passed as user 61", got)
			}
			small := url.Values{"username": {"a"}, "password": {"b"}}
			if got := serve(t, h, form("/douyin/user/register", small)); !got.next || got.form.Encode() != small.Encode() {
				t.Errorf("the form reached the next handler as %v, want %v", got.form, small)
			}
		})
	}
}

// TestMultipartNotRead checks that other bodies are not touched: the
// plugin reads no body unless it is form-encoded.
func TestMultipartNotRead(t *testing.T) {
	h := native(t, config())
	body := &countingReader{r: strings.NewReader("--x\r\n...")}
	r := httptest.NewRequest("POST", "/douyin/publish/action", body)
	r.Header.Set("Content-Type", "multipart/form-data; boundary=x")
	r.Header.Set("Authorization", "Bearer "+platformToken(t, 5))
	if got := serve(t, h, r); !got.next || got.user != "5" {
		t.Fatalf("got %+v", got)
	}
	if body.n != 0 {
		t.Errorf("the plugin read %d bytes of a multipart body", body.n)
	}
}

type countingReader struct {
	r io.Reader
	n int
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += n
	return n, err
}

func TestClock(t *testing.T) {
	p, err := jwt.NewPlugin(config())
	if err != nil {
		t.Fatal(err)
	}
	base := time.Now()
	tok := sign(t, gojwt.SigningMethodHS256, []byte(hsKey), gojwt.MapClaims{"iss": "tremolo", "sub": "3", "nbf": base.Unix(), "exp": base.Add(time.Minute).Unix()})
	for _, c := range []struct {
		at   time.Duration
		want error
	}{
		{-31 * time.Second, jwt.ErrInvalid},
		{-29 * time.Second, nil},
		{time.Minute + 29*time.Second, nil},
		{time.Minute + 31*time.Second, jwt.ErrExpired},
	} {
		jwt.SetNow(p, func() time.Time { return base.Add(c.at) })
		_, err := p.Verifier().Verify(tok)
		if !errors.Is(err, c.want) && !(c.want == nil && err == nil) {
			t.Errorf("at %v: %v, want %v", c.at, err, c.want)
		}
	}
}

func TestAudience(t *testing.T) {
	cfg := strings.Replace(string(config()), `"keys"`, `"audience":["douyin","web"],"keys"`, 1)
	p, err := jwt.NewPlugin([]byte(cfg))
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		aud  any
		want bool
	}{
		{"douyin", true},
		{[]string{"x", "web"}, true},
		{"x", false},
		{[]string{}, false},
		{nil, false},
		{[]any{"douyin", 1}, false},
	} {
		tok := sign(t, gojwt.SigningMethodHS256, []byte(hsKey), claims("8", "aud", c.aud))
		_, err := p.Verifier().Verify(tok)
		if (err == nil) != c.want {
			t.Errorf("aud %v: %v, want ok=%v", c.aud, err, c.want)
		}
	}
}

func TestKID(t *testing.T) {
	cfg := `{"keys":[{"alg":"HS256","key":"` + strings.Repeat("a", 32) + `","kid":"old"},{"alg":"HS256","key":"` + hsKey + `","kid":"new"}]}`
	p, err := jwt.NewPlugin([]byte(cfg))
	if err != nil {
		t.Fatal(err)
	}
	tok := gojwt.NewWithClaims(gojwt.SigningMethodHS256, claims("4"))
	tok.Header["kid"] = "new"
	s, _ := tok.SignedString([]byte(hsKey))
	if _, err := p.Verifier().Verify(s); err != nil {
		t.Errorf("kid new: %v", err)
	}
	tok.Header["kid"] = "old"
	s, _ = tok.SignedString([]byte(hsKey))
	if _, err := p.Verifier().Verify(s); err == nil {
		t.Error("a token whose kid names another key verified")
	}
}

func TestJWK(t *testing.T) {
	n := base64.RawURLEncoding.EncodeToString(rsaKey.N.Bytes())
	jwk := `{\"kty\":\"RSA\",\"n\":\"` + n + `\",\"e\":\"AQAB\"}`
	edJWK := `{\"kty\":\"OKP\",\"crv\":\"Ed25519\",\"x\":\"` + base64.RawURLEncoding.EncodeToString(edPub) + `\"}`
	p, err := jwt.NewPlugin([]byte(`{"keys":[{"alg":"RS256","key":"` + jwk + `"},{"alg":"EdDSA","key":"` + edJWK + `"}]}`))
	if err != nil {
		t.Fatal(err)
	}
	for _, tok := range []string{
		sign(t, gojwt.SigningMethodRS256, rsaKey, claims("12")),
		sign(t, gojwt.SigningMethodEdDSA, edKey, claims("13")),
	} {
		if _, err := p.Verifier().Verify(tok); err != nil {
			t.Errorf("JWK key: %v", err)
		}
	}
}

func TestBadConfig(t *testing.T) {
	for _, c := range []struct{ config, field string }{
		{`{}`, "keys"},
		{`{"keys":[{"alg":"none","key":"x"}]}`, "keys[0].alg"},
		{`{"keys":[{"alg":"HS384","key":"x"}]}`, "keys[0].alg"},
		{`{"keys":[{"alg":"HS256","key":"short"}]}`, "keys[0].key"},
		{`{"keys":[{"alg":"HS256"}]}`, "keys[0]"},
		{`{"keys":[{"alg":"RS256","key":"not pem"}]}`, "keys[0].key"},
		{`{"keys":[{"alg":"EdDSA","key_base64":"!!"}]}`, "keys[0].key_base64"},
		{`{"keys":[{"alg":"HS256","key":"` + hsKey + `"}],"leeway_seconds":-1}`, "leeway_seconds"},
		{`{"keys":[{"alg":"HS256","key":"` + hsKey + `"}],"public":["douyin/feed"]}`, "public[0]"},
		{`{"keys":[{"alg":"HS256","key":"` + hsKey + `"}],"public":["/a/../b"]}`, "public[0]"},
		{`{"keys":[{"alg":"HS256","key":"` + hsKey + `"}],"claim_headers":{"sub":"X-Sub"}}`, "claim_headers.sub"},
		{`{"keys":[{"alg":"HS256","key":"` + hsKey + `"}],"claim_headers":{"tier":"X-Tremolo-User-Id"}}`, "claim_headers.tier"},
		{`{"keys":[{"alg":"HS256","key":"` + hsKey + `"}],"claim_headers":{"plan":"X-Tier","tier":"x-tier"}}`, "claim_headers.tier"},
		{`{"keys":[{"alg":"HS256","key":"` + hsKey + `"}],"claim_headers":{"tier":"bad header"}}`, "claim_headers.tier"},
		{`{"keys":[{"alg":"HS256","key":"` + hsKey + `"}],"max_form_bytes":"1"}`, "max_form_bytes"},
		{`{"keys":[{"alg":"HS256","key":"` + hsKey + `"}],"issuers":"x"}`, `"issuers"`},
	} {
		_, err := jwt.New([]byte(c.config))
		if err == nil || !strings.Contains(err.Error(), c.field) {
			t.Errorf("config %s: error %v, want one naming %s", c.config, err, c.field)
		}
	}
}

// TestBadConfigFailsLoading checks that a bad config stops both builds
// from loading, with the field named in the log.
func TestBadConfigFailsLoading(t *testing.T) {
	bad := []byte(`{"keys":[{"alg":"HS256","key":"short"}]}`)
	logger := &plugintest.Logger{}
	if _, err := plugintest.NewMiddleware(t.Context(), plugintest.Wasm(t, "jwt", true), bad, logger, nil); err == nil {
		t.Error("the portable build loaded with a bad config")
	} else if !strings.Contains(logger.String(), "config field keys[0].key") {
		t.Errorf("http-wasm-host-go log does not name the field: %q", logger)
	}
	log, err := plugintest.WasmhostLoad(t, "jwt", plugintest.Wasm(t, "jwt", false), bad)
	if err == nil {
		t.Error("the default build loaded in wasmhost with a bad config")
	} else if !strings.Contains(log+err.Error(), "config field keys[0].key") {
		t.Errorf("wasmhost's log does not name the field: %v\n%s", err, log)
	}
}

func benchmark(b *testing.B, h http.Handler) {
	r := httptest.NewRequest("GET", "/douyin/favorite/action?video_id=1&action_type=1&token="+platformToken(b, 1234567), nil)
	w := httptest.NewRecorder()
	verified = 0
	b.ReportAllocs()
	plugintest.Timed(b, func() {
		h.ServeHTTP(w, r)
	})
	if verified != b.N {
		b.Fatalf("%d of %d requests reached the next handler with the user", verified, b.N)
	}
}

// verified counts requests that reached nop with the user id.
var verified int

var nop = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
	if r.Header.Get(jwt.UserHeader) == "1234567" {
		verified++
	}
})

func BenchmarkNative(b *testing.B) {
	mw, err := nethttp.Middleware(jwt.New, config())
	if err != nil {
		b.Fatal(err)
	}
	benchmark(b, mw(nop))
}

func BenchmarkWasm(b *testing.B) {
	benchmark(b, plugintest.Handler(b, plugintest.Wasm(b, "jwt", true), config(), nop))
}

// BenchmarkWasmhost is the default build in Tremolo's host: HMAC by the
// host.
func BenchmarkWasmhost(b *testing.B) {
	benchmark(b, plugintest.WasmhostHandler(b, "jwt", plugintest.Wasm(b, "jwt", false), config(), nop))
}

// BenchmarkWasmhostTrusted is BenchmarkWasmhost without wazero's
// termination checks.
func BenchmarkWasmhostTrusted(b *testing.B) {
	benchmark(b, plugintest.WasmhostHandler(b, "jwt", plugintest.Wasm(b, "jwt", false), config(), nop, plugintest.Trusted))
}

// The plugin remembers the tokens it verified, but a remembered token is
// still refused once its exp (plus leeway) passes, and one refused for its
// nbf is accepted once it holds: the cache keeps windows, not verdicts.
func TestRememberedTokensStillExpire(t *testing.T) {
	p, err := jwt.NewPlugin(config())
	if err != nil {
		t.Fatal(err)
	}
	h := nethttp.Wrap(p, next)
	base := time.Now()
	tok := sign(t, gojwt.SigningMethodHS256, []byte(hsKey), gojwt.MapClaims{"iss": "tremolo", "sub": "9", "nbf": base.Unix(), "exp": base.Add(time.Minute).Unix()})
	for _, c := range []struct {
		at   time.Duration
		want int // 0: passed as user 9
	}{
		{-time.Minute, jwt.CodeTokenInvalid}, // not valid yet
		{0, 0},
		{0, 0}, // remembered
		{time.Minute, 0},
		{2 * time.Minute, jwt.CodeTokenExpired},
		{-time.Minute, jwt.CodeTokenInvalid},
	} {
		jwt.SetNow(p, func() time.Time { return base.Add(c.at) })
		got := serve(t, h, get("/douyin/favorite/action", tok))
		if c.want == 0 && (!got.next || got.user != "9") || c.want != 0 && got.code != c.want {
			t.Errorf("at %v: %+v, want code %d", c.at, got, c.want)
		}
		if n := jwt.CachedTokens(p); n != 1 && c.at >= 0 {
			t.Errorf("at %v: %d tokens remembered, want the one verified", c.at, n)
		}
	}
	bad := tok[:len(tok)-2] + "xx"
	serve(t, h, get("/douyin/favorite/action", bad))
	if n := jwt.CachedTokens(p); n != 1 {
		t.Errorf("%d tokens remembered after a refused one, want 1", n)
	}
}
