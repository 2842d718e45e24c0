package librato_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
	"unsafe"

	"github.com/go-librato/librato"
	"github.com/go-librato/librato/libratotest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The fault matrix: every scenario adds measurements with distinct values (their ids) through a
// Queue, injects a fault, and checks the exact accounting the Queue promises:
//
//	added = accepted by the server (once each) + reported dropped + reported rejected
//
// with every id in exactly one of the three, and the duplicates (ids the server accepted twice)
// exactly as the scenario expects.

// action is what faultEnv does with a request instead of passing it on.
type action int

const (
	pass            action = iota
	resetMidBody           // read half the body, then reset the connection
	acceptLoseReply        // let the fake accept the request, then drop the connection unanswered
	acceptHang             // let the fake accept the request, then never answer (signals hung)
)

// faultEnv is the fake API on a listener it can stop and restart on the same address, behind a
// handler that records which measurements the fake accepted and can break requests.
type faultEnv struct {
	t    *testing.T
	fake *libratotest.Server
	addr string

	mu       sync.Mutex
	srv      *http.Server
	actions  []action    // for the next POSTs, in order
	accepted map[int]int // measurement id (its value) -> times accepted
	posts    int
	hung     chan struct{} // closed by the first acceptHang
}

func newFaultEnv(t *testing.T, opts ...libratotest.Option) *faultEnv {
	t.Helper()
	e := &faultEnv{t: t, fake: libratotest.NewUnstartedServer(opts...), accepted: map[int]int{}, hung: make(chan struct{})}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	e.addr = ln.Addr().String()
	e.fake.URL = "http://" + e.addr
	e.serve(ln)
	t.Cleanup(e.down)
	return e
}

func (e *faultEnv) serve(ln net.Listener) {
	srv := &http.Server{Handler: e, ReadHeaderTimeout: 5 * time.Second}
	e.mu.Lock()
	e.srv = srv
	e.mu.Unlock()
	go srv.Serve(ln) //nolint:errcheck // ends with ErrServerClosed
}

// down stops the listener and drops every connection, as a crashed server would.
func (e *faultEnv) down() {
	e.mu.Lock()
	srv := e.srv
	e.srv = nil
	e.mu.Unlock()
	if srv != nil {
		srv.Close()
	}
}

