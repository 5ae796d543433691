package wasmhost

import (
	"context"
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
	"math"
	"math/big"
	"strings"
	"sync"
	"time"

	"github.com/tetratelabs/wazero/api"

	"github.com/tremolo-dev/tremolo/platform/ratelimit"
)

// tremoloFuncs are the imports of the optional tremolo module of ABI.md:
// what a sandboxed guest does slowly (signature checks in pure Go on wasm
// are tens of times slower) or cannot do alone (a limit shared by every
// instance and every edge). The module is always there, so a plugin built
// with -tags tremolo loads in any Tremolo edge; a plugin without the
// imports is not affected by it.
var tremoloFuncs = []hostFunc{
	{"key_register", []api.ValueType{i32, i32, i32}, []api.ValueType{i32}, (*exchange).keyRegister},
	{"signature_verify", []api.ValueType{i32, i32, i32, i32, i32}, []api.ValueType{i32}, (*exchange).signatureVerify},
	{"bucket_take", []api.ValueType{i32, i32, i64, i32, i32}, []api.ValueType{i64}, (*exchange).bucketTake},
	{"counter_add", []api.ValueType{i32, i32, i64}, nil, (*exchange).counterAdd},
}

// Key algorithms of key_register.
const (
	algHS256 = 1
	algRS256 = 2
	algEdDSA = 3
)

// Results of key_register and signature_verify below zero.
const (
	keyErrAlg      = -1 // unknown algorithm
	keyErrKey      = -2 // the key bytes are not a key of that algorithm
	keyErrTooMany  = -3 // the plugin registered maxPluginKeys distinct keys
	sigErrHandle   = -1 // not a handle key_register returned to this plugin
	maxKeyLen      = 64 << 10
	maxSignedLen   = 1 << 20
	maxSigLen      = 1 << 10
	maxPluginKeys  = 256
	maxCachedKeys  = 4096
	minRSABits     = 2048
	minHMACKeyLen  = 1
	bucketErrorLog = time.Second // at most one log line per plugin per this
)

// parsedKey is a key ready to verify with.
type parsedKey struct {
	alg    int
	secret []byte // HS256
	rsa    *rsa.PublicKey
	ed     ed25519.PublicKey
}

// keyCache holds parsed keys by the hash of (alg, bytes), shared by every
// plugin and instance: a JWT plugin's pool registers its keys once per
// instance, and each instance gets the key parsed the first time. It stops
// growing at its bound (keys past it are parsed every time, still correct).
type keyCache struct {
	mu    sync.RWMutex
	keys  map[[32]byte]*parsedKey
	limit int
}

func newKeyCache(limit int) *keyCache {
	return &keyCache{keys: make(map[[32]byte]*parsedKey), limit: limit}
}

func keyID(alg int, key []byte) [32]byte {
	h := sha256.New()
	h.Write([]byte{byte(alg)})
	h.Write(key)
	var id [32]byte
	h.Sum(id[:0])
	return id
}

// get returns the parsed key of id, parsing key if it is not cached.
func (c *keyCache) get(id [32]byte, alg int, key []byte) (*parsedKey, error) {
	c.mu.RLock()
	k, ok := c.keys[id]
	c.mu.RUnlock()
	if ok {
		return k, nil
	}
	k, err := parseKey(alg, key)
	if err != nil {
		return nil, err
	}
	c.mu.Lock()
	if len(c.keys) < c.limit {
		c.keys[id] = k
	}
	c.mu.Unlock()
	return k, nil
}

// errUnknownAlg is parseKey's error for an algorithm it does not know.
var errUnknownAlg = errors.New("unknown algorithm")

