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

// QueueOptions configures a Queue. The zero value is a valid configuration: no background
// flushing (call Flush), the client's chunk size, DefaultMaxPending.
type QueueOptions struct {
	// AutoSubmitCount, when set, flushes the queue in the background as soon as it holds this
	// many measurements: after the Nth Add, one flush sends them. Add itself never waits for it.
	AutoSubmitCount int
	// FlushInterval, when set, flushes the queue in the background at this interval.
	FlushInterval time.Duration
	// Tags go with every measurement of the queue (which makes them all tagged): a measurement's
	// own tags win over these, and these over the client's (WithTags).
	Tags map[string]string
	// MaxPending caps the measurements held in memory, queued or being sent (default
	// DefaultMaxPending; with a SpoolDir, those on disk are bounded by SpoolMaxBytes instead).
	// Beyond it Add drops the new measurement and returns ErrQueueFull, and AddWait waits for
	// room. Negative: no cap.
	MaxPending int
	// ChunkSize is the most measurements one POST carries (default: the client's, WithChunkSize).
	ChunkSize int
	// MaxInFlight is how many POSTs a flush without a spool has under way at once (default 1:
	// one chunk after the other, in order). Over a link with a long round trip, a few more let a
	// flush keep up with a busy queue; chunks then arrive in any order.
	MaxInFlight int
	// OnError, when set, is called with the error of every failed background flush (interval,
	// auto-submit) or spool write, and with each damaged region found in the spool (a
	// *SpoolDamageError). Flush and Close return their errors instead. It runs on the goroutine
	// that met the error: keep it short.
	OnError func(error)
	// OnDrop, when set, is called with the measurements the queue lost and why: ErrQueueFull
	// (MaxPending reached, called from Add), a *RejectedError (the API refused them, with its
	// reason), ErrSpoolFull (the spool's cap), or an error wrapping ErrClosed (not sent by the
	// Close deadline). Every lost measurement is passed exactly once, and also counted in
	// QueueStats. (Measurements lost to damage in the spool cannot be read back: they are counted
	// and reported to OnError.) The slice is only valid during the call.
	OnDrop func(dropped []Measurement, reason error)
	// SpoolDir, when set, makes the queue durable, writing ahead: what Add accepted is written to
	// a spool in this directory (fsynced) within SpoolInterval, whatever the sending side is
	// doing; flushes send from the spool and acknowledge what the API accepted or rejected. What
	// could not be sent stays spooled, and a Queue opened later on the same directory (after a
	// crash too) sends it: delivery is at least once. Add itself still does no I/O. One Queue at
	// a time may use a directory; NewQueue refuses a busy one.
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
	// Queued is the number of measurements held in memory now: waiting, or in a flush (with a
	// spool: not yet written to it).
	Queued int
	// Sent counts measurements the API accepted.
	Sent uint64
	// Dropped counts measurements lost without being sent: MaxPending reached, left at Close,
	// dropped over the spool's cap or lost to damage in the spool.
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
	// Damaged counts measurements lost to damage in the spool (also counted in Dropped), and
	// Resent those sent again because the spool lost their acknowledgement (duplicates at the
	// API); each damaged region goes to OnError as a *SpoolDamageError.
	Damaged, Resent uint64
}

