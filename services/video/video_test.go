package video_test

import (
	"bytes"
	"context"
	"fmt"
	"image/jpeg"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/fx"
	"go.uber.org/fx/fxtest"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"

	videov1 "github.com/tremolo-dev/tremolo/gen/douyin/video/v1"
	"github.com/tremolo-dev/tremolo/platform/apierror"
	"github.com/tremolo-dev/tremolo/platform/app"
	"github.com/tremolo-dev/tremolo/platform/server"
	"github.com/tremolo-dev/tremolo/platform/sqldb/pgtest"
	"github.com/tremolo-dev/tremolo/services/video"
	"github.com/tremolo-dev/tremolo/services/video/videotest"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

// maxBytes is the upload limit of the test services: small, so the limit
// is cheap to reach, but above the 4 MiB gRPC message limit.
const maxBytes = 5 << 20

// env is a running video service: the real fx app on loopback ports.
type env struct {
	grpc  videov1.VideoServiceClient
	conn  *grpc.ClientConn
	http  string // base URL
	media string // media directory
}

func start(t *testing.T, dsn string) *env {
	t.Helper()
	cfg := app.Config{
		Server:  server.Config{GRPCAddr: "127.0.0.1:0", HTTPAddr: "127.0.0.1:0", ShutdownTimeout: time.Second},
		DataDir: t.TempDir(),
	}
	cfg.Log.Level, cfg.Log.Format = "error", "json"
	var srv *server.Server
	a := fxtest.New(t,
		app.Options(cfg),
		fx.Supply(video.Config{DSN: dsn, MaxBytes: maxBytes}), // media in the data directory
		video.Module,
		fx.Populate(&srv),
	)
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
		grpc: videov1.NewVideoServiceClient(cc), conn: cc,
		http: "http://" + srv.HTTPAddr().String(), media: filepath.Join(cfg.DataDir, "media"),
	}
}

// backends runs a test against the embedded SQLite default and a real
// PostgreSQL server.
func backends(t *testing.T, test func(t *testing.T, e *env)) {
	t.Run("sqlite", func(t *testing.T) {
		test(t, start(t, "sqlite://"+filepath.Join(t.TempDir(), "video.db")))
	})
	t.Run("postgres", func(t *testing.T) {
		test(t, start(t, pgtest.Shared(t).NewDatabase(t)))
	})
}

func ctxAs(t *testing.T, uid int64) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	t.Cleanup(cancel)
	return videotest.AsUser(ctx, uid)
}

func mustPublish(t *testing.T, e *env, uid int64, title string, data []byte) *videov1.Video {
	t.Helper()
	v, err := videotest.Publish(ctxAs(t, uid), e.grpc, title, data)
	if err != nil {
		t.Fatalf("publish %q (%d bytes) as %d: %v", title, len(data), uid, err)
	}
	return v
}

// wantErr checks the code, the reason and the business code a caller sees.
func wantErr(t *testing.T, err error, code codes.Code, is func(error) bool, business int32) {
	t.Helper()
	if status.Code(err) != code || !is(err) || apierror.BusinessCode(err) != business {
		t.Fatalf("err = %v (code %v, business %d); want %v / %d", err, status.Code(err), apierror.BusinessCode(err), code, business)
	}
}

