package spool

import (
	"bytes"
	"encoding/binary"
	"errors"
	"hash/crc32"
	"strconv"
)

// On-disk record format, version 2 (little endian), one record after another in a segment file:
//
//	off  size  field
//	0    4     magic "LSP2"
//	4    4     body length n (bytes after this 12-byte frame header)
//	8    4     CRC32-C (Castagnoli) of bytes 4..8 (the length) and of the body
//	12   1     type: 1 data, 2 ack, 3 note
//	13   1     kind: data: 0 legacy, 1 tagged; others: 0
//	14   2     reserved, zero
//	16   4     count: data: measurements in the payload; ack: acknowledged ids; note: gaps
//	20   8     id: data: the record id; others: 0
//	28   8     created: Unix nanoseconds
//	36   8     lsn: log sequence number, one more than the previous record's, any type
//	44   8     last id: the highest data record id appended so far, this record included
//	52   8     data measurements: measurements appended so far, this record included
//	60   8     acked records: records acknowledged (or dropped) so far, this record included
//	68   8     acked measurements: the measurements in those records
//	76   n-64  payload: data: the POST body; ack: count (id uint64, measurements uint32);
//	           note: two uint64 adjustments of the acked totals, then count uint64 lsns
//	           (see notePayload)
//
// The running totals (lsn to acked measurements) make damage countable: between two valid
// records, the difference of their totals is exactly what the records in between held, and
// the checkpoint file (checkpoint.go) holds the totals at both ends of the log. Ids are
// assigned one by one, so the last ids of two records give the ids lost between them.
//
// The length is covered by the CRC, so a damaged length is detected like any other damaged byte.
// Every field has one valid encoding (reserved bytes zero, kind and id 0 where unused), so a
// decoded record re-encodes to the same bytes. Version 1 ("LSP1", without the totals) is
// recognised and refused with errOldFormat.

const (
	frameSize   = 12
	bodyFixed   = 64                    // fixed body bytes before the payload
	headerSize  = frameSize + bodyFixed // frame plus the fixed body fields
	maxBodySize = 256<<20 - frameSize   // a record is at most 256 MiB, a sanity bound for decoding
	maxPayload  = maxBodySize - bodyFixed
	ackItemSize = 12
	maxAckIDs   = maxPayload / ackItemSize // ids in one ack record
	typeData    = 1
	typeAck     = 2
	typeNote    = 3
	magicString = "LSP2"
	magicV1     = "LSP1"
	maxNoteLSNs = (maxPayload - 16) / 8
)

var (
	magic        = []byte(magicString)
	castagnoli   = crc32.MakeTable(crc32.Castagnoli)
	errShort     = errors.New("spool: record truncated")
	errCorrupt   = errors.New("spool: record corrupt")
	errTooLarge  = errors.New("spool: record too large")
	errOldFormat = errors.New("spool: segment written in format 1 by an older version of this package")
)

// Kind says which API a chunk's payload is for.
type Kind uint8

// Kinds of chunks.
const (
	// Legacy is a body for POST /v1/metrics (gauges and counters).
	Legacy Kind = 0
	// Tagged is a body for POST /v1/measurements.
	Tagged Kind = 1
)

// String returns "legacy" or "tagged".
func (k Kind) String() string {
	switch k {
	case Legacy:
		return "legacy"
	case Tagged:
		return "tagged"
	}
	return "kind(" + strconv.Itoa(int(k)) + ")"
}

// totals are the running totals a record carries: the state of the log after it.
type totals struct {
	lsn       uint64 // records of any type written
	lastID    uint64 // data records appended (ids are 1, 2, ...)
	dataMeas  uint64 // measurements in them
	ackedRecs uint64 // records acknowledged or dropped
	ackedMeas uint64 // measurements in them
}

// rawRecord is a decoded record of any type.
type rawRecord struct {
	typ     uint8
	kind    Kind
	count   uint32
	id      uint64
	created int64
	totals
	payload []byte // aliases the decoded buffer
}

