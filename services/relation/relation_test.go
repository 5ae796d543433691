package relation_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net"
	"path/filepath"
	"slices"
	"strconv"
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

	relationv1 "github.com/tremolo-dev/tremolo/gen/douyin/relation/v1"
	userv1 "github.com/tremolo-dev/tremolo/gen/douyin/user/v1"
	"github.com/tremolo-dev/tremolo/platform/apierror"
	"github.com/tremolo-dev/tremolo/platform/app"
	"github.com/tremolo-dev/tremolo/platform/auth"
	"github.com/tremolo-dev/tremolo/platform/server"
	"github.com/tremolo-dev/tremolo/platform/sqldb/pgtest"
	"github.com/tremolo-dev/tremolo/platform/token"
	"github.com/tremolo-dev/tremolo/services/relation"
	"github.com/tremolo-dev/tremolo/services/user"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

const testKey = "test-key-test-key-test-key-test-key"

// env is the real fx app, the user and relation services, on loopback ports.
type env struct {
	users userv1.UserServiceClient
	rel   relationv1.RelationServiceClient
}

func start(t *testing.T, userDSN, relationDSN string) *env {
	t.Helper()
	return startApp(t, app.Config{},
		fx.Supply(user.Config{DSN: userDSN}, token.Config{Key: testKey, TTL: time.Hour}, relation.Config{DSN: relationDSN}),
		user.Module, relation.Module)
}

// startApp runs the platform, with cfg's client settings, and opts.
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
		grpc.WithUnaryInterceptor(apierror.UnaryClientInterceptor()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cc.Close() })
	return &env{users: userv1.NewUserServiceClient(cc), rel: relationv1.NewRelationServiceClient(cc)}
}

// backends runs a test against SQLite files and a real PostgreSQL database
// (shared by both services, as a deployment may).
func backends(t *testing.T, test func(t *testing.T, e *env)) {
	t.Run("sqlite", func(t *testing.T) {
		dir := t.TempDir()
		test(t, start(t, "sqlite://"+filepath.Join(dir, "user.db"), "sqlite://"+filepath.Join(dir, "relation.db")))
	})
	t.Run("postgres", func(t *testing.T) {
		dsn := pgtest.Shared(t).NewDatabase(t)
		test(t, start(t, dsn, dsn))
	})
}

func ctxT(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	t.Cleanup(cancel)
	return ctx
}

// as returns a context that calls as user uid, as the edge does.
func as(ctx context.Context, uid int64) context.Context {
	return metadata.AppendToOutgoingContext(ctx, auth.MetadataKey, strconv.FormatInt(uid, 10))
}

func (e *env) register(t *testing.T, name string) int64 {
	t.Helper()
	r, err := e.users.Register(ctxT(t), &userv1.RegisterRequest{Username: name, Password: "pw"})
	if err != nil {
		t.Fatalf("register %s: %v", name, err)
	}
	return r.UserId
}

func (e *env) follow(t *testing.T, from, to int64) {
	t.Helper()
	if _, err := e.rel.Follow(as(ctxT(t), from), &relationv1.FollowRequest{ToUserId: to}); err != nil {
		t.Fatalf("%d follows %d: %v", from, to, err)
	}
}

func (e *env) unfollow(t *testing.T, from, to int64) {
	t.Helper()
	if _, err := e.rel.Unfollow(as(ctxT(t), from), &relationv1.UnfollowRequest{ToUserId: to}); err != nil {
		t.Fatalf("%d unfollows %d: %v", from, to, err)
	}
}

// lists returns following, followers and friends of uid.
func (e *env) lists(t *testing.T, uid int64) (following, followers, friends []int64) {
	t.Helper()
	ctx := ctxT(t)
	a, err := e.rel.ListFollowing(ctx, &relationv1.ListFollowingRequest{UserId: uid})
	if err != nil {
		t.Fatalf("ListFollowing(%d): %v", uid, err)
	}
	b, err := e.rel.ListFollowers(ctx, &relationv1.ListFollowersRequest{UserId: uid})
	if err != nil {
		t.Fatalf("ListFollowers(%d): %v", uid, err)
	}
	c, err := e.rel.ListFriends(ctx, &relationv1.ListFriendsRequest{UserId: uid})
	if err != nil {
		t.Fatalf("ListFriends(%d): %v", uid, err)
	}
	return a.UserIds, b.UserIds, c.UserIds
}

func (e *env) stats(t *testing.T, ctx context.Context, ids ...int64) map[int64]*relationv1.Stats {
	t.Helper()
	r, err := e.rel.BatchGetStats(ctx, &relationv1.BatchGetStatsRequest{UserIds: ids})
	if err != nil {
		t.Fatalf("BatchGetStats(%v): %v", ids, err)
	}
	return r.Stats
}

