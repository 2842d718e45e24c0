//go:build !unix

package bench

import (
	"testing"
	"time"
)

// processCPU is not measured on this system: the end-to-end benchmarks are skipped.
func processCPU(b *testing.B) time.Duration {
	b.Skip("process CPU time (getrusage) is measured on unix systems only")
	return 0
}
