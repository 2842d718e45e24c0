//go:build !unix

package librato

import "time"

// processCPU is not measured on this platform.
func processCPU() time.Duration { return 0 }