// files lists the media directory's files, relative to it.
func (e *env) files(t *testing.T) []string {
	t.Helper()
	var out []string
	err := filepath.WalkDir(e.media, func(path string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			rel, _ := filepath.Rel(e.media, path)
			out = append(out, rel)
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	slices.Sort(out)
	return out
}

func (e *env) latest(t *testing.T, before int64, limit int32) []*videov1.Video {
	t.Helper()
	resp, err := e.grpc.ListLatest(context.Background(), &videov1.ListLatestRequest{BeforeTime: before, Limit: limit})
	if err != nil {
		t.Fatalf("ListLatest(%d, %d): %v", before, limit, err)
	}
	return resp.Videos
}

func ids(vs []*videov1.Video) []int64 {
	out := []int64{}
	for _, v := range vs {
		out = append(out, v.Id)
	}
	return out
}

func TestPublishAndRead(t *testing.T) {
	backends(t, func(t *testing.T, e *env) {
		before := time.Now().UnixMilli()
		small := videotest.MP4()
		v := mustPublish(t, e, 7, "第一个视频 #douyin", small)
		if v.Id <= 0 || v.Id >= 1<<53 || v.AuthorId != 7 || v.Title != "第一个视频 #douyin" {
			t.Fatalf("published video = %v", v)
		}
		if v.PlayPath != fmt.Sprintf("/media/videos/%d.mp4", v.Id) || v.CoverPath != fmt.Sprintf("/media/covers/%d.jpg", v.Id) {
			t.Fatalf("paths = %q, %q", v.PlayPath, v.CoverPath)
		}
		if v.CreatedAt < before || v.CreatedAt > time.Now().UnixMilli() {
			t.Fatalf("created_at %d not within the call", v.CreatedAt)
		}

		// The files are in place, whole; the cover is an image; nothing is left in tmp.
		got, err := os.ReadFile(filepath.Join(e.media, "videos", fmt.Sprintf("%d.mp4", v.Id)))
		if err != nil || !bytes.Equal(got, small) {
			t.Fatalf("stored video = %q, %v; want %q", got, err, small)
		}
		cover, err := os.ReadFile(filepath.Join(e.media, "covers", fmt.Sprintf("%d.jpg", v.Id)))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := jpeg.Decode(bytes.NewReader(cover)); err != nil {
			t.Fatalf("cover is not a JPEG: %v", err)
		}

		// A multi-chunk upload (2.5 chunks) arrives byte for byte.
		big := videotest.Sized(videotest.ChunkSize*5/2 + 3)
		for i := 32; i < len(big); i++ {
			big[i] = byte(i * 7)
		}
		v2 := mustPublish(t, e, 7, "big", big)
		if got, _ := os.ReadFile(filepath.Join(e.media, "videos", fmt.Sprintf("%d.mp4", v2.Id))); !bytes.Equal(got, big) {
			t.Fatalf("multi-chunk upload stored %d bytes, differing from the %d sent", len(got), len(big))
		}
		want := []string{
			fmt.Sprintf("covers/%d.jpg", v.Id), fmt.Sprintf("covers/%d.jpg", v2.Id),
			fmt.Sprintf("videos/%d.mp4", v.Id), fmt.Sprintf("videos/%d.mp4", v2.Id),
		}
		if files := e.files(t); !slices.Equal(files, want) {
			t.Fatalf("media files = %v, want %v", files, want)
		}

		// Every read sees both.
		ctx := context.Background()
		batch, err := e.grpc.BatchGetVideos(ctx, &videov1.BatchGetVideosRequest{VideoIds: []int64{v.Id, v2.Id, v.Id, 424242}})
		if err != nil || len(batch.Videos) != 2 || !proto.Equal(batch.Videos[v.Id], v) || !proto.Equal(batch.Videos[v2.Id], v2) {
			t.Fatalf("BatchGetVideos = %v, %v", batch, err)
		}
		mine, err := e.grpc.ListByAuthor(ctx, &videov1.ListByAuthorRequest{AuthorId: 7})
		if err != nil || !slices.Equal(ids(mine.Videos), []int64{v2.Id, v.Id}) {
			t.Fatalf("ListByAuthor = %v, %v", mine, err)
		}
		others, err := e.grpc.ListByAuthor(ctx, &videov1.ListByAuthorRequest{AuthorId: 8})
		if err != nil || len(others.Videos) != 0 {
			t.Fatalf("ListByAuthor(other) = %v, %v", others, err)
		}
		counts, err := e.grpc.CountWorks(ctx, &videov1.CountWorksRequest{UserIds: []int64{7, 8}})
		if err != nil || len(counts.Counts) != 1 || counts.Counts[7] != 2 {
			t.Fatalf("CountWorks = %v, %v", counts, err)
		}
		if latest := e.latest(t, 0, 0); !slices.Equal(ids(latest), []int64{v2.Id, v.Id}) {
			t.Fatalf("ListLatest = %v", ids(latest))
		}
	})
}

// TestCoverIsTheFirstFrame publishes a real video: with ffmpeg installed
// its cover is its first frame, without it the generated image.
func TestCoverIsTheFirstFrame(t *testing.T) {
	_, lookErr := exec.LookPath("ffmpeg")
	backends(t, func(t *testing.T, e *env) {
		v := mustPublish(t, e, 4, "real video", videotest.Playable())
		resp, body := get(t, e.http+v.CoverPath)
		if resp.StatusCode != 200 {
			t.Fatalf("GET %s: %d", v.CoverPath, resp.StatusCode)
		}
		img, err := jpeg.Decode(bytes.NewReader(body))
		if err != nil {
			t.Fatalf("cover is not a JPEG: %v", err)
		}
		w, h := img.Bounds().Dx(), img.Bounds().Dy()
		if lookErr == nil && (w != videotest.PlayableWidth || h != videotest.PlayableHeight) {
			t.Fatalf("with ffmpeg, cover is %dx%d, want the %dx%d frame", w, h, videotest.PlayableWidth, videotest.PlayableHeight)
		}
		if lookErr != nil && (w != 360 || h != 640) {
			t.Fatalf("without ffmpeg, cover is %dx%d, want the generated 360x640", w, h)
		}
	})
}

// raw is a message already in wire form, for sending what the generated
// client refuses to marshal.
type raw []byte

type rawCodec struct{}

func (rawCodec) Marshal(v any) ([]byte, error) {
	if r, ok := v.(raw); ok {
		return r, nil
	}
	return proto.Marshal(v.(proto.Message))
}
func (rawCodec) Unmarshal(data []byte, v any) error { return proto.Unmarshal(data, v.(proto.Message)) }
func (rawCodec) Name() string                       { return "proto" }

func meta(title string) *videov1.PublishRequest {
	return &videov1.PublishRequest{Part: &videov1.PublishRequest_Metadata{Metadata: &videov1.PublishMetadata{Title: title}}}
}

func chunk(b []byte) *videov1.PublishRequest {
	return &videov1.PublishRequest{Part: &videov1.PublishRequest_Chunk{Chunk: b}}
}

func TestPublishRefusesBadUploads(t *testing.T) {
	backends(t, func(t *testing.T, e *env) {
		send := func(ctx context.Context, msgs ...*videov1.PublishRequest) error {
			stream, err := e.grpc.Publish(ctx)
			if err != nil {
				t.Fatal(err)
			}
			_, err = videotest.Send(stream, msgs...)
			return err
		}
		mp4 := videotest.MP4()
		text := []byte(strings.Repeat("this is a text file, not a video\n", 100))
		png := []byte("\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x10\x00\x00\x00\x10\x08\x06\x00\x00\x00\x1f\xf3\xffa")
		uid := int64(7)
		for _, c := range []struct {
			name     string
			msgs     []*videov1.PublishRequest
			code     codes.Code
			is       func(error) bool
			business int32
		}{
			{"nothing sent", nil, codes.InvalidArgument, videov1.IsBadUpload, 10205},
			{"chunk before metadata", []*videov1.PublishRequest{chunk(mp4), meta("t")}, codes.InvalidArgument, videov1.IsBadUpload, 10205},
			{"empty message first", []*videov1.PublishRequest{{}, chunk(mp4)}, codes.InvalidArgument, videov1.IsBadUpload, 10205},
			{"metadata twice", []*videov1.PublishRequest{meta("t"), chunk(mp4[:10]), meta("t"), chunk(mp4[10:])}, codes.InvalidArgument, videov1.IsBadUpload, 10205},
			{"empty message in the file", []*videov1.PublishRequest{meta("t"), chunk(mp4), {}}, codes.InvalidArgument, videov1.IsBadUpload, 10205},
			{"chunk over 1 MiB", []*videov1.PublishRequest{meta("t"), chunk(videotest.Sized(video.MaxChunk + 1))}, codes.InvalidArgument, videov1.IsBadUpload, 10205},
			{"empty title", []*videov1.PublishRequest{meta(""), chunk(mp4)}, codes.InvalidArgument, videov1.IsInvalidTitle, 10201},
			{"blank title", []*videov1.PublishRequest{meta("   "), chunk(mp4)}, codes.InvalidArgument, videov1.IsInvalidTitle, 10201},
			{"101-character title", []*videov1.PublishRequest{meta(strings.Repeat("抖", 101)), chunk(mp4)}, codes.InvalidArgument, videov1.IsInvalidTitle, 10201},
			{"title with a line break", []*videov1.PublishRequest{meta("a\nb"), chunk(mp4)}, codes.InvalidArgument, videov1.IsInvalidTitle, 10201},
			{"title with NUL", []*videov1.PublishRequest{meta("a\x00b"), chunk(mp4)}, codes.InvalidArgument, videov1.IsInvalidTitle, 10201},
			{"title with DEL", []*videov1.PublishRequest{meta("a\x7fb"), chunk(mp4)}, codes.InvalidArgument, videov1.IsInvalidTitle, 10201},
			{"metadata only", []*videov1.PublishRequest{meta("t")}, codes.InvalidArgument, videov1.IsEmptyFile, 10202},
			{"empty chunks", []*videov1.PublishRequest{meta("t"), chunk(nil), chunk([]byte{})}, codes.InvalidArgument, videov1.IsEmptyFile, 10202},
			{"text", []*videov1.PublishRequest{meta("t"), chunk(text)}, codes.InvalidArgument, videov1.IsNotAVideo, 10203},
			{"short text", []*videov1.PublishRequest{meta("t"), chunk([]byte("hi"))}, codes.InvalidArgument, videov1.IsNotAVideo, 10203},
			{"png", []*videov1.PublishRequest{meta("t"), chunk(png)}, codes.InvalidArgument, videov1.IsNotAVideo, 10203},
			{"text in tiny chunks", append([]*videov1.PublishRequest{meta("t")}, chunk(text[:1]), chunk(text[1:3]), chunk(text[3:])), codes.InvalidArgument, videov1.IsNotAVideo, 10203},
			{"one byte over the limit", []*videov1.PublishRequest{meta("t"), chunk(videotest.Sized(maxBytes + 1)[:video.MaxChunk]), chunk(make([]byte, video.MaxChunk)), chunk(make([]byte, video.MaxChunk)), chunk(make([]byte, video.MaxChunk)), chunk(make([]byte, video.MaxChunk)), chunk([]byte{0})}, codes.InvalidArgument, videov1.IsTooLarge, 10204},
		} {
			if err := send(ctxAs(t, uid), c.msgs...); status.Code(err) != c.code || !c.is(err) || apierror.BusinessCode(err) != c.business {
				t.Errorf("%s: err = %v (business %d); want %v / %d", c.name, err, apierror.BusinessCode(err), c.code, c.business)
			}
		}

		// Without a user, Publish is refused before anything is read.
		err := send(ctxAs(t, 0), meta("t"), chunk(mp4))
		if status.Code(err) != codes.Unauthenticated {
			t.Errorf("anonymous publish: %v", err)
		}

		// A message over gRPC's 4 MiB limit, or one that does not decode (a
		// title of invalid UTF-8, which the generated client cannot even
		// marshal), is refused by grpc-go itself, which writes the status
		// (RESOURCE_EXHAUSTED, INTERNAL) before Publish sees the error.
		// Publish still cleans up: nothing is stored.
		err = send(ctxAs(t, uid), meta("t"), chunk(videotest.Sized(4<<20+1)))
		if status.Code(err) != codes.ResourceExhausted && !videov1.IsBadUpload(err) {
			t.Errorf("chunk over the gRPC message limit: %v", err)
		}
		bad := protowire.AppendTag(nil, 1, protowire.BytesType)
		bad = protowire.AppendBytes(bad, protowire.AppendBytes(protowire.AppendTag(nil, 1, protowire.BytesType), []byte("caf\xe9")))
		stream, err := grpc.NewClientStream(ctxAs(t, uid), &videov1.VideoService_ServiceDesc.Streams[0], e.conn,
			videov1.VideoService_Publish_FullMethodName, grpc.ForceCodec(rawCodec{}))
		if err != nil {
			t.Fatal(err)
		}
		if err := stream.SendMsg(raw(bad)); err != nil && err != io.EOF {
			t.Fatal(err)
		}
		_ = stream.CloseSend()
		if err := stream.RecvMsg(new(videov1.PublishResponse)); err == nil {
			t.Errorf("title of invalid UTF-8 accepted")
		}

		// Nothing was stored: no row, no file, no temporary file.
		if latest := e.latest(t, 0, 0); len(latest) != 0 {
			t.Fatalf("refused uploads left rows: %v", latest)
		}
		if files := e.files(t); len(files) != 0 {
			t.Fatalf("refused uploads left files: %v", files)
		}

		// The limits themselves are allowed.
		mustPublish(t, e, uid, strings.Repeat("抖", video.MaxTitleLen), mp4)
		mustPublish(t, e, uid, "exactly the limit", videotest.Sized(maxBytes))
		// A file arriving a byte at a time is sniffed and stored whole.
		msgs := []*videov1.PublishRequest{meta("byte by byte")}
		for i := range mp4 {
			msgs = append(msgs, chunk(mp4[i:i+1]))
		}
		if err := send(ctxAs(t, uid), msgs...); err != nil {
			t.Fatalf("byte-by-byte upload: %v", err)
		}
		if n := len(e.latest(t, 0, 0)); n != 3 {
			t.Fatalf("%d videos after three good uploads", n)
		}
	})
}

func TestTooLargeStopsReading(t *testing.T) {
	e := start(t, "sqlite://"+filepath.Join(t.TempDir(), "video.db"))
	// The client offers 200 MiB; the service stops at its 5 MiB limit, long
	// before the client could send it all.
	ctx := ctxAs(t, 1)
	stream, err := e.grpc.Publish(ctx)
	if err != nil {
		t.Fatal(err)
	}
	msgs := []*videov1.PublishRequest{meta("huge"), chunk(videotest.Sized(video.MaxChunk))}
	zeros := chunk(make([]byte, video.MaxChunk))
	begin := time.Now()
	for range 200 {
		msgs = append(msgs, zeros)
	}
	_, err = videotest.Send(stream, msgs...)
	wantErr(t, err, codes.InvalidArgument, videov1.IsTooLarge, 10204)
	if e2, _ := apierror.FromError(err); e2.Metadata()["maxBytes"] != fmt.Sprint(maxBytes) {
		t.Errorf("TOO_LARGE metadata = %v", e2.Metadata())
	}
	t.Logf("refused after %v", time.Since(begin))
	if files := e.files(t); len(files) != 0 {
		t.Fatalf("refused upload left files: %v", files)
	}
}

func TestConcurrentPublishes(t *testing.T) {
	backends(t, func(t *testing.T, e *env) {
		const n = 8
		var wg sync.WaitGroup
		got := make([]*videov1.Video, n)
		errs := make([]error, n)
		data := make([][]byte, n)
		for i := range n {
			data[i] = videotest.Sized(64<<10 + i)
			if i%4 == 0 {
				data[i] = videotest.Playable() // ffmpeg's path, where installed
			}
			wg.Go(func() {
				got[i], errs[i] = videotest.Publish(ctxAs(t, int64(1+i%2)), e.grpc, fmt.Sprint("video ", i), data[i])
			})
		}
		wg.Wait()
		seen := map[int64]bool{}
		for i, err := range errs {
			if err != nil {
				t.Fatalf("publish %d: %v", i, err)
			}
			seen[got[i].Id] = true
			stored, err := os.ReadFile(filepath.Join(e.media, "videos", fmt.Sprintf("%d.mp4", got[i].Id)))
			if err != nil || !bytes.Equal(stored, data[i]) {
				t.Fatalf("video %d on disk: %d bytes, %v; want the %d sent", i, len(stored), err, len(data[i]))
			}
		}
		if len(seen) != n {
			t.Fatalf("%d distinct ids for %d videos", len(seen), n)
		}
		counts, err := e.grpc.CountWorks(context.Background(), &videov1.CountWorksRequest{UserIds: []int64{1, 2}})
		if err != nil || counts.Counts[1] != n/2 || counts.Counts[2] != n/2 {
			t.Fatalf("CountWorks = %v, %v", counts, err)
		}
		if files := e.files(t); len(files) != 2*n {
			t.Fatalf("%d media files for %d videos: %v", len(files), n, files)
		}
	})
}

func TestListLatestPaging(t *testing.T) {
	backends(t, func(t *testing.T, e *env) {
		var vs []*videov1.Video
		for i := range 5 {
			vs = append(vs, mustPublish(t, e, int64(10+i), fmt.Sprint("v", i), videotest.MP4()))
			time.Sleep(3 * time.Millisecond) // distinct milliseconds: before_time pages by time
		}
		// Pages of two, each before the last one's time.
		var pages [][]int64
		for before := int64(0); ; {
			page := e.latest(t, before, 2)
			if len(page) == 0 {
				break
			}
			pages = append(pages, ids(page))
			before = page[len(page)-1].CreatedAt
		}
		want := [][]int64{{vs[4].Id, vs[3].Id}, {vs[2].Id, vs[1].Id}, {vs[0].Id}}
		if fmt.Sprint(pages) != fmt.Sprint(want) {
			t.Fatalf("pages = %v, want %v", pages, want)
		}
		all := []int64{vs[4].Id, vs[3].Id, vs[2].Id, vs[1].Id, vs[0].Id}
		for _, limit := range []int32{0, 30, 31, -1} { // 0 and out-of-range limits mean 30
			if got := ids(e.latest(t, 0, limit)); !slices.Equal(got, all) {
				t.Errorf("limit %d: %v", limit, got)
			}
		}
		if got := ids(e.latest(t, vs[2].CreatedAt+1, 0)); !slices.Equal(got, all[2:]) {
			t.Errorf("before %d: %v, want %v", vs[2].CreatedAt+1, got, all[2:])
		}
		if got := e.latest(t, -5, 0); len(got) != 0 {
			t.Errorf("negative before_time: %v", ids(got))
		}
	})
}

func TestIDValidation(t *testing.T) {
	backends(t, func(t *testing.T, e *env) {
		ctx := context.Background()
		v := mustPublish(t, e, 3, "one", videotest.MP4())
		for _, id := range []int64{0, -1} {
			_, err := e.grpc.ListByAuthor(ctx, &videov1.ListByAuthorRequest{AuthorId: id})
			wantErr(t, err, codes.InvalidArgument, videov1.IsInvalidId, 10208)
		}
		many := make([]int64, 501)
		for i := range many {
			many[i] = int64(i + 1)
		}
		_, err := e.grpc.BatchGetVideos(ctx, &videov1.BatchGetVideosRequest{VideoIds: many})
		wantErr(t, err, codes.InvalidArgument, videov1.IsTooManyIds, 10207)
		_, err = e.grpc.CountWorks(ctx, &videov1.CountWorksRequest{UserIds: many})
		wantErr(t, err, codes.InvalidArgument, videov1.IsTooManyIds, 10207)
		_, err = e.grpc.BatchGetVideos(ctx, &videov1.BatchGetVideosRequest{VideoIds: []int64{v.Id, 0}})
		wantErr(t, err, codes.InvalidArgument, videov1.IsInvalidId, 10208)
		_, err = e.grpc.CountWorks(ctx, &videov1.CountWorksRequest{UserIds: []int64{3, -3}})
		wantErr(t, err, codes.InvalidArgument, videov1.IsInvalidId, 10208)

		// 500 distinct ids (sent with duplicates) are within the limit.
		many = append(many[:499], v.Id, v.Id, 1, 2)
		batch, err := e.grpc.BatchGetVideos(ctx, &videov1.BatchGetVideosRequest{VideoIds: many})
		if err != nil || len(batch.Videos) != 1 || batch.Videos[v.Id].GetTitle() != "one" {
			t.Fatalf("BatchGetVideos of 500 = %v, %v", len(batch.GetVideos()), err)
		}
		counts, err := e.grpc.CountWorks(ctx, &videov1.CountWorksRequest{UserIds: many[:500]})
		if err != nil || len(counts.Counts) != 1 || counts.Counts[3] != 1 {
			t.Fatalf("CountWorks of 500 = %v, %v", counts, err)
		}
		empty, err := e.grpc.BatchGetVideos(ctx, &videov1.BatchGetVideosRequest{})
		if err != nil || len(empty.Videos) != 0 {
			t.Fatalf("BatchGetVideos() = %v, %v", empty, err)
		}
	})
}

func get(t *testing.T, url string, header ...string) (*http.Response, []byte) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, url, nil)
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp, body
}

