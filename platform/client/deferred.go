package client

import (
	"context"
	"sync"
	"sync/atomic"

	"google.golang.org/grpc"
	"google.golang.org/grpc/status"
)

// deferredConn is a connection whose way to the service is chosen on the
// first call: in-process when this process turns out to serve the service,
// through discovery otherwise. Conn cannot choose at once, because callers'
// constructors run before the server that knows its services is built. A
// failed choice (the first call's context ended while the server was being
// built) is made again on the next call.
type deferredConn struct {
	pick func(ctx context.Context) (grpc.ClientConnInterface, error)

	mu sync.Mutex // serialises picking
	cc atomic.Pointer[picked]
}

type picked struct{ cc grpc.ClientConnInterface }

var _ grpc.ClientConnInterface = (*deferredConn)(nil)

func (d *deferredConn) get(ctx context.Context) (grpc.ClientConnInterface, error) {
	if p := d.cc.Load(); p != nil {
		return p.cc, nil
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if p := d.cc.Load(); p != nil {
		return p.cc, nil
	}
	cc, err := d.pick(ctx)
	if err != nil {
		if ctx.Err() != nil {
			return nil, status.FromContextError(ctx.Err()).Err()
		}
		return nil, err
	}
	d.cc.Store(&picked{cc})
	return cc, nil
}

// Invoke implements grpc.ClientConnInterface.
func (d *deferredConn) Invoke(ctx context.Context, method string, args, reply any, opts ...grpc.CallOption) error {
	cc, err := d.get(ctx)
	if err != nil {
		return err
	}
	return cc.Invoke(ctx, method, args, reply, opts...)
}

// NewStream implements grpc.ClientConnInterface.
func (d *deferredConn) NewStream(ctx context.Context, desc *grpc.StreamDesc, method string, opts ...grpc.CallOption) (grpc.ClientStream, error) {
	cc, err := d.get(ctx)
	if err != nil {
		return nil, err
	}
	return cc.NewStream(ctx, desc, method, opts...)
}
