package discovery

import (
	"context"
	"fmt"
	"sync"
)

// Memory is a registry inside one process: the all-in-one default, where
// every service runs in the same process and there is nothing to run
// besides it, and the registry of tests. It is safe for concurrent use.
//
// An instance registered in a Memory lives until it is deregistered or the
// Memory is closed; there is no lease, because a process that dies takes
// the registry with it.
type Memory struct {
	mu       sync.Mutex
	closed   bool
	done     chan struct{}                  // closed by Close, ending the watch goroutines
	services map[string]map[string]Instance // service → id → instance
	watchers map[string]map[*latest]struct{}
}

// NewMemory returns an empty in-process registry.
func NewMemory() *Memory {
	return &Memory{
		done:     make(chan struct{}),
		services: map[string]map[string]Instance{},
		watchers: map[string]map[*latest]struct{}{},
	}
}

var _ Registry = (*Memory)(nil)

// Register publishes inst to the Memory's watchers. An instance with the
// same service and ID as a live registration is refused: IDs are unique
// among a service's live instances.
func (m *Memory) Register(ctx context.Context, inst Instance) (Registration, error) {
	if err := inst.Validate(); err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("discovery: registering %s/%s: %w", inst.Service, inst.ID, err)
	}
	inst = inst.Clone()
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed {
		return nil, ErrClosed
	}
	ids := m.services[inst.Service]
	if ids == nil {
		ids = map[string]Instance{}
		m.services[inst.Service] = ids
	}
	if _, dup := ids[inst.ID]; dup {
		return nil, fmt.Errorf("discovery: instance %s/%s is already registered", inst.Service, inst.ID)
	}
	ids[inst.ID] = inst
	r := &memoryRegistration{m: m, service: inst.Service, id: inst.ID}
	m.notifyLocked(inst.Service)
	return r, nil
}

// Watch sends the service's instances now and after every change.
func (m *Memory) Watch(ctx context.Context, service string) (<-chan []Instance, error) {
	if err := checkService(service); err != nil {
		return nil, fmt.Errorf("discovery: watch: %w", err)
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed {
		return nil, ErrClosed
	}
	l := newLatest()
	l.publish(sortedList(m.services[service]))
	ws := m.watchers[service]
	if ws == nil {
		ws = map[*latest]struct{}{}
		m.watchers[service] = ws
	}
	ws[l] = struct{}{}
	go func() {
		select {
		case <-ctx.Done():
		case <-m.done:
		}
		m.mu.Lock()
		defer m.mu.Unlock()
		delete(m.watchers[service], l)
		if len(m.watchers[service]) == 0 {
			delete(m.watchers, service)
		}
		l.close()
	}()
	return l.ch, nil
}

// Close removes every instance and closes every watch's channel.
func (m *Memory) Close() error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed {
		return nil
	}
	m.closed = true
	close(m.done)
	m.services = map[string]map[string]Instance{}
	for _, ws := range m.watchers {
		for l := range ws {
			l.close()
		}
	}
	m.watchers = map[string]map[*latest]struct{}{}
	return nil
}

// notifyLocked sends service's current list to its watchers; m.mu is held.
func (m *Memory) notifyLocked(service string) {
	list := sortedList(m.services[service])
	for l := range m.watchers[service] {
		l.publish(list)
	}
}

// memoryRegistration is a Registration in a Memory.
type memoryRegistration struct {
	m           *Memory
	service, id string
	once        sync.Once
}

func (r *memoryRegistration) Deregister(context.Context) error {
	r.once.Do(func() {
		r.m.mu.Lock()
		defer r.m.mu.Unlock()
		if r.m.closed {
			return
		}
		ids := r.m.services[r.service]
		delete(ids, r.id)
		if len(ids) == 0 {
			delete(r.m.services, r.service)
		}
		r.m.notifyLocked(r.service)
	})
	return nil
}
