package apierror

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"testing"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
)

var nameTaken = &Spec{
	Domain: "test.tremolo.dev", Reason: "NAME_TAKEN", Code: codes.AlreadyExists, HTTPStatus: http.StatusConflict,
	BusinessCode: 19001, LogLevel: slog.LevelInfo, Message: "the name is taken",
	Localized: map[string]string{"zh-CN": "名称已被占用"},
}

func init() { MustRegister(nameTaken) }

func TestStatusCarriesSpec(t *testing.T) {
	st := ToStatus(nameTaken.Err().WithMetadata("name", "bob"), "")
	if st.Code() != codes.AlreadyExists || st.Message() != "the name is taken" {
		t.Fatalf("status = %v %q", st.Code(), st.Message())
	}
	info := errorInfo(st)
	if info == nil {
		t.Fatal("no ErrorInfo in status details")
	}
	if info.Reason != "NAME_TAKEN" || info.Domain != "test.tremolo.dev" || info.Metadata["name"] != "bob" || info.Metadata[BusinessCodeKey] != "19001" {
		t.Fatalf("ErrorInfo = %v", info)
	}
}

func TestRoundTripThroughStatus(t *testing.T) {
	sent := nameTaken.Errorf("name %q is taken", "bob").WithMetadata("name", "bob")
	wire := ToStatus(sent, "").Err() // what a client receives

	got, ok := FromError(wire)
	if !ok {
		t.Fatal("FromError did not recognise a status error")
	}
	if got.Spec() != nameTaken {
		t.Fatalf("spec = %v; want the registered one", got.Spec())
	}
	if got.Message() != `name "bob" is taken` || got.Metadata()["name"] != "bob" {
		t.Fatalf("message %q metadata %v", got.Message(), got.Metadata())
	}
	if _, has := got.Metadata()[BusinessCodeKey]; has {
		t.Fatal("business code leaked into user metadata")
	}
	if !nameTaken.Is(wire) || !errors.Is(got, nameTaken.Err()) {
		t.Fatal("Is does not recognise the received error")
	}
	if Platform(codes.NotFound).Is(wire) {
		t.Fatal("Is matched another spec")
	}
}

func TestUnregisteredRemoteErrorKeepsWireFacts(t *testing.T) {
	st, _ := status.New(codes.NotFound, "no such video").WithDetails(&errdetails.ErrorInfo{
		Reason: "VIDEO_NOT_FOUND", Domain: "video.elsewhere", Metadata: map[string]string{BusinessCodeKey: "20404"},
	})
	e, ok := FromError(st.Err())
	if !ok || e.Spec().Reason != "VIDEO_NOT_FOUND" || e.Spec().BusinessCode != 20404 || e.Spec().HTTPStatus != 404 {
		t.Fatalf("got %+v", e.Spec())
	}
}

func TestLocalizedMessage(t *testing.T) {
	for _, tc := range []struct{ accept, want string }{
		{"zh-CN", "名称已被占用"},
		{"fr-FR, zh;q=0.8", "名称已被占用"},
		{"en-US", ""},
		{"", ""},
	} {
		st := ToStatus(nameTaken.Err(), tc.accept)
		var got string
		for _, d := range st.Details() {
			if lm, ok := d.(*errdetails.LocalizedMessage); ok {
				got = lm.Message
			}
		}
		if got != tc.want {
			t.Errorf("accept-language %q: localized %q; want %q", tc.accept, got, tc.want)
		}
	}
}

func TestUnknownErrorsDoNotLeak(t *testing.T) {
	st := ToStatus(fmt.Errorf("pq: password authentication failed for user admin"), "")
	if st.Code() != codes.Internal || strings.Contains(st.Message(), "password") {
		t.Fatalf("status = %v %q; want INTERNAL with a generic message", st.Code(), st.Message())
	}
	if got := BusinessCode(errors.New("x")); got != 1013 {
		t.Fatalf("business code of an unknown error = %d; want 1013", got)
	}
}

func TestContextErrors(t *testing.T) {
	if c := ToStatus(fmt.Errorf("query: %w", context.DeadlineExceeded), "").Code(); c != codes.DeadlineExceeded {
		t.Fatalf("deadline -> %v", c)
	}
	if c := ToStatus(context.Canceled, "").Code(); c != codes.Canceled {
		t.Fatalf("canceled -> %v", c)
	}
}

