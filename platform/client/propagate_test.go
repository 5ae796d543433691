package client

import (
	"context"
	"slices"
	"testing"

	"google.golang.org/grpc/metadata"

	"github.com/tremolo-dev/tremolo/platform/auth"
	"github.com/tremolo-dev/tremolo/platform/requestid"
)

func TestPropagateSendsRequestIDAndUserOnce(t *testing.T) {
	if ctx := context.Background(); propagate(ctx) != ctx {
		t.Fatal("a context with nothing to send was changed")
	}
	ctx := auth.WithUser(requestid.NewContext(context.Background(), "r-1"), 42)
	md, _ := metadata.FromOutgoingContext(propagate(ctx))
	if !slices.Equal(md.Get(requestid.Key), []string{"r-1"}) || !slices.Equal(md.Get(auth.MetadataKey), []string{"42"}) {
		t.Fatalf("outgoing metadata %v; want the request id and the user", md)
	}
	// Already there (a gateway set them): not sent twice, not replaced.
	pre := metadata.AppendToOutgoingContext(ctx, requestid.Key, "r-0", auth.MetadataKey, "7")
	md, _ = metadata.FromOutgoingContext(propagate(pre))
	if !slices.Equal(md.Get(requestid.Key), []string{"r-0"}) || !slices.Equal(md.Get(auth.MetadataKey), []string{"7"}) {
		t.Fatalf("outgoing metadata %v; want what was there, once", md)
	}
	// Only the user.
	md, _ = metadata.FromOutgoingContext(propagate(auth.WithUser(context.Background(), 5)))
	if len(md.Get(requestid.Key)) != 0 || !slices.Equal(md.Get(auth.MetadataKey), []string{"5"}) {
		t.Fatalf("outgoing metadata %v; want the user alone", md)
	}
}
