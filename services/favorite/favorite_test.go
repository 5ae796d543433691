package favorite_test

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"path/filepath"
	"slices"
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

	favoritev1 "github.com/tremolo-dev/tremolo/gen/douyin/favorite/v1"
	videov1 "github.com/tremolo-dev/tremolo/gen/douyin/video/v1"
	"github.com/tremolo-dev/tremolo/platform/apierror"
	"github.com/tremolo-dev/tremolo/platform/app"
	"github.com/tremolo-dev/tremolo/platform/auth"
	"github.com/tremolo-dev/tremolo/platform/server"
	"github.com/tremolo-dev/tremolo/platform/sqldb/pgtest"
	"github.com/tremolo-dev/tremolo/services/favorite"
	"github.com/tremolo-dev/tremolo/services/video"
	"github.com/tremolo-dev/tremolo/services/video/videotest"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

// env is a running process of the video and favorite services: the real fx
// app on loopback ports, driven through the generated gRPC clients.
type env struct {
	fav  favoritev1.FavoriteServiceClient
	vid  videov1.VideoServiceClient
	http string // base URL of the HTTP server (metrics)
}

func start(t *testing.T, videoDSN, favoriteDSN string) *env {
	t.Helper()
	return startApp(t, app.Config{}, fx.Supply(
		video.Config{DSN: videoDSN, MediaDir: filepath.Join(t.TempDir(), "media")},
		favorite.Config{DSN: favoriteDSN},
	), video.Module, favorite.Module)
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
		fav:  favoritev1.NewFavoriteServiceClient(cc),
		vid:  videov1.NewVideoServiceClient(cc),
		http: "http://" + srv.HTTPAddr().String(),
	}
}

