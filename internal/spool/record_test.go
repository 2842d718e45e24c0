package spool

import (
	"bytes"
	"encoding/binary"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestRecordRoundTrip(t *testing.T) {
	tests := []struct {
		name string
		r    rawRecord
	}{
		{"data legacy", rawRecord{typ: typeData, kind: Legacy, count: 3, id: 1, created: 1700000000e9,
			totals: totals{lsn: 1, lastID: 1, dataMeas: 3}, payload: []byte(`{"gauges":[]}`)}},
		{"data tagged empty payload", rawRecord{typ: typeData, kind: Tagged, count: 0, id: 1 << 60, created: -5,
			totals: totals{lsn: 7, lastID: 1 << 60, dataMeas: 9, ackedRecs: 2, ackedMeas: 4}}},
		{"ack", rawRecord{typ: typeAck, count: 3, created: 42, totals: totals{lsn: 9, lastID: 5, dataMeas: 50, ackedRecs: 3, ackedMeas: 30},
			payload: ackPayload(nil, []ackItem{{1, 10}, {2, 10}, {1 << 63, 10}})}},
		{"ack none", rawRecord{typ: typeAck, totals: totals{lsn: 1}}},
		{"note", rawRecord{typ: typeNote, count: 2, totals: totals{lsn: 3, lastID: 2, ackedRecs: 2}, payload: notePayload(2, 1<<64-5, []uint64{3, 4})}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := appendRecord(nil, &tt.r)
			require.Len(t, b, recordSize(len(tt.r.payload)))
			got, n, err := decodeRecord(append(b, "trailing"...))
			require.NoError(t, err)
			assert.Equal(t, len(b), n)
			assert.Equal(t, tt.r.typ, got.typ)
			assert.Equal(t, tt.r.kind, got.kind)
			assert.Equal(t, tt.r.count, got.count)
			assert.Equal(t, tt.r.id, got.id)
			assert.Equal(t, tt.r.created, got.created)
			assert.Equal(t, tt.r.totals, got.totals)
			assert.Equal(t, string(tt.r.payload), string(got.payload))
			assert.Equal(t, b, appendRecord(nil, &got))
		})
	}
}

func TestDecodeRecordRejects(t *testing.T) {
	good := appendRecord(nil, &rawRecord{typ: typeData, kind: Tagged, count: 1, id: 7, created: 1,
		totals: totals{lsn: 9, lastID: 7, dataMeas: 20}, payload: []byte("body")})
	mutate := func(f func(b []byte) []byte) []byte { return f(bytes.Clone(good)) }
	recrc := func(b []byte) []byte { // keeps the CRC valid so the field check itself is tested
		binary.LittleEndian.PutUint32(b[8:], recordCRC(b[4:8], b[frameSize:]))
		return b
	}
	tests := []struct {
		name string
		b    []byte
		want error
	}{
		{"empty", nil, errShort},
		{"magic prefix", []byte("LS"), errShort},
		{"not magic", []byte("XX"), errCorrupt},
		{"torn body", good[:len(good)-1], errShort},
		{"torn frame", good[:frameSize-1], errShort},
		{"bad magic", mutate(func(b []byte) []byte { b[0] = 'x'; return b }), errCorrupt},
		{"bad crc", mutate(func(b []byte) []byte { b[8]++; return b }), errCorrupt},
		{"bad payload byte", mutate(func(b []byte) []byte { b[len(b)-1]++; return b }), errCorrupt},
		{"length below fixed", mutate(func(b []byte) []byte { binary.LittleEndian.PutUint32(b[4:], 3); return b }), errCorrupt},
		{"length huge", mutate(func(b []byte) []byte { binary.LittleEndian.PutUint32(b[4:], 1<<31); return b }), errCorrupt},
		{"length beyond buffer", mutate(func(b []byte) []byte { binary.LittleEndian.PutUint32(b[4:], 1000); return b }), errShort},
		{"reserved set", mutate(func(b []byte) []byte { b[14] = 1; return recrc(b) }), errCorrupt},
		{"unknown type", mutate(func(b []byte) []byte { b[12] = 9; return recrc(b) }), errCorrupt},
		{"unknown kind", mutate(func(b []byte) []byte { b[13] = 2; return recrc(b) }), errCorrupt},
		{"zero id", mutate(func(b []byte) []byte { clear(b[20:28]); return recrc(b) }), errCorrupt},
		{"id not last id", mutate(func(b []byte) []byte { b[44]++; return recrc(b) }), errCorrupt},
		{"zero lsn", mutate(func(b []byte) []byte { clear(b[36:44]); return recrc(b) }), errCorrupt},
		{"format 1", mutate(func(b []byte) []byte { b[3] = '1'; return b }), errOldFormat},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, _, err := decodeRecord(tt.b)
			assert.ErrorIs(t, err, tt.want)
		})
	}
}

func FuzzSpoolDecode(f *testing.F) {
	f.Add(appendRecord(nil, &rawRecord{typ: typeData, kind: Legacy, count: 2, id: 1, created: 3, totals: totals{lsn: 1, lastID: 1, dataMeas: 2},
		payload: []byte(`{"gauges":[{"name":"a","value":1}]}`)}))
	f.Add(appendRecord(nil, &rawRecord{typ: typeAck, count: 2, created: 9, totals: totals{lsn: 2, lastID: 1, dataMeas: 2, ackedRecs: 2, ackedMeas: 2},
		payload: ackPayload(nil, []ackItem{{1, 1}, {2, 1}})}))
	f.Add([]byte("LSP2"))
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, b []byte) {
		r, n, err := decodeRecord(b)
		if err != nil {
			if n != 0 {
				t.Fatalf("error %v with size %d", err, n)
			}
			return
		}
		if n < headerSize || n > len(b) {
			t.Fatalf("size %d out of range (len %d)", n, len(b))
		}
		if again := appendRecord(nil, &r); !bytes.Equal(again, b[:n]) {
			t.Fatalf("re-encoding differs:\n got %x\nwant %x", again, b[:n])
		}
		// scan must never panic and must find this record at offset 0.
		res := scan(b)
		if len(res.records) == 0 || res.records[0].off != 0 || res.records[0].size != n {
			t.Fatalf("scan did not find the record at 0: %+v", res)
		}
	})
}
