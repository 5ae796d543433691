package balancer

import (
	"sync"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/tremolo-dev/tremolo/platform/cells"
)

// pool is a subset of instances (the gray or stable ones, narrowed by an
// experiment) split by cell: step 2 of the selection.
type pool struct {
	all *set
	// cellAware is set when the registry's instances carry cells; calls
	// are then kept in theirs.
	cellAware bool
	// byCell holds, for each cell with a member, its members and those
	// serving every cell.
	byCell map[string]*set
	// cellless are the members serving every cell; nil when none.
	cellless *set
	// failovers hold, for each registered cell without a member, where
	// its calls go; others, by serving cell, the same for calls from an
	// unregistered cell. Both are empty when cellless is set.
	failovers map[string]*failover
	others    map[string]*failover
	healthy   func(cell string) bool
	cells     []string // the registry's cells
}

// failover is one cell's calls served by another cell.
type failover struct {
	from, to string
	set      *set
	metrics  *serviceMetrics
	once     sync.Once
	counter  prometheus.Counter
}

// count counts one call; the series is created on the first, so that only
// failovers that happen show.
func (f *failover) count() {
	f.once.Do(func() { f.counter = f.metrics.failover(f.from, f.to) })
	f.counter.Inc()
}

// forCell returns the set that serves calls from cell, and the failover
// it takes, if any.
func (p *pool) forCell(cell string) (*set, *failover) {
	if !p.cellAware || cell == "" {
		return p.all, nil
	}
	if s, ok := p.byCell[cell]; ok {
		return s, nil
	}
	if p.cellless != nil {
		return p.cellless, nil
	}
	if f, ok := p.failovers[cell]; ok {
		return f.set, f
	}
	// A cell no registered instance belongs to: same contract, with the
	// ring computed now.
	if to, ok := cells.Failover(cell, p.healthy, p.cells); ok {
		if f, ok := p.others[to]; ok {
			return f.set, f
		}
	}
	return p.all, nil // unreachable: a non-empty pool has a healthy cell
}

// newPool splits members (not empty; indexes into pl.members, ascending).
func (pl *plan) newPool(idx []int) *pool {
	p := &pool{all: pl.set(idx), cellAware: len(pl.cells) > 0, cells: pl.cells}
	if !p.cellAware {
		return p
	}
	byCell := map[string][]int{}
	var cellless []int
	for _, i := range idx {
		if c := pl.members[i].cell; c != "" {
			byCell[c] = append(byCell[c], i)
		} else {
			cellless = append(cellless, i)
		}
	}
	p.byCell = make(map[string]*set, len(byCell))
	for c, in := range byCell {
		p.byCell[c] = pl.set(union(in, cellless))
	}
	p.healthy = func(c string) bool { _, ok := p.byCell[c]; return ok }
	if len(cellless) > 0 {
		p.cellless = pl.set(cellless)
		return p
	}
	p.failovers = map[string]*failover{}
	for _, c := range pl.cells {
		if _, ok := p.byCell[c]; ok {
			continue
		}
		if to, ok := cells.Failover(c, p.healthy, pl.cells); ok {
			p.failovers[c] = &failover{from: c, to: to, set: p.byCell[to], metrics: pl.metrics}
		}
	}
	p.others = make(map[string]*failover, len(p.byCell))
	for c, s := range p.byCell {
		p.others[c] = &failover{from: otherCell, to: c, set: s, metrics: pl.metrics}
	}
	return p
}
