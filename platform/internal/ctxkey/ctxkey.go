// Package ctxkey learns the unexported context keys of other packages, by
// watching which key a function asks a context for. platform/incoming and
// platform/server use it to read grpc-go's incoming metadata in place and
// to find the context package's cancelable parent: both check what they
// learn, and fall back to the public APIs when the probe finds nothing
// usable.
package ctxkey

import "context"

// FirstAsked calls ask with a context that delegates to parent and
// returns the first key ask looked up in it, or nil if it looked up none.
func FirstAsked(parent context.Context, ask func(ctx context.Context)) any {
	p := &probe{Context: parent}
	ask(p)
	return p.first
}

// probe records the first key it is asked for.
type probe struct {
	context.Context
	first any
}

func (p *probe) Value(key any) any {
	if p.first == nil {
		p.first = key
	}
	return p.Context.Value(key)
}
