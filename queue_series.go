package librato

import (
	"bytes"
	"context"
	"fmt"
	"maps"
	"strconv"
	"time"
)

// QueueSeries is a handle on one series of a Queue: a measurement's name, tags, source, type and
// period, checked and encoded once by Queue.Series, so that each Add costs the value and the time
// only. Many Adds to the same series (an exporter's, an instrumented loop's) are its use; the
// measurements are the ones Queue.Add would make. It is safe for concurrent use.
type QueueSeries struct {
	q      *Queue
	tagged bool
	array  int
	prefix []byte      // the encoded measurement up to its value
	suffix []byte      // and after it
	m      Measurement // the template (its tags copied), for OnDrop
}

// Series checks m as Queue.Add would (its Value and Time are not used; a Summary is refused)
// and returns a handle that adds measurements like it with their own value and time. m's maps
// may change once Series returns.
func (q *Queue) Series(m Measurement) (*QueueSeries, error) {
	if m.Summary != nil {
		return nil, fmt.Errorf("librato: queue series %q: %w", m.Name, &ValidationError{Field: "summary", Reason: "a series handle adds values; add summaries with Queue.Add"})
	}
	m.Value, m.Time = 0, time.Time{}
	var scratch [inlineTags]tagPair
	ck, err := q.c.checkMeasurement(&m, q.base, scratch[:], q.seen)
	if err != nil {
		return nil, &measurementError{name: m.Name, err: err}
	}
	obj := appendObject(nil, &m, &ck)
	const zero = `,"value":0`
	i := bytes.Index(obj, []byte(zero))
	if i < 0 {
		return nil, fmt.Errorf("librato: queue series %q: cannot lay out %s", m.Name, obj) // cannot happen: appendObject writes the value
	}
	m.Tags = maps.Clone(m.Tags)
	m.Attributes = maps.Clone(m.Attributes)
	return &QueueSeries{q: q, tagged: ck.tagged, array: arrayOf(&m), prefix: obj[:i], suffix: obj[i+len(zero):], m: m}, nil
}

// Add adds the series' measurement of value at t (zero: the time of the chunk, as for
// Queue.Add); it fails as Queue.Add does: a value or time the rules refuse, a full queue
// (ErrQueueFull, reported to OnDrop), a closed one (ErrClosed).
func (s *QueueSeries) Add(value float64, t time.Time) error {
	if err := checkValue(value); err != nil {
		return &measurementError{name: s.m.Name, err: err}
	}
	if err := s.q.c.checkTime(t); err != nil {
		return &measurementError{name: s.m.Name, err: err}
	}
	var buf [addBufSize]byte
	obj := append(buf[:0], s.prefix...)
	obj = append(obj, `,"value":`...)
	obj = appendFloat(obj, value)
	if !t.IsZero() {
		if s.tagged {
			obj = append(obj, `,"time":`...)
		} else {
			obj = append(obj, `,"measure_time":`...)
		}
		obj = strconv.AppendInt(obj, t.Unix(), 10)
	}
	obj = append(obj, s.suffix...)
	return s.q.enqueue(context.Background(), false, obj, s.tagged, s.array, func() Measurement {
		m := s.m
		m.Value, m.Time = value, t
		m.Tags = maps.Clone(m.Tags)
		return m
	})
}
