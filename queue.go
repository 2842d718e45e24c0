package librato

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"time"
)

// DefaultMaxPending is how many measurements a Queue holds at most when QueueOptions.MaxPending
// is zero.
const DefaultMaxPending = 100_000

// ErrClosed is returned by Queue.Add and Queue.AddAggregator after Close.
var ErrClosed = errors.New("librato: queue closed")

// ErrQueueFull is returned by Queue.Add when the queue already holds MaxPending measurements; the
// measurement is dropped, counted in QueueStats.Dropped and passed to OnDrop.
var ErrQueueFull = errors.New("librato: queue full")

// QueueOptions configures a Queue. The zero value is a valid configuration: no background
// flushing (call Submit), the client's chunk size, DefaultMaxPending.
type QueueOptions struct {
	// AutoSubmitCount, when set, flushes the queue in the background as soon as it holds this
	// many measurements: after the Nth Add, one flush sends them. Add itself never waits for it.
	AutoSubmitCount int
	// FlushInterval, when set, flushes the queue in the background at this interval.
	FlushInterval time.Duration
	// Tags go with every measurement of the queue (which makes them all tagged): a measurement's
	// own tags win over these, and these over the client's (WithTags).
	Tags map[string]string
	// MaxPending caps the measurements held, queued or being sent (default DefaultMaxPending).
	// Beyond it Add drops the new measurement and returns ErrQueueFull. Negative: no cap.
	MaxPending int
	// ChunkSize is the most measurements one POST carries (default: the client's, WithChunkSize).
	ChunkSize int
	// OnError, when set, is called with the error of every failed background flush (interval,
	// auto-submit). Submit, Flush and Close return their errors instead. It runs on the flushing
	// goroutine: keep it short.
	OnError func(error)
	// OnDrop, when set, is called with the measurements the queue lost and why: ErrQueueFull
	// (MaxPending reached, called from Add), a *RejectedError (the API refused them) or the Close
	// deadline's error (not sent in time). Every lost measurement is passed exactly once, and also
	// counted in QueueStats. The slice is only valid during the call.
	OnDrop func(dropped []Measurement, reason error)
	// SpoolDir, when set, makes the queue durable: each flush first appends what is queued to a
	// spool in this directory (fsynced), then sends from the spool and acknowledges what the API
	// accepted. What a flush could not send stays spooled, and a Queue opened later on the same
	// directory (after a crash too) sends it: delivery is at least once. Add still does no I/O.
	// One Queue at a time may use a directory; opening a busy one makes every Add fail.
	SpoolDir string
	// SpoolMaxBytes bounds the spool (default DefaultSpoolMaxBytes; negative: no bound): beyond it
	// the oldest chunks are dropped and reported to OnDrop with ErrSpoolFull.
	SpoolMaxBytes int64
	// SpoolInterval is, with a SpoolDir, the longest a measurement Add accepted waits in memory
	// before it is written to the spool and fsynced (default DefaultSpoolInterval), whether or not
	// a send is in progress or stuck. A process killed with SIGKILL loses at most what was added
	// in the last SpoolInterval (plus the write under way).
	SpoolInterval time.Duration
}

// DefaultSpoolInterval is QueueOptions.SpoolInterval when it is zero.
const DefaultSpoolInterval = 200 * time.Millisecond

// QueueStats is a snapshot of a Queue's counters (totals since NewQueue, except Queued).
type QueueStats struct {
	// Queued is the number of measurements held now: waiting, or in a flush.
	Queued int
	// Sent counts measurements the API accepted.
	Sent uint64
	// Dropped counts measurements lost without being sent: MaxPending reached, or left at Close.
	Dropped uint64
	// Rejected counts measurements the API refused with 400 (isolated by splitting their chunk).
	Rejected uint64
	// Retried counts measurements put back in the queue after a failed flush, for the next one.
	Retried uint64
	// Requests counts POSTs made; Failures those that failed.
	Requests, Failures uint64
	// Flushes counts flushes that had something to send.
	Flushes uint64
	// LastError is the error of the latest flush that failed (nil if none has).
	LastError error
	// Spooled is the number of measurements in the spool (QueueOptions.SpoolDir) not yet accepted.
	Spooled int
}