// Queue batches measurements and sends them in chunks: on Flush, in the background when
// AutoSubmitCount or FlushInterval is set, and on Close. It is safe for concurrent use.
//
// Add validates the measurement and encodes it, then copies the encoded bytes into a block of one
// chunk under a lock: no I/O, no waiting on the network, no allocation in the steady state, and
// nothing of the caller's kept (maps and strings may be reused or changed as soon as Add
// returns). Held measurements are bytes, which the garbage collector does not scan, however many
// the queue holds. A flush takes the blocks under the lock and builds, sends and accounts for them
// outside it, one flush at a time, through the one delivery engine (deliver.go): a chunk the API
// refuses with 400 is split to isolate the bad measurements and the rest is delivered; a chunk
// that fails for a transient reason (network, 5xx, 429, a ctx deadline) is kept, with the blocks
// after it, for the next flush; accepted chunks are never sent again. Measurements without a time
// get their chunk's, stamped once when the chunk is built, so a retried chunk keeps its time.
//
// With a SpoolDir the queue writes ahead: a spooler moves what Add accepted to the spool at least
// every SpoolInterval, whatever the sending side is doing, and flushes send from the spool.
//
// Background work uses at most two goroutines (the flusher, started only when AutoSubmitCount or
// FlushInterval is set, and the spooler, only with a SpoolDir), stopped by Close. Always Close a
// Queue (defer q.Close(ctx)).
type Queue struct {
	c          *Client
	base       []tagPair   // the queue's tags over the client's, sorted: every measurement's defaults
	seen       *tagLayouts // what Add checked before, for checkMeasurement
	chunkSize  int
	inFlight   int
	maxPending int
	autoSubmit int
	onError    func(error)
	onDrop     func([]Measurement, error)

	mu      sync.Mutex
	blocks  []*block      // waiting, oldest first
	open    [2]*block     // legacy and tagged: the block Add appends to (the last of its route)
	retry   []builtChunk  // built and stamped chunks waiting to be sent (or spooled) again, oldest first
	spare   sync.Pool     // emptied *block, with their buffers: reused, and let go by the GC when idle
	held    int           // measurements in memory: in blocks, in retry, or in a flush
	waiting int           // of those, in blocks and retry (not in a flush)
	kicked  bool          // the flusher was woken for the waiting ones and has not taken them yet
	room    chan struct{} // closed when held drops, for AddWait; replaced then
	objSize int           // bytes of the last full block per measurement, to size new ones
	closed  bool          // Add refuses
	final   bool          // Close has taken what was left: a flush must not put anything back
	stats   QueueStats

	flushing chan struct{} // a one-slot semaphore: one flush at a time
	kick     chan struct{} // auto-submit wake-up, one slot
	stop     chan struct{} // closed by Close
	done     chan struct{} // closed when the flusher goroutine ends; nil without one
	bgCtx    context.Context
	bgCancel context.CancelFunc
	once     sync.Once
	spool    *queueSpool // nil without QueueOptions.SpoolDir
}

// block is the encoded measurements of one future chunk, all for one API: their JSON objects,
// comma-separated, in the arrays of the body (see appendBody).
type block struct {
	tagged bool
	n      int
	objs   [2][]byte
}

// size is the bytes of the objects of b.
func (b *block) size() int { return len(b.objs[0]) + len(b.objs[1]) }

// build returns the chunk of b, stamped with sec.
func (b *block) build(sec int64) builtChunk {
	return builtChunk{tagged: b.tagged, body: appendBody(make([]byte, 0, b.size()+bodyOverhead), b.tagged, sec, &b.objs), count: b.n}
}

// buildReusable returns the chunk of b, stamped with sec, in a reusable request body.
func (b *block) buildReusable(sec int64) (builtChunk, *requestBody) {
	rb := newRequestBody(b.size() + bodyOverhead)
	rb.buf = appendBody(rb.buf, b.tagged, sec, &b.objs)
	return builtChunk{tagged: b.tagged, body: rb.buf, count: b.n}, rb
}

// builtChunk is a chunk whose body is built (its time stamped).
type builtChunk struct {
	tagged bool
	body   []byte
	count  int
}

// measurements decodes the measurements of c (a failure path: for OnDrop).
func (c builtChunk) measurements() []Measurement { return decodeChunk(c.tagged, c.body, c.count) }

// NewQueue returns a Queue sending through c. See QueueOptions for the defaults. It returns an
// error, and no Queue, when an option is out of range (errors.Is(err, ErrInvalid)) or the spool
// cannot be opened.
func (c *Client) NewQueue(opts QueueOptions) (*Queue, error) {
	if err := opts.validate(); err != nil {
		return nil, err
	}
	q := &Queue{
		c:          c,
		chunkSize:  opts.ChunkSize,
		maxPending: opts.MaxPending,
		autoSubmit: opts.AutoSubmitCount,
		onError:    opts.OnError,
		onDrop:     opts.OnDrop,
		room:       make(chan struct{}),
		objSize:    128,
		flushing:   make(chan struct{}, 1),
		kick:       make(chan struct{}, 1),
		stop:       make(chan struct{}),
	}
	if q.chunkSize == 0 {
		q.chunkSize = c.chunkSize
	}
	q.inFlight = max(1, opts.MaxInFlight)
	switch {
	case q.maxPending == 0:
		q.maxPending = DefaultMaxPending
	case q.maxPending < 0:
		q.maxPending = int(^uint(0) >> 1)
	}
	q.base = sortedTags(opts.Tags, c.tags)
	q.seen = newTagLayouts(q.base)
	if len(q.base) > MaxTags {
		return nil, fmt.Errorf("librato: QueueOptions.Tags: %w", tooManyTags(len(q.base)))
	}
	if opts.SpoolDir != "" {
		interval := opts.SpoolInterval
		if interval == 0 {
			interval = DefaultSpoolInterval
		}
		qs, err := openQueueSpool(q, opts.SpoolDir, opts.SpoolMaxBytes, interval)
		if err != nil {
			return nil, err
		}
		q.spool = qs
	}
	q.bgCtx, q.bgCancel = context.WithCancel(context.Background())
	if opts.FlushInterval > 0 || opts.AutoSubmitCount > 0 {
		q.done = make(chan struct{})
		go q.run(opts.FlushInterval)
		if q.spool != nil && q.spool.spooled() > 0 {
			q.kick <- struct{}{} // replay what a previous process left before the first tick or Add
		}
	}
	return q, nil
}

