package spool

import (
	"testing"

	"go.uber.org/goleak"
)

// The spool starts no goroutine; goleak makes sure it stays so.
func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }
