//go:build unix

package app

import (
	"syscall"
	"time"
)

// cpuTime is the CPU time the process has used, in all its threads
// (garbage collection included): unlike wall time, it holds still when
// other processes share the machine.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