// Queue batches measurements and sends them in chunks: on Submit (or Flush), in the background
// when AutoSubmitCount or FlushInterval is set, and on Close. It is safe for concurrent use.
//
// Add validates the measurement and copies it into a buffer of chunk-sized blocks under a lock:
// no I/O, no waiting on the network, and no allocation unless the queue holds more than it ever
// did (flushed blocks are reused). A flush swaps the blocks out under the lock and encodes and
// sends outside it, one flush at a time, so concurrent Submits never send the same measurement
// twice.
// A chunk the API refuses with 400 is split to isolate the bad measurements; the rest is
// delivered. A chunk that fails for a transient reason (network, 5xx, 429, a ctx deadline) is
// kept, with the chunks after it, for the next flush; accepted chunks are never sent again.
// Measurements without a time are stamped once, when their flush starts, so a retried chunk keeps
// its time.
//
// Background flushing uses one goroutine, started by NewQueue only when AutoSubmitCount or
// FlushInterval is set, and stopped by Close. Always Close a Queue (defer q.Close(ctx)).
type Queue struct {
	c          *Client
	tags       map[string]string
	chunkSize  int
	maxPending int
	autoSubmit int
	onError    func(error)
	onDrop     func([]Measurement, error)

	mu             sync.Mutex
	legacy, tagged blocks          // waiting, oldest first (queue_blocks.go)
	spareL, spareT [][]Measurement // empty block lists handed back by the last flush
	free           [][]Measurement // empty blocks
	held           int             // waiting plus in a flush
	closed         bool            // Add refuses
	final          bool            // Close has taken what was left: a flush must not put anything back
	stats          QueueStats

	flushing chan struct{} // a one-slot semaphore: one flush at a time
	kick     chan struct{} // auto-submit wake-up, one slot
	stop     chan struct{} // closed by Close
	done     chan struct{} // closed when the flusher goroutine ends; nil without one
	bgCtx    context.Context
	bgCancel context.CancelFunc
	once     sync.Once
	err      error       // from the options, returned by every Add
	spool    *queueSpool // nil without QueueOptions.SpoolDir

	// Set by NewQueue for quick (queue_check.go).
	tagsAlways bool // every measurement goes to the tagged API
	baseTagsOK bool // the queue's and client's tags together are within MaxTags
	validTags  tagCache
	validNames nameCache
}

// initialCap is how many measurements the blocks have room for up front.
const initialCap = 1024

// NewQueue returns a Queue sending through c. See QueueOptions for the defaults.
func (c *Client) NewQueue(opts QueueOptions) *Queue {
	q := &Queue{
		c:          c,
		chunkSize:  opts.ChunkSize,
		maxPending: opts.MaxPending,
		autoSubmit: opts.AutoSubmitCount,
		onError:    opts.OnError,
		onDrop:     opts.OnDrop,
		flushing:   make(chan struct{}, 1),
		kick:       make(chan struct{}, 1),
		stop:       make(chan struct{}),
	}
	if q.chunkSize <= 0 {
		q.chunkSize = c.chunkSize
	}
	switch {
	case q.maxPending == 0:
		q.maxPending = DefaultMaxPending
	case q.maxPending < 0:
		q.maxPending = int(^uint(0) >> 1)
	}
	if err := ValidateTags(opts.Tags); err != nil {
		q.err = fmt.Errorf("librato: QueueOptions.Tags: %w", err)
	}
	if len(opts.Tags) > 0 {
		q.tags = make(map[string]string, len(opts.Tags))
		for k, v := range opts.Tags {
			q.tags[k] = v
		}
	}
	q.tagsAlways = c.appOptics || len(q.tags) > 0 || len(c.tags) > 0
	q.baseTagsOK = mergedTagCount(nil, q.tags, c.tags) <= MaxTags
	// Blocks for the first measurements, and block lists to swap in at the first flush, so that
	// Add allocates nothing in the common case.
	n := min(q.maxPending, max(initialCap, q.autoSubmit))
	nb := (n+q.blockSize()-1)/q.blockSize() + 1
	q.free = make([][]Measurement, 0, 2*nb)
	for range nb {
		q.free = append(q.free, make([]Measurement, 0, q.blockSize()))
	}
	q.tagged.bs, q.spareT = make([][]Measurement, 0, 2*nb), make([][]Measurement, 0, 2*nb)
	if !q.tagsAlways {
		q.legacy.bs, q.spareL = make([][]Measurement, 0, 2*nb), make([][]Measurement, 0, 2*nb)
	}
	if opts.SpoolDir != "" && q.err == nil {
		if qs, err := openQueueSpool(q, opts.SpoolDir, opts.SpoolMaxBytes); err != nil {
			q.err = err
		} else {
			q.spool = qs
		}
	}
	q.bgCtx, q.bgCancel = context.WithCancel(context.Background())
	if opts.FlushInterval > 0 || opts.AutoSubmitCount > 0 {
		q.done = make(chan struct{})
		go q.run(opts.FlushInterval)
		if q.spool != nil && q.spool.spooled() > 0 {
			q.kick <- struct{}{} // replay what a previous process left before the first tick or Add
		}
	}
	return q
}

