package user_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"path/filepath"
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

	userv1 "github.com/tremolo-dev/tremolo/gen/douyin/user/v1"
	"github.com/tremolo-dev/tremolo/platform/apierror"
	"github.com/tremolo-dev/tremolo/platform/app"
	"github.com/tremolo-dev/tremolo/platform/server"
	"github.com/tremolo-dev/tremolo/platform/sqldb/pgtest"
	"github.com/tremolo-dev/tremolo/platform/token"
	"github.com/tremolo-dev/tremolo/services/user"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

const testKey = "test-key-test-key-test-key-test-key"

// env is a running user service: the real fx app on loopback ports.
type env struct {
	grpc   userv1.UserServiceClient
	http   string // base URL
	signer *token.Signer
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
		fx.Supply(user.Config{DSN: dsn}, token.Config{Key: testKey, TTL: time.Hour}),
		user.Module,
		fx.Populate(&srv),
	)
	a.RequireStart()
	t.Cleanup(a.RequireStop)

	cc, err := grpc.NewClient(srv.GRPCAddr().String(),
		grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithUnaryInterceptor(apierror.UnaryClientInterceptor()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cc.Close() })
	signer, _ := token.NewSigner([]byte(testKey), time.Hour, 0)
	return &env{grpc: userv1.NewUserServiceClient(cc), http: "http://" + srv.HTTPAddr().String(), signer: signer}
}

// backends runs a test against the embedded SQLite default and a real
// PostgreSQL server.
func backends(t *testing.T, test func(t *testing.T, e *env)) {
	t.Run("sqlite", func(t *testing.T) {
		test(t, start(t, "sqlite://"+filepath.Join(t.TempDir(), "user.db")))
	})
	t.Run("postgres", func(t *testing.T) {
		test(t, start(t, pgtest.Shared(t).NewDatabase(t)))
	})
}

func TestRegisterLoginGet(t *testing.T) {
	backends(t, func(t *testing.T, e *env) {
		ctx := context.Background()
		reg, err := e.grpc.Register(ctx, &userv1.RegisterRequest{Username: "douyin-fan", Password: "p@ss"})
		if err != nil {
			t.Fatal(err)
		}
		if reg.UserId <= 0 || reg.UserId >= 1<<53 {
			t.Fatalf("user id %d outside (0, 2^53)", reg.UserId)
		}
		if id, err := e.signer.Verify(reg.Token); err != nil || id != reg.UserId {
			t.Fatalf("register token verifies as %d, %v", id, err)
		}
		login, err := e.grpc.Login(ctx, &userv1.LoginRequest{Username: "douyin-fan", Password: "p@ss"})
		if err != nil || login.UserId != reg.UserId {
			t.Fatalf("login = %v, %v", login, err)
		}
		got, err := e.grpc.GetUser(ctx, &userv1.GetUserRequest{UserId: reg.UserId})
		if err != nil || got.User.Name != "douyin-fan" || got.User.Id != reg.UserId || got.User.CreatedAt == 0 {
			t.Fatalf("get = %v, %v", got, err)
		}
		other, err := e.grpc.Register(ctx, &userv1.RegisterRequest{Username: "second", Password: "x"})
		if err != nil {
			t.Fatal(err)
		}
		batch, err := e.grpc.BatchGetUsers(ctx, &userv1.BatchGetUsersRequest{UserIds: []int64{reg.UserId, other.UserId, reg.UserId, 12345}})
		if err != nil || len(batch.Users) != 2 || batch.Users[other.UserId].GetName() != "second" {
			t.Fatalf("batch = %v, %v", batch, err)
		}
	})
}

// wantErr checks the code, the reason and the business code a caller sees.
func wantErr(t *testing.T, err error, code codes.Code, is func(error) bool, business int32) {
	t.Helper()
	if status.Code(err) != code || !is(err) || apierror.BusinessCode(err) != business {
		t.Fatalf("err = %v (code %v, business %d); want %v / %d", err, status.Code(err), apierror.BusinessCode(err), code, business)
	}
}

