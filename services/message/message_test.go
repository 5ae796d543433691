package message_test

import (
	"context"
	"fmt"
	"net"
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
	"google.golang.org/protobuf/proto"

	messagev1 "github.com/tremolo-dev/tremolo/gen/douyin/message/v1"
	relationv1 "github.com/tremolo-dev/tremolo/gen/douyin/relation/v1"
	userv1 "github.com/tremolo-dev/tremolo/gen/douyin/user/v1"
	"github.com/tremolo-dev/tremolo/platform/apierror"
	"github.com/tremolo-dev/tremolo/platform/app"
	"github.com/tremolo-dev/tremolo/platform/auth"
	"github.com/tremolo-dev/tremolo/platform/server"
	"github.com/tremolo-dev/tremolo/platform/sqldb/pgtest"
	"github.com/tremolo-dev/tremolo/platform/token"
	"github.com/tremolo-dev/tremolo/services/message"
	"github.com/tremolo-dev/tremolo/services/relation"
	"github.com/tremolo-dev/tremolo/services/user"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

const testKey = "test-key-test-key-test-key-test-key"

// env is the real fx app on loopback ports: the user, relation and message
// services in one process, as the all-in-one binary runs them (relation and
// message each with their own private user client).
type env struct {
	users userv1.UserServiceClient
	rel   relationv1.RelationServiceClient
	msg   messagev1.MessageServiceClient
}

func start(t *testing.T, userDSN, relationDSN, messageDSN string) *env {
	t.Helper()
	return startApp(t, app.Config{},
		fx.Supply(
			user.Config{DSN: userDSN}, token.Config{Key: testKey, TTL: time.Hour},
			relation.Config{DSN: relationDSN}, message.Config{DSN: messageDSN},
		),
		user.Module, relation.Module, message.Module)
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
	return &env{
		users: userv1.NewUserServiceClient(cc),
		rel:   relationv1.NewRelationServiceClient(cc),
		msg:   messagev1.NewMessageServiceClient(cc),
	}
}

// backends runs a test against SQLite files and a real PostgreSQL database
// (shared by the three services, as a deployment may).
func backends(t *testing.T, test func(t *testing.T, e *env)) {
	t.Run("sqlite", func(t *testing.T) {
		dir := t.TempDir()
		test(t, start(t, "sqlite://"+filepath.Join(dir, "user.db"), "sqlite://"+filepath.Join(dir, "relation.db"), "sqlite://"+filepath.Join(dir, "message.db")))
	})
	t.Run("postgres", func(t *testing.T) {
		dsn := pgtest.Shared(t).NewDatabase(t)
		test(t, start(t, dsn, dsn, dsn))
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

func (e *env) send(t *testing.T, from, to int64, content string) *messagev1.Message {
	t.Helper()
	r, err := e.msg.Send(as(ctxT(t), from), &messagev1.SendRequest{ToUserId: to, Content: content})
	if err != nil {
		t.Fatalf("%d sends to %d: %v", from, to, err)
	}
	m := r.Message
	if m.Id <= 0 || m.FromUserId != from || m.ToUserId != to || m.Content != content ||
		m.CreatedAt < time.Now().Add(-time.Minute).UnixMilli() || m.CreatedAt > time.Now().Add(time.Second).UnixMilli() {
		t.Fatalf("sent message = %v", m)
	}
	return m
}

func (e *env) chat(t *testing.T, me, peer, after int64) []*messagev1.Message {
	t.Helper()
	r, err := e.msg.Chat(as(ctxT(t), me), &messagev1.ChatRequest{PeerId: peer, AfterTime: after})
	if err != nil {
		t.Fatalf("chat of %d with %d after %d: %v", me, peer, after, err)
	}
	return r.Messages
}

func (e *env) latest(t *testing.T, me int64, peers ...int64) map[int64]*messagev1.Message {
	t.Helper()
	r, err := e.msg.BatchLatest(as(ctxT(t), me), &messagev1.BatchLatestRequest{PeerIds: peers})
	if err != nil {
		t.Fatalf("latest of %d with %v: %v", me, peers, err)
	}
	return r.Latest
}

func wantMessages(t *testing.T, what string, got []*messagev1.Message, want ...*messagev1.Message) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s: %d messages %v; want %d", what, len(got), got, len(want))
	}
	for i := range got {
		if !proto.Equal(got[i], want[i]) {
			t.Fatalf("%s: message %d = %v; want %v", what, i, got[i], want[i])
		}
	}
}

// checkOrder checks that msgs are strictly ordered by (created_at, id).
func checkOrder(t *testing.T, msgs []*messagev1.Message) {
	t.Helper()
	for i := 1; i < len(msgs); i++ {
		a, b := msgs[i-1], msgs[i]
		if a.CreatedAt > b.CreatedAt || (a.CreatedAt == b.CreatedAt && a.Id >= b.Id) {
			t.Fatalf("messages %d and %d out of order: %v, %v", i-1, i, a, b)
		}
	}
}

// TestFriendsChat has two users follow each other (relation) and message
// each other, and a third, not a friend, write to one of them.
func TestFriendsChat(t *testing.T) {
	backends(t, func(t *testing.T, e *env) {
		alice, bob, carol := e.register(t, "alice"), e.register(t, "bob"), e.register(t, "carol")
		for _, p := range [][2]int64{{alice, bob}, {bob, alice}} {
			if _, err := e.rel.Follow(as(ctxT(t), p[0]), &relationv1.FollowRequest{ToUserId: p[1]}); err != nil {
				t.Fatal(err)
			}
		}
		friends, err := e.rel.ListFriends(ctxT(t), &relationv1.ListFriendsRequest{UserId: alice})
		if err != nil || !slices.Equal(friends.UserIds, []int64{bob}) {
			t.Fatalf("friends of alice = %v, %v", friends, err)
		}

		// An empty chat between existing users is empty, not an error.
		if got := e.chat(t, alice, bob, 0); len(got) != 0 {
			t.Fatalf("chat before any message = %v", got)
		}
		m1 := e.send(t, alice, bob, "hi bob")
		m2 := e.send(t, bob, alice, "hi alice 👋\nhow are you?")
		m3 := e.send(t, alice, bob, strings.Repeat("好", 1000)) // 1000 characters, 3000 bytes
		wantMessages(t, "alice's chat", e.chat(t, alice, bob, 0), m1, m2, m3)
		wantMessages(t, "bob's chat", e.chat(t, bob, alice, 0), m1, m2, m3)
		checkOrder(t, []*messagev1.Message{m1, m2, m3})
		wantMessages(t, "negative after_time", e.chat(t, bob, alice, -1), m1, m2, m3)

		// after_time keeps only strictly later messages.
		var later []*messagev1.Message
		for _, m := range []*messagev1.Message{m2, m3} {
			if m.CreatedAt > m1.CreatedAt {
				later = append(later, m)
			}
		}
		wantMessages(t, "after m1", e.chat(t, alice, bob, m1.CreatedAt), later...)
		wantMessages(t, "after m3", e.chat(t, alice, bob, m3.CreatedAt))

		// Carol is not a friend of Alice and may write to her.
		m4 := e.send(t, carol, alice, "hello from a stranger")
		wantMessages(t, "alice-carol", e.chat(t, alice, carol, 0), m4)
		if got := e.chat(t, bob, carol, 0); len(got) != 0 {
			t.Fatalf("bob-carol chat = %v", got)
		}

		got := e.latest(t, alice, bob, carol, 424242, alice, bob)
		if len(got) != 2 || !proto.Equal(got[bob], m3) || !proto.Equal(got[carol], m4) {
			t.Fatalf("alice's latest = %v", got)
		}
		got = e.latest(t, bob, alice, carol)
		if len(got) != 1 || !proto.Equal(got[alice], m3) {
			t.Fatalf("bob's latest = %v", got)
		}
		if got := e.latest(t, carol); len(got) != 0 {
			t.Fatalf("latest of no peers = %v", got)
		}
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

		for _, c := range []string{"", strings.Repeat("x", 1001), strings.Repeat("好", 1001), "   ", "\n\t", "a\x00b"} {
			_, err := e.msg.Send(asAlice, &messagev1.SendRequest{ToUserId: bob, Content: c})
			wantErr(t, fmt.Sprintf("content %.20q", c), err, codes.InvalidArgument, messagev1.IsInvalidContent, 10601)
		}
		for _, id := range []int64{0, -3} {
			_, err := e.msg.Send(asAlice, &messagev1.SendRequest{ToUserId: id, Content: "hi"})
			wantErr(t, fmt.Sprintf("send to %d", id), err, codes.InvalidArgument, messagev1.IsInvalidId, 10604)
			_, err = e.msg.Chat(asAlice, &messagev1.ChatRequest{PeerId: id})
			wantErr(t, fmt.Sprintf("chat with %d", id), err, codes.InvalidArgument, messagev1.IsInvalidId, 10604)
		}
		_, err := e.msg.Send(asAlice, &messagev1.SendRequest{ToUserId: alice, Content: "note to self"})
		wantErr(t, "send to self", err, codes.InvalidArgument, messagev1.IsSelfMessage, 10603)
		_, err = e.msg.Chat(asAlice, &messagev1.ChatRequest{PeerId: alice})
		wantErr(t, "chat with self", err, codes.InvalidArgument, messagev1.IsSelfMessage, 10603)
		_, err = e.msg.Send(asAlice, &messagev1.SendRequest{ToUserId: unknown, Content: "anyone?"})
		wantErr(t, "send to unknown", err, codes.NotFound, messagev1.IsUserNotFound, 10602)
		if e2, _ := apierror.FromError(err); e2.Metadata()["userId"] != strconv.Itoa(unknown) {
			t.Fatalf("not-found error lacks the user id: %v", err)
		}
		_, err = e.msg.Chat(asAlice, &messagev1.ChatRequest{PeerId: unknown})
		wantErr(t, "chat with unknown", err, codes.NotFound, messagev1.IsUserNotFound, 10602)
		_, err = e.msg.Chat(asAlice, &messagev1.ChatRequest{PeerId: unknown, AfterTime: time.Now().UnixMilli()})
		wantErr(t, "chat with unknown after now", err, codes.NotFound, messagev1.IsUserNotFound, 10602)

		// Every method needs a user.
		_, err = e.msg.Send(ctx, &messagev1.SendRequest{ToUserId: bob, Content: "hi"})
		wantErr(t, "send without user", err, codes.Unauthenticated, nil, 0)
		_, err = e.msg.Chat(ctx, &messagev1.ChatRequest{PeerId: bob})
		wantErr(t, "chat without user", err, codes.Unauthenticated, nil, 0)
		_, err = e.msg.BatchLatest(ctx, &messagev1.BatchLatestRequest{PeerIds: []int64{bob}})
		wantErr(t, "latest without user", err, codes.Unauthenticated, nil, 0)

		peers := make([]int64, 501)
		for i := range peers {
			peers[i] = int64(i + 1)
		}
		_, err = e.msg.BatchLatest(asAlice, &messagev1.BatchLatestRequest{PeerIds: peers})
		wantErr(t, "latest of 501 peers", err, codes.InvalidArgument, messagev1.IsTooManyIds, 10605)
		if got := e.latest(t, alice, append(peers[:500], 1, 2)...); len(got) != 0 {
			t.Fatalf("latest of 500 peers = %v", got)
		}
		_, err = e.msg.BatchLatest(asAlice, &messagev1.BatchLatestRequest{PeerIds: []int64{bob, 0}})
		wantErr(t, "latest with 0", err, codes.InvalidArgument, messagev1.IsInvalidId, 10604)
		_, err = e.msg.BatchLatest(asAlice, &messagev1.BatchLatestRequest{PeerIds: []int64{-1}})
		wantErr(t, "latest with -1", err, codes.InvalidArgument, messagev1.IsInvalidId, 10604)

		// Nothing was written.
		if got := e.chat(t, alice, bob, 0); len(got) != 0 {
			t.Fatalf("chat after bad requests = %v", got)
		}
		if got := e.latest(t, alice, bob, unknown); len(got) != 0 {
			t.Fatalf("latest after bad requests = %v", got)
		}
	})
}

// TestConcurrentSends has 8 goroutines write in both directions at once
// (many in the same millisecond): every message appears once, in order, the
// same for both sides, and BatchLatest gives the last.
func TestConcurrentSends(t *testing.T) {
	backends(t, func(t *testing.T, e *env) {
		alice, bob := e.register(t, "alice"), e.register(t, "bob")
		const workers, each = 8, 10
		var (
			wg   sync.WaitGroup
			mu   sync.Mutex
			sent = map[int64]*messagev1.Message{}
		)
		for w := range workers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				from, to := alice, bob
				if w%2 == 1 {
					from, to = bob, alice
				}
				for i := range each {
					r, err := e.msg.Send(as(ctxT(t), from), &messagev1.SendRequest{ToUserId: to, Content: fmt.Sprintf("w%d #%d", w, i)})
					if err != nil {
						t.Errorf("send: %v", err)
						return
					}
					mu.Lock()
					sent[r.Message.Id] = r.Message
					mu.Unlock()
				}
			}()
		}
		wg.Wait()
		if t.Failed() {
			return
		}
		got := e.chat(t, alice, bob, 0)
		if len(got) != workers*each || len(sent) != workers*each {
			t.Fatalf("chat has %d messages, %d distinct sent; want %d", len(got), len(sent), workers*each)
		}
		checkOrder(t, got)
		sameMs := 0
		for i, m := range got {
			if !proto.Equal(m, sent[m.Id]) {
				t.Fatalf("chat message %v; sent %v", m, sent[m.Id])
			}
			if i > 0 && got[i-1].CreatedAt == m.CreatedAt {
				sameMs++
			}
		}
		t.Logf("%d messages shared a millisecond with the one before", sameMs)
		wantMessages(t, "bob's view", e.chat(t, bob, alice, 0), got...)
		if l := e.latest(t, bob, alice); !proto.Equal(l[alice], got[len(got)-1]) {
			t.Fatalf("latest = %v; want %v", l[alice], got[len(got)-1])
		}
	})
}

