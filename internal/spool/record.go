package spool

import (
	"bytes"
	"encoding/binary"
	"errors"
	"hash/crc32"
	"strconv"
)

// On-disk record format (little endian), one after another in a segment file:
//
//	off  size  field
//	0    4     magic "LSP1"
//	4    4     body length n (bytes after this 12-byte frame header)
//	8    4     CRC32-C (Castagnoli) of bytes 4..8 (the length) and of the body
//	12   1     type: 1 data, 2 ack
//	13   1     kind: data: 0 legacy, 1 tagged; ack: 0
//	14   2     reserved, zero
//	16   4     count: data: measurements in the payload; ack: number of ids
//	20   8     id: data: the record id; ack: 0
//	28   8     created: Unix nanoseconds
//	36   n-24  payload: data: the POST body; ack: count little-endian uint64 ids
//
// The length is covered by the CRC, so a damaged length is detected like any other damaged byte.
// Every field has one valid encoding (reserved bytes zero, kind 0 on acks), so a decoded record
// re-encodes to the same bytes.

const (
	frameSize   = 12
	headerSize  = frameSize + 24      // frame plus the fixed body fields
	maxBodySize = 256<<20 - frameSize // a record is at most 256 MiB, a sanity bound for decoding
	typeData    = 1
	typeAck     = 2
	maxAckIDs   = (maxBodySize - 24) / 8 // ids in one ack record
	maxPayload  = maxBodySize - 24
	bodyFixed   = headerSize - frameSize // fixed body bytes before the payload
	magicString = "LSP1"
)

var (
	magic       = []byte(magicString)
	castagnoli  = crc32.MakeTable(crc32.Castagnoli)
	errShort    = errors.New("spool: record truncated")
	errCorrupt  = errors.New("spool: record corrupt")
	errTooLarge = errors.New("spool: record too large")
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

// rawRecord is a decoded record of either type.
type rawRecord struct {
	typ     uint8
	kind    Kind
	count   uint32
	id      uint64
	created int64
	payload []byte // aliases the decoded buffer
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
	b = append(b, r.payload...)
	binary.LittleEndian.PutUint32(b[start+8:], recordCRC(b[start+4:start+8], b[start+frameSize:]))
	return b
}

// recordCRC is the CRC32-C of a record's length field and body.
func recordCRC(length, body []byte) uint32 {
	return crc32.Update(crc32.Update(0, castagnoli, length), castagnoli, body)
}

// ackRecord returns an ack record for ids.
func ackRecord(ids []uint64, created int64) *rawRecord {
	payload := make([]byte, 0, 8*len(ids))
	for _, id := range ids {
		payload = binary.LittleEndian.AppendUint64(payload, id)
	}
	return &rawRecord{typ: typeAck, count: uint32(len(ids)), created: created, payload: payload}
}

// decodeRecord decodes the record at the start of b and returns it with its encoded size. It
// returns errShort when b ends before the record does (a torn write, or a damaged length) and
// errCorrupt when the bytes are not a valid record. It never panics and never allocates.
func decodeRecord(b []byte) (rawRecord, int, error) {
	if len(b) < frameSize {
		if !bytes.HasPrefix(magic, b[:min(len(b), len(magic))]) {
			return rawRecord{}, 0, errCorrupt
		}
		return rawRecord{}, 0, errShort
	}
	if !bytes.Equal(b[:4], magic) {
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
		payload: b[headerSize:total:total],
	}
	if b[14] != 0 || b[15] != 0 {
		return rawRecord{}, 0, errCorrupt
	}
	switch r.typ {
	case typeData:
		if r.kind != Legacy && r.kind != Tagged || r.id == 0 {
			return rawRecord{}, 0, errCorrupt
		}
	case typeAck:
		if r.kind != 0 || r.id != 0 || uint64(len(r.payload)) != 8*uint64(r.count) {
			return rawRecord{}, 0, errCorrupt
		}
	default:
		return rawRecord{}, 0, errCorrupt
	}
	return r, total, nil
}

// ackIDs returns the ids of an ack record.
func (r *rawRecord) ackIDs(yield func(uint64)) {
	for i := 0; i+8 <= len(r.payload); i += 8 {
		yield(binary.LittleEndian.Uint64(r.payload[i:]))
	}
}

// scanResult is what scanning a segment found.
type scanResult struct {
	records []scanned // valid records, in file order
	corrupt int       // damaged regions skipped
	end     int       // offset just past the last valid record
	tornEnd bool      // the bytes after end are a torn record with nothing valid after them
}

// scanned is one valid record found by scan, with its position.
type scanned struct {
	rawRecord
	off, size int
}

// scan decodes every valid record of a segment's bytes. A damaged region (a bad CRC, a damaged
// header) is skipped by searching for the next magic that starts a valid record, and counted.
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
		// Look for the next valid record after the damage.
		next := resync(b, off+1)
		res.corrupt++
		if next < 0 {
			res.tornEnd = true
			return res
		}
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