func TestBadInput(t *testing.T) {
	backends(t, func(t *testing.T, e *env) {
		ctx := context.Background()
		long := strings.Repeat("x", 33)
		_, err := e.grpc.Register(ctx, &userv1.RegisterRequest{Username: "", Password: "pw"})
		wantErr(t, err, codes.InvalidArgument, userv1.IsInvalidUsername, 10101)
		_, err = e.grpc.Register(ctx, &userv1.RegisterRequest{Username: long, Password: "pw"})
		wantErr(t, err, codes.InvalidArgument, userv1.IsInvalidUsername, 10101)
		_, err = e.grpc.Register(ctx, &userv1.RegisterRequest{Username: "ok", Password: ""})
		wantErr(t, err, codes.InvalidArgument, userv1.IsInvalidPassword, 10102)
		_, err = e.grpc.Register(ctx, &userv1.RegisterRequest{Username: "ok", Password: long})
		wantErr(t, err, codes.InvalidArgument, userv1.IsInvalidPassword, 10102)
		for _, bad := range []string{"alice\u200b", "\u202eevil", " padded", "padded\u3000", "tab\tname"} {
			_, err = e.grpc.Register(ctx, &userv1.RegisterRequest{Username: bad, Password: "pw"})
			wantErr(t, err, codes.InvalidArgument, userv1.IsInvalidUsername, 10101)
		}
		// One name, two Unicode spellings: stored in NFC, so they are the same account.
		if _, err := e.grpc.Register(ctx, &userv1.RegisterRequest{Username: "jose\u0301", Password: "pw"}); err != nil {
			t.Fatal(err)
		}
		if _, err := e.grpc.Login(ctx, &userv1.LoginRequest{Username: "jos\u00e9", Password: "pw"}); err != nil {
			t.Fatalf("login with the composed spelling: %v", err)
		}
		_, err = e.grpc.Register(ctx, &userv1.RegisterRequest{Username: "jos\u00e9", Password: "pw"})
		wantErr(t, err, codes.AlreadyExists, userv1.IsNameTaken, 10103)
		// 32 multi-byte characters are within the limit.
		if _, err := e.grpc.Register(ctx, &userv1.RegisterRequest{Username: strings.Repeat("抖", 32), Password: "pw"}); err != nil {
			t.Fatalf("32-character name refused: %v", err)
		}

		first, err := e.grpc.Register(ctx, &userv1.RegisterRequest{Username: "taken", Password: "first"})
		if err != nil {
			t.Fatal(err)
		}
		_, err = e.grpc.Register(ctx, &userv1.RegisterRequest{Username: "taken", Password: "second"})
		wantErr(t, err, codes.AlreadyExists, userv1.IsNameTaken, 10103)
		// The failed registration changed nothing: the first password still works, the second does not.
		if l, err := e.grpc.Login(ctx, &userv1.LoginRequest{Username: "taken", Password: "first"}); err != nil || l.UserId != first.UserId {
			t.Fatalf("first password after duplicate register: %v, %v", l, err)
		}
		_, err = e.grpc.Login(ctx, &userv1.LoginRequest{Username: "taken", Password: "second"})
		wantErr(t, err, codes.Unauthenticated, userv1.IsWrongCredentials, 10104)
		_, err = e.grpc.Login(ctx, &userv1.LoginRequest{Username: "nobody", Password: "x"})
		wantErr(t, err, codes.Unauthenticated, userv1.IsWrongCredentials, 10104)

		_, err = e.grpc.GetUser(ctx, &userv1.GetUserRequest{UserId: 987654321})
		wantErr(t, err, codes.NotFound, userv1.IsUserNotFound, 10105)
		_, err = e.grpc.GetUser(ctx, &userv1.GetUserRequest{UserId: -1})
		wantErr(t, err, codes.InvalidArgument, userv1.IsInvalidUserId, 10107)
		ids := make([]int64, 501)
		for i := range ids {
			ids[i] = int64(i + 1)
		}
		_, err = e.grpc.BatchGetUsers(ctx, &userv1.BatchGetUsersRequest{UserIds: ids})
		wantErr(t, err, codes.InvalidArgument, userv1.IsTooManyIds, 10106)
		_, err = e.grpc.BatchGetUsers(ctx, &userv1.BatchGetUsersRequest{UserIds: []int64{0, 1}})
		wantErr(t, err, codes.InvalidArgument, userv1.IsInvalidUserId, 10107)
	})
}

func TestConcurrentRegisterOfOneName(t *testing.T) {
	backends(t, func(t *testing.T, e *env) {
		var wg sync.WaitGroup
		errs := make([]error, 8)
		for i := range errs {
			wg.Add(1)
			go func() {
				defer wg.Done()
				_, errs[i] = e.grpc.Register(context.Background(), &userv1.RegisterRequest{Username: "race", Password: fmt.Sprint(i)})
			}()
		}
		wg.Wait()
		var ok int
		for _, err := range errs {
			switch {
			case err == nil:
				ok++
			case !userv1.IsNameTaken(err):
				t.Fatalf("unexpected error: %v", err)
			}
		}
		if ok != 1 {
			t.Fatalf("%d of 8 concurrent registrations of one name succeeded; want 1", ok)
		}
	})
}

