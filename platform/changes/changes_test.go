package changes_test

import (
	"sync"
	"testing"

	"github.com/tremolo-dev/tremolo/platform/changes"
)

func TestVersionCountsWrites(t *testing.T) {
	c := changes.New()
	if v := c.Version(); v != 0 {
		t.Fatalf("new counter at version %d", v)
	}
	var wg sync.WaitGroup
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 1000 {
				c.Changed()
			}
		}()
	}
	wg.Wait()
	if v := c.Version(); v != 8000 {
		t.Fatalf("version %d after 8000 writes", v)
	}
}

func TestNilCounter(t *testing.T) {
	var c *changes.Counter
	c.Changed() // must not panic
	if v := c.Version(); v != 0 {
		t.Fatalf("nil counter at version %d", v)
	}
}
