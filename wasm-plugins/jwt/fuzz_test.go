package jwt

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"strconv"
	"strings"
	"testing"
	"time"

	gojwt "github.com/golang-jwt/jwt/v5"
)

const fuzzKey = "0123456789abcdef0123456789abcdef-fuzz"

func fuzzVerifier(t testing.TB) *Verifier {
	p, err := NewPlugin([]byte(`{"keys":[{"alg":"HS256","key":"` + fuzzKey + `"}]}`))
	if err != nil {
		t.Fatal(err)
	}
	p.verifier.now = func() time.Time { return time.Unix(1_700_000_000, 0) }
	return p.verifier
}

func fuzzSign(header, payload string) string {
	s := base64.RawURLEncoding.EncodeToString([]byte(header)) + "." + base64.RawURLEncoding.EncodeToString([]byte(payload))
	sig, _ := gojwt.SigningMethodHS256.Sign(s, []byte(fuzzKey))
	return s + "." + base64.RawURLEncoding.EncodeToString(sig)
}

// FuzzVerify signs the fuzzer's header and payload with the key (so the
// parser, not the MAC, is what gets exercised) and checks the verifier
// against golang-jwt: whatever the plugin accepts, golang-jwt accepts too,
// for the same user. The plugin may refuse more (duplicate or case-variant
// claims, non-canonical user ids).
//
//	go test ./wasm-plugins/jwt -run '^$' -fuzz FuzzVerify
func FuzzVerify(f *testing.F) {
	for _, seed := range [][2]string{
		{`{"alg":"HS256","typ":"JWT"}`, `{"iss":"tremolo","sub":"42","iat":1699999990,"exp":1700003600}`},
		{`{"alg":"HS256"}`, `{"iss":"tremolo","sub":"1","exp":1.7000036e9,"aud":["a","b"]}`},
		{`{"alg":"none"}`, `{"iss":"tremolo","sub":"1","exp":1700003600}`},
		{`{"alg":"HS256","kid":"x"}`, `{"iss":"tremolo","sub":"9223372036854775807","exp":1700003600,"nbf":1699999999}`},
		{`{"alg":"HS256"}`, `{"iss":"tre\u006dolo","sub":"12","exp":1700003600,"x":{"y":[1,2,{"z":null}]}}`},
		{`{"alg":"HS256"}`, `{"iss":"tremolo","sub":"12","exp":1700003600,"Exp":1}`},
	} {
		f.Add(seed[0], seed[1])
	}
	v := fuzzVerifier(f)
	parser := gojwt.NewParser(
		gojwt.WithValidMethods([]string{"HS256"}),
		gojwt.WithIssuer("tremolo"),
		gojwt.WithExpirationRequired(),
		gojwt.WithIssuedAt(),
		gojwt.WithLeeway(30*time.Second),
		gojwt.WithTimeFunc(func() time.Time { return time.Unix(1_700_000_000, 0) }),
	)
	f.Fuzz(func(t *testing.T, header, payload string) {
		tok := fuzzSign(header, payload)
		c, err := v.Verify(tok)
		// Also feed the raw strings as a token: they must not panic.
		_, _ = v.Verify(header)
		_, _ = v.Verify(header + "." + payload)
		if err != nil {
			return
		}
		var rc gojwt.RegisteredClaims
		if _, gerr := parser.ParseWithClaims(tok, &rc, func(*gojwt.Token) (any, error) { return []byte(fuzzKey), nil }); gerr != nil {
			t.Fatalf("the plugin accepted %s.%s (user %d); golang-jwt refused it: %v", header, payload, c.UserID, gerr)
		}
		if rc.Subject != strconv.FormatInt(c.UserID, 10) {
			t.Fatalf("the plugin read user %d, golang-jwt subject %q", c.UserID, rc.Subject)
		}
	})
}

// FuzzToken throws arbitrary tokens at the verifier: no panics, and
// nothing unsigned gets through.
//
//	go test ./wasm-plugins/jwt -run '^$' -fuzz FuzzToken
func FuzzToken(f *testing.F) {
	f.Add(fuzzSign(`{"alg":"HS256"}`, `{"iss":"tremolo","sub":"42","exp":1700003600}`))
	f.Add("eyJhbGciOiJub25lIn0.eyJzdWIiOiIxIn0.")
	f.Add("a.b.c")
	f.Add("..")
	v := fuzzVerifier(f)
	f.Fuzz(func(t *testing.T, tok string) {
		c, err := v.Verify(tok)
		if err != nil {
			return
		}
		// Accepted: it must be a correctly signed token.
		i := strings.LastIndexByte(tok, '.')
		sig, derr := base64.RawURLEncoding.DecodeString(tok[i+1:])
		if derr != nil || gojwt.SigningMethodHS256.Verify(tok[:i], sig, []byte(fuzzKey)) != nil {
			t.Fatalf("accepted a token without a valid signature: %q (user %d)", tok, c.UserID)
		}
	})
}

// FuzzWalkObject checks the JSON reader against encoding/json: it accepts
// exactly the objects encoding/json accepts (as a map), and reads the same
// strings.
//
//	go test ./wasm-plugins/jwt -run '^$' -fuzz FuzzWalkObject
func FuzzWalkObject(f *testing.F) {
	for _, s := range []string{`{}`, `{"a":1}`, ` {"a" : "b\u00e9\n", "c":[1,-2.5e3,true,false,null,{"d":{}}]} `, `{"a":}`, `{"a":01}`, `{"a":"\ud83d\ude00"}`, `{"a":"\ud83d"}`, `[1]`, `{"a":1,}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		var m map[string]json.RawMessage
		jerr := json.Unmarshal(b, &m)
		depthOK := nesting(b) <= maxDepth
		got := map[string][]byte{}
		err := walkObject(b, func(key, value []byte) bool {
			k, ok := unquote(key)
			if !ok {
				t.Fatalf("unquote(%q) failed on a scanned key", key)
			}
			got[string(k)] = value
			return true
		})
		if (err == nil) != (jerr == nil) && depthOK {
			if jerr != nil && !bytes.ContainsAny(b, "\x00") && utf8Valid(b) {
				t.Fatalf("walkObject(%q) = %v, encoding/json: %v", b, err, jerr)
			}
			if jerr == nil {
				t.Fatalf("walkObject(%q) = %v, encoding/json accepts it", b, err)
			}
		}
		if err != nil || jerr != nil {
			return
		}
		for k, raw := range got {
			if len(raw) > 0 && raw[0] == '"' && utf8Valid(raw) {
				var want string
				if json.Unmarshal(raw, &want) != nil {
					t.Fatalf("encoding/json refuses the value %q", raw)
				}
				s, _ := unquote(raw)
				if string(s) != want {
					t.Fatalf("key %q: unquote(%q) = %q, encoding/json %q", k, raw, s, want)
				}
			}
		}
	})
}

// nesting returns the deepest nesting of brackets outside strings, to set
// aside inputs deeper than walkObject accepts.
func nesting(b []byte) int {
	depth, max, inStr := 0, 0, false
	for i := 0; i < len(b); i++ {
		switch c := b[i]; {
		case inStr && c == '\\':
			i++
		case c == '"':
			inStr = !inStr
		case !inStr && (c == '{' || c == '['):
			depth++
			if depth > max {
				max = depth
			}
		case !inStr && (c == '}' || c == ']'):
			depth--
		}
	}
	return max
}

func utf8Valid(b []byte) bool { return strings.ToValidUTF8(string(b), "\uFFFD") == string(b) }