// validate checks the options that have a range.
func (o *QueueOptions) validate() error {
	bad := func(field, value, reason string) error {
		return fmt.Errorf("librato: QueueOptions.%s: %w", field, &ValidationError{Field: field, Value: value, Reason: reason})
	}
	switch {
	case o.ChunkSize < 0:
		return bad("ChunkSize", strconv.Itoa(o.ChunkSize), "must not be negative (0: the client's chunk size)")
	case o.AutoSubmitCount < 0:
		return bad("AutoSubmitCount", strconv.Itoa(o.AutoSubmitCount), "must not be negative (0: off)")
	case o.MaxInFlight < 0:
		return bad("MaxInFlight", strconv.Itoa(o.MaxInFlight), "must not be negative (0: 1)")
	case o.FlushInterval < 0:
		return bad("FlushInterval", o.FlushInterval.String(), "must not be negative (0: off)")
	case o.SpoolInterval < 0:
		return bad("SpoolInterval", o.SpoolInterval.String(), "must not be negative")
	}
	if err := ValidateTags(o.Tags); err != nil {
		return fmt.Errorf("librato: QueueOptions.Tags: %w", err)
	}
	return nil
}

// Add queues m. It returns an error, and queues nothing, when m is invalid (see Client.Submit for
// the rules; the client's sanitizer is applied to the name first; errors.Is(err, ErrInvalid)
// holds and errors.As finds the *ValidationError), ErrQueueFull when MaxPending is reached (the
// measurement is dropped, counted and passed to OnDrop), and ErrClosed after Close.
//
// Add has finished reading m when it returns: its maps and strings may be reused or changed at
// once. It never blocks on the network and, in the steady state, allocates nothing (a measurement
// with more than 8 tags after merging, or with Attributes, allocates for them).
func (q *Queue) Add(m Measurement) error {
	return q.add(context.Background(), false, &m)
}

// AddWait is Add for producers that must not lose anything, such as a tool reading its input:
// when the queue is full it waits for room (a flush to make progress) until ctx ends, and then
// returns ctx's error with nothing queued, instead of dropping the measurement with ErrQueueFull.
// Services, which must never block, use Add.
func (q *Queue) AddWait(ctx context.Context, m Measurement) error {
	return q.add(ctx, true, &m)
}

// addBufSize is the stack space Add encodes a measurement into; a longer one allocates.
const addBufSize = 512

// add is Add (wait false) and AddWait.
func (q *Queue) add(ctx context.Context, wait bool, m *Measurement) error {
	var scratch [inlineTags]tagPair
	ck, err := q.c.checkMeasurement(m, q.base, scratch[:], q.seen)
	if err != nil {
		return &measurementError{name: m.Name, err: err}
	}
	var buf [addBufSize]byte
	obj := appendObject(buf[:0], m, &ck)
	return q.enqueue(ctx, wait, obj, ck.tagged, arrayOf(m), func() Measurement { return *m })
}

