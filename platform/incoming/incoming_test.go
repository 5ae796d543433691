package incoming

import (
	"context"
	"net"
	"testing"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"
	"google.golang.org/protobuf/types/known/emptypb"
)

func TestMDIsTheServersOwn(t *testing.T) {
	if key == nil {
		t.Fatal("the metadata package's incoming key was not learned: MD copies")
	}
	md := metadata.Pairs("x-request-id", "r1", "x-cell-id", "3")
	ctx := metadata.NewIncomingContext(context.Background(), md)
	got := MD(context.WithValue(ctx, struct{}{}, 1)) // under other values, as in a handler
	if len(got) != 2 || &got["x-cell-id"][0] != &md["x-cell-id"][0] {
		t.Fatalf("MD = %v, want the context's metadata itself", got)
	}
	if First(ctx, "x-request-id") != "r1" || First(ctx, "x-absent") != "" {
		t.Errorf("First: %q, %q", First(ctx, "x-request-id"), First(ctx, "x-absent"))
	}
	if MD(context.Background()) != nil || First(context.Background(), "x-request-id") != "" {
		t.Error("metadata outside a call")
	}
}

// Keys arrive in lower case over the network whatever case the caller
// wrote them in, which is what lets MD's readers index it.
func TestNetworkKeysAreLowerCase(t *testing.T) {
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	seen := make(chan string, 1)
	srv := grpc.NewServer(grpc.UnknownServiceHandler(func(_ any, ss grpc.ServerStream) error {
		seen <- First(ss.Context(), "x-mixed-case")
		return ss.SendMsg(&emptypb.Empty{})
	}))
	go func() { _ = srv.Serve(lis) }()
	defer srv.Stop()
	cc, err := grpc.NewClient(lis.Addr().String(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer cc.Close()
	ctx := metadata.AppendToOutgoingContext(context.Background(), "X-Mixed-Case", "v")
	if err := cc.Invoke(ctx, "/test.Any/Call", &emptypb.Empty{}, &emptypb.Empty{}); err != nil {
		t.Fatal(err)
	}
	if got := <-seen; got != "v" {
		t.Errorf("handler read x-mixed-case = %q, want v", got)
	}
	// A map written by hand keeps its spelling, and the client refuses to
	// send it rather than send it as written.
	ctx = metadata.NewOutgoingContext(context.Background(), metadata.MD{"X-Mixed-Case": {"v"}})
	if err := cc.Invoke(ctx, "/test.Any/Call", &emptypb.Empty{}, &emptypb.Empty{}); err == nil {
		t.Error("a call with an upper-case metadata key went through")
	}
}