func TestMediaHandler(t *testing.T) {
	backends(t, func(t *testing.T, e *env) {
		data := videotest.Sized(4096)
		for i := 32; i < len(data); i++ {
			data[i] = byte(i)
		}
		v := mustPublish(t, e, 5, "served", data)

		resp, body := get(t, e.http+v.PlayPath)
		if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "video/mp4" || !bytes.Equal(body, data) {
			t.Fatalf("GET %s: %d %q, %d bytes", v.PlayPath, resp.StatusCode, resp.Header.Get("Content-Type"), len(body))
		}
		if resp.Header.Get("Accept-Ranges") != "bytes" {
			t.Errorf("Accept-Ranges = %q", resp.Header.Get("Accept-Ranges"))
		}
		resp, body = get(t, e.http+v.PlayPath, "Range", "bytes=100-199")
		if resp.StatusCode != http.StatusPartialContent || !bytes.Equal(body, data[100:200]) ||
			resp.Header.Get("Content-Range") != "bytes 100-199/4096" || resp.Header.Get("Content-Type") != "video/mp4" {
			t.Fatalf("range request: %d %v, %d bytes", resp.StatusCode, resp.Header, len(body))
		}
		resp, body = get(t, e.http+v.PlayPath, "Range", "bytes=-10")
		if resp.StatusCode != http.StatusPartialContent || !bytes.Equal(body, data[len(data)-10:]) {
			t.Fatalf("suffix range: %d, %d bytes", resp.StatusCode, len(body))
		}
		resp, _ = get(t, e.http+v.PlayPath, "Range", "bytes=5000-6000")
		if resp.StatusCode != http.StatusRequestedRangeNotSatisfiable {
			t.Fatalf("range past the end: %d", resp.StatusCode)
		}
		resp, body = get(t, e.http+v.CoverPath)
		if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "image/jpeg" {
			t.Fatalf("GET %s: %d %q", v.CoverPath, resp.StatusCode, resp.Header.Get("Content-Type"))
		}
		if _, err := jpeg.Decode(bytes.NewReader(body)); err != nil {
			t.Fatalf("served cover: %v", err)
		}
		head, err := http.Head(e.http + v.PlayPath)
		if err != nil || head.StatusCode != 200 || head.ContentLength != int64(len(data)) {
			t.Fatalf("HEAD: %v, %v", head, err)
		}
		_ = head.Body.Close()

		// A leftover upload in tmp/ and the database next to media/ must not be reachable.
		if err := os.WriteFile(filepath.Join(e.media, "tmp", "upload-1.mp4"), data, 0o644); err != nil {
			t.Fatal(err)
		}
		id := fmt.Sprint(v.Id)
		for _, p := range []string{
			"/media/", "/media/videos", "/media/videos/", "/media/covers/",
			"/media/../x", "/media/videos/../../video.db", "/media/videos/..%2f..%2fvideo.db", "/media/videos/%2e%2e/covers/" + id + ".jpg",
			"/media/videos/abc.mp4", "/media/videos/0.mp4", "/media/videos/-1.mp4", "/media/videos/0" + id + ".mp4",
			"/media/videos/+" + id + ".mp4", "/media/videos/" + id + ".jpg", "/media/videos/" + id + ".mp4/",
			"/media/videos/" + id + ".MP4", "/media/videos/" + id, "/media/covers/" + id + ".mp4",
			"/media/covers/" + id + ".png", "/media/videos/999.mp4", "/media/tmp/upload-1.mp4",
			"/media/videos/" + id + ".mp4.bak", "/media/videos/" + id + ".mp4%00",
		} {
			resp, body := get(t, e.http+p)
			if resp.StatusCode != http.StatusNotFound {
				t.Errorf("GET %s: %d (%d bytes), want 404", p, resp.StatusCode, len(body))
			}
			if bytes.Contains(body, data[32:64]) {
				t.Errorf("GET %s served the video's bytes", p)
			}
		}
		post, err := http.Post(e.http+v.PlayPath, "video/mp4", bytes.NewReader(data))
		if err != nil {
			t.Fatal(err)
		}
		_ = post.Body.Close()
		if post.StatusCode != http.StatusMethodNotAllowed && post.StatusCode != http.StatusNotFound {
			t.Errorf("POST %s: %d", v.PlayPath, post.StatusCode)
		}
	})
}
