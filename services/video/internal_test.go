package video

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	videov1 "github.com/tremolo-dev/tremolo/gen/douyin/video/v1"
	"github.com/tremolo-dev/tremolo/platform/apierror"
	"github.com/tremolo-dev/tremolo/platform/auth"
	"github.com/tremolo-dev/tremolo/platform/ids"
	"github.com/tremolo-dev/tremolo/platform/sqldb"
	"github.com/tremolo-dev/tremolo/services/video/internal/cover"
	"github.com/tremolo-dev/tremolo/services/video/internal/store"
	"github.com/tremolo-dev/tremolo/services/video/videotest"
)

// fakeStream is a Publish stream fed from a slice, ending with err (io.EOF
// when nil).
type fakeStream struct {
	grpc.ServerStream
	ctx  context.Context
	msgs []*videov1.PublishRequest
	err  error
	resp *videov1.PublishResponse
}

func (f *fakeStream) Context() context.Context { return f.ctx }

func (f *fakeStream) Recv() (*videov1.PublishRequest, error) {
	if len(f.msgs) == 0 {
		if f.err != nil {
			return nil, f.err
		}
		return nil, io.EOF
	}
	m := f.msgs[0]
	f.msgs = f.msgs[1:]
	return m, nil
}

func (f *fakeStream) SendAndClose(r *videov1.PublishResponse) error { f.resp = r; return nil }

func uploadMsgs(title string, data []byte) []*videov1.PublishRequest {
	return []*videov1.PublishRequest{
		{Part: &videov1.PublishRequest_Metadata{Metadata: &videov1.PublishMetadata{Title: title}}},
		{Part: &videov1.PublishRequest_Chunk{Chunk: data}},
	}
}