func httpDo(t *testing.T, method, url, body string, header ...string) (int, map[string]any) {
	t.Helper()
	req, _ := http.NewRequest(method, url, strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	var out map[string]any
	if err := json.Unmarshal(raw, &out); err != nil {
		t.Fatalf("%s %s: body %q is not JSON: %v", method, url, raw, err)
	}
	return resp.StatusCode, out
}

func TestREST(t *testing.T) {
	backends(t, func(t *testing.T, e *env) {
		code, body := httpDo(t, "POST", e.http+"/v1/users:register", `{"username":"rest-user","password":"pw"}`)
		if tok, _ := body["token"].(string); code != 200 || tok == "" {
			t.Fatalf("register over REST: %d %v", code, body)
		}
		id := body["user_id"].(string) // proto3 JSON writes int64 as a string
		code, body = httpDo(t, "GET", e.http+"/v1/users/"+id, "")
		if code != 200 || body["user"].(map[string]any)["name"] != "rest-user" {
			t.Fatalf("get over REST: %d %v", code, body)
		}

		// REST errors are the google.rpc.Status gRPC sends, under the spec's HTTP status.
		code, body = httpDo(t, "POST", e.http+"/v1/users:register", `{"username":"rest-user","password":"pw"}`, "Accept-Language", "zh-CN")
		if code != http.StatusConflict || body["code"].(float64) != float64(codes.AlreadyExists) {
			t.Fatalf("duplicate over REST: %d %v", code, body)
		}
		raw, _ := json.Marshal(body["details"])
		for _, want := range []string{`"reason":"NAME_TAKEN"`, `"domain":"user.douyin.tremolo.dev"`, `"businessCode":"10103"`, "用户名已被占用"} {
			if !strings.Contains(string(raw), want) {
				t.Errorf("REST error details lack %s: %s", want, raw)
			}
		}
		code, _ = httpDo(t, "GET", e.http+"/v1/users/424242", "")
		if code != http.StatusNotFound {
			t.Fatalf("unknown user over REST: %d", code)
		}
		code, body = httpDo(t, "GET", e.http+"/v1/users/abc", "")
		if code != http.StatusBadRequest {
			t.Fatalf("non-numeric id over REST: %d %v", code, body)
		}
	})
}

// TestGRPCStatusMatchesREST checks that both sides carry one ErrorInfo.
func TestGRPCStatusMatchesREST(t *testing.T) {
	e := start(t, "sqlite://"+filepath.Join(t.TempDir(), "user.db"))
	_, err := e.grpc.GetUser(context.Background(), &userv1.GetUserRequest{UserId: 5})
	e2, ok := apierror.FromError(err)
	if !ok || e2.Spec().Reason != "USER_NOT_FOUND" || e2.Metadata()["userId"] != "5" {
		t.Fatalf("gRPC error = %v", err)
	}
	_, body := httpDo(t, "GET", e.http+"/v1/users/5", "")
	details, _ := json.Marshal(body["details"])
	if !strings.Contains(string(details), `"userId":"5"`) || !strings.Contains(string(details), "USER_NOT_FOUND") {
		t.Fatalf("REST details differ from gRPC: %s", details)
	}
}

func TestMetricsPreCreated(t *testing.T) {
	e := start(t, "sqlite://"+filepath.Join(t.TempDir(), "user.db"))
	resp, err := http.Get(e.http + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	for _, m := range []string{"Register", "Login", "GetUser", "BatchGetUsers"} {
		want := fmt.Sprintf(`grpc_server_started_total{grpc_method="%s",grpc_service="douyin.user.v1.UserService",grpc_type="unary"} 0`, m)
		if !strings.Contains(string(raw), want) {
			t.Errorf("/metrics lacks %s before any call", want)
		}
	}
	want := `grpc_server_handled_total{grpc_code="AlreadyExists",grpc_method="Register",grpc_service="douyin.user.v1.UserService",grpc_type="unary",reason="NAME_TAKEN"} 0`
	if !strings.Contains(string(raw), want) {
		t.Errorf("/metrics lacks the declared error series %s", want)
	}
}
