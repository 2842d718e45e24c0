//go:build !race

package cli

// raceEnabled: the race detector slows everything down about tenfold.
const raceEnabled = false
