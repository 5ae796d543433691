package token

import (
	"encoding/base64"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

var key = []byte("0123456789abcdef0123456789abcdef")

func newSigner(t testing.TB) *Signer {
	t.Helper()
	s, err := NewSigner(key, time.Hour, time.Second)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestSignVerify(t *testing.T) {
	s := newSigner(t)
	tok, err := s.Sign(42)
	if err != nil {
		t.Fatal(err)
	}
	id, err := s.Verify(tok)
	if err != nil || id != 42 {
		t.Fatalf("Verify = %d, %v", id, err)
	}
}

func TestExpired(t *testing.T) {
	s := newSigner(t)
	tok, _ := s.Sign(7)
	s.now = func() time.Time { return time.Now().Add(2 * time.Hour) }
	if _, err := s.Verify(tok); !errors.Is(err, ErrExpired) {
		t.Fatalf("expired token: err = %v; want ErrExpired", err)
	}
}

// A token verified once is remembered, but not past its expiry: the same
// token, verified again after it, is expired.
func TestRememberedTokenStillExpires(t *testing.T) {
	s := newSigner(t)
	start := time.Now().Truncate(time.Second) // tokens count in whole seconds
	s.now = func() time.Time { return start }
	tok, _ := s.Sign(7)
	for range 2 { // the second is answered from the cache
		if id, err := s.Verify(tok); err != nil || id != 7 {
			t.Fatalf("Verify = %d, %v", id, err)
		}
	}
	s.now = func() time.Time { return start.Add(time.Hour + 500*time.Millisecond) } // inside the leeway
	if id, err := s.Verify(tok); err != nil || id != 7 {
		t.Fatalf("Verify within the leeway = %d, %v", id, err)
	}
	s.now = func() time.Time { return start.Add(time.Hour + 2*time.Second) }
	if _, err := s.Verify(tok); !errors.Is(err, ErrExpired) {
		t.Fatalf("remembered token past its expiry: err = %v; want ErrExpired", err)
	}
}

// The cache stays bounded however many tokens verify.
func TestVerifiedCacheBounded(t *testing.T) {
	c := newVerifiedCache()
	until := time.Now().Add(time.Hour)
	for i := range cacheShards * cacheShardMaxLen * 2 {
		c.put(strings.Repeat("x", 8)+string(rune(i)), int64(i), until)
	}
	n := 0
	for i := range c.shards {
		n += len(c.shards[i].m)
	}
	if n > cacheShards*cacheShardMaxLen {
		t.Fatalf("cache holds %d tokens; bound %d", n, cacheShards*cacheShardMaxLen)
	}
}

func TestRejectsForeignAndTamperedTokens(t *testing.T) {
	s := newSigner(t)
	good, _ := s.Sign(7)
	other, _ := NewSigner([]byte("another-key-another-key-another-key!"), time.Hour, 0)
	foreign, _ := other.Sign(7)

	header, payload, _ := strings.Cut(good, ".")
	payload, sig, _ := strings.Cut(payload, ".")
	forged := base64.RawURLEncoding.EncodeToString([]byte(`{"iss":"tremolo","sub":"1","exp":9999999999,"iat":1}`))

	none := jwt.NewWithClaims(jwt.SigningMethodNone, jwt.RegisteredClaims{Issuer: Issuer, Subject: "7", ExpiresAt: jwt.NewNumericDate(time.Now().Add(time.Hour))})
	noneTok, _ := none.SignedString(jwt.UnsafeAllowNoneSignatureType)
	hs512, _ := jwt.NewWithClaims(jwt.SigningMethodHS512, jwt.RegisteredClaims{Issuer: Issuer, Subject: "7", ExpiresAt: jwt.NewNumericDate(time.Now().Add(time.Hour))}).SignedString(key)
	noExp, _ := jwt.NewWithClaims(jwt.SigningMethodHS256, jwt.RegisteredClaims{Issuer: Issuer, Subject: "7"}).SignedString(key)
	badSub, _ := jwt.NewWithClaims(jwt.SigningMethodHS256, jwt.RegisteredClaims{Issuer: Issuer, Subject: "alice", ExpiresAt: jwt.NewNumericDate(time.Now().Add(time.Hour))}).SignedString(key)
	otherIss, _ := jwt.NewWithClaims(jwt.SigningMethodHS256, jwt.RegisteredClaims{Issuer: "evil", Subject: "7", ExpiresAt: jwt.NewNumericDate(time.Now().Add(time.Hour))}).SignedString(key)

	for name, tok := range map[string]string{
		"empty": "", "garbage": "not-a-token", "other key": foreign, "forged payload": header + "." + forged + "." + sig,
		"alg none": noneTok, "HS512": hs512, "no expiry": noExp, "non-numeric subject": badSub, "other issuer": otherIss,
		"truncated": header + "." + payload,
	} {
		if _, err := s.Verify(tok); !errors.Is(err, ErrInvalid) {
			t.Errorf("%s: err = %v; want ErrInvalid", name, err)
		}
	}
}

// Processes starting together must end up with one key.
func TestKeyFileRace(t *testing.T) {
	path := filepath.Join(t.TempDir(), "jwt.key")
	keys := make([][]byte, 8)
	errs := make([]error, 8)
	var wg sync.WaitGroup
	for i := range keys {
		wg.Add(1)
		go func() { defer wg.Done(); keys[i], errs[i] = Config{KeyFile: path}.LoadKey() }()
	}
	wg.Wait()
	for i := range keys {
		if errs[i] != nil || string(keys[i]) != string(keys[0]) {
			t.Fatalf("loader %d: %v, same key: %v", i, errs[i], string(keys[i]) == string(keys[0]))
		}
	}
}

func TestKeyFileCreatedOnceAndReused(t *testing.T) {
	path := filepath.Join(t.TempDir(), "sub", "jwt.key")
	k1, err := Config{KeyFile: path}.LoadKey()
	if err != nil {
		t.Fatal(err)
	}
	k2, err := Config{KeyFile: path}.LoadKey()
	if err != nil || string(k1) != string(k2) {
		t.Fatalf("second load: %v, same=%v", err, string(k1) == string(k2))
	}
	fi, _ := os.Stat(path)
	if fi.Mode().Perm() != 0o600 {
		t.Fatalf("key file mode %v; want 0600", fi.Mode().Perm())
	}
}

func TestShortKeysRefused(t *testing.T) {
	if _, err := (Config{Key: "short"}).LoadKey(); err == nil {
		t.Fatal("short -jwt-key accepted")
	}
	if _, err := NewSigner([]byte("short"), time.Hour, 0); err == nil {
		t.Fatal("short key accepted by NewSigner")
	}
}

// FuzzVerify feeds arbitrary strings to the parser every request's token
// goes through: it must never panic nor accept anything it did not sign.
func FuzzVerify(f *testing.F) {
	s := newSigner(f)
	good, _ := s.Sign(1)
	f.Add(good)
	f.Add("")
	f.Add("a.b.c")
	f.Add("eyJhbGciOiJub25lIn0.eyJzdWIiOiIxIn0.")
	want := decodeParts(good)
	f.Fuzz(func(t *testing.T, tok string) {
		if _, err := s.Verify(tok); err != nil || tok == good {
			return
		}
		// Only another spelling of the very token we signed may verify:
		// the same header, claims and signature bytes.
		got := decodeParts(tok)
		if got == nil || got[0] != want[0] || got[1] != want[1] || got[2] != want[2] {
			t.Fatalf("accepted %q, which is not a token this signer made", tok)
		}
	})
}

// decodeParts returns the decoded header, claims and signature of a JWT, or
// nil when it does not have three base64url parts.
func decodeParts(tok string) []string {
	parts := strings.Split(tok, ".")
	if len(parts) != 3 {
		return nil
	}
	out := make([]string, 3)
	for i, p := range parts {
		b, err := base64.RawURLEncoding.DecodeString(strings.TrimRight(p, "="))
		if err != nil {
			return nil
		}
		out[i] = string(b)
	}
	return out
}