// parseKey parses key for alg: HS256 a raw secret; RS256 a PEM public key
// (PKIX or PKCS #1), a PEM certificate or a JWK; EdDSA a PEM public key, a
// JWK or 32 raw bytes.
func parseKey(alg int, key []byte) (*parsedKey, error) {
	switch alg {
	case algHS256:
		if len(key) < minHMACKeyLen {
			return nil, errors.New("empty HMAC secret")
		}
		return &parsedKey{alg: alg, secret: key}, nil
	case algRS256:
		pub, err := parsePublicKey(key)
		if err != nil {
			return nil, err
		}
		rk, ok := pub.(*rsa.PublicKey)
		if !ok {
			return nil, fmt.Errorf("a %T, not an RSA key", pub)
		}
		if rk.N.BitLen() < minRSABits {
			return nil, fmt.Errorf("an RSA key of %d bits (at least %d)", rk.N.BitLen(), minRSABits)
		}
		return &parsedKey{alg: alg, rsa: rk}, nil
	case algEdDSA:
		if len(key) == ed25519.PublicKeySize && !strings.HasPrefix(string(key), "-----") && key[0] != '{' {
			return &parsedKey{alg: alg, ed: ed25519.PublicKey(bytesClone(key))}, nil
		}
		pub, err := parsePublicKey(key)
		if err != nil {
			return nil, err
		}
		ek, ok := pub.(ed25519.PublicKey)
		if !ok {
			return nil, fmt.Errorf("a %T, not an Ed25519 key", pub)
		}
		return &parsedKey{alg: alg, ed: ek}, nil
	}
	return nil, errUnknownAlg
}

func bytesClone(b []byte) []byte { return append([]byte(nil), b...) }