// enqueue appends one encoded measurement (obj, for the tagged API or not, of the given array of
// a legacy body) to the queue, waiting for room when wait is set. dropped gives the measurement
// for OnDrop when the queue is full and Add does not wait.
func (q *Queue) enqueue(ctx context.Context, wait bool, obj []byte, tagged bool, array int, dropped func() Measurement) error {
	q.mu.Lock()
	for q.held >= q.maxPending && !q.closed {
		if !wait {
			q.stats.Dropped++
			q.mu.Unlock()
			if q.onDrop != nil {
				q.onDrop([]Measurement{dropped()}, ErrQueueFull)
			}
			return ErrQueueFull
		}
		room := q.room
		q.mu.Unlock()
		select {
		case <-room:
		case <-ctx.Done():
			return ctx.Err()
		}
		q.mu.Lock()
	}
	if q.closed {
		q.mu.Unlock()
		return ErrClosed
	}
	route := 0
	if tagged {
		route = 1
	}
	b := q.open[route]
	if b == nil || b.n == q.chunkSize {
		b = q.newBlockLocked(tagged)
	}
	arr := &b.objs[array]
	if len(*arr) > 0 {
		*arr = append(*arr, ',')
	}
	*arr = append(*arr, obj...)
	b.n++
	q.held++
	full := b.n == q.chunkSize
	q.waiting++
	// Wake the flusher once per batch: a channel send on every Add past the count would cost a
	// lock each time while a flush is under way.
	kick := q.autoSubmit > 0 && q.waiting >= q.autoSubmit && !q.kicked
	if kick {
		q.kicked = true
	}
	q.mu.Unlock()
	if kick {
		select {
		case q.kick <- struct{}{}:
		default: // a wake-up is already pending
		}
	}
	if full && q.spool != nil {
		q.spool.wake()
	}
	return nil
}

// newBlockLocked starts a block at the end of the queue. q.mu is held.
func (q *Queue) newBlockLocked(tagged bool) *block {
	b, _ := q.spare.Get().(*block)
	if b == nil {
		b = &block{}
		b.objs[arrayGauges] = make([]byte, 0, q.chunkSize*(q.objSize+1)+q.objSize)
	}
	b.tagged = tagged
	q.blocks = append(q.blocks, b)
	if tagged {
		q.open[1] = b
	} else {
		q.open[0] = b
	}
	return b
}

// takeLocked takes every waiting chunk and block out of the queue. q.mu is held.
func (q *Queue) takeLocked() ([]builtChunk, []*block) {
	chunks, blocks := q.retry, q.blocks
	q.retry, q.blocks = nil, nil
	q.open = [2]*block{}
	q.waiting, q.kicked = 0, false
	return chunks, blocks
}

// takeFullLocked takes the waiting chunks and the full blocks out of the queue, leaving the blocks
// Add still appends to. q.mu is held.
func (q *Queue) takeFullLocked() ([]builtChunk, []*block) {
	chunks := q.retry
	q.retry = nil
	for _, c := range chunks {
		q.waiting -= c.count
	}
	var full []*block
	kept := q.blocks[:0]
	for _, b := range q.blocks {
		if b.n == q.chunkSize {
			full = append(full, b)
			q.waiting -= b.n
		} else {
			kept = append(kept, b)
		}
	}
	clear(q.blocks[len(kept):])
	q.blocks = kept
	for r, b := range q.open {
		if b != nil && b.n == q.chunkSize {
			q.open[r] = nil
		}
	}
	return chunks, full
}

// recycleLocked empties b and keeps it for reuse. q.mu is held.
func (q *Queue) recycleLocked(b *block) {
	if b.n == q.chunkSize && b.n > 0 {
		q.objSize = b.size() / b.n
	}
	if !q.final {
		b.n, b.objs[0], b.objs[1] = 0, b.objs[0][:0], b.objs[1][:0]
		q.spare.Put(b)
	}
}

// releaseLocked records that n measurements left memory (sent, rejected, dropped or spooled), and
// wakes those waiting for room. q.mu is held.
func (q *Queue) releaseLocked(n int) {
	if n <= 0 {
		return
	}
	q.held -= n
	close(q.room)
	q.room = make(chan struct{})
}

// measurementError is an invalid measurement refused by Queue.Add:
// `librato: measurement "<name>": <reason>`, wrapping the reason (ErrInvalid).
type measurementError struct {
	name string
	err  error
}

func (e *measurementError) Error() string {
	name := e.name
	if len(name) > 64 {
		name = name[:64] + "..."
	}
	return "librato: measurement " + strconv.Quote(name) + ": " + e.err.Error()
}

