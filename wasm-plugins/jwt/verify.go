package jwt

import (
	"bytes"
	"encoding/base64"
	"errors"
	"math"
	"strings"
	"sync"
	"time"
	"unsafe"

	"github.com/tremolo-dev/tremolo/wasm-plugins/sdk"
	"github.com/tremolo-dev/tremolo/wasm-plugins/sdk/keys"
)

// Errors of Verifier.Verify. Only ErrExpired is told apart to the client
// (10004 rather than 10003): the app signs in again either way, but an
// expired token is the normal case and worth counting apart.
var (
	// ErrExpired: a well-signed token past its expiry (and the leeway).
	ErrExpired = errors.New("jwt: token expired")
	// ErrInvalid: anything else that is not a valid token.
	ErrInvalid = errors.New("jwt: token invalid")
)

// MaxTokenLen bounds the tokens verified; the platform's are ~150 bytes.
const MaxTokenLen = 8 << 10

// Claims is what a verified token tells the edge.
type Claims struct {
	// UserID is the numeric "sub".
	UserID int64
	// Extra holds the values of the claims named in Verifier.ExtraClaims,
	// in that order; "" for a claim the token does not have. Strings are
	// copied out of the token.
	Extra []string
}

// verifyKey is a configured key and its optional key id.
type verifyKey struct {
	kid string
	key *keys.Key
}

// Verifier checks JWS compact tokens (JWTs). It is safe for concurrent use.
//
// The key decides the algorithm, never the token: a token is only checked
// against keys whose algorithm is the one its header names, so alg "none",
// or an HS256 token made with an RS256 public key as the secret
// ("algorithm confusion"), finds no key and is invalid.
type Verifier struct {
	keys       []verifyKey
	issuer     string
	audience   []string
	leeway     time.Duration
	requireExp bool
	// ExtraClaims are claims whose values Verify returns (string or
	// number claims; others read as "").
	extra []string
	now   func() time.Time
}

// scratch holds a token's decoded parts; pooled, so verifying allocates
// nothing for well-formed tokens.
type scratch struct {
	buf [MaxTokenLen]byte
}

var scratches = sync.Pool{New: func() any { return new(scratch) }}

var b64 = base64.RawURLEncoding.Strict()

// Verify checks tok and returns its claims, or ErrExpired or ErrInvalid
// (wrapped with the reason, for logs).
func (v *Verifier) Verify(tok string) (Claims, error) {
	c, _, err := v.verify(tok)
	return c, err
}

// window is when a verified token's time claims hold (leeway included), in
// Unix seconds: from its nbf or iat, until its exp (±Inf without them).
type window struct{ from, until float64 }

func (w window) holds(t float64) bool { return t >= w.from && t <= w.until }

// verify is Verify that also returns when the token is valid.
func (v *Verifier) verify(tok string) (Claims, window, error) {
	if len(tok) > MaxTokenLen || len(tok) == 0 {
		return Claims{}, window{}, invalid("length")
	}
	dot1 := strings.IndexByte(tok, '.')
	if dot1 <= 0 {
		return Claims{}, window{}, invalid("not three parts")
	}
	dot2 := strings.IndexByte(tok[dot1+1:], '.') + dot1 + 1
	if dot2 <= dot1+1 || dot2 == len(tok)-1 || strings.IndexByte(tok[dot2+1:], '.') >= 0 {
		return Claims{}, window{}, invalid("not three non-empty parts")
	}
	raw := unsafe.Slice(unsafe.StringData(tok), len(tok))
	sc := scratches.Get().(*scratch)
	defer scratches.Put(sc)

	// Decode the three parts one after the other into the scratch buffer:
	// decoded base64 is shorter than encoded, so they fit.
	buf := sc.buf[:]
	hn, err := b64.Decode(buf, raw[:dot1])
	if err != nil {
		return Claims{}, window{}, invalid("header is not base64url")
	}
	header, buf := buf[:hn], buf[hn:]
	pn, err := b64.Decode(buf, raw[dot1+1:dot2])
	if err != nil {
		return Claims{}, window{}, invalid("payload is not base64url")
	}
	payload, buf := buf[:pn], buf[pn:]
	sn, err := b64.Decode(buf, raw[dot2+1:])
	if err != nil {
		return Claims{}, window{}, invalid("signature is not base64url")
	}
	sig := buf[:sn]

	alg, kid, err := parseHeader(header)
	if err != nil {
		return Claims{}, window{}, err
	}
	if !v.verifySignature(alg, kid, raw[:dot2], sig) {
		return Claims{}, window{}, invalid("signature")
	}
	return v.checkClaims(payload)
}