// Add queues m. It returns an error, and queues nothing, when m is invalid (see Client.Submit for
// the rules; the client's sanitizer is applied to the name first; errors.Is(err, ErrInvalid)
// holds and errors.As finds the *ValidationError), ErrQueueFull when MaxPending is
// reached, and ErrClosed after Close. With invalid QueueOptions.Tags every Add fails (NewQueue
// returns no error: it is reported here, before anything is queued).
//
// The queue keeps m.Tags (and m.Attributes) as they are until the measurement is sent: do not
// change those maps after Add. A tag map and a name passed again and again (the usual case: one
// map and one constant name per call site) are validated once and then recognized, which keeps
// Add fast.
func (q *Queue) Add(m Measurement) error {
	if q.err != nil {
		return q.err
	}
	tagged, ok := q.quick(&m)
	if !ok {
		if err := q.check(&m); err != nil {
			return err
		}
		tagged = q.c.tagged(&m, q.tags)
	}
	q.mu.Lock()
	if q.closed {
		q.mu.Unlock()
		return ErrClosed
	}
	if q.held >= q.maxPending {
		q.stats.Dropped++
		q.mu.Unlock()
		if q.onDrop != nil {
			q.onDrop([]Measurement{m}, ErrQueueFull)
		}
		return ErrQueueFull
	}
	b := &q.legacy
	if tagged {
		b = &q.tagged
	}
	if k := len(b.bs); k > 0 && len(b.bs[k-1]) < cap(b.bs[k-1]) { // pushLocked, inlined
		b.bs[k-1] = append(b.bs[k-1], m)
		b.n++
	} else {
		q.pushBlockLocked(b, &m)
	}
	q.held++
	kick := q.autoSubmit > 0 && q.legacy.n+q.tagged.n >= q.autoSubmit
	q.mu.Unlock()
	if kick {
		select {
		case q.kick <- struct{}{}:
		default: // a wake-up is already pending
		}
	}
	return nil
}

// AddAggregator moves the aggregator's summaries into the queue (see Aggregator.Measurements:
// legacy series with the floored time and the aggregator's Source, tagged ones with time and
// tags) and resets the aggregator. Errors are joined: the aggregator's option error, ErrClosed,
// or ErrQueueFull for summaries beyond MaxPending (those are dropped and reported).
func (q *Queue) AddAggregator(a *Aggregator) error {
	if a.err != nil {
		return a.err
	}
	if q.err != nil {
		return q.err
	}
	q.mu.Lock()
	closed := q.closed
	q.mu.Unlock()
	if closed {
		return ErrClosed
	}
	snaps := a.collect(true)
	ms, _ := a.measurements(snaps, q.c.now())
	a.release(snaps)
	var errs []error
	for i := range ms {
		if err := q.Add(ms[i]); err != nil {
			errs = append(errs, fmt.Errorf("librato: AddAggregator: %q: %w", ms[i].Name, err))
		}
	}
	return errors.Join(errs...)
}