func TestPassThroughDownstreamStatus(t *testing.T) {
	downstream := ToStatus(nameTaken.Err(), "").Err()
	again := ToStatus(fmt.Errorf("calling user: %w", downstream), "")
	if info := errorInfo(again); info == nil || info.Reason != "NAME_TAKEN" {
		t.Fatalf("reason lost when propagating: %v", again.Proto())
	}
}

func TestCodeAndReason(t *testing.T) {
	if c, r := CodeAndReason(nameTaken.Err()); c != codes.AlreadyExists || r != "NAME_TAKEN" {
		t.Fatalf("got %v %q", c, r)
	}
	if c, r := CodeAndReason(status.Error(codes.Unavailable, "down")); c != codes.Unavailable || r != "" {
		t.Fatalf("plain status: got %v %q", c, r)
	}
	if c, r := CodeAndReason(nil); c != codes.OK || r != "" {
		t.Fatalf("nil: got %v %q", c, r)
	}
}

func TestRegistryRefusesConflicts(t *testing.T) {
	r := NewRegistry()
	a := &Spec{Domain: "d", Reason: "A", Code: codes.NotFound, HTTPStatus: 404, BusinessCode: 20001, Message: "a"}
	if err := r.Register(a); err != nil {
		t.Fatal(err)
	}
	if err := r.Register(a); err != nil {
		t.Fatalf("registering the same spec twice: %v", err)
	}
	sameCode := &Spec{Domain: "d", Reason: "B", Code: codes.NotFound, HTTPStatus: 404, BusinessCode: 20001, Message: "b"}
	if err := r.Register(sameCode); err == nil || !strings.Contains(err.Error(), "business code 20001") {
		t.Fatalf("duplicate business code: err = %v", err)
	}
	sameKey := &Spec{Domain: "d", Reason: "A", Code: codes.NotFound, HTTPStatus: 404, BusinessCode: 20002, Message: "a2"}
	if err := r.Register(sameKey); err == nil {
		t.Fatal("duplicate reason accepted")
	}
	for _, bad := range []*Spec{
		{Domain: "d", Reason: "OK", Code: codes.OK, HTTPStatus: 400, BusinessCode: 1, Message: "m"},
		{Domain: "d", Reason: "H", Code: codes.NotFound, HTTPStatus: 200, BusinessCode: 2, Message: "m"},
		{Domain: "d", Reason: "Z", Code: codes.NotFound, HTTPStatus: 404, BusinessCode: 0, Message: "m"},
	} {
		if err := r.Register(bad); err == nil {
			t.Errorf("invalid spec %s accepted", bad)
		}
	}
	if _, ok := r.LookupBusinessCode(20002); ok {
		t.Fatal("a refused spec was registered")
	}
}

func TestPlatformSpecs(t *testing.T) {
	for c := codes.Canceled; c <= codes.Unauthenticated; c++ {
		s := Platform(c)
		if s == nil || s.Code != c || s.BusinessCode != 1000+int32(c) {
			t.Fatalf("Platform(%v) = %+v", c, s)
		}
		if got, ok := Default.LookupBusinessCode(s.BusinessCode); !ok || got != s {
			t.Fatalf("platform spec %s not in Default", s)
		}
	}
	if Platform(codes.OK) != nil || Platform(17) != nil {
		t.Fatal("Platform returned a spec for OK or an unknown code")
	}
}

func TestServerInterceptorLogsCauseAndSendsStatus(t *testing.T) {
	var logs strings.Builder
	logger := slog.New(slog.NewJSONHandler(&logs, nil))
	icpt := UnaryServerInterceptor(logger)
	ctx := metadata.NewIncomingContext(context.Background(), metadata.Pairs(AcceptLanguageKey, "zh-CN"))
	_, err := icpt(ctx, nil, &grpc.UnaryServerInfo{FullMethod: "/t.S/M"}, func(context.Context, any) (any, error) {
		return nil, Internal(errors.New("disk full"))
	})
	st, _ := status.FromError(err)
	if st.Code() != codes.Internal || strings.Contains(st.Message(), "disk") {
		t.Fatalf("sent %v %q", st.Code(), st.Message())
	}
	if !strings.Contains(logs.String(), "disk full") || !strings.Contains(logs.String(), `"level":"ERROR"`) {
		t.Fatalf("log does not hold the cause at ERROR: %s", logs.String())
	}
	_, err = icpt(ctx, nil, &grpc.UnaryServerInfo{FullMethod: "/t.S/M"}, func(context.Context, any) (any, error) {
		return nil, nameTaken.Err()
	})
	st, _ = status.FromError(err)
	var localized bool
	for _, d := range st.Details() {
		_, localized = d.(*errdetails.LocalizedMessage)
	}
	if !localized {
		t.Fatal("interceptor ignored the caller's accept-language")
	}
}

