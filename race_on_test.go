//go:build race

package librato_test

// raceEnabled: the race detector slows everything down about tenfold.
const raceEnabled = true
