package sqldb

import (
	"strconv"
	"strings"
)

// Placeholders returns n comma-separated placeholders numbered from first,
// e.g. Placeholders(3, 2) == "$3, $4", for building "IN (...)" lists and
// multi-row VALUES in the $N style both dialects accept. n <= 0 yields "".
func Placeholders(first, n int) string {
	if n <= 0 {
		return ""
	}
	var b strings.Builder
	b.Grow(n * 5)
	for i := range n {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteByte('$')
		b.WriteString(strconv.Itoa(first + i))
	}
	return b.String()
}
