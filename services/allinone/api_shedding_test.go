package allinone_test

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"google.golang.org/grpc/codes"

	"github.com/tremolo-dev/tremolo/platform/apierror"
)

// The app's REST requests are shed where they enter, like gRPC calls from
// the network: with one request allowed in flight (-max-in-flight 1) and
// the feed held up by an injected delay, a second REST request gets the
// shed status in the envelope at once (not a server fault), while the
// first, whose own calls between services are not counted, completes.
func TestRESTRequestsAreShedAtTheirEntry(t *testing.T) {
	cfg := t.TempDir()
	rules := "faults:\n  - service: feed\n    method: GetFeed\n    delay: 1500ms\n"
	if err := os.WriteFile(filepath.Join(cfg, "faults.yaml"), []byte(rules), 0o644); err != nil {
		t.Fatal(err)
	}
	e := startEnv(t, t.TempDir(), nil, "-max-in-flight", "1", "-config-dir", cfg)

	slow := make(chan *reply, 1)
	go func() {
		r, err := e.c.tryGet("/douyin/feed/", nil)
		if err != nil {
			t.Error(err)
		}
		slow <- r
	}()
	deadline := time.Now().Add(5 * time.Second)
	for metric(t, e, "tremolo_inflight_requests") < 1 {
		if time.Now().After(deadline) {
			t.Fatal("the delayed feed request never counted as in flight")
		}
		time.Sleep(10 * time.Millisecond)
	}
	began := time.Now()
	shed := apierror.Platform(codes.ResourceExhausted).BusinessCode
	e.c.get(t, "/douyin/feed/", nil).fails(t, "a second request beyond -max-in-flight", shed)
	if waited := time.Since(began); waited > time.Second {
		t.Errorf("the shed request took %v: it waited instead of being refused at once", waited)
	}
	if r := <-slow; r != nil {
		r.ok(t, "the admitted feed request")
	}
	if n := metric(t, e, "tremolo_shed_total"); n < 1 {
		t.Errorf("tremolo_shed_total = %v, want the refused request counted", n)
	}
}
