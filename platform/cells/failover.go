package cells

import (
	"cmp"
	"strconv"
)

// Failover returns the cell that serves the users of cell: cell itself
// while healthy reports it healthy, otherwise the next healthy cell of the
// ring that cells form, and false when no cell is healthy (or cell is
// empty: a request without a cell is not cell-routed).
//
// The ring is cells in Compare's order, wrapping around; a failed cell's
// users go to the first healthy cell after it. cell need not be among
// cells (a cell whose every instance is gone may have vanished from the
// registry); it is placed in the ring by the same order. The answer thus
// depends only on which cells are healthy, not on the order or duplicates
// of cells, so every edge and client that sees the same healthy cells fails
// a cell over to the same place. Each failed cell moves to its own
// successor, so the load of one failure lands on one neighbour rather than
// being spread everywhere, and a second failure does not move the users of
// the first elsewhere unless their neighbour was the one that failed.
//
// Empty names in cells are ignored; a nil healthy reports no cell healthy.
// Failover calls healthy at most once per entry of cells plus once for
// cell, and allocates nothing, so balancers can call it per request.
func Failover(cell string, healthy func(cell string) bool, cells []string) (string, bool) {
	if cell == "" || healthy == nil {
		return "", false
	}
	if healthy(cell) {
		return cell, true
	}
	// The next healthy cell after cell is the smallest healthy one greater
	// than it; failing that, the smallest healthy one (the ring wraps).
	var next, first string
	for _, c := range cells {
		if c == "" || c == cell {
			continue
		}
		after := Compare(c, cell) > 0
		// Skip c when it cannot improve on what was found, before asking
		// healthy (which may be costly).
		if after && next != "" && Compare(c, next) >= 0 {
			continue
		}
		if !after && (next != "" || first != "" && Compare(c, first) >= 0) {
			continue
		}
		if !healthy(c) {
			continue
		}
		if after {
			next = c
		} else {
			first = c
		}
	}
	if next != "" {
		return next, true
	}
	return first, first != ""
}

// Compare is the ring order of cell names: names that are decimal numbers
// come first, by value ("2" before "10"), then the others bytewise. It is
// part of Failover's contract.
func Compare(a, b string) int {
	an, aNum := number(a)
	bn, bNum := number(b)
	switch {
	case aNum && bNum:
		if c := cmp.Compare(an, bn); c != 0 {
			return c
		}
		// "7" and "07" are the same number; keep the order total.
		return cmp.Compare(a, b)
	case aNum:
		return -1
	case bNum:
		return 1
	}
	return cmp.Compare(a, b)
}

// number parses a cell name that is a decimal number.
func number(s string) (uint64, bool) {
	if s == "" || s[0] < '0' || s[0] > '9' {
		return 0, false
	}
	n, err := strconv.ParseUint(s, 10, 64)
	return n, err == nil
}
