package cli

import (
	"bytes"
	"errors"
	"fmt"
	"time"

	bolt "go.etcd.io/bbolt"
	bolterrors "go.etcd.io/bbolt/errors"

	"github.com/go-librato/librato/libratotest"
)

// snapshotStore keeps the fake server's snapshot in a bbolt file: an embedded, crash-safe store
// (every save is one transaction), so a kill mid-save leaves the previous snapshot intact.
type snapshotStore struct {
	db *bolt.DB
}

var (
	storeBucket = []byte("librato-serve")
	snapshotKey = []byte("snapshot")
)

// storeLockTimeout is how long opening waits for another process's lock on the file.
var storeLockTimeout = time.Second

// openSnapshotStore opens (creating if needed) the data file. bbolt locks the file, so a second
// server on the same file fails here instead of corrupting it.
func openSnapshotStore(path string) (*snapshotStore, error) {
	db, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: storeLockTimeout})
	if errors.Is(err, bolterrors.ErrTimeout) {
		return nil, fmt.Errorf("data file %s is in use by another process", path)
	}
	if err != nil {
		return nil, fmt.Errorf("opening data file %s: %w", path, err)
	}
	err = db.Update(func(tx *bolt.Tx) error {
		_, err := tx.CreateBucketIfNotExists(storeBucket)
		return err
	})
	if err != nil {
		db.Close()
		return nil, fmt.Errorf("preparing data file %s: %w", path, err)
	}
	return &snapshotStore{db: db}, nil
}

// load restores the saved snapshot into srv, if there is one, and returns its size.
func (s *snapshotStore) load(srv *libratotest.Server) (int, error) {
	var data []byte
	err := s.db.View(func(tx *bolt.Tx) error {
		if v := tx.Bucket(storeBucket).Get(snapshotKey); v != nil {
			data = bytes.Clone(v) // bbolt's slice is valid only inside the transaction
		}
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("reading data file: %w", err)
	}
	if data == nil {
		return 0, nil
	}
	if err := srv.Restore(data); err != nil {
		return 0, fmt.Errorf("loading saved data: %w", err)
	}
	return len(data), nil
}

// save writes srv's snapshot in one transaction.
func (s *snapshotStore) save(srv *libratotest.Server) error {
	data, err := srv.Snapshot()
	if err != nil {
		return err
	}
	return s.db.Update(func(tx *bolt.Tx) error {
		return tx.Bucket(storeBucket).Put(snapshotKey, data)
	})
}

func (s *snapshotStore) close() error { return s.db.Close() }