func invalid(reason string) error { return &reasonError{ErrInvalid, reason} }

// reasonError is ErrInvalid or ErrExpired with the reason, for logs.
type reasonError struct {
	err    error
	reason string
}

func (e *reasonError) Error() string { return e.err.Error() + ": " + e.reason }
func (e *reasonError) Unwrap() error { return e.err }

// parseHeader returns the JOSE header's alg and kid (views of header).
// A header with "crit" is refused: the token relies on an extension this
// verifier does not implement (RFC 7515 §4.1.11), e.g. unencoded payloads.
func parseHeader(header []byte) (alg keys.Alg, kid []byte, err error) {
	var algName []byte
	var seenAlg, seenKid bool
	err = walkObject(header, func(key, value []byte) bool {
		name, ok := claimName(key)
		if !ok {
			return false
		}
		switch {
		case bytes.Equal(name, []byte("alg")):
			if seenAlg {
				return false
			}
			seenAlg = true
			algName, ok = unquote(value)
			return ok
		case bytes.Equal(name, []byte("kid")):
			if seenKid {
				return false
			}
			seenKid = true
			kid, ok = unquote(value)
			return ok
		case bytes.Equal(name, []byte("crit")), bytes.Equal(name, []byte("b64")):
			return false
		}
		return !ambiguous(name, "alg", "kid", "crit")
	})
	if err != nil {
		return 0, nil, invalid("header")
	}
	a, ok := keys.ParseAlg(string(algName)) // no allocation: the conversion does not escape
	if !ok {
		return 0, nil, invalid("algorithm " + strconvQuote(algName) + " is not accepted")
	}
	return a, kid, nil
}

// claimName unquotes a member name; names with escapes are decoded.
func claimName(key []byte) ([]byte, bool) { return unquote(key) }

// ambiguous reports a member name that differs from one of names only in
// case. encoding/json, which other JWT libraries decode with, matches
// names case-insensitively: a token with both "sub" and "SUB" would mean
// one user here and another there, so it is refused.
func ambiguous(name []byte, names ...string) bool {
	for _, n := range names {
		if len(name) == len(n) && strings.EqualFold(string(name), n) {
			return true
		}
	}
	return false
}

func (v *Verifier) verifySignature(alg keys.Alg, kid, msg, sig []byte) bool {
	for _, k := range v.keys {
		if k.key.Alg() != alg {
			continue
		}
		if len(kid) > 0 && k.kid != "" && k.kid != string(kid) {
			continue
		}
		if k.key.Verify(msg, sig) {
			return true
		}
	}
	return false
}

// registered are the claims checkClaims reads.
var registered = []string{"iss", "sub", "aud", "exp", "nbf", "iat"}

