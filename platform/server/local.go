package server

import (
	"context"
	"fmt"
	"sync"
)

// LocalAddress is the dialable address of this process's gRPC server, known
// once the server listens. It stands apart from Server so that clients can
// depend on it: services need clients, and the Server needs the services,
// so a client depending on the Server would be a cycle.
type LocalAddress struct {
	once  sync.Once
	ready chan struct{}
	addr  string
}

// NewLocalAddress returns an address that Wait blocks on until Set.
func NewLocalAddress() *LocalAddress { return &LocalAddress{ready: make(chan struct{})} }

// Set records the address; only the first call counts.
func (a *LocalAddress) Set(addr string) {
	a.once.Do(func() {
		a.addr = addr
		close(a.ready)
	})
}

// Wait returns the address once it is set, or ctx's error.
func (a *LocalAddress) Wait(ctx context.Context) (string, error) {
	select {
	case <-a.ready:
		return a.addr, nil
	case <-ctx.Done():
		return "", fmt.Errorf("server: waiting for the local gRPC server: %w", ctx.Err())
	}
}
