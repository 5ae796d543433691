package comment_test

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/fx"
	"go.uber.org/fx/fxtest"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	commentv1 "github.com/tremolo-dev/tremolo/gen/douyin/comment/v1"
	videov1 "github.com/tremolo-dev/tremolo/gen/douyin/video/v1"
	"github.com/tremolo-dev/tremolo/platform/apierror"
	"github.com/tremolo-dev/tremolo/platform/app"
	"github.com/tremolo-dev/tremolo/platform/auth"
	"github.com/tremolo-dev/tremolo/platform/server"
	"github.com/tremolo-dev/tremolo/platform/sqldb/pgtest"
	"github.com/tremolo-dev/tremolo/services/comment"
	"github.com/tremolo-dev/tremolo/services/video"
	"github.com/tremolo-dev/tremolo/services/video/videotest"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

// env is a running process of the video and comment services: the real fx
// app on loopback ports, driven through the generated gRPC clients.
type env struct {
	com  commentv1.CommentServiceClient
	vid  videov1.VideoServiceClient
	http string // base URL of the HTTP server (metrics)
}

func start(t *testing.T, videoDSN, commentDSN string) *env {
	t.Helper()
	return startApp(t, app.Config{}, fx.Supply(
		video.Config{DSN: videoDSN, MediaDir: filepath.Join(t.TempDir(), "media")},
		comment.Config{DSN: commentDSN},
	), video.Module, comment.Module)
}

// startApp runs the platform with cfg's Client settings and opts.
func startApp(t *testing.T, cfg app.Config, opts ...fx.Option) *env {
	t.Helper()
	cfg.Server = server.Config{GRPCAddr: "127.0.0.1:0", HTTPAddr: "127.0.0.1:0", ShutdownTimeout: time.Second}
	cfg.DataDir = t.TempDir()
	cfg.Log.Level, cfg.Log.Format = "error", "json"
	var srv *server.Server
	a := fxtest.New(t, app.Options(cfg), fx.Options(opts...), fx.Populate(&srv))
	a.RequireStart()
	t.Cleanup(a.RequireStop)

	cc, err := grpc.NewClient(srv.GRPCAddr().String(),
		grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithUnaryInterceptor(apierror.UnaryClientInterceptor()),
		grpc.WithStreamInterceptor(apierror.StreamClientInterceptor()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cc.Close() })
	return &env{
		com:  commentv1.NewCommentServiceClient(cc),
		vid:  videov1.NewVideoServiceClient(cc),
		http: "http://" + srv.HTTPAddr().String(),
	}
}

// backends runs a test against the embedded SQLite default and a real
// PostgreSQL server (both services on it).
func backends(t *testing.T, test func(t *testing.T, e *env)) {
	t.Run("sqlite", func(t *testing.T) {
		dir := t.TempDir()
		test(t, start(t, "sqlite://"+filepath.Join(dir, "video.db"), "sqlite://"+filepath.Join(dir, "comment.db")))
	})
	t.Run("postgres", func(t *testing.T) {
		pg := pgtest.Shared(t)
		test(t, start(t, pg.NewDatabase(t), pg.NewDatabase(t)))
	})
}

func ctxT(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	t.Cleanup(cancel)
	return ctx
}

// as returns a context whose calls carry user uid, as the edge sends them.
func as(t *testing.T, uid int64) context.Context {
	return metadata.AppendToOutgoingContext(ctxT(t), auth.MetadataKey, strconv.FormatInt(uid, 10))
}

func (e *env) publish(t *testing.T, author int64, title string) int64 {
	t.Helper()
	v, err := videotest.Publish(as(t, author), e.vid, title, videotest.MP4())
	if err != nil {
		t.Fatalf("publishing %q: %v", title, err)
	}
	return v.GetId()
}

