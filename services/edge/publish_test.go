package edge

import (
	"bytes"
	"context"
	"errors"
	"io"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"

	"google.golang.org/grpc"

	edgev1 "github.com/tremolo-dev/tremolo/gen/douyin/edge/v1"
	videov1 "github.com/tremolo-dev/tremolo/gen/douyin/video/v1"
	"github.com/tremolo-dev/tremolo/platform/auth"
	"github.com/tremolo-dev/tremolo/platform/token"
)

// fakeVerifier accepts the tokens it knows.
type fakeVerifier map[string]int64

func (f fakeVerifier) Verify(tok string) (int64, error) {
	if id, ok := f[tok]; ok {
		return id, nil
	}
	return 0, token.ErrInvalid
}

// fakeVideos records the Publish streams the publisher opens. A stream
// "commits" only when it is closed (CloseAndRecv), as the video service
// stores a video only at the end of its stream.
type fakeVideos struct {
	videov1.VideoServiceClient
	mu      sync.Mutex
	streams []*fakeStream
}

func (f *fakeVideos) Publish(ctx context.Context, _ ...grpc.CallOption) (grpc.ClientStreamingClient[videov1.PublishRequest, videov1.PublishResponse], error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	s := &fakeStream{ctx: ctx}
	f.streams = append(f.streams, s)
	return s, nil
}

// committed returns the streams that were closed: the stored videos.
func (f *fakeVideos) committed() []*fakeStream {
	var out []*fakeStream
	for _, s := range f.streams {
		if s.closed {
			out = append(out, s)
		}
	}
	return out
}

type fakeStream struct {
	grpc.ClientStream
	ctx    context.Context
	title  string
	data   bytes.Buffer
	closed bool
}

func (s *fakeStream) Send(m *videov1.PublishRequest) error {
	if s.ctx.Err() != nil {
		return io.EOF
	}
	if md := m.GetMetadata(); md != nil {
		s.title = md.GetTitle()
	}
	s.data.Write(m.GetChunk())
	return nil
}

func (s *fakeStream) CloseAndRecv() (*videov1.PublishResponse, error) {
	if err := s.ctx.Err(); err != nil {
		return nil, err
	}
	s.closed = true
	return &videov1.PublishResponse{Video: &videov1.Video{Id: 1, Title: s.title}}, nil
}

// abandoned reports whether the stream's call was cancelled unclosed.
func (s *fakeStream) abandoned() bool { return !s.closed && s.ctx.Err() != nil }

type formPart struct {
	name, file string // file: the file name of the data part
	value      string
}

func multipartRequest(t *testing.T, query url.Values, parts ...formPart) *http.Request {
	t.Helper()
	var body bytes.Buffer
	mw := multipart.NewWriter(&body)
	for _, p := range parts {
		var w io.Writer
		var err error
		if p.file != "" {
			w, err = mw.CreateFormFile(p.name, p.file)
		} else {
			w, err = mw.CreateFormField(p.name)
		}
		if err != nil {
			t.Fatal(err)
		}
		io.WriteString(w, p.value)
	}
	mw.Close()
	r := httptest.NewRequest(http.MethodPost, "/douyin/publish/action?"+query.Encode(), &body)
	r.Header.Set("Content-Type", mw.FormDataContentType())
	return r
}

func newTestPublisher(t *testing.T) (*publisher, *fakeVideos) {
	videos := &fakeVideos{}
	return &publisher{videos: videos, verifier: fakeVerifier{"alice": 1, "bob": 2}, maxBytes: 1 << 20, tempDir: t.TempDir(), spools: make(chan struct{}, maxSpools)}, videos
}

func TestPublishCommitsOnlyAWholeValidBody(t *testing.T) {
	file := strings.Repeat("v", 3*chunkSize+5) // several chunks
	for _, tc := range []struct {
		name  string
		query url.Values
		parts []formPart
	}{
		{"fields first (streamed)", nil, []formPart{{name: "token", value: "alice"}, {name: "title", value: "hi"}, {name: "data", file: "v.mp4", value: file}}},
		{"file first (spooled)", nil, []formPart{{name: "data", file: "v.mp4", value: file}, {name: "title", value: "hi"}, {name: "token", value: "alice"}}},
		{"title in the query", url.Values{"title": {"hi"}}, []formPart{{name: "token", value: "alice"}, {name: "data", file: "v.mp4", value: file}}},
		{"the same values in the query and the form", url.Values{"title": {"hi"}, "token": {"alice"}}, []formPart{{name: "token", value: "alice"}, {name: "title", value: "hi"}, {name: "data", file: "v.mp4", value: file}, {name: "token", value: "alice"}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p, videos := newTestPublisher(t)
			if err := p.publish(multipartRequest(t, tc.query, tc.parts...)); err != nil {
				t.Fatal(err)
			}
			got := videos.committed()
			if len(got) != 1 || got[0].title != "hi" || got[0].data.String() != file {
				t.Fatalf("committed %d streams", len(got))
			}
			if id, _ := auth.UserID(got[0].ctx); id != 1 {
				t.Errorf("published as %d, want alice (1)", id)
			}
		})
	}
}

