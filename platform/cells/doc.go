// Package cells places users in cells and decides where a cell's users go
// when the cell is down.
//
// A cell is a slice of the user base served by its own set of instances, so
// that a bad deploy or a failing dependency hurts one cell's users, not all
// of them. The edge's colour plugin puts every request in the cell of its
// user (Of) and sends it as routing.CellKey; balancers keep the request on
// instances of that cell and, when the cell has none left, move it to the
// cell Failover names.
//
// Both functions are contracts shared by every process: two edges, or an
// edge and a batch job, must put a user in the same cell and fail a cell
// over to the same place, or one user's data ends up served from two cells
// at once.
package cells