// before returns the totals just before r: its own contribution taken off.
func (r *rawRecord) before() totals {
	t := r.totals
	t.lsn--
	switch r.typ {
	case typeData:
		t.lastID--
		t.dataMeas -= uint64(r.count)
	case typeAck:
		t.ackedRecs -= uint64(r.count)
		r.ackItems(func(_ uint64, n uint32) { t.ackedMeas -= uint64(n) })
	case typeNote:
		adjRecs, adjMeas := r.noteAdjust()
		t.ackedRecs -= adjRecs
		t.ackedMeas -= adjMeas
	}
	return t
}

// recordSize is the encoded size of a record with a payload of n bytes.
func recordSize(n int) int { return headerSize + n }

// appendRecord appends the encoding of r to b.
func appendRecord(b []byte, r *rawRecord) []byte {
	start := len(b)
	b = append(b, magic...)
	b = binary.LittleEndian.AppendUint32(b, uint32(bodyFixed+len(r.payload)))
	b = append(b, 0, 0, 0, 0) // CRC, set below
	b = append(b, r.typ, byte(r.kind), 0, 0)
	b = binary.LittleEndian.AppendUint32(b, r.count)
	b = binary.LittleEndian.AppendUint64(b, r.id)
	b = binary.LittleEndian.AppendUint64(b, uint64(r.created))
	b = appendTotals(b, &r.totals)
	b = append(b, r.payload...)
	binary.LittleEndian.PutUint32(b[start+8:], recordCRC(b[start+4:start+8], b[start+frameSize:]))
	return b
}

func appendTotals(b []byte, t *totals) []byte {
	b = binary.LittleEndian.AppendUint64(b, t.lsn)
	b = binary.LittleEndian.AppendUint64(b, t.lastID)
	b = binary.LittleEndian.AppendUint64(b, t.dataMeas)
	b = binary.LittleEndian.AppendUint64(b, t.ackedRecs)
	return binary.LittleEndian.AppendUint64(b, t.ackedMeas)
}

func readTotals(b []byte) totals {
	return totals{
		lsn:       binary.LittleEndian.Uint64(b[0:]),
		lastID:    binary.LittleEndian.Uint64(b[8:]),
		dataMeas:  binary.LittleEndian.Uint64(b[16:]),
		ackedRecs: binary.LittleEndian.Uint64(b[24:]),
		ackedMeas: binary.LittleEndian.Uint64(b[32:]),
	}
}

// recordCRC is the CRC32-C of a record's length field and body.
func recordCRC(length, body []byte) uint32 {
	return crc32.Update(crc32.Update(0, castagnoli, length), castagnoli, body)
}

// ackItem is one acknowledged record: its id and its measurements.
type ackItem struct {
	id    uint64
	count uint32
}

// ackPayload appends the ack payload for items to b.
func ackPayload(b []byte, items []ackItem) []byte {
	for _, it := range items {
		b = binary.LittleEndian.AppendUint64(b, it.id)
		b = binary.LittleEndian.AppendUint32(b, it.count)
	}
	return b
}

// notePayload is the payload of a note record: the adjustment of the acked totals (see
// load.go; two's complement, it may be negative) and the lsns of the records that followed gaps
// already reported, so that a later Open does not report them again.
func notePayload(adjRecs, adjMeas uint64, lsns []uint64) []byte {
	b := make([]byte, 0, 16+8*len(lsns))
	b = binary.LittleEndian.AppendUint64(b, adjRecs)
	b = binary.LittleEndian.AppendUint64(b, adjMeas)
	for _, l := range lsns {
		b = binary.LittleEndian.AppendUint64(b, l)
	}
	return b
}