func (e *measurementError) Unwrap() error { return e.err }

// AddAggregator moves the aggregator's summaries into the queue (see Aggregator.Measurements:
// legacy series with the floored time and the aggregator's Source, tagged ones with time and
// tags) and resets the aggregator. Errors are joined: ErrClosed, or ErrQueueFull for summaries beyond MaxPending (those are dropped and reported).
func (q *Queue) AddAggregator(a *Aggregator) error {
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
			errs = append(errs, fmt.Errorf("librato: aggregated %q: %w", ms[i].Name, err))
		}
	}
	return errors.Join(errs...)
}

// Len returns the number of measurements waiting in memory to be sent or spooled (not counting a
// flush in progress).
func (q *Queue) Len() int {
	q.mu.Lock()
	defer q.mu.Unlock()
	n := 0
	for _, b := range q.blocks {
		n += b.n
	}
	for _, c := range q.retry {
		n += c.count
	}
	return n
}

// Stats returns a snapshot of the queue's counters. With a spool it waits for a spool write in
// progress, so that a measurement is never counted both as Queued and as Spooled.
func (q *Queue) Stats() QueueStats {
	if q.spool != nil {
		return q.spool.stats()
	}
	q.mu.Lock()
	defer q.mu.Unlock()
	s := q.stats
	s.Queued = q.held
	return s
}

// Flush sends everything queued (with a spool: spools it, then sends what the spool holds) and
// returns when done. If another flush is running it waits for it first (or for ctx). On failure the
// unsent chunks stay queued for the next flush, and the error says why; rejected measurements come
// as *RejectedError (joined).
func (q *Queue) Flush(ctx context.Context) error {
	select {
	case q.flushing <- struct{}{}:
	case <-ctx.Done():
		return ctx.Err()
	}
	defer func() { <-q.flushing }()
	var err error
	if q.spool != nil {
		err = q.spool.flush(ctx)
	} else {
		err = q.flush(ctx)
	}
	if err != nil {
		q.mu.Lock()
		q.stats.LastError = err
		q.mu.Unlock()
	}
	return err
}

// Close stops background work, sends what is queued and returns, at the latest, when ctx is done.
// What could not be sent by then is dropped: reported to OnDrop, counted in QueueStats.Dropped,
// and the returned error says how many. With a SpoolDir, what is left stays in the spool instead,
// for the next Queue on the directory. Add returns ErrClosed afterwards. Close is safe to call
// more than once; later calls return nil.
func (q *Queue) Close(ctx context.Context) error {
	first := false
	q.once.Do(func() { first = true })
	if !first {
		return nil
	}
	q.mu.Lock()
	q.closed = true
	close(q.room) // AddWait callers see closed
	q.room = make(chan struct{})
	q.mu.Unlock()
	close(q.stop)
	err := q.Flush(ctx)
	// Stop a background flush still running (it holds the semaphore only if ours timed out),
	// then wait for the flusher to end: its requests are cancelled, so this is quick.
	q.bgCancel()
	if q.done != nil {
		<-q.done
	}
	if q.spool != nil {
		return q.spool.close(err)
	}
	q.mu.Lock()
	chunks, blocks := q.takeLocked()
	q.final = true
	var left []Measurement
	for _, c := range chunks {
		left = append(left, c.measurements()...)
	}
	for _, b := range blocks {
		left = append(left, b.build(0).measurements()...)
	}
	q.releaseLocked(len(left))
	q.stats.Dropped += uint64(len(left))
	q.mu.Unlock()
	if len(left) == 0 {
		return err
	}
	reason := err
	if reason == nil {
		reason = ctx.Err()
	}
	if reason == nil {
		reason = errors.New("nothing could be sent")
	}
	dropErr := fmt.Errorf("%w with %s not sent: %w", ErrClosed, plural(len(left), "measurement"), reason)
	if q.onDrop != nil {
		q.onDrop(left, dropErr)
	}
	return dropErr
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
		if err := q.Flush(q.bgCtx); err != nil && q.onError != nil && q.bgCtx.Err() == nil {
			q.onError(err)
		}
	}
}

// String describes the queue without its contents.
func (q *Queue) String() string {
	s := q.Stats()
	return "librato.Queue{queued: " + strconv.Itoa(s.Queued) + ", sent: " + strconv.FormatUint(s.Sent, 10) + "}"
}