func TestClientInterceptorDecodes(t *testing.T) {
	icpt := UnaryClientInterceptor()
	err := icpt(context.Background(), "/t.S/M", nil, nil, nil, func(context.Context, string, any, any, *grpc.ClientConn, ...grpc.CallOption) error {
		return ToStatus(nameTaken.Err(), "").Err()
	})
	var e *Error
	if !errors.As(err, &e) || e.Spec() != nameTaken {
		t.Fatalf("client got %T %v", err, err)
	}
	if status.Code(err) != codes.AlreadyExists {
		t.Fatal("decoded error lost its gRPC code")
	}
}

// A peer may send a code outside gRPC's range; it must not crash the client.
func TestOutOfRangeCode(t *testing.T) {
	e, ok := FromError(status.Error(codes.Code(48), "odd"))
	if !ok || e.Spec().Code != codes.Unknown || e.Message() != "unknown error" {
		t.Fatalf("got %v, %v", e, ok)
	}
	st, _ := status.New(codes.Code(99), "odd").WithDetails(&errdetails.ErrorInfo{Reason: "R", Domain: "elsewhere"})
	if e, ok := FromError(st.Err()); !ok || e.Spec().HTTPStatus != 500 {
		t.Fatalf("with ErrorInfo: got %+v, %v", e, ok)
	}
}

// A store call cut short by the method's deadline is a deadline, not an
// internal failure, even when the service wrapped it in Internal.
func TestInternalKeepsContextCauses(t *testing.T) {
	if c := Internal(fmt.Errorf("query: %w", context.DeadlineExceeded)).Spec().Code; c != codes.DeadlineExceeded {
		t.Fatalf("Internal(deadline) = %v", c)
	}
	if c := Internal(context.Canceled).Spec().Code; c != codes.Canceled {
		t.Fatalf("Internal(canceled) = %v", c)
	}
}

// Text a server adds while wrapping a downstream status, and the insides of
// transport failures, stay out of what the caller receives.
func TestWrappedAndTransportStatusesDoNotLeak(t *testing.T) {
	downstream := status.Error(codes.NotFound, "no such row")
	st := ToStatus(fmt.Errorf("calling db at 10.0.0.5: %w", downstream), "")
	if st.Message() != "no such row" {
		t.Fatalf("wrapped status message = %q", st.Message())
	}
	st = ToStatus(status.Error(codes.Unavailable, "dial tcp 10.0.0.5:9000: connection refused"), "")
	if strings.Contains(st.Message(), "10.0.0.5") || st.Code() != codes.Unavailable {
		t.Fatalf("transport failure sent as %v %q", st.Code(), st.Message())
	}
}

// A failure a process passes on from its callee says so on the wire, and a
// failure it originates does not: callers' breakers and retries rely on it.
func TestPassedOnTravelsAsOrigin(t *testing.T) {
	own := Platform(codes.Unavailable).Errorf("video is down")
	got, ok := FromError(status.Convert(own).Err())
	if !ok || got.FromDependency() {
		t.Fatalf("an originated failure decoded as FromDependency=%v (ok %v)", got.FromDependency(), ok)
	}
	relayed, _ := FromError(status.Convert(own.PassedOn()).Err())
	if !relayed.FromDependency() || relayed.Spec().Code != codes.Unavailable || relayed.Message() != "video is down" {
		t.Fatalf("a passed-on failure decoded as %v (FromDependency %v)", relayed, relayed.FromDependency())
	}
	if own.FromDependency() || own.PassedOn() == own {
		t.Fatal("PassedOn changed the original or returned it")
	}
}
