package routing_test

import (
	"context"
	"net/http"
	"strings"
	"testing"

	"google.golang.org/grpc"
	"google.golang.org/grpc/metadata"

	"github.com/tremolo-dev/tremolo/platform/routing"
)

// hop runs the server interceptor on incoming metadata md, then from the
// handler makes a call through the client interceptor and returns the
// metadata that call sends.
func hop(t *testing.T, md metadata.MD) metadata.MD {
	t.Helper()
	in := metadata.NewIncomingContext(context.Background(), md)
	var sent metadata.MD
	handler := func(ctx context.Context, _ any) (any, error) {
		invoker := func(ctx context.Context, _ string, _, _ any, _ *grpc.ClientConn, _ ...grpc.CallOption) error {
			sent, _ = metadata.FromOutgoingContext(ctx)
			return nil
		}
		return nil, routing.UnaryClientInterceptor()(ctx, "/s/M", nil, nil, nil, invoker)
	}
	if _, err := routing.UnaryServerInterceptor()(in, nil, &grpc.UnaryServerInfo{}, handler); err != nil {
		t.Fatal(err)
	}
	return sent
}

func TestForwardedThroughAHop(t *testing.T) {
	sent := hop(t, metadata.Pairs(
		routing.VersionKey, "v2", routing.ExperimentKey, "ranker=b",
		routing.TrafficTagKey, "shadow", routing.CellKey, "3",
		"x-unrelated", "kept-out"))
	for k, want := range map[string]string{routing.VersionKey: "v2", routing.ExperimentKey: "ranker=b", routing.TrafficTagKey: "shadow", routing.CellKey: "3"} {
		if got := sent.Get(k); len(got) != 1 || got[0] != want {
			t.Errorf("forwarded %s = %q, want [%q]", k, got, want)
		}
	}
	if got := sent.Get("x-unrelated"); len(got) != 0 {
		t.Errorf("forwarded x-unrelated = %q; only routing keys travel", got)
	}
}

func TestNothingToForward(t *testing.T) {
	if sent := hop(t, metadata.MD{}); len(sent) != 0 {
		t.Errorf("sent %v for a request without routing metadata", sent)
	}
}

func TestInvalidValuesDropped(t *testing.T) {
	sent := hop(t, metadata.Pairs(routing.VersionKey, "v2 canary", routing.CellKey, strings.Repeat("9", 300)))
	if len(sent) != 0 {
		t.Errorf("sent %v; values with spaces or over 256 bytes must be dropped", sent)
	}
}

func TestExplicitOutgoingWins(t *testing.T) {
	ctx := routing.NewContext(context.Background(), routing.Route{Version: "v1", Cell: "2"})
	ctx = metadata.AppendToOutgoingContext(ctx, routing.VersionKey, "v9")
	var sent metadata.MD
	invoker := func(ctx context.Context, _ string, _, _ any, _ *grpc.ClientConn, _ ...grpc.CallOption) error {
		sent, _ = metadata.FromOutgoingContext(ctx)
		return nil
	}
	if err := routing.UnaryClientInterceptor()(ctx, "/s/M", nil, nil, nil, invoker); err != nil {
		t.Fatal(err)
	}
	if got := sent.Get(routing.VersionKey); len(got) != 1 || got[0] != "v9" {
		t.Errorf("version sent = %q, want the caller's own [v9]", got)
	}
	if got := routing.FromOutgoing(metadata.NewOutgoingContext(context.Background(), sent)); got != (routing.Route{Version: "v9", Cell: "2"}) {
		t.Errorf("FromOutgoing = %+v", got)
	}
}

func TestFromHeader(t *testing.T) {
	h := http.Header{}
	h.Set(routing.VersionHeader, "v2")
	h.Set(routing.CellHeader, "7")
	h.Set(routing.TrafficTagHeader, "bad\x00tag")
	if got := routing.FromHeader(h); got != (routing.Route{Version: "v2", Cell: "7"}) {
		t.Errorf("FromHeader = %+v; want version and cell, the invalid tag dropped", got)
	}
}

func FuzzFromHeader(f *testing.F) {
	f.Add("v1", "a=b", "shadow", "0")
	f.Fuzz(func(t *testing.T, v, e, tag, cell string) {
		h := http.Header{}
		h[routing.VersionHeader] = []string{v}
		h[routing.ExperimentHeader] = []string{e}
		h[routing.TrafficTagHeader] = []string{tag}
		h[routing.CellHeader] = []string{cell}
		r := routing.FromHeader(h)
		for _, s := range []string{r.Version, r.Experiment, r.TrafficTag, r.Cell} {
			if len(s) > 256 || strings.ContainsAny(s, " \t\r\n\x00") {
				t.Fatalf("FromHeader kept %q", s)
			}
		}
		// What the edge forwards must be valid metadata.
		_ = metadata.Pairs(routing.VersionKey, r.Version)
	})
}