// Len returns the number of measurements waiting to be sent (not counting a flush in progress).
func (q *Queue) Len() int {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.legacy.n + q.tagged.n
}

// Stats returns a snapshot of the queue's counters.
func (q *Queue) Stats() QueueStats {
	spooled := 0
	if q.spool != nil {
		spooled = q.spool.spooled() // the spool has its own lock; never take it under q.mu
	}
	q.mu.Lock()
	defer q.mu.Unlock()
	s := q.stats
	s.Queued = q.held
	s.Spooled = spooled
	return s
}

// Submit sends everything queued, legacy chunks first, and returns when done. If another flush
// is running it waits for it first (or for ctx). On failure the unsent chunks stay queued for the
// next flush, and the error says why; rejected measurements come as *RejectedError (joined).
func (q *Queue) Submit(ctx context.Context) error {
	return q.flush(ctx)
}

// Flush is Submit.
func (q *Queue) Flush(ctx context.Context) error {
	return q.flush(ctx)
}

// Close stops background flushing, sends what is queued and returns, at the latest, when ctx is
// done. What could not be sent by then is dropped: reported to OnDrop, counted in
// QueueStats.Dropped, and the returned error says how many. Add returns ErrClosed afterwards.
// With a SpoolDir, what is left goes to the spool instead, for the next Queue on the directory.
// Close is safe to call more than once; later calls return nil.
func (q *Queue) Close(ctx context.Context) error {
	first := false
	q.once.Do(func() { first = true })
	if !first {
		return nil
	}
	q.mu.Lock()
	q.closed = true
	q.mu.Unlock()
	close(q.stop)
	err := q.flush(ctx)
	// Stop a background flush still running (it holds the semaphore only if ours timed out),
	// then wait for the flusher to end: its requests are cancelled, so this is quick.
	q.bgCancel()
	if q.done != nil {
		<-q.done
	}
	if q.spool != nil {
		// What is still in memory goes to the spool for the next Queue on the directory.
		err = q.closeSpool(q.spool, err)
	}
	q.mu.Lock()
	left := append(q.legacy.flat(), q.tagged.flat()...)
	q.legacy, q.tagged, q.spareL, q.spareT, q.free = blocks{}, blocks{}, nil, nil, nil
	q.held -= len(left)
	q.stats.Dropped += uint64(len(left))
	q.final = true
	q.mu.Unlock()
	if len(left) > 0 {
		reason := err
		if reason == nil {
			reason = ctx.Err()
		}
		if reason == nil {
			reason = ErrClosed
		}
		dropErr := fmt.Errorf("librato: queue closed with %d measurements not sent: %w", len(left), reason)
		if q.onDrop != nil {
			q.onDrop(left, dropErr)
		}
		if err == nil {
			err = dropErr
		} else {
			err = fmt.Errorf("librato: queue closed with %d measurements not sent: %w", len(left), err)
		}
	}
	return err
}

// run is the flusher goroutine.
func (q *Queue) run(interval time.Duration) {
	defer close(q.done)
	var tick <-chan time.Time
	if interval > 0 {
		t := time.NewTicker(interval) // fixed schedule: no drift, missed ticks are skipped
		defer t.Stop()
		tick = t.C
	}
	for {
		select {
		case <-q.stop:
			return
		case <-tick:
		case <-q.kick:
		}
		if err := q.flush(q.bgCtx); err != nil && q.onError != nil && q.bgCtx.Err() == nil {
			q.onError(err)
		}
	}
}

