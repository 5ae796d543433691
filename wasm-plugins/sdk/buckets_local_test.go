//go:build !(wasip1 && tremolo)

package sdk

import (
	"strings"
	"testing"
	"time"
)

func TestBuckets(t *testing.T) {
	now := time.Duration(0)
	old := bucketNow
	bucketNow = func() time.Duration { return now }
	defer func() { bucketNow = old }()

	b := NewBuckets(10)
	l, err := PerSecond(2, 3) // 2 a second, bursts of 3
	if err != nil {
		t.Fatal(err)
	}
	for i := range 3 {
		if left, _, ok := b.Take("k", l, 1); !ok || left != int64(2-i) {
			t.Fatalf("take %d: left %d ok %v", i, left, ok)
		}
	}
	if _, retry, ok := b.Take("k", l, 1); ok || retry != 500*time.Millisecond {
		t.Errorf("empty bucket: ok %v retry %v, want refused for 500ms", ok, retry)
	}
	now += 250 * time.Millisecond
	if _, retry, ok := b.Take("k", l, 1); ok || retry != 250*time.Millisecond {
		t.Errorf("half a token: ok %v retry %v, want refused for 250ms", ok, retry)
	}
	now += 250 * time.Millisecond
	if _, _, ok := b.Take("k", l, 1); !ok {
		t.Error("a refilled token was refused")
	}
	now += time.Hour
	if left, _, _ := b.Take("k", l, 1); left != 2 {
		t.Errorf("after an hour %d left, want burst-1 = 2", left)
	}
	// Eviction keeps the map bounded and drops full buckets first.
	for i := range 100 {
		b.Take(string(rune('a'+i%26))+strings.Repeat("x", i), l, 1)
	}
	if n := len(b.local.buckets); n > 10 {
		t.Errorf("%d buckets kept, max 10", n)
	}
}
