package feed

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"

	appv1 "github.com/tremolo-dev/tremolo/gen/douyin/app/v1"
	"github.com/tremolo-dev/tremolo/platform/changes"
)

// clock is a settable time source.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time      { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) add(d time.Duration) { c.mu.Lock(); c.t = c.t.Add(d); c.mu.Unlock() }

func TestPageCacheServesUntilTTLOrAWrite(t *testing.T) {
	clk := &clock{t: time.UnixMilli(1_700_000_000_000)}
	ch := changes.New()
	c := &pageCache{ttl: time.Second, changes: ch, now: clk.now}
	var builds atomic.Int32
	build := func(_ context.Context, at time.Time) (*page, error) {
		builds.Add(1)
		return &page{readAtMS: at.UnixMilli()}, nil
	}
	ctx := context.Background()
	if c.newest(0) != nil {
		t.Fatal("an empty cache answered")
	}
	p, err := c.load(ctx, build)
	if err != nil || p == nil {
		t.Fatalf("load = %v, %v", p, err)
	}
	read := p.readAtMS
	for _, tc := range []struct {
		before int64
		want   bool
	}{{0, true}, {read, true}, {read + 5000, true}, {read - 1, false}} {
		if got := c.newest(tc.before) != nil; got != tc.want {
			t.Errorf("newest(before %d, page read at %d) answered %v, want %v", tc.before, read, got, tc.want)
		}
	}

	clk.add(999 * time.Millisecond)
	if c.newest(0) == nil {
		t.Fatal("the page expired before its TTL")
	}
	clk.add(2 * time.Millisecond)
	if c.newest(0) != nil {
		t.Fatal("the page outlived its TTL")
	}

	if _, err := c.load(ctx, build); err != nil {
		t.Fatal(err)
	}
	ch.Changed() // a like in this process
	if c.newest(0) != nil {
		t.Fatal("the page survived a write in this process")
	}
	if n := builds.Load(); n != 2 {
		t.Fatalf("%d builds, want 2", n)
	}
}

// Many requests missing at once build the page once; a failed build is not
// kept, and one requester giving up does not fail the others.
func TestPageCacheBuildsOnce(t *testing.T) {
	clk := &clock{t: time.UnixMilli(1_700_000_000_000)}
	c := &pageCache{ttl: time.Second, now: clk.now}
	release := make(chan struct{})
	var builds atomic.Int32
	build := func(ctx context.Context, at time.Time) (*page, error) {
		builds.Add(1)
		<-release
		if err := ctx.Err(); err != nil {
			return nil, err // the build must not die with its first requester
		}
		return &page{readAtMS: at.UnixMilli()}, nil
	}
	first, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	errs := make(chan error, 20)
	wg.Add(1)
	go func() {
		defer wg.Done()
		_, err := c.load(first, build)
		errs <- err
	}()
	time.Sleep(10 * time.Millisecond)
	for range 19 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, err := c.load(context.Background(), build)
			errs <- err
		}()
	}
	time.Sleep(10 * time.Millisecond)
	cancel()
	close(release)
	wg.Wait()
	close(errs)
	var cancelled, ok int
	for err := range errs {
		switch {
		case err == nil:
			ok++
		case errors.Is(err, context.Canceled):
			cancelled++
		default:
			t.Errorf("load: %v", err)
		}
	}
	if ok < 19 || builds.Load() != 1 {
		t.Fatalf("%d loads succeeded (%d cancelled) with %d builds; want 19+ and 1", ok, cancelled, builds.Load())
	}

	failing := &pageCache{ttl: time.Second, now: clk.now}
	boom := errors.New("boom")
	if _, err := failing.load(context.Background(), func(context.Context, time.Time) (*page, error) { return nil, boom }); !errors.Is(err, boom) {
		t.Fatalf("failed build: err = %v", err)
	}
	if failing.newest(0) != nil {
		t.Fatal("a failed build left a page")
	}
}

// copyUser and copyVideo copy field by field: adding a field to app.proto
// without copying it there fails this test.
func TestCopiesKeepEveryField(t *testing.T) {
	u := &appv1.User{}
	setAll(u.ProtoReflect())
	for _, follow := range []bool{true, false} {
		want := proto.Clone(u).(*appv1.User)
		want.IsFollow = follow
		got := new(appv1.User)
		if copyUser(got, u, follow); !proto.Equal(got, want) {
			t.Errorf("copyUser(%v):\n got %v\nwant %v", follow, got, want)
		}
	}

	v := &appv1.Video{}
	setAll(v.ProtoReflect())
	author := new(appv1.User)
	copyUser(author, v.GetAuthor(), true)
	for _, liked := range []bool{true, false} {
		wantV := proto.Clone(v).(*appv1.Video)
		wantV.IsFavorite, wantV.Author = liked, author
		got := new(appv1.Video)
		if copyVideo(got, v, author, liked); !proto.Equal(got, wantV) {
			t.Errorf("copyVideo(%v):\n got %v\nwant %v", liked, got, wantV)
		}
	}
}

func setAll(m protoreflect.Message) {
	fields := m.Descriptor().Fields()
	for i := 0; i < fields.Len(); i++ {
		fd := fields.Get(i)
		switch fd.Kind() {
		case protoreflect.MessageKind:
			setAll(m.Mutable(fd).Message())
		case protoreflect.StringKind:
			m.Set(fd, protoreflect.ValueOfString(string(fd.Name())))
		case protoreflect.BoolKind:
			m.Set(fd, protoreflect.ValueOfBool(true))
		case protoreflect.Int64Kind:
			m.Set(fd, protoreflect.ValueOfInt64(int64(fd.Number())*1000+7))
		default:
			panic("setAll: teach me " + fd.Kind().String())
		}
	}
}