// flush sends what is queued now; one flush runs at a time.
func (q *Queue) flush(ctx context.Context) error {
	if q.spool != nil {
		return q.flushSpooled(ctx, q.spool)
	}
	select {
	case q.flushing <- struct{}{}:
	case <-ctx.Done():
		return ctx.Err()
	}
	defer func() { <-q.flushing }()

	q.mu.Lock()
	legacy, tagged := q.legacy, q.tagged
	if legacy.n+tagged.n == 0 {
		q.mu.Unlock()
		return nil
	}
	q.legacy, q.tagged = blocks{bs: q.spareL}, blocks{bs: q.spareT}
	q.spareL, q.spareT = nil, nil
	q.stats.Flushes++
	q.mu.Unlock()

	s := sender{c: q.c, chunkSize: q.chunkSize, queueTags: q.tags, now: q.c.now()}
	// Stamp once: a chunk that goes back into the queue keeps its time. Each block is a chunk.
	off := 0
	for pass, b := range [...]*blocks{&legacy, &tagged} {
		for _, blk := range b.bs {
			stamp(blk, s.now)
			s.send(ctx, pass == 1, blk, off)
			off += len(blk)
		}
	}

	rejected := s.rejectedCount()
	var dropped []Measurement
	if len(s.rejected) > 0 && q.onDrop != nil {
		for _, r := range s.rejSpans {
			dropped = append(dropped, spanOf(&legacy, &tagged, r)...)
		}
	}
	// Move the unsent measurements to the front of their blocks, in order, and clear the rest
	// outside the lock (they can be many blocks): Add never waits for it. Unsent spans come first
	// those of legacy, then those of tagged (offset by legacy.n).
	nl := 0
	for nl < len(s.unsent) && s.unsent[nl].lo < legacy.n {
		nl++
	}
	size := q.blockSize()
	backL, restL := legacy.keep(s.unsent[:nl], 0, size)
	backT, restT := tagged.keep(s.unsent[nl:], legacy.n, size)

	q.mu.Lock()
	q.held -= s.sent + rejected
	q.stats.Sent += uint64(s.sent)
	q.stats.Rejected += uint64(rejected)
	q.stats.Requests += uint64(s.requests)
	q.stats.Failures += uint64(s.failures)
	var lost []Measurement
	if q.final {
		// Close already gave up on the queue: nothing may be put back.
		lost = append(backL.flat(), backT.flat()...)
		q.held -= len(lost)
		q.stats.Dropped += uint64(len(lost))
	} else {
		q.stats.Retried += uint64(backL.n + backT.n)
		// backL and backT are prefixes of the flushed lists: a new list for each, if kept.
		if backL.n > 0 {
			backL.bs = append([][]Measurement(nil), backL.bs...)
		}
		if backT.n > 0 {
			backT.bs = append([][]Measurement(nil), backT.bs...)
		}
		q.legacy = q.prependLocked(backL, q.legacy)
		q.tagged = q.prependLocked(backT, q.tagged)
	}
	err := s.err()
	if err != nil {
		q.stats.LastError = err
	}
	// The emptied blocks go back to the free list, the flushed lists to the spares.
	q.recycleLocked(restL)
	q.recycleLocked(restT)
	if bs := legacy.bs[:0]; cap(bs) > cap(q.spareL) && !q.final {
		clear(bs[:cap(bs)])
		q.spareL = bs
	}
	if bs := tagged.bs[:0]; cap(bs) > cap(q.spareT) && !q.final {
		clear(bs[:cap(bs)])
		q.spareT = bs
	}
	q.mu.Unlock()

	if q.onDrop != nil {
		if len(dropped) > 0 {
			k := 0
			for i, e := range s.rejected {
				n := s.rejSpans[i].hi - s.rejSpans[i].lo
				q.onDrop(dropped[k:k+n], e)
				k += n
			}
		}
		if len(lost) > 0 {
			q.onDrop(lost, fmt.Errorf("librato: queue closed before a failed flush could be retried: %w", errors.Join(err, ErrClosed)))
		}
	}
	return err
}

// stamp sets the time of the measurements that have none.
func stamp(ms []Measurement, now time.Time) {
	for i := range ms {
		if ms[i].Time.IsZero() {
			ms[i].Time = now
		}
	}
}

// String describes the queue without its contents.
func (q *Queue) String() string {
	s := q.Stats()
	return "librato.Queue{queued: " + strconv.Itoa(s.Queued) + ", sent: " + strconv.FormatUint(s.Sent, 10) + "}"
}
