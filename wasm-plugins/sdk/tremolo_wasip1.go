//go:build wasip1 && tremolo

package sdk

import "time"

// The tremolo host module (ABI.md). A module importing it loads only in
// Tremolo's host, which is why these bindings exist only with -tags tremolo.
// key_register and signature_verify are bound in package keys.

// go:noescape, as on the http_handler imports (abi_wasip1.go): without it
// a bucket key built on the caller's stack (ratelimit's 160-byte buffer)
// went to the heap on every request.
//
//go:wasmimport tremolo bucket_take
//go:noescape
func tremoloBucketTake(key string, rateMilli int64, burst int32, cost int32) int64

//go:wasmimport tremolo counter_add
//go:noescape
func tremoloCounterAdd(name string, delta int64)

// localBuckets is empty: the host keeps the buckets.
type localBuckets struct{}

func newLocalBuckets(int) localBuckets { return localBuckets{} }

func (b *Buckets) take(key string, l Limit, cost int32) (int64, time.Duration, bool) {
	r := tremoloBucketTake(key, l.RateMilli, l.Burst, cost)
	if r >= 0 {
		return r, 0, true
	}
	return 0, time.Duration(-r) * time.Millisecond, false
}

func counterAdd(name string, delta int64) { tremoloCounterAdd(name, delta) }

//go:wasmimport tremolo retire
func tremoloRetire()

//go:wasmimport tremolo undo_request
func tremoloUndoRequest()

func retire() { tremoloRetire() }

// canUndo: the tremolo module undoes a request's changes (Bundle).
const canUndo = true

// undoRequest undoes the request's changes, and reports false, undoing
// nothing, when it cannot: a panic inside Body left the body half read
// (and, when too large, half passed on), which only failing the call can
// leave whole (the host then gives back what was read).
func undoRequest() bool {
	if request.bodyReading {
		return false
	}
	tremoloUndoRequest()
	// The SDK's own view of the request: the URI it cached, and a body to
	// put back that the undone plugins may have set (Body's bytes stay).
	request.hasURI = false
	request.putBack, request.hasPutBack = request.body, request.bodyRead && !request.bodyTooLarge
	return true
}