// A body found bad after its file was streamed to the video service
// abandons the stream: the service stores nothing.
func TestPublishAbandonsTheStreamOnALaterProblem(t *testing.T) {
	file := "0123456789"
	first := []formPart{{name: "token", value: "alice"}, {name: "title", value: "hi"}, {name: "data", file: "v.mp4", value: file}}
	for _, tc := range []struct {
		name  string
		query url.Values
		after []formPart
	}{
		{"another token after the file", nil, []formPart{{name: "token", value: "bob"}}},
		{"another title after the file", nil, []formPart{{name: "title", value: "other"}}},
		{"a second file", nil, []formPart{{name: "data", file: "w.mp4", value: file}}},
		{"a title not UTF-8 after the file", nil, []formPart{{name: "title", value: "\xff"}}},
		{"an oversized field after the file", nil, []formPart{{name: "title", value: strings.Repeat("x", 5<<10)}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p, videos := newTestPublisher(t)
			err := p.publish(multipartRequest(t, tc.query, append(first, tc.after...)...))
			if !edgev1.IsInvalidParameter(err) {
				t.Fatalf("err = %v, want INVALID_PARAMETER", err)
			}
			if len(videos.streams) != 1 || !videos.streams[0].abandoned() {
				t.Fatalf("the streamed upload was not abandoned: %d streams, committed %d", len(videos.streams), len(videos.committed()))
			}
		})
	}
}

func TestPublishRefusesConflictsAndBadText(t *testing.T) {
	data := formPart{name: "data", file: "v.mp4", value: "video"}
	for _, tc := range []struct {
		name  string
		query url.Values
		parts []formPart
	}{
		{"token in the query differs from the form's", url.Values{"token": {"bob"}}, []formPart{{name: "token", value: "alice"}, {name: "title", value: "t"}, data}},
		{"title in the query differs from the form's", url.Values{"title": {"a"}}, []formPart{{name: "token", value: "alice"}, {name: "title", value: "b"}, data}},
		{"title twice in the query", url.Values{"title": {"a", "b"}}, []formPart{{name: "token", value: "alice"}, data}},
		{"a title not UTF-8", nil, []formPart{{name: "token", value: "alice"}, {name: "title", value: "\xff\xfe"}, data}},
		{"a title not UTF-8 in the query", url.Values{"title": {"\xff"}}, []formPart{{name: "token", value: "alice"}, data}},
		{"a title not UTF-8 after a spooled file", nil, []formPart{data, {name: "token", value: "alice"}, {name: "title", value: "\xff"}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p, videos := newTestPublisher(t)
			if err := p.publish(multipartRequest(t, tc.query, tc.parts...)); !edgev1.IsInvalidParameter(err) {
				t.Fatalf("err = %v, want INVALID_PARAMETER", err)
			}
			if len(videos.committed()) != 0 {
				t.Fatal("a video was committed")
			}
		})
	}
}

// A multipart body cut short in the file (a client or connection gone
// mid-upload) is malformed, not a shorter video.
func TestPublishRefusesATruncatedBody(t *testing.T) {
	for name, query := range map[string]url.Values{
		"streamed": {"token": {"alice"}, "title": {"t"}},
		"spooled":  {"token": {"alice"}},
	} {
		t.Run(name, func(t *testing.T) {
			p, videos := newTestPublisher(t)
			body := "--XYZ\r\nContent-Disposition: form-data; name=\"data\"; filename=\"v.mp4\"\r\n\r\n" + strings.Repeat("v", chunkSize+10)
			r := httptest.NewRequest(http.MethodPost, "/douyin/publish/action?"+query.Encode(), strings.NewReader(body))
			r.Header.Set("Content-Type", "multipart/form-data; boundary=XYZ")
			err := p.publish(r)
			if !edgev1.IsInvalidParameter(err) {
				t.Fatalf("err = %v, want INVALID_PARAMETER", err)
			}
			if len(videos.committed()) != 0 {
				t.Fatal("a truncated video was committed")
			}
		})
	}
}

func TestFill(t *testing.T) {
	buf := make([]byte, 8)
	n, err := fill(io.MultiReader(strings.NewReader("abc"), strings.NewReader("defghij")), buf)
	if n != 8 || err != nil || string(buf) != "abcdefgh" {
		t.Fatalf("fill = %d, %v, %q", n, err, buf)
	}
	n, err = fill(strings.NewReader("xy"), buf)
	if n != 2 || !errors.Is(err, io.EOF) {
		t.Fatalf("fill at the end = %d, %v", n, err)
	}
	n, err = fill(io.MultiReader(strings.NewReader("xy"), iotestErr{io.ErrUnexpectedEOF}), buf)
	if n != 2 || !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Fatalf("fill of a truncated reader = %d, %v; want io.ErrUnexpectedEOF", n, err)
	}
}

type iotestErr struct{ err error }

func (e iotestErr) Read([]byte) (int, error) { return 0, e.err }
