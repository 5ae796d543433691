package ids_test

import (
	"fmt"
	"time"

	"github.com/tremolo-dev/tremolo/platform/ids"
)

// stoppedClock always reads the same instant, which makes the example's
// output deterministic.
type stoppedClock struct{ t time.Time }

func (c stoppedClock) Now() time.Time    { return c.t }
func (stoppedClock) Sleep(time.Duration) {}

func Example() {
	at := time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)
	gen, err := ids.New(3, ids.WithClock(stoppedClock{at}))
	if err != nil {
		panic(err)
	}
	id, err := gen.Next()
	if err != nil {
		panic(err)
	}
	created, node, seq, err := ids.Parse(id)
	if err != nil {
		panic(err)
	}
	fmt.Println(id, id < 1<<53)
	fmt.Println(created, node, seq)
	// Output:
	// 53615001600384 true
	// 2025-06-01 12:00:00 +0000 UTC 3 0
}
