package discovery

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// testContract checks the Registry contract every implementation keeps;
// newReg returns a fresh, empty registry closed when its test ends.
func testContract(t *testing.T, newReg func(t *testing.T) Registry) {
	ctx := context.Background()

	t.Run("RegistrationVisibleToWatcherWithin1s", func(t *testing.T) {
		reg := newReg(t)
		ch, err := reg.Watch(ctx, "user")
		if err != nil {
			t.Fatal(err)
		}
		waitIDs(t, ch, 5*time.Second)
		start := time.Now()
		if _, err := reg.Register(ctx, inst("user", "u1", "127.0.0.1:9001")); err != nil {
			t.Fatal(err)
		}
		list := waitIDs(t, ch, time.Second, "u1")
		t.Logf("visible after %s", time.Since(start))
		if want := inst("user", "u1", "127.0.0.1:9001"); !equalLists(list, []Instance{want}) {
			t.Fatalf("watched %+v; want %+v", list, want)
		}
	})

	t.Run("WatchSendsCurrentListAtOnceSortedByID", func(t *testing.T) {
		reg := newReg(t)
		for _, id := range []string{"c", "a", "b"} {
			if _, err := reg.Register(ctx, inst("feed", id, "127.0.0.1:9002")); err != nil {
				t.Fatal(err)
			}
		}
		ch, err := reg.Watch(ctx, "feed")
		if err != nil {
			t.Fatal(err)
		}
		if got := ids(recv(t, ch, 5*time.Second)); !slices.Equal(got, []string{"a", "b", "c"}) {
			t.Fatalf("first list %v; want [a b c]", got)
		}
	})

	t.Run("DeregisterRemovesAndIsIdempotent", func(t *testing.T) {
		reg := newReg(t)
		ch, err := reg.Watch(ctx, "user")
		if err != nil {
			t.Fatal(err)
		}
		r1, err := reg.Register(ctx, inst("user", "u1", "127.0.0.1:9001"))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := reg.Register(ctx, inst("user", "u2", "127.0.0.1:9002")); err != nil {
			t.Fatal(err)
		}
		waitIDs(t, ch, 5*time.Second, "u1", "u2")
		if err := r1.Deregister(ctx); err != nil {
			t.Fatal(err)
		}
		waitIDs(t, ch, time.Second, "u2")
		if err := r1.Deregister(ctx); err != nil {
			t.Fatalf("second Deregister: %v", err)
		}
	})

	t.Run("ReRegisterAfterDeregister", func(t *testing.T) {
		reg := newReg(t)
		r, err := reg.Register(ctx, inst("user", "u1", "127.0.0.1:9001"))
		if err != nil {
			t.Fatal(err)
		}
		if err := r.Deregister(ctx); err != nil {
			t.Fatal(err)
		}
		if _, err := reg.Register(ctx, inst("user", "u1", "127.0.0.1:9009")); err != nil {
			t.Fatal(err)
		}
		ch, err := reg.Watch(ctx, "user")
		if err != nil {
			t.Fatal(err)
		}
		if list := waitIDs(t, ch, 5*time.Second, "u1"); list[0].Addr != "127.0.0.1:9009" {
			t.Fatalf("address %s; want the new registration's", list[0].Addr)
		}
	})

	t.Run("InvalidInstanceRefused", func(t *testing.T) {
		reg := newReg(t)
		for _, bad := range []Instance{
			{},
			{Service: "user", ID: "u1"},
			{Service: "user", ID: "u1", Addr: "nohost"},
			{Service: "us/er", ID: "u1", Addr: "127.0.0.1:1"},
			{Service: "user", ID: "u 1", Addr: "127.0.0.1:1"},
			{Service: "user", ID: "u1", Addr: "127.0.0.1:1", Version: "latest"},
			{Service: "user", ID: "u1", Addr: "127.0.0.1:99999"},
			{Service: "user", ID: "u1", Addr: "127.0.0.1:1", Weight: -1},
		} {
			if _, err := reg.Register(ctx, bad); err == nil || !strings.HasPrefix(err.Error(), "discovery: ") {
				t.Errorf("Register(%+v) = %v; want a discovery error", bad, err)
			}
		}
		if _, err := reg.Watch(ctx, "a/b"); err == nil {
			t.Error("Watch(a/b) succeeded")
		}
		if _, err := reg.Watch(ctx, ""); err == nil {
			t.Error(`Watch("") succeeded`)
		}
	})

	t.Run("DuplicateRefused", func(t *testing.T) {
		reg := newReg(t)
		if _, err := reg.Register(ctx, inst("user", "u1", "127.0.0.1:9001")); err != nil {
			t.Fatal(err)
		}
		if _, err := reg.Register(ctx, inst("user", "u1", "127.0.0.1:9002")); err == nil {
			t.Fatal("a second registration of user/u1 succeeded")
		}
	})

	t.Run("ServicesAreSeparate", func(t *testing.T) {
		reg := newReg(t)
		ch, err := reg.Watch(ctx, "user")
		if err != nil {
			t.Fatal(err)
		}
		waitIDs(t, ch, 5*time.Second)
		// "user2" shares a key prefix with "user" but is another service.
		if _, err := reg.Register(ctx, inst("user2", "x", "127.0.0.1:9003")); err != nil {
			t.Fatal(err)
		}
		if _, err := reg.Register(ctx, inst("user", "u1", "127.0.0.1:9001")); err != nil {
			t.Fatal(err)
		}
		if got := ids(recv(t, ch, time.Second)); !slices.Equal(got, []string{"u1"}) {
			t.Fatalf("user's list %v; want [u1]", got)
		}
	})

	t.Run("SlowReaderGetsNewestList", func(t *testing.T) {
		reg := newReg(t)
		ch, err := reg.Watch(ctx, "feed")
		if err != nil {
			t.Fatal(err)
		}
		waitIDs(t, ch, 5*time.Second)
		var regs []Registration
		for i := range 10 {
			r, err := reg.Register(ctx, inst("feed", fmt.Sprintf("f%02d", i), "127.0.0.1:9004"))
			if err != nil {
				t.Fatal(err)
			}
			regs = append(regs, r)
		}
		for _, r := range regs[:3] {
			if err := r.Deregister(ctx); err != nil {
				t.Fatal(err)
			}
		}
		time.Sleep(time.Second) // every change is visible within 1s
		want := []string{"f03", "f04", "f05", "f06", "f07", "f08", "f09"}
		if got := ids(recv(t, ch, time.Second)); !slices.Equal(got, want) {
			t.Fatalf("the reader who fell behind got %v; want the newest list %v", got, want)
		}
		select {
		case list := <-ch:
			t.Fatalf("a stale list %v followed the newest", ids(list))
		case <-time.After(200 * time.Millisecond):
		}
	})

	t.Run("ReceiverOwnsItsList", func(t *testing.T) {
		reg := newReg(t)
		if _, err := reg.Register(ctx, inst("user", "u1", "127.0.0.1:9001")); err != nil {
			t.Fatal(err)
		}
		ch1, _ := reg.Watch(ctx, "user")
		l1 := waitIDs(t, ch1, 5*time.Second, "u1")
		l1[0].Labels["track"] = "mutated"
		l1[0].Addr = "mutated"
		ch2, _ := reg.Watch(ctx, "user")
		l2 := waitIDs(t, ch2, 5*time.Second, "u1")
		if l2[0].Labels["track"] != "stable" || l2[0].Addr != "127.0.0.1:9001" {
			t.Fatalf("a receiver's change leaked into another's list: %+v", l2[0])
		}
	})

	t.Run("WatchClosedWhenContextEnds", func(t *testing.T) {
		reg := newReg(t)
		wctx, cancel := context.WithCancel(ctx)
		ch, err := reg.Watch(wctx, "user")
		if err != nil {
			t.Fatal(err)
		}
		recv(t, ch, 5*time.Second)
		cancel()
		deadline := time.After(5 * time.Second)
		for {
			select {
			case _, ok := <-ch:
				if !ok {
					return
				}
			case <-deadline:
				t.Fatal("the watch channel stayed open after its context ended")
			}
		}
	})

	t.Run("CloseEndsWatchesAndRegistrations", func(t *testing.T) {
		reg := newReg(t)
		if _, err := reg.Register(ctx, inst("user", "u1", "127.0.0.1:9001")); err != nil {
			t.Fatal(err)
		}
		ch, err := reg.Watch(ctx, "user")
		if err != nil {
			t.Fatal(err)
		}
		waitIDs(t, ch, 5*time.Second, "u1")
		if err := reg.Close(); err != nil {
			t.Fatal(err)
		}
		deadline := time.After(5 * time.Second)
	drain:
		for {
			select {
			case _, ok := <-ch:
				if !ok {
					break drain
				}
			case <-deadline:
				t.Fatal("the watch channel stayed open after Close")
			}
		}
		if _, err := reg.Register(ctx, inst("user", "u2", "127.0.0.1:9002")); !errors.Is(err, ErrClosed) {
			t.Fatalf("Register after Close = %v; want ErrClosed", err)
		}
		if _, err := reg.Watch(ctx, "user"); !errors.Is(err, ErrClosed) {
			t.Fatalf("Watch after Close = %v; want ErrClosed", err)
		}
		if err := reg.Close(); err != nil {
			t.Fatalf("second Close: %v", err)
		}
	})

	t.Run("ConcurrentUse", func(t *testing.T) {
		reg := newReg(t)
		ch, err := reg.Watch(ctx, "user")
		if err != nil {
			t.Fatal(err)
		}
		var failed atomic.Bool
		done := make(chan struct{})
		for w := range 4 {
			go func() {
				defer func() { done <- struct{}{} }()
				for i := range 5 {
					r, err := reg.Register(ctx, inst("user", fmt.Sprintf("w%d-%d", w, i), "127.0.0.1:9001"))
					if err != nil {
						failed.Store(true)
						return
					}
					if i%2 == 0 {
						_ = r.Deregister(ctx)
					}
				}
			}()
		}
		for range 4 {
			<-done
		}
		if failed.Load() {
			t.Fatal("a concurrent Register failed")
		}
		waitIDs(t, ch, 5*time.Second, "w0-1", "w0-3", "w1-1", "w1-3", "w2-1", "w2-3", "w3-1", "w3-3")
	})

	t.Run("Announce", func(t *testing.T) {
		reg := newReg(t)
		ch, _ := reg.Watch(ctx, "user")
		withdraw, err := Announce(ctx, reg, inst("user", "a", "127.0.0.1:9001"), inst("user", "b", "127.0.0.1:9001"))
		if err != nil {
			t.Fatal(err)
		}
		waitIDs(t, ch, 5*time.Second, "a", "b")
		if err := withdraw(ctx); err != nil {
			t.Fatal(err)
		}
		waitIDs(t, ch, time.Second)
		if err := withdraw(ctx); err != nil {
			t.Fatalf("second withdraw: %v", err)
		}
		// A failing instance withdraws the ones before it.
		_, err = Announce(ctx, reg, inst("user", "c", "127.0.0.1:9001"), Instance{Service: "user"})
		if err == nil || !strings.Contains(err.Error(), "announcing user/") {
			t.Fatalf("Announce with an invalid instance = %v; want an error naming it", err)
		}
		if _, err := reg.Register(ctx, inst("user", "c", "127.0.0.1:9001")); err != nil {
			t.Fatalf("user/c was not withdrawn after the failed Announce: %v", err)
		}
	})
}