// newService is the service without fx, on a fresh SQLite file; the
// returned DB lets a test break the database.
func newService(t *testing.T, covers *cover.Maker) (*Service, *sqldb.DB, *Media) {
	t.Helper()
	dir := t.TempDir()
	db, err := sqldb.Open(context.Background(), "sqlite://"+filepath.Join(dir, "video.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = db.Close() })
	st, err := store.New(context.Background(), db)
	if err != nil {
		t.Fatal(err)
	}
	media, err := OpenMedia(filepath.Join(dir, "media"), nil)
	if err != nil {
		t.Fatal(err)
	}
	gen, err := ids.New(1)
	if err != nil {
		t.Fatal(err)
	}
	return New(st, gen, media, covers, Config{}, nil), db, media
}

func mediaFiles(t *testing.T, m *Media) []string {
	t.Helper()
	var out []string
	_ = filepath.WalkDir(m.Dir, func(path string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			out = append(out, path)
		}
		return nil
	})
	return out
}

func TestPublishWithoutFx(t *testing.T) {
	s, _, m := newService(t, nil)
	stream := &fakeStream{ctx: auth.WithUser(context.Background(), 9), msgs: uploadMsgs("ok", videotest.MP4())}
	if err := s.Publish(stream); err != nil {
		t.Fatal(err)
	}
	v := stream.resp.GetVideo()
	if v.GetAuthorId() != 9 || v.GetPlayPath() != PlayPath(v.GetId()) {
		t.Fatalf("published %v", v)
	}
	if files := mediaFiles(t, m); len(files) != 2 {
		t.Fatalf("files after a publish: %v", files)
	}
}

func TestFailedPublishLeavesNoFiles(t *testing.T) {
	user := auth.WithUser(context.Background(), 9)
	t.Run("database down after the files are placed", func(t *testing.T) {
		s, db, m := newService(t, nil)
		_ = db.Close()
		err := s.Publish(&fakeStream{ctx: user, msgs: uploadMsgs("ok", videotest.MP4())})
		if code, _ := apierror.CodeAndReason(err); code != codes.Internal {
			t.Fatalf("err = %v, want INTERNAL", err)
		}
		if files := mediaFiles(t, m); len(files) != 0 {
			t.Fatalf("files left: %v", files)
		}
	})
	t.Run("request timed out while making the cover", func(t *testing.T) {
		ffmpeg := filepath.Join(t.TempDir(), "ffmpeg")
		if err := os.WriteFile(ffmpeg, []byte("#!/bin/sh\nsleep 5\n"), 0o755); err != nil {
			t.Fatal(err)
		}
		s, _, m := newService(t, &cover.Maker{FFmpeg: ffmpeg})
		ctx, cancel := context.WithTimeout(user, 300*time.Millisecond)
		defer cancel()
		err := s.Publish(&fakeStream{ctx: ctx, msgs: uploadMsgs("ok", videotest.Playable())})
		if code, _ := apierror.CodeAndReason(err); code != codes.DeadlineExceeded {
			t.Fatalf("err = %v, want DEADLINE_EXCEEDED", err)
		}
		if files := mediaFiles(t, m); len(files) != 0 {
			t.Fatalf("files left: %v", files)
		}
	})
	t.Run("stream broken mid-upload", func(t *testing.T) {
		s, _, m := newService(t, nil)
		err := s.Publish(&fakeStream{ctx: user, msgs: uploadMsgs("ok", videotest.MP4()), err: status.Error(codes.Canceled, "client went away")})
		if code, _ := apierror.CodeAndReason(err); code != codes.Canceled {
			t.Fatalf("err = %v, want CANCELLED", err)
		}
		if files := mediaFiles(t, m); len(files) != 0 {
			t.Fatalf("files left: %v", files)
		}
	})
	t.Run("no user", func(t *testing.T) {
		s, _, _ := newService(t, nil)
		err := s.Publish(&fakeStream{ctx: context.Background(), msgs: uploadMsgs("ok", videotest.MP4())})
		if code, _ := apierror.CodeAndReason(err); code != codes.Unauthenticated {
			t.Fatalf("err = %v, want UNAUTHENTICATED", err)
		}
	})
}

func TestMediaHandlerRefusesRawPaths(t *testing.T) {
	dir := t.TempDir()
	m, err := OpenMedia(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{"videos/12.mp4", "covers/12.jpg", "covers/13.png", "tmp/upload-1.mp4", "secret.db"} {
		if err := os.WriteFile(filepath.Join(dir, f), []byte("content of "+f), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Mkdir(filepath.Join(dir, "videos", "14.mp4"), 0o755); err != nil { // a directory named like a video
		t.Fatal(err)
	}
	h := MediaHandler(m, nil)
	serve := func(method, path string) *httptest.ResponseRecorder {
		req := httptest.NewRequest(method, "/", nil)
		req.URL.Path = path // as given, without the mux's cleaning
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		return rec
	}
	for path, ctype := range map[string]string{
		"/media/videos/12.mp4": "video/mp4", "/media/covers/12.jpg": "image/jpeg", "/media/covers/13.png": "image/png",
	} {
		rec := serve(http.MethodGet, path)
		if rec.Code != 200 || rec.Header().Get("Content-Type") != ctype {
			t.Errorf("GET %s: %d %q", path, rec.Code, rec.Header().Get("Content-Type"))
		}
	}
	for _, path := range []string{
		"/media/../secret.db", "/media/videos/../../secret.db", "/media/videos/../secret.db", "/media/videos/../tmp/upload-1.mp4",
		"/media/tmp/upload-1.mp4", "/media/secret.db", "/media/videos/..", "/media/videos/./12.mp4", "/media/./videos/12.mp4",
		"/media/videos/12.mp4/..", "/media/videos/12.mp4\x00", "/media/videos/14.mp4", "/media/videos/", "/media/",
		"/x/media/videos/12.mp4", "/media/videos/1 2.mp4", "/media/videos/9223372036854775808.mp4",
	} {
		if rec := serve(http.MethodGet, path); rec.Code != http.StatusNotFound {
			t.Errorf("GET %q: %d %q, want 404", path, rec.Code, rec.Body.String())
		}
	}
	if rec := serve(http.MethodPut, "/media/videos/12.mp4"); rec.Code != http.StatusMethodNotAllowed {
		t.Errorf("PUT: %d", rec.Code)
	}
}

func TestOpenMediaSweepsStaleUploads(t *testing.T) {
	dir := t.TempDir()
	if _, err := OpenMedia(dir, nil); err != nil {
		t.Fatal(err)
	}
	stale, fresh := filepath.Join(dir, "tmp", "upload-old.mp4"), filepath.Join(dir, "tmp", "upload-new.mp4")
	for _, p := range []string{stale, fresh} {
		if err := os.WriteFile(p, []byte("x"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	old := time.Now().Add(-2 * staleTemp)
	if err := os.Chtimes(stale, old, old); err != nil {
		t.Fatal(err)
	}
	if _, err := OpenMedia(dir, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(stale); !os.IsNotExist(err) {
		t.Errorf("stale upload kept: %v", err)
	}
	if _, err := os.Stat(fresh); err != nil {
		t.Errorf("fresh upload removed: %v", err)
	}
}

func TestValidTitle(t *testing.T) {
	for title, want := range map[string]bool{
		"a": true, "抖音 #1": true, "emoji 😀": true, " padded ": true,
		"": false, " ": false, "\t": false, "a\nb": false, "a\u0085b": false, "bad \xff utf-8": false,
	} {
		if got := ValidTitle(title); got != want {
			t.Errorf("ValidTitle(%q) = %v, want %v", title, got, want)
		}
	}
}
