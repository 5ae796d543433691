package edge

import (
	"net/http"
	"runtime"
	"sync"
	"sync/atomic"
	"unsafe"
	"weak"

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
// response of the app's API, gives a buffer back after writing the whole
// of it. A buffer is known by its first byte's address; the register holds
// the buffers weakly, so one that is never written (Marshal called outside
// a request, a response that failed) is collected like any other memory.

// responseBufferSize is the capacity of a pooled buffer: a feed page and
// most lists fit; a larger response outgrows it into memory of its own.
const responseBufferSize = 32 << 10

// responseBuffer is a pooled buffer.
type responseBuffer struct {
	data []byte
	// n is the length of the response encoded into data; a write of
	// exactly data[:n] gives the buffer back.
	n int
	// lent is set while a response encoded into data is not yet written.
	lent atomic.Bool
}

var (
	responseBuffers = sync.Pool{New: func() any { return newResponseBuffer() }}
	// lentBuffers maps a pooled buffer's first byte's address to the
	// buffer, weakly.
	lentBuffers sync.Map // uintptr -> weak.Pointer[responseBuffer]
)

func newResponseBuffer() *responseBuffer {
	b := &responseBuffer{data: make([]byte, 0, responseBufferSize)}
	key := uintptr(unsafe.Pointer(unsafe.SliceData(b.data)))
	lentBuffers.Store(key, weak.Make(b))
	// Once b is collected its address may be reused: forget it, unless a
	// newer buffer at the same address took the entry over already.
	runtime.AddCleanup(b, func(key uintptr) {
		if v, ok := lentBuffers.Load(key); ok && v.(weak.Pointer[responseBuffer]).Value() == nil {
			lentBuffers.CompareAndDelete(key, v)
		}
	}, key)
	return b
}

// encodePooled returns m as JSON, written into a lent buffer when it fits.
func encodePooled(m protoreflect.Message) []byte {
	b := responseBuffers.Get().(*responseBuffer)
	out := appendMessage(b.data[:0], m)
	if unsafe.SliceData(out) != unsafe.SliceData(b.data) {
		// It outgrew the buffer: out is memory of its own.
		responseBuffers.Put(b)
		return out
	}
	b.n = len(out)
	b.lent.Store(true)
	return out
}

// giveBack returns p's buffer to the pool if p is the whole of a response
// encoded into a lent buffer; p must not be used afterwards.
func giveBack(p []byte) {
	if cap(p) != responseBufferSize {
		return
	}
	v, ok := lentBuffers.Load(uintptr(unsafe.Pointer(unsafe.SliceData(p))))
	if !ok {
		return
	}
	b := v.(weak.Pointer[responseBuffer]).Value()
	if b == nil || len(p) != b.n || !b.lent.CompareAndSwap(true, false) {
		return
	}
	responseBuffers.Put(b)
}

// returningWriter gives a lent buffer back to the pool once it is written.
type returningWriter struct{ http.ResponseWriter }

func (w returningWriter) Write(p []byte) (int, error) {
	n, err := w.ResponseWriter.Write(p)
	giveBack(p)
	return n, err
}

// Unwrap lets http.ResponseController reach the connection's writer.
func (w returningWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }
