package ctxkey_test

import (
	"context"
	"testing"

	"github.com/tremolo-dev/tremolo/platform/internal/ctxkey"
)

type keyA struct{}
type keyB struct{}

func TestFirstAsked(t *testing.T) {
	parent := context.WithValue(context.Background(), keyA{}, "a")
	var got any
	k := ctxkey.FirstAsked(parent, func(ctx context.Context) {
		got = ctx.Value(keyA{}) // the probe answers as its parent does
		ctx.Value(keyB{})
	})
	if k != (keyA{}) || got != "a" {
		t.Errorf("FirstAsked = %v (value %v), want keyA{} (value a)", k, got)
	}
	if k := ctxkey.FirstAsked(parent, func(context.Context) {}); k != nil {
		t.Errorf("FirstAsked of a function that asks nothing = %v, want nil", k)
	}
}
