package storebench

import (
	"bytes"
	"encoding/binary"
	"os"
	"path/filepath"
	"testing"

	"github.com/go-librato/librato/internal/spool"
	"github.com/tidwall/wal"
	bolt "go.etcd.io/bbolt"
)

// These tests record how each candidate store behaves when its file is damaged the way a crash
// or a bad disk damages it. They assert the observed behaviour, so a change in a dependency
// shows up here.

func payload(i int) []byte { return bytes.Repeat([]byte{byte('a' + i)}, 200) }

// TestTornWriteWal: tidwall/wal frames entries with a length only. A torn last entry makes Open
// fail (the whole log is unusable until repaired by hand), and a flipped byte inside an entry is
// returned as data, undetected.
func TestTornWriteWal(t *testing.T) {
	dir := t.TempDir()
	l, err := wal.Open(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	for i := range 4 {
		if err := l.Write(uint64(i+1), payload(i)); err != nil {
			t.Fatal(err)
		}
	}
	l.Close()
	segs, _ := filepath.Glob(filepath.Join(dir, "0*"))
	if len(segs) != 1 {
		t.Fatalf("segments: %v", segs)
	}
	orig, _ := os.ReadFile(segs[0])

	os.WriteFile(segs[0], orig[:len(orig)-1], 0o600)
	if _, err := wal.Open(dir, nil); err != wal.ErrCorrupt {
		t.Fatalf("wal.Open after a torn write: %v, want ErrCorrupt", err)
	}

	b := bytes.Clone(orig)
	b[len(b)-10] ^= 0xff // inside the last entry's data
	os.WriteFile(segs[0], b, 0o600)
	l, err = wal.Open(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	got, err := l.Read(4)
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Equal(got, payload(3)) {
		t.Fatal("expected the flipped byte to come back undetected")
	}
	t.Logf("wal: torn last entry -> Open fails with %v; flipped byte -> Read returns damaged data, no error", wal.ErrCorrupt)
}

// TestFlippedByteBbolt: bbolt checksums only its meta pages; a flipped byte in a value comes
// back as data, undetected. (Torn writes are handled by its copy-on-write commit: a crash
// before the meta page is written leaves the previous transaction intact.)
func TestFlippedByteBbolt(t *testing.T) {
	path := filepath.Join(t.TempDir(), "spool.db")
	db, err := bolt.Open(path, 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	err = db.Update(func(tx *bolt.Tx) error {
		b, err := tx.CreateBucket(bucket)
		if err != nil {
			return err
		}
		for i := range 4 {
			if err := b.Put(binary.BigEndian.AppendUint64(nil, uint64(i+1)), payload(i)); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	db.Close()
	raw, _ := os.ReadFile(path)
	at := bytes.Index(raw, payload(3))
	if at < 0 {
		t.Fatal("value not found in the file")
	}
	raw[at+100] ^= 0xff
	os.WriteFile(path, raw, 0o600)
	db, err = bolt.Open(path, 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var got []byte
	db.View(func(tx *bolt.Tx) error {
		got = bytes.Clone(tx.Bucket(bucket).Get(binary.BigEndian.AppendUint64(nil, 4)))
		return nil
	})
	if got == nil || bytes.Equal(got, payload(3)) {
		t.Fatalf("expected damaged data back, got %q", got)
	}
	t.Log("bbolt: flipped byte in a value -> Get returns damaged data, no error")
}

// TestTornAndFlippedSpool: the spool cuts a torn tail and skips a damaged record, keeping the
// others (the exhaustive versions are in the spool package's tests).
func TestTornAndFlippedSpool(t *testing.T) {
	dir := t.TempDir()
	s, err := spool.Open(dir, &spool.Options{NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	for i := range 4 {
		if _, err := s.Append(spool.Record{Payload: payload(i)}); err != nil {
			t.Fatal(err)
		}
	}
	s.Close()
	segs, _ := filepath.Glob(filepath.Join(dir, "*.seg"))
	orig, _ := os.ReadFile(segs[0])
	b := bytes.Clone(orig[:len(orig)-1])
	b[len(b)/2] ^= 0xff // damage record 2 (of 4) and tear record 4
	os.WriteFile(segs[0], b, 0o600)
	s, err = spool.Open(dir, &spool.Options{NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	var got [][]byte
	for r, err := range s.Pending() {
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, r.Payload)
	}
	if len(got) != 2 || !bytes.Equal(got[0], payload(0)) || !bytes.Equal(got[1], payload(2)) {
		t.Fatalf("got %d records", len(got))
	}
	if c := s.Stats().Damaged; c != 2 {
		t.Fatalf("damaged = %d, want 2", c)
	}
}