func wantList(t *testing.T, what string, got []int64, want ...int64) {
	t.Helper()
	if len(got) != len(want) || (len(want) > 0 && !slices.Equal(got, want)) {
		t.Fatalf("%s = %v; want %v", what, got, want)
	}
}

func wantStats(t *testing.T, who string, got *relationv1.Stats, follows, followers int64, isFollow bool) {
	t.Helper()
	if got.GetFollowCount() != follows || got.GetFollowerCount() != followers || got.GetIsFollow() != isFollow {
		t.Fatalf("stats of %s = %v; want follows %d, followers %d, is_follow %v", who, got, follows, followers, isFollow)
	}
}

func TestFollowListsAndStats(t *testing.T) {
	backends(t, func(t *testing.T, e *env) {
		alice, bob, carol := e.register(t, "alice"), e.register(t, "bob"), e.register(t, "carol")

		// Alice and Bob follow each other (friends); Carol follows Bob.
		e.follow(t, alice, bob)
		e.follow(t, bob, alice)
		time.Sleep(2 * time.Millisecond) // "most recent first" is by millisecond
		e.follow(t, carol, bob)
		e.follow(t, alice, bob) // again: changes nothing

		following, followers, friends := e.lists(t, alice)
		wantList(t, "alice following", following, bob)
		wantList(t, "alice followers", followers, bob)
		wantList(t, "alice friends", friends, bob)
		following, followers, friends = e.lists(t, bob)
		wantList(t, "bob following", following, alice)
		wantList(t, "bob followers", followers, carol, alice)
		wantList(t, "bob friends", friends, alice)
		following, followers, friends = e.lists(t, carol)
		wantList(t, "carol following", following, bob)
		wantList(t, "carol followers", followers)
		wantList(t, "carol friends", friends)

		// As Alice: counts and whom she follows; an unknown id gets zeros.
		st := e.stats(t, as(ctxT(t), alice), alice, bob, carol, 987654321, bob)
		if len(st) != 4 {
			t.Fatalf("stats has %d entries; want 4: %v", len(st), st)
		}
		wantStats(t, "alice", st[alice], 1, 1, false)
		wantStats(t, "bob", st[bob], 1, 2, true)
		wantStats(t, "carol", st[carol], 1, 0, false)
		wantStats(t, "unknown", st[987654321], 0, 0, false)
		// Without a caller, is_follow is false.
		st = e.stats(t, ctxT(t), bob)
		wantStats(t, "bob (no caller)", st[bob], 1, 2, false)
		if st := e.stats(t, ctxT(t)); len(st) != 0 {
			t.Fatalf("stats of no ids = %v", st)
		}

		// Unfollowing twice is one unfollow; the friendship ends.
		e.unfollow(t, bob, alice)
		e.unfollow(t, bob, alice)
		e.unfollow(t, carol, alice) // never followed: nothing changes
		_, _, friends = e.lists(t, alice)
		wantList(t, "alice friends after unfollow", friends)
		st = e.stats(t, as(ctxT(t), bob), alice, bob)
		wantStats(t, "alice", st[alice], 1, 0, false)
		wantStats(t, "bob", st[bob], 0, 2, false)

		// Following again puts Bob's follow of Alice back, most recent first.
		time.Sleep(2 * time.Millisecond)
		e.follow(t, bob, carol)
		time.Sleep(2 * time.Millisecond)
		e.follow(t, bob, alice)
		following, _, friends = e.lists(t, bob)
		wantList(t, "bob following", following, alice, carol)
		wantList(t, "bob friends", friends, alice, carol)
	})
}

// wantErr checks the code, the reason and the business code a caller sees.
func wantErr(t *testing.T, what string, err error, code codes.Code, is func(error) bool, business int32) {
	t.Helper()
	if status.Code(err) != code || (is != nil && !is(err)) || (business != 0 && apierror.BusinessCode(err) != business) {
		t.Fatalf("%s: err = %v (code %v, business %d); want %v / %d", what, err, status.Code(err), apierror.BusinessCode(err), code, business)
	}
}