func (e *env) post(t *testing.T, user, video int64, content string) *commentv1.Comment {
	t.Helper()
	resp, err := e.com.Post(as(t, user), &commentv1.PostRequest{VideoId: video, Content: content})
	if err != nil {
		t.Fatalf("user %d posts on %d: %v", user, video, err)
	}
	return resp.GetComment()
}

func (e *env) list(t *testing.T, video int64) []*commentv1.Comment {
	t.Helper()
	resp, err := e.com.List(ctxT(t), &commentv1.ListRequest{VideoId: video})
	if err != nil {
		t.Fatalf("List(%d): %v", video, err)
	}
	return resp.GetComments()
}

func (e *env) counts(t *testing.T, videos ...int64) map[int64]int64 {
	t.Helper()
	resp, err := e.com.BatchCount(ctxT(t), &commentv1.BatchCountRequest{VideoIds: videos})
	if err != nil {
		t.Fatalf("BatchCount(%v): %v", videos, err)
	}
	return resp.GetCounts()
}

func ids(cs []*commentv1.Comment) []int64 {
	out := make([]int64, len(cs))
	for i, c := range cs {
		out[i] = c.GetId()
	}
	return out
}

func wantCounts(t *testing.T, got, want map[int64]int64) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("counts = %v, want %v", got, want)
	}
	for k, v := range want {
		if g, ok := got[k]; !ok || g != v {
			t.Fatalf("counts = %v, want %v", got, want)
		}
	}
}

const (
	alice = int64(1001)
	bob   = int64(1002)
	carol = int64(1003)
)

func TestPostListCount(t *testing.T) {
	backends(t, func(t *testing.T, e *env) {
		v1 := e.publish(t, alice, "first")
		v2 := e.publish(t, bob, "second")

		before := time.Now()
		c1 := e.post(t, bob, v1, "  nice video!\n ")
		after := time.Now()
		if c1.GetId() <= 0 || c1.GetId() >= 1<<53 || c1.GetVideoId() != v1 || c1.GetUserId() != bob ||
			c1.GetContent() != "nice video!" ||
			c1.GetCreatedAt() < before.UnixMilli() || c1.GetCreatedAt() > after.UnixMilli() {
			t.Fatalf("posted comment = %v (want trimmed content, created between %d and %d)", c1, before.UnixMilli(), after.UnixMilli())
		}
		long := strings.Repeat("抖", comment.MaxContentLen) // 500 characters, 1500 bytes
		c2 := e.post(t, carol, v1, long)
		c3 := e.post(t, bob, v1, "line one\nline two\ttabbed 😀")
		e.post(t, alice, v2, "on the other video")

		got := e.list(t, v1)
		want := []*commentv1.Comment{c3, c2, c1}
		if len(got) != len(want) {
			t.Fatalf("List(v1) ids = %v, want %v", ids(got), ids(want))
		}
		for i := range want {
			if got[i].String() != want[i].String() {
				t.Fatalf("List(v1)[%d] = %v, want %v (newest first, as posted)", i, got[i], want[i])
			}
		}
		if len(e.list(t, 424242)) != 0 {
			t.Fatal("an unknown video has comments")
		}
		wantCounts(t, e.counts(t, v1, v2, v1, 424242), map[int64]int64{v1: 3, v2: 1, 424242: 0})
		wantCounts(t, e.counts(t), map[int64]int64{})

		// Post is not idempotent: the same text twice is two comments.
		e.post(t, bob, v2, "again")
		e.post(t, bob, v2, "again")
		wantCounts(t, e.counts(t, v2), map[int64]int64{v2: 3})
	})
}

// wantErr checks the code, the reason and the business code a caller sees.
func wantErr(t *testing.T, what string, err error, code codes.Code, is func(error) bool, business int32) {
	t.Helper()
	if status.Code(err) != code || !is(err) || apierror.BusinessCode(err) != business {
		t.Fatalf("%s: err = %v (code %v, business %d); want %v / %d", what, err, status.Code(err), apierror.BusinessCode(err), code, business)
	}
}

