package edge

import (
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	appv1 "github.com/tremolo-dev/tremolo/gen/douyin/app/v1"
	edgev1 "github.com/tremolo-dev/tremolo/gen/douyin/edge/v1"
)

// lent reports whether p is the whole of a response in a buffer still lent.
func lent(p []byte) bool {
	register.Lock()
	defer register.Unlock()
	b := register.m[addressOf(p)]
	return b != nil && b.n == len(p)
}

func feedPage(n int, title string) *edgev1.FeedResponse {
	r := &edgev1.FeedResponse{NextTime: 1}
	for i := range n {
		r.VideoList = append(r.VideoList, &appv1.Video{Id: int64(i), Title: title, Author: &appv1.User{Id: 7, Name: "a"}})
	}
	return r
}

// A response is given back once written whole through the edge's writer,
// and only then: not after part of it, and once only.
func TestResponseBufferGivenBackOnceWritten(t *testing.T) {
	b, err := Marshaler{}.Marshal(feedPage(3, "t"))
	if err != nil {
		t.Fatal(err)
	}
	if !lent(b) {
		t.Fatal("Marshal's output is not in a lent buffer")
	}
	rec := httptest.NewRecorder()
	w := returningWriter{rec}
	if _, err := w.Write(b[:10]); err != nil {
		t.Fatal(err)
	}
	if !lent(b) {
		t.Fatal("the buffer was given back after part of the response")
	}
	want := string(b)
	if _, err := w.Write(b[10:]); err != nil {
		t.Fatal(err)
	}
	if !lent(b) {
		t.Fatal("the buffer was given back after a write of its tail")
	}
	if _, err := w.Write(b); err != nil {
		t.Fatal(err)
	}
	if lent(b) {
		t.Fatal("the buffer is still lent after the whole response was written")
	}
	if got := rec.Body.String(); got != want+want {
		t.Fatalf("written %q", got)
	}
}

// A response larger than a pooled buffer is memory of its own, and writing
// it gives nothing back.
func TestLargeResponseOwnMemory(t *testing.T) {
	b, err := Marshaler{}.Marshal(feedPage(200, strings.Repeat("x", 200)))
	if err != nil {
		t.Fatal(err)
	}
	if len(b) <= responseBufferSize || lent(b) {
		t.Fatalf("%d bytes, lent %v: want more than %d, not lent", len(b), lent(b), responseBufferSize)
	}
	rec := httptest.NewRecorder()
	if _, err := (returningWriter{rec}).Write(b); err != nil || rec.Body.Len() != len(b) {
		t.Fatalf("written %d bytes, %v", rec.Body.Len(), err)
	}
}

// Concurrent requests never see each other's bytes: a buffer is reused
// only after the response in it is written.
func TestResponseBuffersConcurrent(t *testing.T) {
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			for i := range 200 {
				title := fmt.Sprintf("g%d-%d", g, i)
				want := string(marshal(feedPage(30, title)))
				b, err := Marshaler{}.Marshal(feedPage(30, title))
				if err != nil {
					t.Error(err)
					return
				}
				rec := httptest.NewRecorder()
				if _, err := (returningWriter{rec}).Write(b); err != nil {
					t.Error(err)
					return
				}
				if rec.Body.String() != want {
					t.Errorf("response %s came out as %.80q", title, rec.Body.String())
					return
				}
			}
		})
	}
	wg.Wait()
}

// failingWriter fails every write.
type failingWriter struct{ http.ResponseWriter }

func (failingWriter) Write([]byte) (int, error) { return 0, errors.New("connection closed") }

// A write that failed keeps its buffer out of the pool (the connection
// might still copy it), and once maxLent buffers are out, responses get
// memory of their own.
func TestFailedWriteAndLendingBound(t *testing.T) {
	b, err := Marshaler{}.Marshal(feedPage(3, "t"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := (returningWriter{failingWriter{httptest.NewRecorder()}}).Write(b); err == nil || !lent(b) {
		t.Fatalf("write error %v, lent %v: want the error and the buffer kept out", err, lent(b))
	}
	saved := lentCount.Load()
	lentCount.Store(maxLent)
	defer lentCount.Store(saved)
	own, err := Marshaler{}.Marshal(feedPage(3, "t"))
	if err != nil || lent(own) || string(own) != string(b) {
		t.Fatalf("at the bound: %q, lent %v, %v; want the same JSON in memory of its own", own, lent(own), err)
	}
}
