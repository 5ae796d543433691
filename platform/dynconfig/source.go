package dynconfig

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"maps"
	"slices"
)

// Source produces the documents and follows their changes. It is an
// interface so that the Watcher, and every consumer subscribed to it, works
// the same whether the documents live in files, in etcd or in memory.
type Source interface {
	// Watch starts following the documents. The channel receives a Snapshot
	// as soon as the documents are known and another after every change;
	// it holds at most one Snapshot, replaced by a newer one when the
	// reader is slow (only the newest state matters). It is closed once
	// ctx ends. Watch fails only when the source cannot work at all (a
	// missing etcd client); passing failures (an unreachable etcd, an
	// unreadable file) are logged and retried, and never delete documents.
	Watch(ctx context.Context) (<-chan Snapshot, error)
}

// Snapshot is the state of every document at one moment.
type Snapshot struct {
	// Documents maps a document's name to its bytes. Receivers must not
	// modify it: sources may share it between snapshots.
	Documents map[string][]byte
	// Revision identifies the state, for logs: etcd's revision ("etcd:42")
	// or a digest of the directory's documents ("file:3f9a...").
	Revision string
}

// equalDocs reports whether two sets of documents are byte for byte equal.
func equalDocs(a, b map[string][]byte) bool {
	return maps.EqualFunc(a, b, bytes.Equal)
}

// digest is a short content hash of a set of documents, so that the same
// documents always carry the same revision.
func digest(docs map[string][]byte) string {
	h := sha256.New()
	for _, name := range slices.Sorted(maps.Keys(docs)) {
		h.Write([]byte(name))
		h.Write([]byte{0})
		sum := sha256.Sum256(docs[name])
		h.Write(sum[:])
	}
	return hex.EncodeToString(h.Sum(nil)[:8])
}

// offer puts s in ch (capacity 1), replacing a snapshot the reader has not
// taken yet. Only one goroutine may send on ch.
func offer(ch chan Snapshot, s Snapshot) {
	for {
		select {
		case ch <- s:
			return
		default:
		}
		select {
		case <-ch: // stale: drop it for s
		default:
		}
	}
}
