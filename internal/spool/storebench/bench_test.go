package storebench

import (
	"encoding/binary"
	"fmt"
	"runtime"
	"sync"
	"testing"

	"github.com/go-librato/librato/internal/spool"
	"github.com/tidwall/wal"
	bolt "go.etcd.io/bbolt"
)

// chunk is a realistic POST body: 300 tagged measurements, about 40 KB.
var chunk = func() []byte {
	b := []byte(`{"measurements":[`)
	for i := range 300 {
		if i > 0 {
			b = append(b, ',')
		}
		b = fmt.Appendf(b, `{"name":"api.request.latency.%d","value":%d.375,"time":1700000000,"tags":{"host":"web-%02d","service":"api","region":"us-east-1"}}`, i%40, i, i%16)
	}
	return append(b, "]}"...)
}()

// ackEvery is how many chunks are acknowledged together (in every store alike).
const ackEvery = 64

// store is the operations the Queue needs: a durable append and a (batched) acknowledgement.
type store interface {
	append(p []byte) (uint64, error)
	ack(upto uint64, ids []uint64) error
	close() error
}

type spoolStore struct{ s *spool.Spool }

func (s spoolStore) append(p []byte) (uint64, error) {
	ids, err := s.s.Append(spool.Record{Kind: spool.Tagged, Count: 300, Payload: p})
	if err != nil {
		return 0, err
	}
	return ids[0], nil
}
func (s spoolStore) ack(_ uint64, ids []uint64) error { return s.s.Ack(ids...) }
func (s spoolStore) close() error                     { return s.s.Close() }

type boltStore struct {
	db    *bolt.DB
	batch bool // db.Batch: bbolt's own group commit for concurrent callers
}

var bucket = []byte("chunks")

func (s boltStore) append(p []byte) (uint64, error) {
	var id uint64
	f := func(tx *bolt.Tx) error {
		b := tx.Bucket(bucket)
		id, _ = b.NextSequence()
		return b.Put(binary.BigEndian.AppendUint64(nil, id), p)
	}
	if s.batch {
		return id, s.db.Batch(f)
	}
	return id, s.db.Update(f)
}
func (s boltStore) ack(_ uint64, ids []uint64) error {
	return s.db.Update(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucket)
		for _, id := range ids {
			if err := b.Delete(binary.BigEndian.AppendUint64(nil, id)); err != nil {
				return err
			}
		}
		return nil
	})
}
func (s boltStore) close() error { return s.db.Close() }

// walStore is tidwall/wal: one fsync per Write, under its own mutex (no group commit).
type walStore struct {
	mu  sync.Mutex
	log *wal.Log
}

func (s *walStore) append(p []byte) (uint64, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	last, err := s.log.LastIndex()
	if err != nil {
		return 0, err
	}
	return last + 1, s.log.Write(last+1, p)
}
func (s *walStore) ack(upto uint64, _ []uint64) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	last, _ := s.log.LastIndex()
	if upto >= last {
		return nil // wal cannot remove its last entry; keep it
	}
	return s.log.TruncateFront(upto + 1)
}
func (s *walStore) close() error { return s.log.Close() }

func openStore(b *testing.B, name string) store {
	dir := b.TempDir()
	switch name {
	case "spool":
		s, err := spool.Open(dir, &spool.Options{MaxBytes: -1})
		if err != nil {
			b.Fatal(err)
		}
		return spoolStore{s}
	case "bbolt", "bbolt-batch":
		db, err := bolt.Open(dir+"/spool.db", 0o600, nil)
		if err != nil {
			b.Fatal(err)
		}
		if err := db.Update(func(tx *bolt.Tx) error { _, err := tx.CreateBucket(bucket); return err }); err != nil {
			b.Fatal(err)
		}
		return boltStore{db: db, batch: name == "bbolt-batch"}
	case "wal":
		l, err := wal.Open(dir, nil) // default options: fsync on every write
		if err != nil {
			b.Fatal(err)
		}
		return &walStore{log: l}
	}
	b.Fatal("unknown store " + name)
	return nil
}

// acker batches acknowledgements like a Queue acking what the API accepted.
type acker struct {
	mu  sync.Mutex
	ids []uint64
	max uint64
}

func (a *acker) add(s store, id uint64) error {
	a.mu.Lock()
	a.ids = append(a.ids, id)
	a.max = max(a.max, id)
	if len(a.ids) < ackEvery {
		a.mu.Unlock()
		return nil
	}
	ids, upto := a.ids, a.max
	a.ids = nil
	a.mu.Unlock()
	return s.ack(upto, ids)
}

// BenchmarkChunk measures the cost of spooling one 300-measurement chunk durably (an fsync per
// append, or per group of appends) and acknowledging it, sequentially and from 8 goroutines.
func BenchmarkChunk(b *testing.B) {
	for _, name := range []string{"spool", "bbolt", "bbolt-batch", "wal"} {
		b.Run(name+"/seq", func(b *testing.B) {
			s := openStore(b, name)
			defer s.close()
			var a acker
			b.ReportAllocs()
			b.SetBytes(int64(len(chunk)))
			b.ResetTimer()
			for range b.N {
				id, err := s.append(chunk)
				if err != nil {
					b.Fatal(err)
				}
				if err := a.add(s, id); err != nil {
					b.Fatal(err)
				}
			}
			reportSyncs(b, s)
		})
		b.Run(name+"/par8", func(b *testing.B) {
			s := openStore(b, name)
			defer s.close()
			var a acker
			b.ReportAllocs()
			b.SetBytes(int64(len(chunk)))
			b.SetParallelism(max(1, 8/runtime.GOMAXPROCS(0))) // 8 appending goroutines
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					id, err := s.append(chunk)
					if err != nil {
						b.Error(err)
						return
					}
					if err := a.add(s, id); err != nil {
						b.Error(err)
						return
					}
				}
			})
			reportSyncs(b, s)
		})
	}
}

// reportSyncs reports the spool's fsyncs per appended chunk (group commit makes it < 1).
func reportSyncs(b *testing.B, s store) {
	if ss, ok := s.(spoolStore); ok {
		st := ss.s.Stats()
		b.ReportMetric(float64(st.Syncs)/float64(max(st.Appended, 1)), "fsyncs/chunk")
	}
}