func TestDelete(t *testing.T) {
	backends(t, func(t *testing.T, e *env) {
		v1 := e.publish(t, alice, "first")
		v2 := e.publish(t, alice, "second")
		mine := e.post(t, bob, v1, "bob's")
		other := e.post(t, carol, v1, "carol's")
		keep := e.post(t, bob, v2, "bob's on v2")

		del := func(user, video, id int64) error {
			_, err := e.com.Delete(as(t, user), &commentv1.DeleteRequest{VideoId: video, CommentId: id})
			return err
		}
		// Someone else's comment: refused, and it stays.
		err := del(bob, v1, other.GetId())
		wantErr(t, "deleting someone else's comment", err, codes.PermissionDenied, commentv1.IsNotAuthor, 10404)
		err = del(bob, 0, other.GetId())
		wantErr(t, "deleting someone else's comment (no video)", err, codes.PermissionDenied, commentv1.IsNotAuthor, 10404)
		// The wrong video: not found, whoever asks.
		err = del(bob, v2, mine.GetId())
		wantErr(t, "deleting on the wrong video", err, codes.NotFound, commentv1.IsCommentNotFound, 10403)
		err = del(bob, v2, other.GetId())
		wantErr(t, "deleting someone else's on the wrong video", err, codes.NotFound, commentv1.IsCommentNotFound, 10403)
		err = del(bob, 424242, mine.GetId())
		wantErr(t, "deleting on an unknown video", err, codes.NotFound, commentv1.IsCommentNotFound, 10403)
		// Unknown comments.
		err = del(bob, v1, mine.GetId()+1000)
		wantErr(t, "deleting an unknown comment", err, codes.NotFound, commentv1.IsCommentNotFound, 10403)
		wantCounts(t, e.counts(t, v1, v2), map[int64]int64{v1: 2, v2: 1})

		// The author, on the right video, then again.
		if err := del(bob, v1, mine.GetId()); err != nil {
			t.Fatalf("author deletes own comment: %v", err)
		}
		err = del(bob, v1, mine.GetId())
		wantErr(t, "deleting twice", err, codes.NotFound, commentv1.IsCommentNotFound, 10403)
		// video_id 0 skips the video check.
		if err := del(bob, 0, keep.GetId()); err != nil {
			t.Fatalf("author deletes own comment without a video: %v", err)
		}
		wantCounts(t, e.counts(t, v1, v2), map[int64]int64{v1: 1, v2: 0})
		if got := e.list(t, v1); len(got) != 1 || got[0].GetId() != other.GetId() {
			t.Fatalf("List(v1) after deletes = %v, want only carol's", got)
		}
	})
}