func (v *Verifier) checkClaims(payload []byte) (Claims, window, error) {
	var (
		iss, sub, aud    []byte
		exp, nbf, iat    float64
		seen             [6]bool
		hasExp, hasNbf   bool
		hasIat, badValue bool
		extraRaw         [maxExtraClaims][]byte
	)
	err := walkObject(payload, func(key, value []byte) bool {
		name, ok := claimName(key)
		if !ok {
			return false
		}
		for i, r := range registered {
			if string(name) != r {
				continue
			}
			if seen[i] {
				return false // a duplicate claim: which one would others read?
			}
			seen[i] = true
			switch r {
			case "iss", "sub":
				s, ok := unquote(value)
				if !ok {
					badValue = true
					return false
				}
				if r == "iss" {
					iss = s
				} else {
					sub = s
				}
			case "aud":
				aud = value
			default:
				f, ok := number(value)
				if !ok {
					badValue = true
					return false
				}
				switch r {
				case "exp":
					exp, hasExp = f, true
				case "nbf":
					nbf, hasNbf = f, true
				case "iat":
					iat, hasIat = f, true
				}
			}
			return true
		}
		if ambiguous(name, registered...) {
			return false
		}
		for i, e := range v.extra {
			if string(name) == e {
				if extraRaw[i] != nil {
					return false
				}
				extraRaw[i] = value
			}
		}
		return true
	})
	if err != nil {
		if badValue {
			return Claims{}, window{}, invalid("a registered claim has the wrong type")
		}
		return Claims{}, window{}, invalid("claims are not a valid JSON object, or repeat a claim")
	}

	now := v.now()
	t := float64(now.Unix()) + float64(now.Nanosecond())/1e9
	leeway := v.leeway.Seconds()
	if hasExp {
		if t > exp+leeway {
			return Claims{}, window{}, &reasonError{ErrExpired, "exp"}
		}
	} else if v.requireExp {
		return Claims{}, window{}, invalid("no exp")
	}
	if hasNbf && t+leeway < nbf {
		return Claims{}, window{}, invalid("not valid yet (nbf)")
	}
	if hasIat && t+leeway < iat {
		return Claims{}, window{}, invalid("issued in the future (iat)")
	}
	if v.issuer != "" && string(iss) != v.issuer {
		return Claims{}, window{}, invalid("issuer")
	}
	if seen[2] {
		ok, valid := audienceMatches(aud, v.audience)
		if !valid {
			return Claims{}, window{}, invalid("aud is neither a string nor an array of strings")
		}
		if len(v.audience) > 0 && !ok {
			return Claims{}, window{}, invalid("audience")
		}
	} else if len(v.audience) > 0 {
		return Claims{}, window{}, invalid("no aud")
	}
	id, ok := parseUserID(sub)
	if !ok {
		return Claims{}, window{}, invalid("sub is not a user id")
	}
	c := Claims{UserID: id}
	if len(v.extra) > 0 {
		c.Extra = make([]string, len(v.extra))
		for i, raw := range extraRaw[:len(v.extra)] {
			c.Extra[i] = extraValue(raw)
		}
	}
	w := window{from: math.Inf(-1), until: math.Inf(1)}
	if hasExp {
		w.until = exp + leeway
	}
	if hasNbf {
		w.from = nbf - leeway
	}
	if hasIat {
		w.from = max(w.from, iat-leeway)
	}
	return c, w, nil
}

// audienceMatches reports whether the raw "aud" (a string or an array of
// strings) holds one of want, and whether it is well-typed.
func audienceMatches(raw []byte, want []string) (match, valid bool) {
	check := func(v []byte) bool {
		s, ok := unquote(v)
		if !ok {
			valid = false
			return false
		}
		for _, w := range want {
			if string(s) == w {
				match = true
			}
		}
		return true
	}
	valid = true
	if len(raw) > 0 && raw[0] == '"' {
		check(raw)
		return match, valid
	}
	if len(raw) == 0 || raw[0] != '[' {
		return false, false
	}
	// Walk the array's strings: scanValue already validated it.
	i := skipWS(raw, 1)
	if raw[i] == ']' {
		return false, true
	}
	for valid {
		end, _ := scanValue(raw, i, 1)
		if !check(raw[i:end]) {
			return false, false
		}
		i = skipWS(raw, end)
		if raw[i] == ']' {
			break
		}
		i = skipWS(raw, i+1)
	}
	return match, valid
}

// parseUserID accepts a canonical positive decimal int64: no sign, no
// leading zeros, so a user has one spelling in X-Tremolo-User-Id.
func parseUserID(s []byte) (int64, bool) {
	if len(s) == 0 || len(s) > 19 || s[0] == '0' {
		return 0, false
	}
	var n uint64
	for _, c := range s {
		if !isDigit(c) {
			return 0, false
		}
		n = n*10 + uint64(c-'0')
	}
	if n > math.MaxInt64 {
		return 0, false
	}
	return int64(n), true
}

// maxExtraClaims bounds the claims copied to headers.
const maxExtraClaims = 8

// extraValue returns a claim for a header: a string's content or a
// number as written; other types, and values that are not printable ASCII
// (they would not be valid header values), give "".
func extraValue(raw []byte) string {
	if len(raw) == 0 {
		return ""
	}
	v := raw
	if raw[0] == '"' {
		s, ok := unquote(raw)
		if !ok {
			return ""
		}
		v = s
	} else if _, ok := number(raw); !ok {
		return ""
	}
	if len(v) > 256 {
		return ""
	}
	for _, c := range v {
		if c < 0x20 || c > 0x7e {
			return ""
		}
	}
	return string(v)
}

func strconvQuote(b []byte) string {
	if len(b) > 32 {
		b = b[:32]
	}
	return string(sdk.AppendJSONString(nil, string(b)))
}