func TestBadInput(t *testing.T) {
	backends(t, func(t *testing.T, e *env) {
		alice, bob := e.register(t, "alice"), e.register(t, "bob")
		ctx := ctxT(t)
		asAlice := as(ctx, alice)
		const unknown = 424242

		for _, to := range []int64{0, -1} {
			_, err := e.rel.Follow(asAlice, &relationv1.FollowRequest{ToUserId: to})
			wantErr(t, fmt.Sprintf("follow %d", to), err, codes.InvalidArgument, relationv1.IsInvalidId, 10503)
			_, err = e.rel.Unfollow(asAlice, &relationv1.UnfollowRequest{ToUserId: to})
			wantErr(t, fmt.Sprintf("unfollow %d", to), err, codes.InvalidArgument, relationv1.IsInvalidId, 10503)
			_, err = e.rel.ListFollowing(ctx, &relationv1.ListFollowingRequest{UserId: to})
			wantErr(t, fmt.Sprintf("following of %d", to), err, codes.InvalidArgument, relationv1.IsInvalidId, 10503)
			_, err = e.rel.ListFollowers(ctx, &relationv1.ListFollowersRequest{UserId: to})
			wantErr(t, fmt.Sprintf("followers of %d", to), err, codes.InvalidArgument, relationv1.IsInvalidId, 10503)
			_, err = e.rel.ListFriends(ctx, &relationv1.ListFriendsRequest{UserId: to})
			wantErr(t, fmt.Sprintf("friends of %d", to), err, codes.InvalidArgument, relationv1.IsInvalidId, 10503)
		}
		_, err := e.rel.Follow(asAlice, &relationv1.FollowRequest{ToUserId: alice})
		wantErr(t, "follow self", err, codes.InvalidArgument, relationv1.IsSelfFollow, 10501)
		_, err = e.rel.Unfollow(asAlice, &relationv1.UnfollowRequest{ToUserId: alice})
		wantErr(t, "unfollow self", err, codes.InvalidArgument, relationv1.IsSelfFollow, 10501)
		_, err = e.rel.Follow(asAlice, &relationv1.FollowRequest{ToUserId: unknown})
		wantErr(t, "follow unknown", err, codes.NotFound, relationv1.IsUserNotFound, 10502)
		if e2, _ := apierror.FromError(err); e2.Metadata()["userId"] != strconv.Itoa(unknown) {
			t.Fatalf("not-found error lacks the user id: %v", err)
		}
		_, err = e.rel.Unfollow(asAlice, &relationv1.UnfollowRequest{ToUserId: unknown})
		wantErr(t, "unfollow unknown", err, codes.NotFound, relationv1.IsUserNotFound, 10502)
		_, err = e.rel.ListFollowing(ctx, &relationv1.ListFollowingRequest{UserId: unknown})
		wantErr(t, "following of unknown", err, codes.NotFound, relationv1.IsUserNotFound, 10502)
		_, err = e.rel.ListFollowers(ctx, &relationv1.ListFollowersRequest{UserId: unknown})
		wantErr(t, "followers of unknown", err, codes.NotFound, relationv1.IsUserNotFound, 10502)
		_, err = e.rel.ListFriends(ctx, &relationv1.ListFriendsRequest{UserId: unknown})
		wantErr(t, "friends of unknown", err, codes.NotFound, relationv1.IsUserNotFound, 10502)

		// Follow and Unfollow need a user: the server refuses them without one.
		_, err = e.rel.Follow(ctx, &relationv1.FollowRequest{ToUserId: bob})
		wantErr(t, "follow without user", err, codes.Unauthenticated, nil, 0)
		_, err = e.rel.Unfollow(ctx, &relationv1.UnfollowRequest{ToUserId: bob})
		wantErr(t, "unfollow without user", err, codes.Unauthenticated, nil, 0)

		ids := make([]int64, 501)
		for i := range ids {
			ids[i] = int64(i + 1)
		}
		_, err = e.rel.BatchGetStats(ctx, &relationv1.BatchGetStatsRequest{UserIds: ids})
		wantErr(t, "stats of 501 ids", err, codes.InvalidArgument, relationv1.IsTooManyIds, 10504)
		// 500 distinct ids (with duplicates) are fine.
		st := e.stats(t, ctx, append(ids[:500], 1, 2, 3)...)
		if len(st) != 500 {
			t.Fatalf("stats of 500 ids has %d entries", len(st))
		}
		_, err = e.rel.BatchGetStats(ctx, &relationv1.BatchGetStatsRequest{UserIds: []int64{alice, 0}})
		wantErr(t, "stats with 0", err, codes.InvalidArgument, relationv1.IsInvalidId, 10503)
		_, err = e.rel.BatchGetStats(ctx, &relationv1.BatchGetStatsRequest{UserIds: []int64{-7}})
		wantErr(t, "stats with -7", err, codes.InvalidArgument, relationv1.IsInvalidId, 10503)

		// Nothing was written by any of it.
		for _, u := range []int64{alice, bob} {
			following, followers, friends := e.lists(t, u)
			if len(following)+len(followers)+len(friends) != 0 {
				t.Fatalf("user %d has relations after bad requests: %v %v %v", u, following, followers, friends)
			}
		}
		st = e.stats(t, asAlice, alice, bob)
		wantStats(t, "alice", st[alice], 0, 0, false)
		wantStats(t, "bob", st[bob], 0, 0, false)
	})
}

