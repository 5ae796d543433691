package dynconfig

import (
	"context"
	"maps"
	"slices"
	"strconv"
	"sync"
)

// MemorySource holds documents in memory. It is the source of tests — of
// this package's Watcher and of every consumer that wants to check how it
// takes a change without writing files or running etcd — and of programs
// that compute their configuration themselves.
type MemorySource struct {
	mu       sync.Mutex
	docs     map[string][]byte
	rev      int
	watchers []chan Snapshot
}

// NewMemorySource returns a source holding a copy of docs (nil: none).
func NewMemorySource(docs map[string][]byte) *MemorySource {
	m := &MemorySource{docs: map[string][]byte{}}
	for name, data := range docs {
		m.docs[name] = slices.Clone(data)
	}
	return m
}

// Set stores a document (a copy of data), notifying watchers.
func (m *MemorySource) Set(name string, data []byte) {
	m.change(func(docs map[string][]byte) { docs[name] = slices.Clone(data) })
}

// Delete removes a document, notifying watchers.
func (m *MemorySource) Delete(name string) {
	m.change(func(docs map[string][]byte) { delete(docs, name) })
}

// change applies edit to a copy of the documents (snapshots already sent
// stay as they were) and offers the result to every watcher.
func (m *MemorySource) change(edit func(map[string][]byte)) {
	m.mu.Lock()
	defer m.mu.Unlock()
	docs := maps.Clone(m.docs)
	edit(docs)
	m.docs = docs
	m.rev++
	for _, ch := range m.watchers {
		offer(ch, m.snapshot())
	}
}

func (m *MemorySource) snapshot() Snapshot {
	return Snapshot{Documents: m.docs, Revision: "memory:" + strconv.Itoa(m.rev)}
}

// Watch implements Source. The first Snapshot is ready when Watch returns.
func (m *MemorySource) Watch(ctx context.Context) (<-chan Snapshot, error) {
	ch := make(chan Snapshot, 1)
	m.mu.Lock()
	m.watchers = append(m.watchers, ch)
	offer(ch, m.snapshot())
	m.mu.Unlock()
	go func() {
		<-ctx.Done()
		m.mu.Lock()
		defer m.mu.Unlock()
		m.watchers = slices.DeleteFunc(m.watchers, func(c chan Snapshot) bool { return c == ch })
		close(ch)
	}()
	return ch, nil
}
