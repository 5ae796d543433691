package discovery

import (
	"cmp"
	"maps"
	"reflect"
	"slices"
)

// sortedList returns the instances of m as a fresh list sorted by ID, the
// order every Watch delivers, so that consumers and tests can compare lists
// without sorting them again.
func sortedList(m map[string]Instance) []Instance {
	list := make([]Instance, 0, len(m))
	for _, inst := range m {
		list = append(list, inst.Clone())
	}
	slices.SortFunc(list, func(a, b Instance) int { return cmp.Compare(a.ID, b.ID) })
	return list
}

// cloneList deep-copies list: every receiver of a Watch owns what it gets
// and may modify it.
func cloneList(list []Instance) []Instance {
	out := make([]Instance, len(list))
	for i, inst := range list {
		out[i] = inst.Clone()
	}
	return out
}

// equalLists reports whether two sorted lists hold the same instances; a
// watcher is not woken for a change that changes nothing (a re-registration
// with a new lease, say).
func equalLists(a, b []Instance) bool {
	return slices.EqualFunc(a, b, func(x, y Instance) bool {
		lx, ly := x.Labels, y.Labels
		x.Labels, y.Labels = nil, nil
		return reflect.DeepEqual(x, y) && maps.Equal(lx, ly)
	})
}