// TestLongChatComesInPieces writes more than one Chat returns and reads it
// back the way a client polls: again from the last created_at it got.
func TestLongChatComesInPieces(t *testing.T) {
	backends(t, func(t *testing.T, e *env) {
		alice, bob := e.register(t, "alice"), e.register(t, "bob")
		const total = message.MaxChatMessages + 40
		var wg sync.WaitGroup
		for w := range 4 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := w; i < total; i += 4 {
					if _, err := e.msg.Send(as(ctxT(t), alice), &messagev1.SendRequest{ToUserId: bob, Content: strconv.Itoa(i)}); err != nil {
						t.Errorf("send: %v", err)
						return
					}
				}
			}()
		}
		wg.Wait()
		if t.Failed() {
			return
		}
		var all []*messagev1.Message
		var after int64
		for calls := 0; ; calls++ {
			if calls > 10 {
				t.Fatal("polling does not end")
			}
			page := e.chat(t, bob, alice, after)
			if len(page) == 0 {
				break
			}
			if len(page) > message.MaxChatMessages {
				t.Fatalf("one Chat returned %d messages", len(page))
			}
			all = append(all, page...)
			after = page[len(page)-1].CreatedAt
		}
		if len(all) != total {
			t.Fatalf("polling read %d messages; want %d", len(all), total)
		}
		checkOrder(t, all)
	})
}

// TestUserServiceDown runs the message service alone, with the user service
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
	e := startApp(t, cfg, fx.Supply(message.Config{DSN: "sqlite://" + filepath.Join(t.TempDir(), "message.db")}), message.Module)
	ctx := as(ctxT(t), 1)
	_, err = e.msg.Send(ctx, &messagev1.SendRequest{ToUserId: 2, Content: "hi"})
	wantErr(t, "send", err, codes.Unavailable, nil, 1014)
	_, err = e.msg.Chat(ctx, &messagev1.ChatRequest{PeerId: 2})
	wantErr(t, "chat", err, codes.Unavailable, nil, 1014)
	if got := e.latest(t, 1, 2); len(got) != 0 {
		t.Fatalf("latest = %v", got)
	}
}
