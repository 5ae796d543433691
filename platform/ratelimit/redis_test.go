package ratelimit

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tremolo-dev/tremolo/platform/ratelimit/redistest"
)

func TestRedisBurstThenRefill(t *testing.T) {
	srv := redistest.Start(t)
	s := NewRedis(srv.Client(t), RedisOptions{})
	for i := 2; i >= 0; i-- {
		if res := mustTake(t, s, "u1", 2, 3, 1); !res.Allowed || res.Remaining != i {
			t.Fatalf("take %d: %+v, want allowed with %d left", 3-i, res, i)
		}
	}
	res := mustTake(t, s, "u1", 2, 3, 1)
	if res.Allowed || res.RetryAfter <= 0 || res.RetryAfter > 500*time.Millisecond {
		t.Fatalf("4th take: %+v, want refused, retry within 500ms", res)
	}
	time.Sleep(res.RetryAfter)
	if res := mustTake(t, s, "u1", 2, 3, 1); !res.Allowed {
		t.Fatalf("after RetryAfter: %+v, want allowed", res)
	}
	if _, err := s.Take(context.Background(), "u1", 2, 3, 4); !errors.Is(err, ErrInvalid) {
		t.Fatalf("cost above burst: %v, want ErrInvalid", err)
	}
}

func TestRedisKeysExpire(t *testing.T) {
	srv := redistest.Start(t)
	c := srv.Client(t)
	s := NewRedis(c, RedisOptions{Prefix: "test:"})
	mustTake(t, s, "k", 1000, 10, 1)
	ttl, err := c.PTTL(context.Background(), "test:k").Result()
	if err != nil {
		t.Fatal(err)
	}
	// 1 token at 1000/s refills in 1ms; the key lives that plus 1s.
	if ttl <= 0 || ttl > 1100*time.Millisecond {
		t.Fatalf("PTTL = %v, want about 1s", ttl)
	}
}

// TestRedisSharedLimit is two edges (two clients, two stores) on one Redis:
// together they get the burst, not twice it.
func TestRedisSharedLimit(t *testing.T) {
	srv := redistest.Start(t)
	stores := []Store{NewRedis(srv.Client(t), RedisOptions{}), NewRedis(srv.Client(t), RedisOptions{})}
	var allowed atomic.Int64
	var wg sync.WaitGroup
	for i := range 8 {
		s := stores[i%2]
		wg.Go(func() {
			for range 25 {
				res, err := s.Take(context.Background(), "global", 0.001, 50, 1)
				if err != nil {
					t.Error(err)
					return
				}
				if res.Allowed {
					allowed.Add(1)
				}
			}
		})
	}
	wg.Wait()
	if got := allowed.Load(); got != 50 {
		t.Fatalf("two stores allowed %d takes together, want the one burst (50)", got)
	}
}

// TestRedisGone stops the server: Take returns an error (the outcome is
// unknown) promptly, and never reports a refusal it did not see.
func TestRedisGone(t *testing.T) {
	srv := redistest.Start(t)
	s := NewRedis(srv.Client(t), RedisOptions{})
	mustTake(t, s, "k", 1, 1, 1)
	srv.Stop()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	start := time.Now()
	res, err := s.Take(ctx, "k", 1, 1, 1)
	if err == nil {
		t.Fatalf("Take with Redis gone = %+v, nil; want an error", res)
	}
	if res.Allowed || res.RetryAfter != 0 {
		t.Fatalf("Take with Redis gone returned an outcome with its error: %+v", res)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Fatalf("Take took %v to fail", d)
	}
	t.Logf("error with Redis gone: %v", err)
}

func BenchmarkRedisTake(b *testing.B) {
	srv := redistest.Start(b)
	s := NewRedis(srv.Client(b), RedisOptions{})
	keys := make([]string, 1024)
	for i := range keys {
		keys[i] = fmt.Sprint("user-", i)
	}
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		i := 0
		for pb.Next() {
			if _, err := s.Take(context.Background(), keys[i%len(keys)], 1e6, 100, 1); err != nil {
				b.Fatal(err)
			}
			i++
		}
	})
}