// backends runs a test against the embedded SQLite default and a real
// PostgreSQL server (both services on it).
func backends(t *testing.T, test func(t *testing.T, e *env)) {
	t.Run("sqlite", func(t *testing.T) {
		dir := t.TempDir()
		test(t, start(t, "sqlite://"+filepath.Join(dir, "video.db"), "sqlite://"+filepath.Join(dir, "favorite.db")))
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

// publish uploads a video by author through the video service and returns
// its id.
func (e *env) publish(t *testing.T, author int64, title string) int64 {
	t.Helper()
	v, err := videotest.Publish(as(t, author), e.vid, title, videotest.MP4())
	if err != nil {
		t.Fatalf("publishing %q: %v", title, err)
	}
	return v.GetId()
}

func (e *env) like(t *testing.T, user, video int64) {
	t.Helper()
	if _, err := e.fav.Like(as(t, user), &favoritev1.LikeRequest{VideoId: video}); err != nil {
		t.Fatalf("user %d likes video %d: %v", user, video, err)
	}
}

func (e *env) unlike(t *testing.T, user, video int64) {
	t.Helper()
	if _, err := e.fav.Unlike(as(t, user), &favoritev1.UnlikeRequest{VideoId: video}); err != nil {
		t.Fatalf("user %d unlikes video %d: %v", user, video, err)
	}
}

func (e *env) liked(t *testing.T, user int64) []int64 {
	t.Helper()
	resp, err := e.fav.ListLiked(ctxT(t), &favoritev1.ListLikedRequest{UserId: user})
	if err != nil {
		t.Fatalf("ListLiked(%d): %v", user, err)
	}
	return resp.GetVideoIds()
}

type vstat struct {
	count int64
	mine  bool
}

// videoStats returns the stats of videos as seen by caller (0: anonymous).
func (e *env) videoStats(t *testing.T, caller int64, videos ...int64) map[int64]vstat {
	t.Helper()
	ctx := ctxT(t)
	if caller != 0 {
		ctx = as(t, caller)
	}
	resp, err := e.fav.BatchGetVideoStats(ctx, &favoritev1.BatchGetVideoStatsRequest{VideoIds: videos})
	if err != nil {
		t.Fatalf("BatchGetVideoStats(%v): %v", videos, err)
	}
	out := map[int64]vstat{}
	for id, st := range resp.GetStats() {
		out[id] = vstat{st.GetFavoriteCount(), st.GetIsFavorite()}
	}
	return out
}

type ustat struct{ given, received int64 }

func (e *env) userStats(t *testing.T, users ...int64) map[int64]ustat {
	t.Helper()
	resp, err := e.fav.BatchGetUserStats(ctxT(t), &favoritev1.BatchGetUserStatsRequest{UserIds: users})
	if err != nil {
		t.Fatalf("BatchGetUserStats(%v): %v", users, err)
	}
	out := map[int64]ustat{}
	for id, st := range resp.GetStats() {
		out[id] = ustat{st.GetFavoriteCount(), st.GetTotalFavorited()}
	}
	return out
}

func wantMap[K comparable, V comparable](t *testing.T, what string, got, want map[K]V) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s = %v, want %v", what, got, want)
	}
	for k, v := range want {
		if g, ok := got[k]; !ok || g != v {
			t.Fatalf("%s = %v, want %v", what, got, want)
		}
	}
}

const (
	alice = int64(1001) // author of v1 and v2
	bob   = int64(1002) // author of v3
	carol = int64(1003) // authors nothing
)

func TestLikesAndStats(t *testing.T) {
	backends(t, func(t *testing.T, e *env) {
		v1 := e.publish(t, alice, "first")
		v2 := e.publish(t, alice, "second")
		v3 := e.publish(t, bob, "third")

		e.like(t, carol, v1)
		e.like(t, carol, v1) // twice: one like, no error
		e.like(t, bob, v1)
		e.like(t, carol, v3)
		e.like(t, alice, v2) // her own video

		wantMap(t, "stats for carol", e.videoStats(t, carol, v1, v2, v3, v1, 424242),
			map[int64]vstat{v1: {2, true}, v2: {1, false}, v3: {1, true}, 424242: {0, false}})
		wantMap(t, "anonymous stats", e.videoStats(t, 0, v1, v2),
			map[int64]vstat{v1: {2, false}, v2: {1, false}})
		wantMap(t, "user stats", e.userStats(t, alice, bob, carol, 5555),
			map[int64]ustat{alice: {1, 3}, bob: {1, 1}, carol: {2, 0}, 5555: {0, 0}})
		if got, want := e.liked(t, carol), []int64{v3, v1}; !slices.Equal(got, want) {
			t.Fatalf("carol's likes = %v, want %v (most recent first)", got, want)
		}

		e.unlike(t, carol, v1)
		e.unlike(t, carol, v1)     // twice: no error
		e.unlike(t, carol, 777777) // never liked, does not exist: no error
		e.unlike(t, carol, v2)     // exists, not liked: no error
		wantMap(t, "stats after unlike", e.videoStats(t, carol, v1, v3),
			map[int64]vstat{v1: {1, false}, v3: {1, true}})
		wantMap(t, "user stats after unlike", e.userStats(t, alice, carol),
			map[int64]ustat{alice: {1, 2}, carol: {1, 0}})

		// A re-like is a new like: most recent first.
		e.like(t, carol, v1)
		if got, want := e.liked(t, carol), []int64{v1, v3}; !slices.Equal(got, want) {
			t.Fatalf("carol's likes after re-liking = %v, want %v", got, want)
		}
		if got := e.liked(t, 98765); len(got) != 0 {
			t.Fatalf("likes of a user without any = %v", got)
		}
		// Empty batches are empty answers.
		wantMap(t, "empty video stats", e.videoStats(t, carol), map[int64]vstat{})
		wantMap(t, "empty user stats", e.userStats(t), map[int64]ustat{})
	})
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

func TestOneVideoCallPerLike(t *testing.T) {
	backends(t, func(t *testing.T, e *env) {
		v := e.publish(t, alice, "counted")
		before := e.videoCalls(t)
		e.like(t, bob, v)
		e.like(t, bob, v)
		e.unlike(t, bob, v)
		e.videoStats(t, bob, v)
		e.userStats(t, alice, bob)
		e.liked(t, bob)
		if got := e.videoCalls(t) - before; got != 2 {
			t.Fatalf("2 likes, an unlike and reads made %d BatchGetVideos calls, want 2", got)
		}
	})
}

// wantErr checks the code, the reason and the business code a caller sees.
func wantErr(t *testing.T, what string, err error, code codes.Code, is func(error) bool, business int32) {
	t.Helper()
	if status.Code(err) != code || !is(err) || apierror.BusinessCode(err) != business {
		t.Fatalf("%s: err = %v (code %v, business %d); want %v / %d", what, err, status.Code(err), apierror.BusinessCode(err), code, business)
	}
}

func TestBadInput(t *testing.T) {
	backends(t, func(t *testing.T, e *env) {
		v1 := e.publish(t, alice, "mine")
		e.like(t, bob, v1)

		// No user: the server refuses before the handler.
		_, err := e.fav.Like(ctxT(t), &favoritev1.LikeRequest{VideoId: v1})
		wantErr(t, "anonymous Like", err, codes.Unauthenticated, func(error) bool { return true }, 1016)
		_, err = e.fav.Unlike(ctxT(t), &favoritev1.UnlikeRequest{VideoId: v1})
		wantErr(t, "anonymous Unlike", err, codes.Unauthenticated, func(error) bool { return true }, 1016)

		for _, id := range []int64{0, -1, -1 << 62} {
			_, err = e.fav.Like(as(t, carol), &favoritev1.LikeRequest{VideoId: id})
			wantErr(t, fmt.Sprintf("Like(%d)", id), err, codes.InvalidArgument, favoritev1.IsInvalidId, 10302)
			_, err = e.fav.Unlike(as(t, bob), &favoritev1.UnlikeRequest{VideoId: id})
			wantErr(t, fmt.Sprintf("Unlike(%d)", id), err, codes.InvalidArgument, favoritev1.IsInvalidId, 10302)
			_, err = e.fav.ListLiked(ctxT(t), &favoritev1.ListLikedRequest{UserId: id})
			wantErr(t, fmt.Sprintf("ListLiked(%d)", id), err, codes.InvalidArgument, favoritev1.IsInvalidId, 10302)
			_, err = e.fav.BatchGetVideoStats(ctxT(t), &favoritev1.BatchGetVideoStatsRequest{VideoIds: []int64{v1, id}})
			wantErr(t, fmt.Sprintf("BatchGetVideoStats(v1, %d)", id), err, codes.InvalidArgument, favoritev1.IsInvalidId, 10302)
			_, err = e.fav.BatchGetUserStats(ctxT(t), &favoritev1.BatchGetUserStatsRequest{UserIds: []int64{alice, id}})
			wantErr(t, fmt.Sprintf("BatchGetUserStats(alice, %d)", id), err, codes.InvalidArgument, favoritev1.IsInvalidId, 10302)
		}

		// An unknown video, including one beyond 2^53.
		for _, id := range []int64{v1 + 1000, 1<<62 + 5} {
			_, err = e.fav.Like(as(t, carol), &favoritev1.LikeRequest{VideoId: id})
			wantErr(t, fmt.Sprintf("Like(unknown %d)", id), err, codes.NotFound, favoritev1.IsVideoNotFound, 10301)
		}

		// 501 distinct ids are too many; 500, or 501 with a duplicate, are not.
		ids := make([]int64, 501)
		for i := range ids {
			ids[i] = int64(i + 1)
		}
		_, err = e.fav.BatchGetVideoStats(ctxT(t), &favoritev1.BatchGetVideoStatsRequest{VideoIds: ids})
		wantErr(t, "BatchGetVideoStats(501)", err, codes.InvalidArgument, favoritev1.IsTooManyIds, 10303)
		_, err = e.fav.BatchGetUserStats(ctxT(t), &favoritev1.BatchGetUserStatsRequest{UserIds: ids})
		wantErr(t, "BatchGetUserStats(501)", err, codes.InvalidArgument, favoritev1.IsTooManyIds, 10303)
		ids[500] = 1
		if got := e.videoStats(t, 0, ids...); len(got) != 500 {
			t.Fatalf("500 distinct ids (one repeated) gave %d stats", len(got))
		}
		if got := e.userStats(t, ids...); len(got) != 500 {
			t.Fatalf("500 distinct ids (one repeated) gave %d stats", len(got))
		}

		// Someone else's like: carol unliking v1 leaves bob's like alone.
		e.unlike(t, carol, v1)

		// Nothing above was written.
		wantMap(t, "video stats after bad input", e.videoStats(t, bob, v1), map[int64]vstat{v1: {1, true}})
		wantMap(t, "user stats after bad input", e.userStats(t, alice, bob, carol),
			map[int64]ustat{alice: {0, 1}, bob: {1, 0}, carol: {0, 0}})
		if got := e.liked(t, carol); len(got) != 0 {
			t.Fatalf("carol's likes after refused calls = %v", got)
		}
	})
}

// TestConcurrentLikeStorm has 8 users like and unlike one video at once, and
// 8 goroutines of one user race likes against unlikes of another; every
// count must match the likes that remain.
func TestConcurrentLikeStorm(t *testing.T) {
	backends(t, func(t *testing.T, e *env) {
		v := e.publish(t, alice, "popular")
		w := e.publish(t, bob, "contested")
		const workers, rounds = 8, 10
		var wg sync.WaitGroup
		errs := make(chan error, 2*workers)
		for i := range workers {
			user := int64(2000 + i)
			wg.Go(func() {
				for r := range rounds {
					if _, err := e.fav.Like(as(t, user), &favoritev1.LikeRequest{VideoId: v}); err != nil {
						errs <- err
						return
					}
					// Users with an odd id end on an unlike.
					if r < rounds-1 || user%2 == 1 {
						if _, err := e.fav.Unlike(as(t, user), &favoritev1.UnlikeRequest{VideoId: v}); err != nil {
							errs <- err
							return
						}
					}
				}
			})
			wg.Go(func() {
				for range rounds {
					var err error
					if i%2 == 0 {
						_, err = e.fav.Like(as(t, carol), &favoritev1.LikeRequest{VideoId: w})
					} else {
						_, err = e.fav.Unlike(as(t, carol), &favoritev1.UnlikeRequest{VideoId: w})
					}
					if err != nil {
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

		var users []int64
		var likers int64
		for i := range workers {
			u := int64(2000 + i)
			users = append(users, u)
			got := e.liked(t, u)
			want := []int64{}
			if u%2 == 0 {
				want = []int64{v}
				likers++
			}
			if !slices.Equal(got, want) {
				t.Fatalf("user %d likes %v, want %v", u, got, want)
			}
		}
		carolLikesW := int64(len(e.liked(t, carol)))
		wantMap(t, "video stats after the storm", e.videoStats(t, carol, v, w),
			map[int64]vstat{v: {likers, false}, w: {carolLikesW, carolLikesW == 1}})
		us := e.userStats(t, append(users, alice, bob, carol)...)
		if us[alice] != (ustat{0, likers}) || us[bob] != (ustat{0, carolLikesW}) || us[carol] != (ustat{carolLikesW, 0}) {
			t.Fatalf("user stats after the storm = %v; want alice received %d, bob received and carol gave %d", us, likers, carolLikesW)
		}
		for _, u := range users {
			if want := (ustat{1 - u%2, 0}); us[u] != want {
				t.Fatalf("user %d stats = %v, want %v", u, us[u], want)
			}
		}
	})
}

// TestVideoServiceDown runs the favorite service alone, with the video service
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
	e := startApp(t, cfg, fx.Supply(favorite.Config{DSN: "sqlite://" + filepath.Join(t.TempDir(), "favorite.db")}), favorite.Module)
	_, err = e.fav.Like(as(t, bob), &favoritev1.LikeRequest{VideoId: 42})
	if status.Code(err) != codes.Unavailable || apierror.BusinessCode(err) != 1014 {
		t.Fatalf("Like with the video service down: %v (business %d); want UNAVAILABLE / 1014", err, apierror.BusinessCode(err))
	}
	// Nothing was written, and what needs no video service still works.
	wantMap(t, "user stats", e.userStats(t, bob), map[int64]ustat{bob: {0, 0}})
	e.unlike(t, bob, 42)
}
