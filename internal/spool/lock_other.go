//go:build !unix

package spool

import (
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
)

// lockDir creates dir/LOCK exclusively and writes the process id into it. Without flock a lock
// file left by a killed process stays: remove it by hand once that process is gone.
func lockDir(dir string) (*os.File, error) {
	path := dir + string(os.PathSeparator) + lockName
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		if errors.Is(err, os.ErrExist) {
			b, _ := os.ReadFile(path)
			if pid, err := strconv.Atoi(strings.TrimSpace(string(b))); err == nil {
				return nil, fmt.Errorf("%w: directory %s is in use by pid %d (remove %s if that process is gone)", ErrInUse, dir, pid, path)
			}
			return nil, fmt.Errorf("%w: directory %s is in use (remove %s if no process uses it)", ErrInUse, dir, path)
		}
		return nil, fmt.Errorf("spool: lock: %w", err)
	}
	_, _ = f.WriteString(strconv.Itoa(os.Getpid()) + "\n")
	return f, nil
}

// unlockDir removes the lock file created by lockDir.
func unlockDir(f *os.File) error {
	name := f.Name()
	err := f.Close()
	if rmErr := os.Remove(name); err == nil {
		err = rmErr
	}
	return err
}