func TestBadInput(t *testing.T) {
	backends(t, func(t *testing.T, e *env) {
		v1 := e.publish(t, alice, "target")
		c := e.post(t, alice, v1, "the only comment")

		// No user: the server refuses before the handler.
		_, err := e.com.Post(ctxT(t), &commentv1.PostRequest{VideoId: v1, Content: "x"})
		wantErr(t, "anonymous Post", err, codes.Unauthenticated, func(error) bool { return true }, 1016)
		_, err = e.com.Delete(ctxT(t), &commentv1.DeleteRequest{VideoId: v1, CommentId: c.GetId()})
		wantErr(t, "anonymous Delete", err, codes.Unauthenticated, func(error) bool { return true }, 1016)

		for _, id := range []int64{0, -1, -1 << 62} {
			_, err = e.com.Post(as(t, bob), &commentv1.PostRequest{VideoId: id, Content: "x"})
			wantErr(t, fmt.Sprintf("Post on %d", id), err, codes.InvalidArgument, commentv1.IsInvalidId, 10405)
			_, err = e.com.Delete(as(t, alice), &commentv1.DeleteRequest{VideoId: v1, CommentId: id})
			wantErr(t, fmt.Sprintf("Delete comment %d", id), err, codes.InvalidArgument, commentv1.IsInvalidId, 10405)
			_, err = e.com.List(ctxT(t), &commentv1.ListRequest{VideoId: id})
			wantErr(t, fmt.Sprintf("List(%d)", id), err, codes.InvalidArgument, commentv1.IsInvalidId, 10405)
			_, err = e.com.BatchCount(ctxT(t), &commentv1.BatchCountRequest{VideoIds: []int64{v1, id}})
			wantErr(t, fmt.Sprintf("BatchCount(v1, %d)", id), err, codes.InvalidArgument, commentv1.IsInvalidId, 10405)
			if id != 0 {
				_, err = e.com.Delete(as(t, alice), &commentv1.DeleteRequest{VideoId: id, CommentId: c.GetId()})
				wantErr(t, fmt.Sprintf("Delete on video %d", id), err, codes.InvalidArgument, commentv1.IsInvalidId, 10405)
			}
		}

		for _, content := range []string{
			"", " ", "\n\t \u3000", // empty once trimmed
			strings.Repeat("a", comment.MaxContentLen+1), "  " + strings.Repeat("抖", comment.MaxContentLen+1) + "  ",
			"nul\x00byte", "bell\a", "escape \x1b[31m", "c1 \u0085 control",
		} {
			_, err = e.com.Post(as(t, bob), &commentv1.PostRequest{VideoId: v1, Content: content})
			wantErr(t, fmt.Sprintf("Post(%q)", content), err, codes.InvalidArgument, commentv1.IsInvalidContent, 10401)
		}
		// 500 characters once trimmed are fine, though longer before.
		e.post(t, carol, v1, "\n  "+strings.Repeat("b", comment.MaxContentLen)+"  \n")

		// Unknown videos, including one beyond 2^53.
		for _, id := range []int64{v1 + 1000, 1<<62 + 5} {
			_, err = e.com.Post(as(t, bob), &commentv1.PostRequest{VideoId: id, Content: "hello"})
			wantErr(t, fmt.Sprintf("Post on unknown %d", id), err, codes.NotFound, commentv1.IsVideoNotFound, 10402)
		}

		many := make([]int64, 501)
		for i := range many {
			many[i] = int64(i + 1)
		}
		_, err = e.com.BatchCount(ctxT(t), &commentv1.BatchCountRequest{VideoIds: many})
		wantErr(t, "BatchCount(501)", err, codes.InvalidArgument, commentv1.IsTooManyIds, 10406)
		many[500] = 1 // 500 distinct ids, one repeated
		if got := e.counts(t, many...); len(got) != 500 {
			t.Fatalf("BatchCount of 500 distinct ids gave %d counts", len(got))
		}

		// Only the two accepted posts were written.
		wantCounts(t, e.counts(t, v1, v1+1000), map[int64]int64{v1: 2, v1 + 1000: 0})
		for _, cm := range e.list(t, v1) {
			if cm.GetUserId() == bob {
				t.Fatalf("a refused post was stored: %v", cm)
			}
		}
	})
}

// TestContent checks the content rule without the network, including what a
// Go client cannot send (invalid UTF-8 fails to marshal).
func TestContent(t *testing.T) {
	for in, want := range map[string]string{
		"hi":                           "hi",
		"  hi  ":                       "hi",
		"\u3000全角空格\u3000":             "全角空格",
		"a\r\nb":                       "a\r\nb",
		strings.Repeat("é", 500):       strings.Repeat("é", 500),
		" " + strings.Repeat("x", 500): strings.Repeat("x", 500),
	} {
		if got, ok := comment.Content(in); !ok || got != want {
			t.Errorf("Content(%q) = %q, %v; want %q", in, got, ok, want)
		}
	}
	for _, in := range []string{"", "   ", "\xff\xfe", "ok \xc3", strings.Repeat("x", 501), "del\x7f", "zero\x00"} {
		if got, ok := comment.Content(in); ok {
			t.Errorf("Content(%q) = %q, accepted", in, got)
		}
	}
}

