//go:build unix

package bench

import (
	"syscall"
	"testing"
	"time"
)

// processCPU is the user plus system CPU time this process has used so far (all its threads;
// not the discard child process).
func processCPU(b *testing.B) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