// parsePublicKey reads a PEM block (PUBLIC KEY, RSA PUBLIC KEY,
// CERTIFICATE) or a JWK.
func parsePublicKey(key []byte) (crypto.PublicKey, error) {
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
		if err := errors.Join(err1, err2); err != nil {
			return nil, fmt.Errorf("JWK n or e: %w", err)
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

// pluginKeys are the handles key_register gave a plugin: shared by its
// instances, so every instance registering the same key gets the same
// handle, and bounded, so a guest cannot pin unbounded memory.
type pluginKeys struct {
	mu      sync.RWMutex
	byID    map[[32]byte]int32
	handles []*parsedKey // handle h is handles[h-1]
}

// key_register: (alg, key, key_len) -> handle > 0, or < 0 on a bad key.
func (ex *exchange) keyRegister(mem api.Memory, stack []uint64) {
	alg := int(int32(uint32(stack[0])))
	key := ex.read(mem, "key", uint32(stack[1]), uint32(stack[2]), maxKeyLen)
	stack[0] = api.EncodeI32(ex.p.registerKey(alg, key))
}

func (p *Plugin) registerKey(alg int, key []byte) int32 {
	if alg != algHS256 && alg != algRS256 && alg != algEdDSA {
		p.logger.Warn("wasm plugin: key_register with an unknown algorithm", "alg", alg)
		return keyErrAlg
	}
	id := keyID(alg, key)
	pk := p.keys
	pk.mu.RLock()
	h, ok := pk.byID[id]
	pk.mu.RUnlock()
	if ok {
		return h
	}
	k, err := p.rt.keys.get(id, alg, key)
	if err != nil {
		p.logger.Warn("wasm plugin: key_register with a bad key", "alg", alg, "error", err)
		return keyErrKey
	}
	pk.mu.Lock()
	defer pk.mu.Unlock()
	if h, ok := pk.byID[id]; ok {
		return h
	}
	if len(pk.handles) >= maxPluginKeys {
		p.logger.Warn("wasm plugin: key_register past the plugin's key limit", "limit", maxPluginKeys)
		return keyErrTooMany
	}
	pk.handles = append(pk.handles, k)
	h = int32(len(pk.handles))
	pk.byID[id] = h
	return h
}

// signature_verify: (handle, msg, msg_len, sig, sig_len) -> 1 valid,
// 0 invalid, < 0 bad handle. sig is the raw signature (for a JWT, the
// base64url-decoded third part; msg is header.payload as sent).
func (ex *exchange) signatureVerify(mem api.Memory, stack []uint64) {
	h := int32(uint32(stack[0]))
	pk := ex.p.keys
	pk.mu.RLock()
	var k *parsedKey
	if h > 0 && int(h) <= len(pk.handles) {
		k = pk.handles[h-1]
	}
	pk.mu.RUnlock()
	if k == nil {
		stack[0] = api.EncodeI32(sigErrHandle)
		return
	}
	msg, ok := mem.Read(uint32(stack[1]), uint32(stack[2]))
	if !ok || uint32(stack[2]) > maxSignedLen {
		ex.abort(KindABI, "signature_verify: message at [%d, +%d) is outside the guest's memory or over %d bytes", uint32(stack[1]), uint32(stack[2]), maxSignedLen)
	}
	sig, ok := mem.Read(uint32(stack[3]), uint32(stack[4]))
	if !ok || uint32(stack[4]) > maxSigLen {
		ex.abort(KindABI, "signature_verify: signature at [%d, +%d) is outside the guest's memory or over %d bytes", uint32(stack[3]), uint32(stack[4]), maxSigLen)
	}
	stack[0] = 0
	if k.verify(msg, sig) {
		stack[0] = 1
	}
}

// verify checks sig over msg. msg and sig may be views of guest memory;
// nothing keeps them.
func (k *parsedKey) verify(msg, sig []byte) bool {
	switch k.alg {
	case algHS256:
		m := hmac.New(sha256.New, k.secret)
		m.Write(msg)
		return hmac.Equal(m.Sum(nil), sig)
	case algRS256:
		d := sha256.Sum256(msg)
		return rsa.VerifyPKCS1v15(k.rsa, crypto.SHA256, d[:], sig) == nil
	case algEdDSA:
		return len(sig) == ed25519.SignatureSize && ed25519.Verify(k.ed, msg, sig)
	}
	return false
}

// bucket_take: (key, key_len, rate_milli i64, burst, cost) -> i64: tokens
// left (>= 0) when allowed, -(retry after, ms) when refused. The key is
// prefixed with the plugin name. A failing store lets the request through
// (returns 0) and counts tremolo_wasm_bucket_errors_total.
func (ex *exchange) bucketTake(mem api.Memory, stack []uint64) {
	p := ex.p
	maxKey := ratelimit.MaxKeyLen - len(p.name) - 1
	key := ex.readString(mem, "bucket key", uint32(stack[0]), uint32(stack[1]), maxKey)
	rate := float64(int64(stack[2])) / 1000
	burst, cost := int(int32(uint32(stack[3]))), int(int32(uint32(stack[4])))
	full := p.name + ":" + key
	if err := ratelimit.Validate(full, rate, burst, cost); err != nil {
		ex.abort(KindABI, "bucket_take: %v", err)
	}
	// The store gets half of what is left of the call's budget, so that a
	// store that hangs (Redis behind a dead network) costs a failed take
	// (let through) rather than the whole call (its failure policy).
	ctx, cancel := context.WithTimeout(ex.context(), bucketWait(ex.deadline))
	res, err := p.rt.buckets.Take(ctx, full, rate, burst, cost)
	cancel()
	if err != nil {
		p.metrics.bucketErrors.Inc()
		p.logBucketError(err)
		stack[0] = 0
		return
	}
	if res.Allowed {
		stack[0] = uint64(int64(res.Remaining))
		return
	}
	ms := max(int64((res.RetryAfter+time.Millisecond-1)/time.Millisecond), 1)
	stack[0] = uint64(-ms)
}

// bucketWait is how long a bucket store may take: half the call's
// remaining budget (outside a request, during _initialize, a second).
func bucketWait(deadline time.Time) time.Duration {
	if deadline.IsZero() {
		return time.Second
	}
	return max(time.Until(deadline)/2, 0)
}

// logBucketError logs a store failure at most once per bucketErrorLog per
// plugin: when Redis is down every request fails the same way, and the
// metric has the count.
func (p *Plugin) logBucketError(err error) {
	now := time.Now().UnixNano()
	last := p.lastBucketLog.Load()
	if now-last < int64(bucketErrorLog) || !p.lastBucketLog.CompareAndSwap(last, now) {
		return
	}
	p.logger.Error("wasm plugin: bucket store failed; letting requests through", "error", err)
}

// counter_add: (name, name_len, delta i64). The name is sanitised to
// [a-z0-9_]; a plugin has at most maxCounterNames of them.
func (ex *exchange) counterAdd(mem api.Memory, stack []uint64) {
	raw := ex.read(mem, "counter name", uint32(stack[0]), uint32(stack[1]), maxHeaderNameLen)
	name := sanitizeCounterName(raw)
	if name == "" {
		ex.abort(KindABI, "counter_add: name %q has no letter or digit", raw)
	}
	delta := int64(stack[2])
	if delta < 0 {
		ex.abort(KindABI, "counter_add: delta %d (counters only go up)", delta)
	}
	ex.p.metrics.counter(name).Add(float64(delta))
}
