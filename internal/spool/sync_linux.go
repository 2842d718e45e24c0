package spool

import (
	"os"
	"syscall"
)

// syncData flushes f's data and the metadata needed to read it back (its size), but not its
// times: fdatasync, which is what a log needs and costs less than fsync.
func syncData(f *os.File) error {
	for {
		err := syscall.Fdatasync(int(f.Fd()))
		if err != syscall.EINTR {
			return err
		}
	}
}
