package spool

import (
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"os"
	"path/filepath"
)

// The checkpoint file holds the running totals at both ends of the log: at the start of the
// oldest segment (base) and after the last record written (end), plus the acknowledgements
// accepted but not yet written. It lets Open count exactly what a damaged head of the oldest
// segment or a damaged tail of the newest one held, where no valid record follows (or
// precedes) the damage. It is rewritten in place after every write of the log, in one of two
// slots in turn, so a torn checkpoint write leaves the other slot valid:
//
//	off  size  field (each slot, little endian)
//	0    4     magic "LSC2"
//	4    4     CRC32-C of bytes 8..slotSize
//	8    8     generation, one more at each write; the valid slot with the higher one wins
//	16   8     base segment: the sequence number of the oldest segment
//	24   40    base totals (lsn, last id, data measurements, acked records, acked measurements)
//	64   40    end totals, acknowledgements not yet written included
//	104  24    zero
const (
	checkpointName  = "CHECKPOINT"
	checkpointMagic = "LSC2"
	slotSize        = 128
)

// checkpoint is the decoded content of the checkpoint file.
type checkpoint struct {
	gen     uint64
	baseSeg uint64
	base    totals
	end     totals
}

func (c *checkpoint) encode(b []byte) []byte {
	start := len(b)
	b = append(b, checkpointMagic...)
	b = append(b, 0, 0, 0, 0)
	b = binary.LittleEndian.AppendUint64(b, c.gen)
	b = binary.LittleEndian.AppendUint64(b, c.baseSeg)
	b = appendTotals(b, &c.base)
	b = appendTotals(b, &c.end)
	b = append(b, make([]byte, start+slotSize-len(b))...)
	binary.LittleEndian.PutUint32(b[start+4:], crc32.Checksum(b[start+8:start+slotSize], castagnoli))
	return b
}

func decodeCheckpoint(b []byte) (checkpoint, bool) {
	if len(b) < slotSize || string(b[:4]) != checkpointMagic ||
		crc32.Checksum(b[8:slotSize], castagnoli) != binary.LittleEndian.Uint32(b[4:8]) {
		return checkpoint{}, false
	}
	return checkpoint{
		gen:     binary.LittleEndian.Uint64(b[8:]),
		baseSeg: binary.LittleEndian.Uint64(b[16:]),
		base:    readTotals(b[24:]),
		end:     readTotals(b[64:]),
	}, true
}

// openCheckpoint opens (creating it if needed) the checkpoint file of dir and returns the
// newest valid checkpoint in it, if any.
func openCheckpoint(dir string) (*os.File, checkpoint, bool, error) {
	f, err := os.OpenFile(filepath.Join(dir, checkpointName), os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, checkpoint{}, false, fmt.Errorf("spool: checkpoint: %w", err)
	}
	b := make([]byte, 2*slotSize)
	n, _ := f.ReadAt(b, 0)
	b = b[:n]
	var best checkpoint
	found := false
	for i := 0; i+slotSize <= len(b); i += slotSize {
		if c, ok := decodeCheckpoint(b[i : i+slotSize]); ok && (!found || c.gen > best.gen) {
			best, found = c, true
		}
	}
	return f, best, found, nil
}

// writeCheckpoint writes c into the slot its generation selects.
func writeCheckpoint(f *os.File, c *checkpoint, buf []byte) ([]byte, error) {
	buf = c.encode(buf[:0])
	_, err := f.WriteAt(buf, int64(c.gen%2)*slotSize)
	return buf, err
}
