package balancer

import (
	"fmt"
	"strconv"
	"testing"

	"google.golang.org/grpc/balancer"
)

func benchFleet(n int) *fleet {
	f := newFleet()
	for i := range n {
		f.add(fmt.Sprintf("10.0.%d.%d", i/250, i%250+1), stable("1.4.0", strconv.Itoa(i%4)))
	}
	return f.add("canary", canary("1.5.0", ""))
}

func BenchmarkPick(b *testing.B) {
	f := benchFleet(10)
	for _, bc := range []struct {
		name, hashKey string
		call          call
	}{
		{"rr", "", call{}},
		{"rr/cell", "", call{cell: "2"}},
		{"hash", "x-tremolo-user-id", call{user: "1234567"}},
		{"hash/gray", "x-tremolo-user-id", call{version: "1.5.0", user: "1234567"}},
		{"hash/cell", "x-tremolo-user-id", call{cell: "2", user: "1234567"}},
		{"hash/cell-failover", "x-tremolo-user-id", call{cell: "9", user: "1234567"}},
	} {
		b.Run(bc.name, func(b *testing.B) {
			p := newPicker(f.ready, testState(b, bc.hashKey, "0", "1", "2", "3", "9"))
			info := balancer.PickInfo{Ctx: bc.call.ctx()}
			b.ReportAllocs()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					if _, err := p.Pick(info); err != nil {
						b.Fatal(err)
					}
				}
			})
		})
	}
}

// BenchmarkBuild is the cost of a READY-set change: a picker rebuilt with
// its subsets and rings.
func BenchmarkBuild(b *testing.B) {
	for _, n := range []int{10, 100} {
		for _, hashKey := range []string{"", "x-tremolo-user-id"} {
			f := benchFleet(n)
			st := testState(b, hashKey, "0", "1", "2", "3")
			b.Run(fmt.Sprintf("instances=%d/hash=%t", n, hashKey != ""), func(b *testing.B) {
				b.ReportAllocs()
				for b.Loop() {
					newPicker(f.ready, st)
				}
			})
		}
	}
}
