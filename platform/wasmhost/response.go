package wasmhost

import (
	"bytes"
	"net/http"
)

// responseState is what the host knows of next's response when it calls
// handle_response: either recorded (the guest buffers the response, so
// nothing has reached the client) or tracked (written through, so the
// guest may only look).
type responseState struct {
	rec *recorder
	trk *tracker
}

func (s *responseState) buffered() bool { return s.rec != nil && !s.rec.overflowed }

// sent reports whether the client may have received the status and
// headers already, so they can no longer change.
func (s *responseState) sent() bool {
	if s.rec != nil {
		return s.rec.overflowed
	}
	return s.trk.wrote
}

// status returns the status next wrote, or 0 if none.
func (s *responseState) status() int {
	if s.rec != nil {
		return s.rec.code
	}
	return s.trk.code
}

// tracker passes next's response through, noting whether and with which
// status it was written.
type tracker struct {
	http.ResponseWriter
	code  int
	wrote bool
}

func (t *tracker) WriteHeader(code int) {
	if !t.wrote && code >= 200 {
		t.code, t.wrote = code, true
	}
	t.ResponseWriter.WriteHeader(code)
}

func (t *tracker) Write(b []byte) (int, error) {
	if !t.wrote {
		t.code, t.wrote = http.StatusOK, true
	}
	return t.ResponseWriter.Write(b)
}

// Flush implements http.Flusher when the client's writer does.
func (t *tracker) Flush() {
	if f, ok := t.ResponseWriter.(http.Flusher); ok {
		if !t.wrote {
			t.code, t.wrote = http.StatusOK, true
		}
		f.Flush()
	}
}

// Unwrap lets http.ResponseController reach the client's writer.
func (t *tracker) Unwrap() http.ResponseWriter { return t.ResponseWriter }

// recorder holds next's response for handle_response, up to limit bytes
// of body. Its headers are the client writer's own map: nothing is sent
// until flush, so they can still change. A body past limit overflows: what
// was recorded is sent and the rest streams through, and the guest can no
// longer change the response (the ABI call that tries fails).
type recorder struct {
	w          http.ResponseWriter
	code       int
	body       bytes.Buffer
	limit      int
	overflowed bool
}

func (r *recorder) Header() http.Header { return r.w.Header() }

func (r *recorder) WriteHeader(code int) {
	if r.overflowed || code < 200 { // informational responses (103) go out at once
		r.w.WriteHeader(code)
		return
	}
	if r.code == 0 {
		r.code = code
	}
}

func (r *recorder) Write(b []byte) (int, error) {
	if r.overflowed {
		return r.w.Write(b)
	}
	if r.code == 0 {
		r.code = http.StatusOK
	}
	if r.body.Len()+len(b) <= r.limit {
		return r.body.Write(b)
	}
	r.overflowed = true
	r.w.WriteHeader(r.code)
	if _, err := r.w.Write(r.body.Bytes()); err != nil {
		return 0, err
	}
	r.body.Reset()
	return r.w.Write(b)
}

// Unwrap lets http.ResponseController reach the client's writer (a flush
// through it sends what is recorded so far out of order; handlers that
// stream should not sit behind a plugin that buffers responses).
func (r *recorder) Unwrap() http.ResponseWriter { return r.w }

// flush sends the recorded response as next wrote it.
func (r *recorder) flush() {
	if r.overflowed {
		return
	}
	r.w.WriteHeader(max(r.code, http.StatusOK))
	r.w.Write(r.body.Bytes()) //nolint:errcheck // the client went away; nothing to do
}