// decodeRecord decodes the record at the start of b and returns it with its encoded size. It
// returns errShort when b ends before the record does (a torn write, or a damaged length),
// errOldFormat for a valid-looking format 1 frame and errCorrupt when the bytes are not a valid
// record. It never panics and never allocates.
func decodeRecord(b []byte) (rawRecord, int, error) {
	if len(b) < frameSize {
		if !bytes.HasPrefix(magic, b[:min(len(b), len(magic))]) {
			return rawRecord{}, 0, errCorrupt
		}
		return rawRecord{}, 0, errShort
	}
	if !bytes.Equal(b[:4], magic) {
		if bytes.Equal(b[:4], []byte(magicV1)) {
			return rawRecord{}, 0, errOldFormat
		}
		return rawRecord{}, 0, errCorrupt
	}
	n := binary.LittleEndian.Uint32(b[4:8])
	if n < bodyFixed || n > maxBodySize {
		return rawRecord{}, 0, errCorrupt
	}
	total := frameSize + int(n)
	if len(b) < total {
		return rawRecord{}, 0, errShort
	}
	if recordCRC(b[4:8], b[frameSize:total]) != binary.LittleEndian.Uint32(b[8:12]) {
		return rawRecord{}, 0, errCorrupt
	}
	r := rawRecord{
		typ:     b[12],
		kind:    Kind(b[13]),
		count:   binary.LittleEndian.Uint32(b[16:20]),
		id:      binary.LittleEndian.Uint64(b[20:28]),
		created: int64(binary.LittleEndian.Uint64(b[28:36])),
		totals:  readTotals(b[36:76]),
		payload: b[headerSize:total:total],
	}
	if b[14] != 0 || b[15] != 0 || r.lsn == 0 {
		return rawRecord{}, 0, errCorrupt
	}
	switch r.typ {
	case typeData:
		if r.kind != Legacy && r.kind != Tagged || r.id == 0 || r.id != r.lastID || r.dataMeas < uint64(r.count) {
			return rawRecord{}, 0, errCorrupt
		}
	case typeAck:
		if r.kind != 0 || r.id != 0 || uint64(len(r.payload)) != ackItemSize*uint64(r.count) || r.ackedRecs < uint64(r.count) {
			return rawRecord{}, 0, errCorrupt
		}
	case typeNote:
		if r.kind != 0 || r.id != 0 || uint64(len(r.payload)) != 16+8*uint64(r.count) {
			return rawRecord{}, 0, errCorrupt
		}
	default:
		return rawRecord{}, 0, errCorrupt
	}
	return r, total, nil
}

// ackItems calls yield with each item of an ack record.
func (r *rawRecord) ackItems(yield func(id uint64, count uint32)) {
	for i := 0; i+ackItemSize <= len(r.payload); i += ackItemSize {
		yield(binary.LittleEndian.Uint64(r.payload[i:]), binary.LittleEndian.Uint32(r.payload[i+8:]))
	}
}

// noteAdjust returns the adjustment of the acked totals a note record makes.
func (r *rawRecord) noteAdjust() (recs, meas uint64) {
	return binary.LittleEndian.Uint64(r.payload), binary.LittleEndian.Uint64(r.payload[8:])
}

// noteLSNs calls yield with each lsn of a note record.
func (r *rawRecord) noteLSNs(yield func(uint64)) {
	for i := 16; i+8 <= len(r.payload); i += 8 {
		yield(binary.LittleEndian.Uint64(r.payload[i:]))
	}
}

// scanResult is what scanning a segment found.
type scanResult struct {
	records []scanned // valid records, in file order
	damaged []region  // damaged byte ranges, in file order
	end     int       // offset just past the last valid record
}

// region is a damaged byte range of a segment.
type region struct{ off, size int }

// scanned is one valid record found by scan, with its position.
type scanned struct {
	rawRecord
	off, size int
}

// scan decodes every valid record of a segment's bytes. A damaged region (a bad CRC, a damaged
// header, a torn tail) is skipped by searching for the next magic that starts a valid record.
func scan(b []byte) scanResult {
	var res scanResult
	off := 0
	for off < len(b) {
		r, n, err := decodeRecord(b[off:])
		if err == nil {
			res.records = append(res.records, scanned{rawRecord: r, off: off, size: n})
			off += n
			res.end = off
			continue
		}
		next := resync(b, off+1)
		if next < 0 {
			res.damaged = append(res.damaged, region{off, len(b) - off})
			return res
		}
		res.damaged = append(res.damaged, region{off, next - off})
		off = next
	}
	return res
}

// resync returns the offset of the first valid record at or after from, or -1.
func resync(b []byte, from int) int {
	for from < len(b) {
		i := bytes.Index(b[from:], magic)
		if i < 0 {
			return -1
		}
		at := from + i
		if _, _, err := decodeRecord(b[at:]); err == nil {
			return at
		}
		from = at + 1
	}
	return -1
}
