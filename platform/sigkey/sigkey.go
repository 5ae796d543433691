// Package sigkey parses the public keys and secrets that verify JWT-style
// signatures (HS256, RS256, EdDSA) and verifies with them. It is the one
// reader of key material that both sides of the edge's plugins use: the
// host's tremolo.key_register (platform/wasmhost) and the portable build of
// the guest SDK (wasm-plugins/sdk/keys), which compiles it to WebAssembly.
// So a key a plugin's configuration names means the same thing wherever the
// plugin runs. It depends on the standard library only.
package sigkey

import (
	"crypto"
	"crypto/ed25519"
	"crypto/hmac"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"hash"
	"math"
	"math/big"
	"sync"
)

// Alg is a signature algorithm. Its values are those of the tremolo host
// module's ABI (wasm-plugins/ABI.md).
type Alg uint32

// The algorithms.
const (
	// HS256 is HMAC-SHA256; the key is the raw secret.
	HS256 Alg = 1
	// RS256 is RSASSA-PKCS1-v1_5 with SHA-256; the key is a PEM public key
	// (PKIX or PKCS #1), a PEM certificate or an RSA JWK, of at least
	// MinRSABits.
	RS256 Alg = 2
	// EdDSA is Ed25519; the key is a PEM public key or certificate, an OKP
	// JWK, or the 32 raw bytes.
	EdDSA Alg = 3
)

// MinRSABits is the smallest RSA modulus accepted.
const MinRSABits = 2048

// ErrUnknownAlg is Parse's error for an algorithm it does not know.
var ErrUnknownAlg = errors.New("sigkey: unknown algorithm")

// Key verifies signatures of one algorithm. It is safe for concurrent use.
type Key struct {
	alg  Alg
	macs *sync.Pool // of hash.Hash: HMAC state is per use
	rsa  *rsa.PublicKey
	ed   ed25519.PublicKey
}

// Alg returns the key's algorithm.
func (k *Key) Alg() Alg { return k.alg }

// Parse reads material as a key for alg. An HMAC secret only has to be
// non-empty here: callers set their own minimum length. Material is copied.
func Parse(alg Alg, material []byte) (*Key, error) {
	switch alg {
	case HS256:
		if len(material) == 0 {
			return nil, errors.New("HS256 key: the secret is empty")
		}
		secret := append([]byte(nil), material...)
		return &Key{alg: alg, macs: &sync.Pool{New: func() any { return hmac.New(sha256.New, secret) }}}, nil
	case RS256:
		pub, err := parsePublic(material)
		if err != nil {
			return nil, fmt.Errorf("RS256 key: %w", err)
		}
		rk, ok := pub.(*rsa.PublicKey)
		if !ok {
			return nil, fmt.Errorf("RS256 key: a %T, not an RSA public key", pub)
		}
		if rk.N.BitLen() < MinRSABits {
			return nil, fmt.Errorf("RS256 key: %d bits; at least %d are needed", rk.N.BitLen(), MinRSABits)
		}
		return &Key{alg: alg, rsa: rk}, nil
	case EdDSA:
		if len(material) == ed25519.PublicKeySize {
			// 32 bytes can only be a raw key: no PEM block or JWK of a
			// key is that short. (Telling them apart by the first byte
			// refused the one raw key in 256 that starts with '{'.)
			return &Key{alg: alg, ed: ed25519.PublicKey(append([]byte(nil), material...))}, nil
		}
		pub, err := parsePublic(material)
		if err != nil {
			return nil, fmt.Errorf("EdDSA key: %w", err)
		}
		ek, ok := pub.(ed25519.PublicKey)
		if !ok {
			return nil, fmt.Errorf("EdDSA key: a %T, not an Ed25519 public key", pub)
		}
		return &Key{alg: alg, ed: ek}, nil
	}
	return nil, ErrUnknownAlg
}

// Verify reports whether sig is the key's signature of msg. msg and sig
// are not kept.
func (k *Key) Verify(msg, sig []byte) bool {
	switch k.alg {
	case HS256:
		if len(sig) != sha256.Size {
			return false
		}
		mac := k.macs.Get().(hash.Hash)
		mac.Reset()
		mac.Write(msg)
		var sum [sha256.Size]byte
		ok := hmac.Equal(mac.Sum(sum[:0]), sig)
		k.macs.Put(mac)
		return ok
	case RS256:
		d := sha256.Sum256(msg)
		return rsa.VerifyPKCS1v15(k.rsa, crypto.SHA256, d[:], sig) == nil
	case EdDSA:
		return len(sig) == ed25519.SignatureSize && ed25519.Verify(k.ed, msg, sig)
	}
	return false
}

// parsePublic reads a PEM block (PUBLIC KEY, RSA PUBLIC KEY, CERTIFICATE)
// or a JWK (RSA, or OKP on Ed25519).
func parsePublic(key []byte) (crypto.PublicKey, error) {
	if block, _ := pem.Decode(key); block != nil {
		switch block.Type {
		case "PUBLIC KEY":
			return x509.ParsePKIXPublicKey(block.Bytes)
		case "RSA PUBLIC KEY":
			return x509.ParsePKCS1PublicKey(block.Bytes)
		case "CERTIFICATE":
			cert, err := x509.ParseCertificate(block.Bytes)
			if err != nil {
				return nil, err
			}
			return cert.PublicKey, nil
		}
		return nil, fmt.Errorf("a PEM block of type %q (want PUBLIC KEY, RSA PUBLIC KEY or CERTIFICATE)", block.Type)
	}
	var jwk struct {
		Kty, Crv, N, E, X string
	}
	if err := json.Unmarshal(key, &jwk); err != nil {
		return nil, errors.New("neither PEM nor a JWK")
	}
	b64 := base64.RawURLEncoding
	switch jwk.Kty {
	case "RSA":
		n, err1 := b64.DecodeString(jwk.N)
		e, err2 := b64.DecodeString(jwk.E)
		if err := errors.Join(err1, err2); err != nil || len(n) == 0 {
			return nil, errors.New("JWK n or e is not valid base64url")
		}
		if len(e) == 0 || len(e) > 4 {
			return nil, fmt.Errorf("JWK exponent of %d bytes", len(e))
		}
		exp := new(big.Int).SetBytes(e)
		if exp.Int64() < 3 || exp.Int64() > math.MaxInt32 || exp.Bit(0) == 0 {
			return nil, errors.New("JWK exponent is not an odd number from 3")
		}
		return &rsa.PublicKey{N: new(big.Int).SetBytes(n), E: int(exp.Int64())}, nil
	case "OKP":
		if jwk.Crv != "Ed25519" {
			return nil, fmt.Errorf("JWK curve %q (want Ed25519)", jwk.Crv)
		}
		x, err := b64.DecodeString(jwk.X)
		if err != nil || len(x) != ed25519.PublicKeySize {
			return nil, errors.New("JWK x is not 32 bytes of base64url")
		}
		return ed25519.PublicKey(x), nil
	}
	return nil, fmt.Errorf("JWK key type %q (want RSA or OKP)", jwk.Kty)
}
