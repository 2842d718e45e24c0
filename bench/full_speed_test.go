package bench

import (
	"context"
	"errors"
	"testing"

	"github.com/go-librato/librato"
)

// BenchmarkFullSpeed is issue 10's last target: with AutoSubmitCount 300 and the default
// MaxPending, one goroutine calls Queue.Add as fast as it can (three tags, the host cycling
// through the 300 series of e2eSeries) while the queue POSTs to the discard process, which
// discards the bodies and so keeps up with anything the client sends. One op is one Add.
//
// Reported: refused/measurement, the share of the Adds refused with ErrQueueFull (the target is
// 0), and sent-per-s, the measurements the queue delivered per second of the run. At the end the
// queue is closed and its figures checked: every Add was sent or refused, each refusal counted
// once, and the discard process received what was sent.
func BenchmarkFullSpeed(b *testing.B) {
	q := discardQueue(b, librato.QueueOptions{AutoSubmitCount: 300})
	maps := make([]map[string]string, len(e2eSeries))
	for k, ts := range e2eSeries {
		maps[k] = ts.tags()
	}
	before := received(b)
	b.ReportAllocs()
	b.ResetTimer()
	refused := 0
	for i := range b.N {
		err := q.Add(librato.Measurement{Name: metricName, Value: float64(i & 1023), Tags: maps[i%len(maps)]})
		switch {
		case errors.Is(err, librato.ErrQueueFull):
			refused++
		case err != nil:
			b.Fatal(err)
		}
	}
	if err := q.Close(context.Background()); err != nil {
		b.Fatal(err)
	}
	b.StopTimer()
	st := q.Stats()
	got := awaitReceived(b, before).Points - before.Points
	if st.Sent+st.Dropped != uint64(b.N) || st.Dropped != uint64(refused) || got != st.Sent {
		b.Fatalf("%d added, %d refused: the queue says %d sent and %d dropped; %d received",
			b.N, refused, st.Sent, st.Dropped, got)
	}
	b.ReportMetric(float64(refused)/float64(b.N), "refused/measurement")
	b.ReportMetric(float64(st.Sent)/b.Elapsed().Seconds(), "sent-per-s")
}
