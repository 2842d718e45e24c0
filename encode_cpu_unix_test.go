//go:build unix

package librato

import (
	"syscall"
	"time"
)

// encProcessCPU is the CPU time (user + system) the test process has used so far. Benchmarks report
// it per op beside ns/op, because on a shared, overloaded machine wall time mostly measures the
// queue for a core.
func encProcessCPU() (time.Duration, bool) {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0, false
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano()), true
}
