package wasmhost

import (
	"context"
	"crypto/sha256"
	"sync"
	"time"
	"unsafe"

	"github.com/tetratelabs/wazero/api"

	"github.com/tremolo-dev/tremolo/platform/ratelimit"
	"github.com/tremolo-dev/tremolo/platform/sigkey"
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
	{"retire", nil, nil, (*exchange).retire},
	{"undo_request", nil, nil, (*exchange).undoRequest},
}

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
	bucketErrorLog = time.Second // at most one log line per plugin per this
)

// keyCache holds parsed keys by the hash of (alg, bytes), shared by every
// plugin and instance: a JWT plugin's pool registers its keys once per
// instance, and each instance gets the key parsed the first time. It stops
// growing at its bound (keys past it are parsed every time, still correct).
type keyCache struct {
	mu    sync.RWMutex
	keys  map[[32]byte]*sigkey.Key
	limit int
}

func newKeyCache(limit int) *keyCache {
	return &keyCache{keys: make(map[[32]byte]*sigkey.Key), limit: limit}
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
func (c *keyCache) get(id [32]byte, alg int, key []byte) (*sigkey.Key, error) {
	c.mu.RLock()
	k, ok := c.keys[id]
	c.mu.RUnlock()
	if ok {
		return k, nil
	}
	k, err := sigkey.Parse(sigkey.Alg(alg), key)
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

// pluginKeys are the handles key_register gave a plugin: shared by its
// instances, so every instance registering the same key gets the same
// handle, and bounded, so a guest cannot pin unbounded memory.
type pluginKeys struct {
	mu      sync.RWMutex
	byID    map[[32]byte]int32
	handles []*sigkey.Key // handle h is handles[h-1]
}

// key_register: (alg, key, key_len) -> handle > 0, or < 0 on a bad key.
func (ex *exchange) keyRegister(mem api.Memory, stack []uint64) {
	alg := int(int32(uint32(stack[0])))
	key := ex.read(mem, "key", uint32(stack[1]), uint32(stack[2]), maxKeyLen)
	stack[0] = api.EncodeI32(ex.p.registerKey(alg, key))
}

func (p *Plugin) registerKey(alg int, key []byte) int32 {
	if a := sigkey.Alg(alg); a != sigkey.HS256 && a != sigkey.RS256 && a != sigkey.EdDSA {
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
	var k *sigkey.Key
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
	if k.Verify(msg, sig) {
		stack[0] = 1
	}
}

// bucket_take: (key, key_len, rate_milli i64, burst, cost) -> i64: tokens
// left (>= 0) when allowed, -(retry after, ms) when refused. The key is
// prefixed with the plugin name. A failing store lets the request through
// (returns 0) and counts tremolo_wasm_bucket_errors_total.
func (ex *exchange) bucketTake(mem api.Memory, stack []uint64) {
	p := ex.p
	maxKey := ratelimit.MaxKeyLen - len(p.name) - 1
	key := ex.view(mem, "bucket_take", "bucket key", stack[0], stack[1], maxKey)
	rate := float64(int64(stack[2])) / 1000
	burst, cost := int(int32(uint32(stack[3]))), int(int32(uint32(stack[4])))
	// "<plugin>:<key>" in the instance's buffer: the store keeps a copy of
	// the keys it keeps (ratelimit.Store), so no string is made per call.
	inst := ex.inst
	inst.keyBuf = append(append(append(inst.keyBuf[:0], p.name...), ':'), key...)
	full := unsafe.String(unsafe.SliceData(inst.keyBuf), len(inst.keyBuf))
	if err := ratelimit.Validate(full, rate, burst, cost); err != nil {
		ex.abort(KindABI, "bucket_take: %v", err)
	}
	// A remote store gets half of what is left of the call's budget, so
	// that a store that hangs (Redis behind a dead network) costs a failed
	// take (let through) rather than the whole call (its failure policy).
	var res ratelimit.Result
	var err error
	if p.rt.bucketsInProcess {
		res, err = p.rt.buckets.Take(ex.context(), full, rate, burst, cost)
	} else {
		ctx, cancel := context.WithTimeout(ex.context(), bucketWait(ex.deadline))
		res, err = p.rt.buckets.Take(ctx, full, rate, burst, cost)
		cancel()
	}
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

// retire: (). The instance serves the rest of its request (its
// handle_response too), then is discarded instead of going back to the
// pool: a guest that recovered from a failure it cannot vouch for
// (wasm-plugins/sdk's bundles, when one of their fail-open plugins panics)
// asks not to serve another request.
func (ex *exchange) retire(api.Memory, []uint64) {
	if ex.inst != nil {
		ex.inst.retired = true
	}
}

// undo_request: (). Everything the guest changed in this request so far
// goes back to how the plugin received it: request headers, method and URI,
// and the response it staged (headers, status, body). What it read of the
// request body stays read, and a body it wrote (write_body on the request)
// stays written: the guest owns those; and what it set still counts against
// maxHeaderBytes, so undoing cannot lift that bound. Not after next. A
// bundle (wasm-plugins/sdk) calls it to skip a fail-open plugin that
// panicked, and runs its plugins again.
func (ex *exchange) undoRequest(api.Memory, []uint64) {
	ex.request("undo_request")
	if ex.afterNext {
		ex.abort(KindABI, "undo_request: the request cannot change after next")
	}
	ex.undoHeaders()
	ex.r, ex.ownHeader, ex.ownTrailer = ex.orig, false, false
	ex.header, ex.headerSet, ex.status, ex.body, ex.respRead = nil, false, 0, nil, 0
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
