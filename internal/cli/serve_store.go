package cli

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"time"

	bolt "go.etcd.io/bbolt"
	bolterrors "go.etcd.io/bbolt/errors"

	"github.com/go-librato/librato/libratotest"
)

// dataStore keeps the fake server's data in a bbolt file: a snapshot of the whole state, and a
// journal of the changes made since that snapshot. Every change is in the journal, on disk
// (fsync), before its answer goes out: changes arriving together share one transaction, so the
// cost is about one disk sync per batch and never a stall of the whole server. A bbolt
// transaction is atomic, so a crash at any moment leaves the file as of the last committed
// batch. At start the snapshot is loaded and the journal replayed; compact then folds the
// journal into a new snapshot, in one transaction, as it does at a clean shutdown.
type dataStore struct {
	db *bolt.DB

	mu      sync.Mutex
	pending []pendingChange // queued by record, in the order the changes were applied
	wake    chan struct{}   // a buffered kick for the writer
	stopped chan struct{}   // closed when the writer has exited
	quit    chan struct{}
	next    uint64 // the journal key of the next change
	started bool
	// onError, when set, hears of every failed commit (its changes were answered 500).
	onError func(err error, changes int)
}

type pendingChange struct {
	c    libratotest.Change
	done chan error
}

var (
	storeBucket   = []byte("librato-serve")
	snapshotKey   = []byte("snapshot")
	journalBucket = []byte("journal")
)

// storeLockTimeout is how long opening waits for another process's lock on the file.
var storeLockTimeout = time.Second

// openDataStore opens (creating if needed) the data file. bbolt locks the file, so a second
// server on the same file fails here instead of corrupting it.
func openDataStore(path string) (*dataStore, error) {
	db, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: storeLockTimeout})
	if errors.Is(err, bolterrors.ErrTimeout) {
		return nil, fmt.Errorf("data file %s is in use by another process", path)
	}
	if err != nil {
		return nil, fmt.Errorf("opening data file %s: %w", path, err)
	}
	err = db.Update(func(tx *bolt.Tx) error {
		if _, err := tx.CreateBucketIfNotExists(storeBucket); err != nil {
			return err
		}
		_, err := tx.CreateBucketIfNotExists(journalBucket)
		return err
	})
	if err != nil {
		db.Close()
		return nil, fmt.Errorf("preparing data file %s: %w", path, err)
	}
	return &dataStore{db: db, wake: make(chan struct{}, 1), quit: make(chan struct{}), stopped: make(chan struct{})}, nil
}

// loaded says what load found.
type loaded struct {
	size     int // bytes of snapshot
	replayed int // changes replayed after it
	// differed counts the changes whose replay answered otherwise than the change did: the
	// server's options changed (a lower --max-series, say), so their effect may be lost.
	differed int
}

// load restores the saved snapshot into srv and replays the journal after it.
func (s *dataStore) load(srv *libratotest.Server) (loaded, error) {
	var l loaded
	var err error
	var data []byte
	err = s.db.View(func(tx *bolt.Tx) error {
		if v := tx.Bucket(storeBucket).Get(snapshotKey); v != nil {
			data = bytes.Clone(v) // bbolt's slice is valid only inside the transaction
		}
		return nil
	})
	if err != nil {
		return l, fmt.Errorf("reading data file: %w", err)
	}
	if data != nil {
		if err := srv.Restore(data); err != nil {
			return l, fmt.Errorf("loading saved data: %w", err)
		}
	}
	l.size = len(data)
	err = s.db.View(func(tx *bolt.Tx) error {
		cur := tx.Bucket(journalBucket).Cursor()
		for k, v := cur.First(); k != nil; k, v = cur.Next() {
			var c libratotest.Change
			if err := json.Unmarshal(v, &c); err != nil {
				return fmt.Errorf("journal entry %d: %w", binary.BigEndian.Uint64(k), err)
			}
			status, err := srv.Replay(c)
			if err != nil {
				return fmt.Errorf("journal entry %d: %w", binary.BigEndian.Uint64(k), err)
			}
			if status != c.Status {
				l.differed++
			}
			l.replayed++
			s.next = binary.BigEndian.Uint64(k) + 1
		}
		return nil
	})
	if err != nil {
		return l, fmt.Errorf("replaying saved changes: %w", err)
	}
	return l, nil
}

// compact writes srv's snapshot and empties the journal, in one transaction. Nothing may change
// srv meanwhile: it runs before serving and after the last request.
func (s *dataStore) compact(srv *libratotest.Server) error {
	data, err := srv.Snapshot()
	if err != nil {
		return err
	}
	return s.db.Update(func(tx *bolt.Tx) error {
		if err := tx.Bucket(storeBucket).Put(snapshotKey, data); err != nil {
			return err
		}
		if err := tx.DeleteBucket(journalBucket); err != nil {
			return err
		}
		_, err := tx.CreateBucket(journalBucket)
		return err
	})
}

// start runs the journal writer until close.
func (s *dataStore) start() {
	s.started = true
	go s.write()
}

// record queues a change (the server calls it in order, one at a time) and returns the wait
// for its commit.
func (s *dataStore) record(c libratotest.Change) func() error {
	done := make(chan error, 1)
	s.mu.Lock()
	s.pending = append(s.pending, pendingChange{c: c, done: done})
	s.mu.Unlock()
	select {
	case s.wake <- struct{}{}:
	default: // a kick is already waiting
	}
	return func() error {
		select {
		case err := <-done:
			return err
		case <-s.stopped:
			select {
			case err := <-done:
				return err
			default:
				return errors.New("the data file is closed")
			}
		}
	}
}

// write commits the queued changes, all that are waiting in one transaction, until close.
func (s *dataStore) write() {
	defer close(s.stopped)
	for {
		select {
		case <-s.wake:
		case <-s.quit:
			s.commit() // what was queued before the last answer
			return
		}
		s.commit()
	}
}

func (s *dataStore) commit() {
	s.mu.Lock()
	batch := s.pending
	s.pending = nil
	s.mu.Unlock()
	if len(batch) == 0 {
		return
	}
	err := s.db.Update(func(tx *bolt.Tx) error {
		b := tx.Bucket(journalBucket)
		var key [8]byte
		for _, p := range batch {
			v, err := json.Marshal(p.c)
			if err != nil {
				return err
			}
			binary.BigEndian.PutUint64(key[:], s.next)
			if err := b.Put(bytes.Clone(key[:]), v); err != nil {
				return err
			}
			s.next++
		}
		return nil
	})
	if err != nil {
		err = fmt.Errorf("saving changes: %w", err)
		if s.onError != nil {
			s.onError(err, len(batch))
		}
	}
	for _, p := range batch {
		p.done <- err
	}
}

// close stops the writer after it committed what was queued, and closes the file.
func (s *dataStore) close() error {
	if s.started {
		close(s.quit)
		<-s.stopped
		s.started = false
	}
	return s.db.Close()
}
