package sigkey

import (
	"crypto"
	"crypto/ed25519"
	"crypto/hmac"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"strings"
	"testing"
	"time"
)

var msg = []byte("header.payload")

func pemBlock(typ string, der []byte) []byte {
	return pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der})
}

func TestHS256(t *testing.T) {
	k, err := Parse(HS256, []byte("secret"))
	if err != nil {
		t.Fatal(err)
	}
	m := hmac.New(sha256.New, []byte("secret"))
	m.Write(msg)
	sig := m.Sum(nil)
	if !k.Verify(msg, sig) || k.Alg() != HS256 {
		t.Fatal("a good HMAC does not verify")
	}
	sig[0] ^= 1
	if k.Verify(msg, sig) || k.Verify(msg, sig[:31]) {
		t.Fatal("a bad HMAC verifies")
	}
	if _, err := Parse(HS256, nil); err == nil {
		t.Fatal("an empty secret parsed")
	}
}

func TestRS256Forms(t *testing.T) {
	priv, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	d := sha256.Sum256(msg)
	sig, _ := rsa.SignPKCS1v15(rand.Reader, priv, crypto.SHA256, d[:])
	pkix, _ := x509.MarshalPKIXPublicKey(&priv.PublicKey)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkixName(), NotBefore: time.Now(), NotAfter: time.Now().Add(time.Hour)}
	cert, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &priv.PublicKey, priv)
	if err != nil {
		t.Fatal(err)
	}
	b64 := base64.RawURLEncoding
	jwk := fmt.Sprintf(`{"kty":"RSA","n":%q,"e":%q}`, b64.EncodeToString(priv.N.Bytes()), b64.EncodeToString(big.NewInt(int64(priv.E)).Bytes()))
	for name, material := range map[string][]byte{
		"PKIX PEM":    pemBlock("PUBLIC KEY", pkix),
		"PKCS #1 PEM": pemBlock("RSA PUBLIC KEY", x509.MarshalPKCS1PublicKey(&priv.PublicKey)),
		"certificate": pemBlock("CERTIFICATE", cert),
		"JWK":         []byte(jwk),
	} {
		k, err := Parse(RS256, material)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if !k.Verify(msg, sig) || k.Verify([]byte("other"), sig) {
			t.Fatalf("%s: verification is wrong", name)
		}
	}

	small, _ := rsa.GenerateKey(rand.Reader, 1024)
	der, _ := x509.MarshalPKIXPublicKey(&small.PublicKey)
	if _, err := Parse(RS256, pemBlock("PUBLIC KEY", der)); err == nil || !strings.Contains(err.Error(), "2048") {
		t.Fatalf("a 1024-bit key: %v", err)
	}
}

func pkixName() pkix.Name { return pkix.Name{CommonName: "sigkey test"} }

func TestEdDSAForms(t *testing.T) {
	pub, priv, _ := ed25519.GenerateKey(rand.Reader)
	sig := ed25519.Sign(priv, msg)
	der, _ := x509.MarshalPKIXPublicKey(pub)
	for name, material := range map[string][]byte{
		"raw": pub,
		"PEM": pemBlock("PUBLIC KEY", der),
		"JWK": []byte(fmt.Sprintf(`{"kty":"OKP","crv":"Ed25519","x":%q}`, base64.RawURLEncoding.EncodeToString(pub))),
	} {
		k, err := Parse(EdDSA, material)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if !k.Verify(msg, sig) || k.Verify(msg, sig[:10]) {
			t.Fatalf("%s: verification is wrong", name)
		}
	}
}

// A raw Ed25519 key is 32 random bytes, so some start with what PEM or
// JSON start with (one in 256 with '{'); they are still raw keys.
func TestEdDSARawKeysStartingLikeJSONOrPEM(t *testing.T) {
	var pub ed25519.PublicKey
	var priv ed25519.PrivateKey
	for pub == nil || pub[0] != '{' {
		pub, priv, _ = ed25519.GenerateKey(rand.Reader)
	}
	k, err := Parse(EdDSA, pub)
	if err != nil {
		t.Fatalf("a raw key starting with '{': %v", err)
	}
	if !k.Verify(msg, ed25519.Sign(priv, msg)) {
		t.Fatal("a raw key starting with '{' does not verify")
	}
	dashes := []byte("-----" + strings.Repeat("k", ed25519.PublicKeySize-5))
	if _, err := Parse(EdDSA, dashes); err != nil {
		t.Fatalf("32 bytes starting with -----: %v", err)
	}
}

// A key of one kind is never taken for another: an Ed25519 key is no RS256
// key, and an unknown algorithm is refused.
func TestRefusals(t *testing.T) {
	pub, _, _ := ed25519.GenerateKey(rand.Reader)
	der, _ := x509.MarshalPKIXPublicKey(pub)
	if _, err := Parse(RS256, pemBlock("PUBLIC KEY", der)); err == nil {
		t.Error("an Ed25519 key parsed as RS256")
	}
	for _, bad := range []string{"", "not a key", `{"kty":"EC"}`, `{"kty":"RSA","n":"AQAB","e":"AA"}`, "-----BEGIN PRIVATE KEY-----\nAA==\n-----END PRIVATE KEY-----\n"} {
		for _, alg := range []Alg{RS256, EdDSA} {
			if _, err := Parse(alg, []byte(bad)); err == nil {
				t.Errorf("Parse(%d, %q) accepted", alg, bad)
			}
		}
	}
	if _, err := Parse(7, []byte("x")); !errors.Is(err, ErrUnknownAlg) {
		t.Errorf("an unknown algorithm: %v", err)
	}
}

// FuzzParse parses arbitrary key bytes as each algorithm, as key_register
// and the portable plugins do with whatever a plugin's config holds.
func FuzzParse(f *testing.F) {
	f.Add(uint32(2), []byte(`{"kty":"RSA","n":"AQAB","e":"AQAB"}`))
	f.Add(uint32(3), []byte(`{"kty":"OKP","crv":"Ed25519","x":"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"}`))
	f.Add(uint32(2), []byte("-----BEGIN PUBLIC KEY-----\nMCowBQYDK2VwAyEA11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo=\n-----END PUBLIC KEY-----\n"))
	f.Add(uint32(1), []byte("secret"))
	f.Fuzz(func(t *testing.T, alg uint32, key []byte) {
		k, err := Parse(Alg(alg), key)
		if err == nil {
			if k == nil || k.Alg() != Alg(alg) {
				t.Fatalf("Parse(%d) = %+v", alg, k)
			}
			_ = k.Verify([]byte("msg"), []byte("sig"))
		}
	})
}
