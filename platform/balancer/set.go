package balancer

import (
	"math/rand/v2"
	"sync/atomic"

	"google.golang.org/grpc/balancer"
)

// set is the instances a call may finally go to, with what picks one of
// them: a ring for calls with a hash key, a weighted round-robin sequence
// for the others. Its members are in address order.
type set struct {
	scs  []balancer.SubConn
	rr   []balancer.SubConn // scs, each repeated by weight, interleaved
	next atomic.Uint64
	ring ring // nil without a hash key
}

// newSet builds the set of members (not empty); vnodes > 0 builds a ring.
func newSet(members []*member, vnodes int) *set {
	s := &set{scs: make([]balancer.SubConn, len(members))}
	for i, m := range members {
		s.scs[i] = m.sc
	}
	s.rr = weightedSequence(members)
	// Clients started together must not all begin with the same instance.
	s.next.Store(rand.Uint64())
	if vnodes > 0 {
		s.ring = newRing(members, vnodes)
	}
	return s
}

// pick returns the instance for a call hashed on key, or the next in round
// robin when key is empty.
func (s *set) pick(key string) balancer.SubConn {
	if key != "" && s.ring != nil {
		return s.scs[s.ring.lookup(hashKey(key))]
	}
	return s.rr[s.next.Add(1)%uint64(len(s.rr))]
}

// weightedSequence is one round of smooth weighted round robin (nginx's):
// each member appears weight/gcd times, spread out rather than in bursts.
func weightedSequence(members []*member) []balancer.SubConn {
	g, equal := 0, true
	for _, m := range members {
		g = gcd(g, m.weight)
		equal = equal && m.weight == members[0].weight
	}
	seq := make([]balancer.SubConn, 0, len(members))
	if equal {
		for _, m := range members {
			seq = append(seq, m.sc)
		}
		return seq
	}
	total := 0
	for _, m := range members {
		total += m.weight / g
	}
	current := make([]int, len(members))
	for range total {
		best := 0
		for i, m := range members {
			current[i] += m.weight / g
			if current[i] > current[best] {
				best = i
			}
		}
		current[best] -= total
		seq = append(seq, members[best].sc)
	}
	return seq
}

func gcd(a, b int) int {
	for b != 0 {
		a, b = b, a%b
	}
	return a
}