// TestConcurrentFollowStorm has 8 goroutines follow and unfollow among four
// users in both directions at once, then checks every count against the
// lists, and that 8 concurrent follows of one pair are one follow.
func TestConcurrentFollowStorm(t *testing.T) {
	backends(t, func(t *testing.T, e *env) {
		var users []int64
		for i := range 4 {
			users = append(users, e.register(t, fmt.Sprint("storm", i)))
		}
		const workers, ops = 8, 25
		var wg sync.WaitGroup
		errs := make(chan error, workers*ops)
		for w := range workers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				r := rand.New(rand.NewPCG(uint64(w), 42))
				ctx := ctxT(t)
				for range ops {
					i, j := r.IntN(4), r.IntN(3)
					if j >= i {
						j++
					}
					var err error
					if r.IntN(2) == 0 {
						_, err = e.rel.Follow(as(ctx, users[i]), &relationv1.FollowRequest{ToUserId: users[j]})
					} else {
						_, err = e.rel.Unfollow(as(ctx, users[i]), &relationv1.UnfollowRequest{ToUserId: users[j]})
					}
					if err != nil {
						errs <- err
					}
				}
			}()
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Fatalf("concurrent follow/unfollow: %v", err)
		}
		checkConsistent(t, e, users)

		// Eight concurrent follows of one pair: one follow.
		for range workers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				if _, err := e.rel.Follow(as(ctxT(t), users[0]), &relationv1.FollowRequest{ToUserId: users[1]}); err != nil {
					t.Errorf("follow: %v", err)
				}
			}()
		}
		wg.Wait()
		checkConsistent(t, e, users)
		if st := e.stats(t, as(ctxT(t), users[0]), users[1]); !st[users[1]].IsFollow {
			t.Fatalf("users[0] does not follow users[1] after concurrent follows: %v", st)
		}
	})
}

// checkConsistent checks that every user's counts equal the lengths of the
// lists, that the lists mirror each other, and friends are the mutual ones.
func checkConsistent(t *testing.T, e *env, users []int64) {
	t.Helper()
	st := e.stats(t, ctxT(t), users...)
	edges := map[[2]int64]bool{}
	for _, u := range users {
		following, followers, friends := e.lists(t, u)
		if int64(len(following)) != st[u].FollowCount || int64(len(followers)) != st[u].FollowerCount {
			t.Fatalf("user %d: stats %v, but follows %d and has %d followers", u, st[u], len(following), len(followers))
		}
		for _, v := range following {
			edges[[2]int64{u, v}] = true
		}
		var mutual []int64
		for _, v := range followers {
			if slices.Contains(following, v) {
				mutual = append(mutual, v)
			}
		}
		slices.Sort(mutual)
		sorted := slices.Sorted(slices.Values(friends))
		if !slices.Equal(mutual, sorted) {
			t.Fatalf("user %d: friends %v; want %v", u, friends, mutual)
		}
	}
	for _, u := range users {
		_, followers, _ := e.lists(t, u)
		for _, v := range followers {
			if !edges[[2]int64{v, u}] {
				t.Fatalf("%d is a follower of %d but does not follow them", v, u)
			}
		}
	}
}

// TestUserServiceDown runs the relation service alone, with the user service
// at an address where nothing listens: calls that need it fail as
// UNAVAILABLE (retryable), not INTERNAL, and write nothing; what needs no
// user service still works.
func TestUserServiceDown(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := l.Addr().String()
	_ = l.Close()
	cfg := app.Config{}
	cfg.Client.Targets = map[string]string{"user": closed}
	e := startApp(t, cfg, fx.Supply(relation.Config{DSN: "sqlite://" + filepath.Join(t.TempDir(), "relation.db")}), relation.Module)
	ctx := as(ctxT(t), 1)
	_, err = e.rel.Follow(ctx, &relationv1.FollowRequest{ToUserId: 2})
	wantErr(t, "follow", err, codes.Unavailable, nil, 1014)
	_, err = e.rel.Unfollow(ctx, &relationv1.UnfollowRequest{ToUserId: 2})
	wantErr(t, "unfollow", err, codes.Unavailable, nil, 1014)
	_, err = e.rel.ListFollowers(ctx, &relationv1.ListFollowersRequest{UserId: 2})
	wantErr(t, "followers", err, codes.Unavailable, nil, 1014)
	st := e.stats(t, ctx, 1, 2)
	wantStats(t, "1", st[1], 0, 0, false)
	wantStats(t, "2", st[2], 0, 0, false)
}
