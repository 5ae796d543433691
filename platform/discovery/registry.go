package discovery

import (
	"context"
	"errors"
)

// Registry is where a process publishes the instances it runs and learns
// which instances of other services are alive. Memory and Etcd implement it;
// the resolver (NewResolverBuilder) and the server only see this interface,
// so a test or the all-in-one process runs the same code as a fleet.
type Registry interface {
	// Register publishes inst (validated) until the Registration is
	// deregistered; re-publishes after the backend recovers.
	Register(ctx context.Context, inst Instance) (Registration, error)
	// Watch sends the service's complete current instance list at once and
	// after every change until ctx ends; the channel is closed then.
	//
	// Lists are sorted by ID and owned by the receiver. The channel holds
	// only the newest list: a slow reader gets the current state, never a
	// backlog of stale ones.
	Watch(ctx context.Context, service string) (<-chan []Instance, error)
	// Close ends every watch (closing their channels) and withdraws every
	// registration made through the registry. Register and Watch fail
	// afterwards.
	Close() error
}

// Registration is one published instance. It is a handle rather than a
// Deregister(service, id) method on Registry so that only the code that
// registered an instance can withdraw it.
type Registration interface {
	// Deregister withdraws the instance so that clients stop sending it
	// calls; a graceful stop does it before the server stops serving.
	// Calling it again does nothing.
	Deregister(ctx context.Context) error
}

// ErrClosed is returned by Register and Watch of a closed registry.
var ErrClosed = errors.New("discovery: the registry is closed")
