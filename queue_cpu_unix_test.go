//go:build unix

package librato

import (
	"syscall"
	"time"
)

// processCPU is the user plus system CPU time of the whole process so far (client and the
// in-process test server alike).
func processCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
