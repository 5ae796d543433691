package discovery

import "sync"

// latest is the channel a Watch returns, delivering only the newest list: a
// reader that falls behind finds the current state when it reads, never a
// backlog of states that are gone. The channel has room for one list; a new
// list replaces an unread one.
//
// Its methods may be called from several goroutines; the mutex makes each
// replace-and-send atomic, so a send never blocks.
type latest struct {
	mu     sync.Mutex
	ch     chan []Instance
	closed bool
	last   []Instance
	sent   bool
}

func newLatest() *latest { return &latest{ch: make(chan []Instance, 1)} }

// publish offers list (sorted) to the reader unless it equals the list last
// offered; it reports whether it did.
func (l *latest) publish(list []Instance) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed || (l.sent && equalLists(l.last, list)) {
		return false
	}
	l.last, l.sent = cloneList(list), true
	select {
	case <-l.ch: // drop the unread, older list
	default:
	}
	l.ch <- cloneList(list)
	return true
}

// close ends the channel; an unread list is still received first.
func (l *latest) close() {
	l.mu.Lock()
	defer l.mu.Unlock()
	if !l.closed {
		l.closed = true
		close(l.ch)
	}
}