// up restarts the server on the same address.
func (e *faultEnv) up() {
	e.t.Helper()
	var ln net.Listener
	var err error
	for range 50 { // the port was ours a moment ago; retry briefly if the kernel still holds it
		if ln, err = net.Listen("tcp", e.addr); err == nil {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	require.NoError(e.t, err)
	e.serve(ln)
}

func (e *faultEnv) next(actions ...action) {
	e.mu.Lock()
	e.actions = append(e.actions, actions...)
	e.mu.Unlock()
}

func (e *faultEnv) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	a := pass
	e.mu.Lock()
	if r.Method == http.MethodPost {
		e.posts++
		if len(e.actions) > 0 {
			a, e.actions = e.actions[0], e.actions[1:]
		}
	}
	e.mu.Unlock()
	if a == resetMidBody {
		half := make([]byte, max(r.ContentLength/2, 1))
		_, _ = io.ReadFull(r.Body, half)
		resetConn(w)
		return
	}
	body, _ := io.ReadAll(r.Body)
	r.Body = io.NopCloser(bytes.NewReader(body))
	if a == acceptLoseReply || a == acceptHang {
		rec := httptest.NewRecorder()
		e.fake.ServeHTTP(rec, r)
		if rec.Code/100 == 2 {
			e.count(body)
		}
		if a == acceptHang {
			close(e.hung)
			<-r.Context().Done() // the client goes away (or dies) waiting
			return
		}
		resetConn(w)
		return
	}
	sw := &statusWriter{ResponseWriter: w}
	e.fake.ServeHTTP(sw, r)
	if r.Method == http.MethodPost && sw.status/100 == 2 {
		e.count(body)
	}
}

// resetConn closes the client's connection with a TCP reset.
func resetConn(w http.ResponseWriter) {
	conn, _, err := w.(http.Hijacker).Hijack()
	if err != nil {
		panic(http.ErrAbortHandler)
	}
	if tc, ok := conn.(*net.TCPConn); ok {
		_ = tc.SetLinger(0)
	}
	conn.Close()
}

// count records the measurements of an accepted POST body (legacy or tagged).
func (e *faultEnv) count(body []byte) {
	var p struct {
		Gauges, Counters, Measurements []struct{ Value float64 }
	}
	if err := json.Unmarshal(body, &p); err != nil {
		e.t.Errorf("accepted body is not JSON: %v", err)
		return
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	for _, list := range [][]struct{ Value float64 }{p.Gauges, p.Counters, p.Measurements} {
		for _, m := range list {
			e.accepted[int(m.Value)]++
		}
	}
}

// statusWriter remembers the status; it passes Hijack on for the fake's Drop faults.
type statusWriter struct {
	http.ResponseWriter
	status int
}

func (s *statusWriter) WriteHeader(code int) {
	s.status = code
	s.ResponseWriter.WriteHeader(code)
}

func (s *statusWriter) Write(b []byte) (int, error) {
	if s.status == 0 {
		s.status = http.StatusOK
	}
	return s.ResponseWriter.Write(b)
}

func (s *statusWriter) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	return s.ResponseWriter.(http.Hijacker).Hijack()
}

// client connects to the env with fast retries and short timeouts.
func (e *faultEnv) client(opts ...librato.Option) *librato.Client {
	e.t.Helper()
	all := append([]librato.Option{
		librato.WithRetry(librato.RetryPolicy{MaxAttempts: 3, MinWait: time.Millisecond, MaxWait: 10 * time.Millisecond}),
		// Long enough that a loaded CI machine never times out a request the server then accepts
		// (a duplicate the test did not ask for); the timeout case sets its own.
		librato.WithTimeout(5 * time.Second),
	}, opts...)
	c, err := e.fake.Client(all...)
	require.NoError(e.t, err)
	return c
}

// ledger collects what a Queue reported lost, by id (ids 0..n-1, preallocated so that
// counting does not allocate during a memory measurement).
type ledger struct {
	mu       sync.Mutex
	dropped  []int32
	rejected []int32
	reasons  []error
}

func newLedger(n int) *ledger { return &ledger{dropped: make([]int32, n), rejected: make([]int32, n)} }

func (l *ledger) onDrop(ms []librato.Measurement, reason error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	var rej *librato.RejectedError
	into := l.dropped
	if errors.As(reason, &rej) {
		into = l.rejected
	}
	for _, m := range ms {
		into[int(m.Value)]++
	}
	if len(l.reasons) < 100 {
		l.reasons = append(l.reasons, reason)
	}
}

// outcome is the exact accounting of one scenario.
type outcome struct {
	added, accepted, dropped, rejected, duplicates int
}

// account checks that every id in [0, n) is accounted for exactly once and returns the totals.
func account(t *testing.T, e *faultEnv, l *ledger, n int) outcome {
	t.Helper()
	e.mu.Lock()
	defer e.mu.Unlock()
	l.mu.Lock()
	defer l.mu.Unlock()
	o := outcome{added: n}
	for id := range n {
		acc, drop, rej := e.accepted[id], int(l.dropped[id]), int(l.rejected[id])
		if acc > 1 {
			o.duplicates += acc - 1
		}
		places := min(acc, 1) + drop + rej
		if places != 1 {
			t.Errorf("id %d: accepted %d times, dropped %d, rejected %d: want exactly one outcome", id, acc, drop, rej)
		}
		o.accepted += min(acc, 1)
		o.dropped += drop
		o.rejected += rej
	}
	assert.Len(t, e.accepted, o.accepted, "the server accepted only ids that were added")
	assert.Equal(t, o.added, o.accepted+o.dropped+o.rejected, "added = accepted + dropped + rejected")
	return o
}

// addN adds measurements with values 0..n-1 and times one second apart, newest last.
func addN(t *testing.T, q *librato.Queue, n int, now time.Time) {
	t.Helper()
	for i := range n {
		require.NoError(t, q.Add(librato.Measurement{Name: "fault.matrix", Value: float64(i), Source: "s",
			Time: now.Add(time.Duration(i-n) * time.Second / 10)}))
	}
}

// submitUntilDone submits until the queue is empty, for at most d.
func submitUntilDone(t *testing.T, q *librato.Queue, d time.Duration) (failures int) {
	t.Helper()
	deadline := time.Now().Add(d)
	for {
		err := q.Flush(context.Background())
		if err == nil && q.Stats().Queued == 0 {
			return failures
		}
		var rej *librato.RejectedError
		if err != nil && !errors.As(err, &rej) {
			failures++
		}
		if time.Now().After(deadline) {
			t.Fatalf("queue not drained after %v: %v (%+v)", d, err, q.Stats())
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestFaultMatrix(t *testing.T) {
	const n, chunk = 1000, 100
	rateLimit := func(status int, retryAfter bool) func(e *faultEnv) {
		return func(e *faultEnv) {
			e.fake.SetRateLimit(libratotest.RateLimit{Limit: 2, Per: 150 * time.Millisecond, Status: status, RetryAfter: retryAfter})
		}
	}
	tests := []struct {
		name         string
		inject       func(e *faultEnv) // before the first Submit, which must then fail
		recover      func(e *faultEnv) // after it
		bad          int               // id of a measurement the server rejects (-1: none)
		wantRejected int
		wantDup      int
		opts         []librato.Option // client options beyond faultEnv's
	}{
		{name: "5xx burst then recovery", bad: -1,
			inject: func(e *faultEnv) {
				require.NoError(t, e.fake.AddFault(libratotest.Fault{Status: http.StatusServiceUnavailable, Body: `{"errors":{"request":["Service Unavailable"]}}`, Count: 7}))
			}},
		{name: "500 text bodies then recovery", bad: -1,
			inject: func(e *faultEnv) {
				require.NoError(t, e.fake.AddFault(libratotest.Fault{Status: http.StatusInternalServerError, Body: "Internal Server Error", Count: 4}))
			}},
		{name: "429 with Retry-After", bad: -1, inject: rateLimit(http.StatusTooManyRequests, true)},
		{name: "429 without Retry-After", bad: -1, inject: rateLimit(http.StatusTooManyRequests, false)},
		{name: "403 with the rate-limit body", bad: -1, inject: rateLimit(http.StatusForbidden, false)},
		{name: "connection reset mid-body", bad: -1,
			inject: func(e *faultEnv) { e.next(resetMidBody, resetMidBody, resetMidBody, resetMidBody) }},
		{name: "connection dropped before the answer", bad: -1,
			inject: func(e *faultEnv) { require.NoError(t, e.fake.AddFault(libratotest.Fault{Drop: true, Count: 4})) }},
		{name: "response lost after the server accepted", bad: -1, wantDup: chunk,
			inject: func(e *faultEnv) { e.next(acceptLoseReply, resetMidBody, resetMidBody) }},
		{name: "server slower than the timeout", bad: -1, opts: []librato.Option{librato.WithTimeout(200 * time.Millisecond)},
			inject: func(e *faultEnv) {
				require.NoError(t, e.fake.AddFault(libratotest.Fault{Latency: 300 * time.Millisecond, Rate: 1}))
			},
			recover: func(e *faultEnv) { e.fake.ClearFaults() }},
		{name: "server down, then back", bad: -1,
			inject:  func(e *faultEnv) { e.down() },
			recover: func(e *faultEnv) { e.up() }},
		{name: "one invalid measurement in a chunk (400 split)", bad: 437, wantRejected: 1},
	}
	survived := 0
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newFaultEnv(t)
			l := newLedger(n)
			c := e.client(tt.opts...)
			q := newQueue(t, c, librato.QueueOptions{ChunkSize: chunk, OnDrop: l.onDrop})
			now := time.Now()
			for i := range n {
				m := librato.Measurement{Name: "fault.matrix", Value: float64(i), Source: "s",
					Time: now.Add(time.Duration(i-n) * time.Second / 10)}
				if i == tt.bad {
					m.Time = now.Add(-3 * time.Hour) // valid for the client, too old for the API
				}
				require.NoError(t, q.Add(m))
			}
			if tt.inject != nil {
				tt.inject(e)
				require.Error(t, q.Flush(context.Background()), "the fault must hit the first flush")
				if tt.recover != nil {
					tt.recover(e)
				}
			}
			submitUntilDone(t, q, 10*time.Second)
			require.NoError(t, q.Close(context.Background()))

			o := account(t, e, l, n)
			assert.Zero(t, o.dropped, "nothing lost")
			assert.Equal(t, tt.wantRejected, o.rejected)
			assert.Equal(t, tt.wantDup, o.duplicates)
			st := q.Stats()
			assert.Equal(t, uint64(o.accepted), st.Sent)
			assert.Equal(t, uint64(o.rejected), st.Rejected)
			assert.Equal(t, uint64(o.dropped), st.Dropped)
			assert.Zero(t, st.Queued)
			if tt.bad >= 0 {
				require.Len(t, l.reasons, 1)
				assert.ErrorIs(t, l.reasons[0], librato.ErrBadRequest)
				assert.Contains(t, l.reasons[0].Error(), "too far in the past", "the server's reason is reported")
			}
			if !t.Failed() {
				survived++
			}
			t.Logf("%+v", o)
		})
	}
	t.Logf("faults survived: %d of %d", survived, len(tests))
}

// TestFaultCloseServerNeverAnswers: Close returns by its deadline and reports, by OnDrop and
// its error, every measurement it could not send.
func TestFaultCloseServerNeverAnswers(t *testing.T) {
	const n = 500
	e := newFaultEnv(t)
	require.NoError(t, e.fake.AddFault(libratotest.Fault{Latency: time.Hour, Rate: 1})) // every request hangs until the client goes away
	defer e.fake.ClearFaults()
	l := newLedger(n)
	c := e.client(librato.WithTimeout(time.Hour)) // only the ctx bounds the wait
	q := newQueue(t, c, librato.QueueOptions{ChunkSize: 100, OnDrop: l.onDrop})
	addN(t, q, n, time.Now())

	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	start := time.Now()
	err := q.Close(ctx)
	took := time.Since(start)
	require.Error(t, err)
	assert.ErrorIs(t, err, context.DeadlineExceeded)
	assert.Contains(t, err.Error(), "500 measurements not sent")
	assert.Less(t, took, time.Second, "Close returns by the deadline (took %v)", took)
	o := account(t, e, l, n)
	assert.Equal(t, outcome{added: n, dropped: n}, o)
	assert.Equal(t, uint64(n), q.Stats().Dropped)
	assert.ErrorIs(t, q.Add(librato.Measurement{Name: "late", Value: 1}), librato.ErrClosed)
}

// TestFaultSustainedLoadWhileDown: with the server down, adding far more than MaxPending keeps
// the live heap under the bound; what does not fit is dropped and reported, and what fits is
// delivered once the server is back.
func TestFaultSustainedLoadWhileDown(t *testing.T) {
	const (
		maxPending = 20_000
		workers    = 4
		each       = 50_000
		n          = workers * each
	)
	e := newFaultEnv(t)
	e.down()
	l := newLedger(n)
	var bgErrs atomic.Int64
	c := e.client()
	q := newQueue(t, c, librato.QueueOptions{MaxPending: maxPending, FlushInterval: 5 * time.Millisecond,
		OnDrop: l.onDrop, OnError: func(error) { bgErrs.Add(1) }})

	runtime.GC()
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	now := time.Now()
	var full atomic.Int64
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			for i := range each {
				id := w*each + i
				err := q.Add(librato.Measurement{Name: "fault.load", Value: float64(id), Source: "s",
					Time: now.Add(-time.Duration(id%600) * time.Second)})
				if errors.Is(err, librato.ErrQueueFull) {
					full.Add(1)
				} else if err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
	time.Sleep(30 * time.Millisecond) // a few failed background flushes
	runtime.GC()
	runtime.ReadMemStats(&after)
	growth := int64(after.HeapAlloc) - int64(before.HeapAlloc)
	// The bound: MaxPending measurements, in the queue's buffer and one spare, plus slack.
	bound := int64(2*maxPending)*int64(unsafe.Sizeof(librato.Measurement{})) + 4<<20
	t.Logf("live heap growth with the server down: %.1f MiB for %d adds (bound %.1f MiB); %d dropped as full; %d failed background flushes",
		float64(growth)/(1<<20), n, float64(bound)/(1<<20), full.Load(), bgErrs.Load())
	assert.Less(t, growth, bound)
	assert.Equal(t, maxPending, q.Stats().Queued)
	assert.Equal(t, int64(n-maxPending), full.Load())
	assert.Positive(t, bgErrs.Load(), "background flushes failed while down")

	e.up()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	require.NoError(t, q.Close(ctx))
	o := account(t, e, l, n)
	assert.Equal(t, outcome{added: n, accepted: maxPending, dropped: n - maxPending}, o)
}

// badInputsTried counts the bad inputs of TestBadInputs, for the report.
var badInputsTried atomic.Int64

// TestBadInputs: every bad measurement gets a clear error (wrapping ErrInvalid) at Queue.Add and
// at Submit, never a panic and never a request.
func TestBadInputs(t *testing.T) {
	nan, inf := math.NaN(), math.Inf(1)
	long := strings.Repeat("n", 256)
	tags51 := map[string]string{}
	for i := range 51 {
		tags51[fmt.Sprintf("t%02d", i)] = "v"
	}
	now := time.Now()
	tests := []struct {
		name string
		m    librato.Measurement
		want string // a word the error must contain
	}{
		{"NaN value", librato.Measurement{Name: "x", Value: nan}, "NaN"},
		{"+Inf value", librato.Measurement{Name: "x", Value: inf}, "finite"},
		{"-Inf value", librato.Measurement{Name: "x", Value: -inf}, "finite"},
		{"value beyond the API's exponent", librato.Measurement{Name: "x", Value: 1e200}, "too large"},
		{"empty name", librato.Measurement{Name: "", Value: 1}, "name"},
		{"256-char name", librato.Measurement{Name: long, Value: 1}, "name"},
		{"control character in name", librato.Measurement{Name: "a\x01b", Value: 1}, "name"},
		{"newline in name", librato.Measurement{Name: "a\nb", Value: 1}, "name"},
		{"invalid UTF-8 in name", librato.Measurement{Name: "a\xffb", Value: 1}, "name"},
		{"space in name", librato.Measurement{Name: "a b", Value: 1}, "name"},
		{"control character in source", librato.Measurement{Name: "x", Value: 1, Source: "s\x00"}, "source"},
		{"256-char source", librato.Measurement{Name: "x", Value: 1, Source: long}, "source"},
		{"51 tags", librato.Measurement{Name: "x", Value: 1, Tags: tags51}, "tags"},
		{"65-char tag name", librato.Measurement{Name: "x", Value: 1, Tags: map[string]string{strings.Repeat("k", 65): "v"}}, "tag name"},
		{"empty tag name", librato.Measurement{Name: "x", Value: 1, Tags: map[string]string{"": "v"}}, "tag name"},
		{"empty tag value", librato.Measurement{Name: "x", Value: 1, Tags: map[string]string{"k": ""}}, "value \"\": must not be empty"},
		{"invalid UTF-8 tag value", librato.Measurement{Name: "x", Value: 1, Tags: map[string]string{"k": "\xfe"}}, "invalid character"},
		{"control character in tag value", librato.Measurement{Name: "x", Value: 1, Tags: map[string]string{"k": "a\x07"}}, "invalid character"},
		{"summary sum without count", librato.Measurement{Name: "x", Summary: &librato.Summary{Sum: 5}}, "count"},
		{"summary negative count", librato.Measurement{Name: "x", Summary: &librato.Summary{Count: -1, Sum: 1}}, "count"},
		{"summary NaN sum", librato.Measurement{Name: "x", Summary: &librato.Summary{Count: 1, Sum: nan}}, "sum"},
		{"summary min above max", librato.Measurement{Name: "x", Summary: &librato.Summary{Count: 2, Sum: 3, Min: 2, Max: 1}}, "min"},
		{"summary with a value too", librato.Measurement{Name: "x", Value: 1, Summary: &librato.Summary{Count: 1, Sum: 1}}, "value"},
		{"time far in the past", librato.Measurement{Name: "x", Value: 1, Time: time.Date(1900, 1, 1, 0, 0, 0, 0, time.UTC)}, "1971"},
		{"time in milliseconds mistaken for seconds", librato.Measurement{Name: "x", Value: 1, Time: time.Unix(now.UnixMilli(), 0)}, "future"},
		{"time far in the future", librato.Measurement{Name: "x", Value: 1, Time: now.Add(24 * time.Hour)}, "future"},
		{"negative period", librato.Measurement{Name: "x", Value: 1, Period: -time.Second}, "period"},
		{"fractional period", librato.Measurement{Name: "x", Value: 1, Period: 1500 * time.Millisecond}, "period"},
		{"counter with tags", librato.Measurement{Name: "x", Value: 1, Type: librato.Counter, Tags: map[string]string{"k": "v"}}, "counter"},
		{"unknown type", librato.Measurement{Name: "x", Value: 1, Type: 9}, "type"},
		{"attributes that cannot be JSON", librato.Measurement{Name: "x", Value: 1, Attributes: map[string]any{"f": func() {}}}, "attributes"},
	}
	e := newFaultEnv(t)
	c := e.client()
	noPanic := func(t *testing.T, what string, f func() error) (err error) {
		t.Helper()
		defer func() {
			if r := recover(); r != nil {
				t.Errorf("%s panicked: %v", what, r)
			}
		}()
		return f()
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			q := newQueue(t, c, librato.QueueOptions{})
			defer q.Close(context.Background())
			err := noPanic(t, "Add", func() error { return q.Add(tt.m) })
			require.Error(t, err, "Add")
			assert.ErrorIs(t, err, librato.ErrInvalid)
			assert.Contains(t, err.Error(), tt.want)
			assert.Zero(t, q.Stats().Queued)
			require.NoError(t, q.Flush(context.Background()))

			err = noPanic(t, "Submit", func() error { return c.Submit(context.Background(), tt.m) })
			require.Error(t, err, "Submit")
			assert.ErrorIs(t, err, librato.ErrInvalid)
			assert.Contains(t, err.Error(), tt.want)
			// One bad measurement among good ones: the call is refused as a whole, before I/O.
			err = noPanic(t, "Submit batch", func() error {
				return c.Submit(context.Background(), librato.Measurement{Name: "ok", Value: 1}, tt.m)
			})
			require.Error(t, err)
			assert.Contains(t, err.Error(), "measurement 1")
			badInputsTried.Add(1)
		})
	}
	e.mu.Lock()
	assert.Zero(t, e.posts, "no bad input reached the API")
	e.mu.Unlock()
	t.Logf("bad inputs tried: %d, requests sent: 0", badInputsTried.Load())
}

// TestCountNeverWithoutSum: a summary's count always goes with its sum, zero included.
func TestCountNeverWithoutSum(t *testing.T) {
	srv, c := fakeClient(t, nil)
	require.NoError(t, c.Submit(context.Background(),
		librato.Measurement{Name: "legacy.summary", Summary: &librato.Summary{Count: 3}},
		librato.Measurement{Name: "tagged.summary", Summary: &librato.Summary{Count: 2}, Tags: map[string]string{"k": "v"}}))
	reqs := srv.Requests()
	require.Len(t, reqs, 2)
	for _, r := range reqs {
		var body struct{ Gauges, Counters, Measurements []map[string]any }
		require.NoError(t, json.Unmarshal(r.Body, &body))
		n := 0
		for _, list := range [][]map[string]any{body.Gauges, body.Counters, body.Measurements} {
			for _, m := range list {
				n++
				assert.Contains(t, m, "count")
				assert.Contains(t, m, "sum", "count without sum in %s", r.Body)
				assert.Equal(t, 0.0, m["sum"])
			}
		}
		assert.Equal(t, 1, n)
	}
}
