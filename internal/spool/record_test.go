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
		{"data legacy", rawRecord{typ: typeData, kind: Legacy, count: 3, id: 1, created: 1700000000e9, payload: []byte(`{"gauges":[]}`)}},
		{"data tagged empty payload", rawRecord{typ: typeData, kind: Tagged, count: 0, id: 1 << 60, created: -5}},
		{"ack", *ackRecord([]uint64{1, 2, 1 << 63}, 42)},
		{"ack none", *ackRecord(nil, 0)},
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
			assert.Equal(t, string(tt.r.payload), string(got.payload))
			assert.Equal(t, b, appendRecord(nil, &got))
		})
	}
}

func TestDecodeRecordRejects(t *testing.T) {
	good := appendRecord(nil, &rawRecord{typ: typeData, kind: Tagged, count: 1, id: 7, created: 1, payload: []byte("body")})
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
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, _, err := decodeRecord(tt.b)
			assert.ErrorIs(t, err, tt.want)
		})
	}
}

func FuzzSpoolDecode(f *testing.F) {
	f.Add(appendRecord(nil, &rawRecord{typ: typeData, kind: Legacy, count: 2, id: 1, created: 3, payload: []byte(`{"gauges":[{"name":"a","value":1}]}`)}))
	f.Add(appendRecord(nil, ackRecord([]uint64{1, 2}, 9)))
	f.Add([]byte("LSP1"))
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
