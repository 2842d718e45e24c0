package spool

import (
	"fmt"
	"runtime"
	"testing"
)

// benchChunk is a realistic chunk: the body of 300 tagged measurements, about 40 KB.
var benchChunk = func() []byte {
	b := []byte(`{"measurements":[`)
	for i := range 300 {
		if i > 0 {
			b = append(b, ',')
		}
		b = fmt.Appendf(b, `{"name":"api.request.latency.%d","value":%d.375,"time":1700000000,"tags":{"host":"web-%02d","service":"api","region":"us-east-1"}}`, i%40, i, i%16)
	}
	return append(b, "]}"...)
}()

// BenchmarkAppendAck measures one chunk's life in the spool: a durable Append and its Ack, with
// fsync (the default) and without (NoSync), from one goroutine and from eight.
func BenchmarkAppendAck(b *testing.B) {
	for _, noSync := range []bool{false, true} {
		mode := "fsync"
		if noSync {
			mode = "nosync"
		}
		for _, par := range []int{1, 8} {
			b.Run(fmt.Sprintf("%s/appenders=%d", mode, par), func(b *testing.B) {
				s, err := Open(b.TempDir(), &Options{MaxBytes: -1, NoSync: noSync})
				if err != nil {
					b.Fatal(err)
				}
				defer s.Close()
				b.ReportAllocs()
				b.SetBytes(int64(len(benchChunk)))
				op := func() bool {
					ids, err := s.Append(Record{Kind: Tagged, Count: 300, Payload: benchChunk})
					if err == nil {
						err = s.Ack(ids...)
					}
					if err != nil {
						b.Error(err)
					}
					return err == nil
				}
				b.ResetTimer()
				if par == 1 {
					for range b.N {
						if !op() {
							return
						}
					}
				} else {
					b.SetParallelism(max(1, par/runtime.GOMAXPROCS(0)))
					b.RunParallel(func(pb *testing.PB) {
						for pb.Next() && op() {
						}
					})
				}
				st := s.Stats()
				b.ReportMetric(float64(st.Syncs)/float64(max(st.Appended, 1)), "fsyncs/chunk")
			})
		}
	}
}
