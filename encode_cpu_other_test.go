//go:build !unix

package librato

import "time"

// encProcessCPU is not measured on this platform.
func encProcessCPU() (time.Duration, bool) { return 0, false }