// videoCalls returns how many BatchGetVideos calls the video service has
// started, from its metrics.
func (e *env) videoCalls(t *testing.T) int {
	t.Helper()
	resp, err := http.Get(e.http + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	const series = `grpc_server_started_total{grpc_method="BatchGetVideos",grpc_service="douyin.video.v1.VideoService",grpc_type="unary"} `
	for line := range strings.Lines(string(raw)) {
		if v, ok := strings.CutPrefix(line, series); ok {
			n, err := strconv.Atoi(strings.TrimSpace(v))
			if err != nil {
				t.Fatalf("metrics line %q: %v", line, err)
			}
			return n
		}
	}
	t.Fatalf("/metrics lacks %s", series)
	return 0
}

// TestConcurrentPostsAndDeletes has 8 users post and delete on one video at
// once; the count must equal the comments listed, and the ones expected.
// It also checks that only Post asks the video service, once per call.
func TestConcurrentPostsAndDeletes(t *testing.T) {
	backends(t, func(t *testing.T, e *env) {
		v := e.publish(t, alice, "busy")
		before := e.videoCalls(t)
		const workers, per = 8, 6
		var wg sync.WaitGroup
		errs := make(chan error, workers)
		for w := range workers {
			user := int64(2000 + w)
			wg.Go(func() {
				for i := range per {
					resp, err := e.com.Post(as(t, user), &commentv1.PostRequest{VideoId: v, Content: fmt.Sprintf("%d says %d", user, i)})
					if err != nil {
						errs <- err
						return
					}
					if i%2 == 0 {
						if _, err := e.com.Delete(as(t, user), &commentv1.DeleteRequest{VideoId: v, CommentId: resp.GetComment().GetId()}); err != nil {
							errs <- err
							return
						}
					}
					if _, err := e.com.BatchCount(ctxT(t), &commentv1.BatchCountRequest{VideoIds: []int64{v}}); err != nil {
						errs <- err
						return
					}
				}
			})
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Fatal(err)
		}
		list := e.list(t, v)
		const want = workers * per / 2
		wantCounts(t, e.counts(t, v), map[int64]int64{v: want})
		if len(list) != want {
			t.Fatalf("List has %d comments, want %d", len(list), want)
		}
		for i := 1; i < len(list); i++ {
			a, b := list[i-1], list[i]
			if a.GetCreatedAt() < b.GetCreatedAt() {
				t.Fatalf("List not newest first at %d: %v then %v", i, a, b)
			}
		}
		if got := e.videoCalls(t) - before; got != workers*per {
			t.Fatalf("%d posts (and deletes, counts, a list) made %d BatchGetVideos calls, want %d", workers*per, got, workers*per)
		}
	})
}

// TestVideoServiceDown runs the comment service alone, with the video service
// at an address where nothing listens: calls that need it fail as
// UNAVAILABLE (retryable), not INTERNAL, and write nothing.
func TestVideoServiceDown(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := l.Addr().String()
	_ = l.Close()
	cfg := app.Config{}
	cfg.Client.Targets = map[string]string{"video": closed}
	e := startApp(t, cfg, fx.Supply(comment.Config{DSN: "sqlite://" + filepath.Join(t.TempDir(), "comment.db")}), comment.Module)
	_, err = e.com.Post(as(t, bob), &commentv1.PostRequest{VideoId: 42, Content: "hello"})
	if status.Code(err) != codes.Unavailable || apierror.BusinessCode(err) != 1014 {
		t.Fatalf("Post with the video service down: %v (business %d); want UNAVAILABLE / 1014", err, apierror.BusinessCode(err))
	}
	// Nothing was written, and what needs no video service still works.
	wantCounts(t, e.counts(t, 42), map[int64]int64{42: 0})
}
