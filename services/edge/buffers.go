package edge

import (
	"net/http"
	"sync"
	"sync/atomic"
	"unsafe"

	"google.golang.org/protobuf/reflect/protoreflect"
)

// Responses are encoded into buffers lent from a pool and given back once
// written. A feed page is 13 KB of JSON: a fresh buffer per request was a
// third of the bytes the feed route allocated, and, fresh memory each time,
// it pushed the rest of the request out of the CPU's caches (measured in
// docs/benchmarks.md).
//
// grpc-gateway asks the Marshaler for the bytes and writes them itself, so
// the buffer goes back where it is written: returningWriter, around every
// response of the app's API, gives a buffer back after a successful write
// of the whole of it. A lent buffer is known by its first byte's address,
// in a register that holds it until then. Bytes that are never written
// through returningWriter (Marshal called elsewhere, a handler that failed
// in between) keep their buffer out of the pool for good; at most
// maxLent buffers are out at once, beyond which responses get memory of
// their own, so such losses cannot grow without bound.

// responseBufferSize is the capacity of a pooled buffer: a feed page and
// most lists fit; a larger response outgrows it into memory of its own.
const responseBufferSize = 32 << 10

// maxLent bounds the buffers out of the pool at once (8 MiB).
const maxLent = 256

// responseBuffer is a pooled buffer.
type responseBuffer struct {
	data []byte
	// n is the length of the response encoded into data; a write of
	// exactly data[:n] gives the buffer back.
	n int
}

var responseBuffers = sync.Pool{New: func() any { return &responseBuffer{data: make([]byte, 0, responseBufferSize)} }}

// register holds the lent buffers, by their first byte's address. A map
// under a mutex rather than a sync.Map: its slots are reused, where a
// sync.Map allocates an entry per loan.
var register struct {
	sync.Mutex
	m map[uintptr]*responseBuffer
}

// lentCount is len(register.m), read without the lock.
var lentCount atomic.Int32

// lend registers b, lent.
func lend(b *responseBuffer) {
	register.Lock()
	if register.m == nil {
		register.m = make(map[uintptr]*responseBuffer, maxLent)
	}
	register.m[addressOf(b.data)] = b
	lentCount.Store(int32(len(register.m)))
	register.Unlock()
}

func addressOf(p []byte) uintptr { return uintptr(unsafe.Pointer(unsafe.SliceData(p))) }

// encodePooled returns m as JSON, written into a lent buffer when one is
// available and the JSON fits.
func encodePooled(m protoreflect.Message) []byte {
	if lentCount.Load() >= maxLent {
		return appendMessage(make([]byte, 0, 512), m)
	}
	b := responseBuffers.Get().(*responseBuffer)
	out := appendMessage(b.data[:0], m)
	if unsafe.SliceData(out) != unsafe.SliceData(b.data) {
		// It outgrew the buffer: out is memory of its own.
		responseBuffers.Put(b)
		return out
	}
	b.n = len(out)
	lend(b)
	return out
}

// giveBack returns p's buffer to the pool if p is the whole of a response
// encoded into a lent buffer; p must not be used afterwards.
func giveBack(p []byte) {
	if cap(p) != responseBufferSize {
		return
	}
	key := addressOf(p)
	register.Lock()
	b := register.m[key]
	if b == nil || b.n != len(p) {
		register.Unlock()
		return
	}
	delete(register.m, key)
	lentCount.Store(int32(len(register.m)))
	register.Unlock()
	responseBuffers.Put(b)
}

// returningWriter gives a lent buffer back to the pool once it is written
// whole. Only a write that succeeded does: one that failed may have left
// the bytes with the connection still to copy (HTTP/2 returns before its
// frame is written), so that buffer stays out of the pool.
type returningWriter struct{ http.ResponseWriter }

func (w returningWriter) Write(p []byte) (int, error) {
	n, err := w.ResponseWriter.Write(p)
	if err == nil {
		giveBack(p)
	}
	return n, err
}

// Flush passes on to the connection's writer (streaming responses).
func (w returningWriter) Flush() {
	if f, ok := w.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

// Unwrap lets http.ResponseController reach the connection's writer.
func (w returningWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }
