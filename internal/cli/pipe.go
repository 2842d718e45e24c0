package cli

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"maps"
	"math"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/go-librato/librato"
)

// pipeCommand is the pipe command (listed in the command table in cli.go).
var pipeCommand = &commandInfo{
	name:    "pipe",
	summary: "send measurements read from standard input",
	usage:   "pipe [--format lines|json] [--source S] [--tag k=v ...] [--file F [--follow] [--state S [--from-start]]]",
	help: `Reads measurements from standard input, one per line, and sends them in batches
through a queue: when --batch are waiting, every --interval, and at the end of the
input or on SIGINT/SIGTERM. A malformed line is reported with its line number and
skipped; the rest still goes through, and so is a measurement the API rejects. When
the queue is full, reading waits: no line is dropped. Exits 1 if any line was
rejected or any measurement could not be sent.

Formats:
  lines  NAME VALUE [UNIX_TIME] [k=v ...]     tags make it a tagged measurement
  json   {"name": "cpu", "value": 1.5, "time": 1700000000, "source": "web1",
          "tags": {"host": "a"}, "type": "counter"}  (time: Unix seconds or RFC 3339)
An unknown JSON field is named in a warning and ignored. Blank lines and lines
starting with # are skipped. A measurement without a time is
stamped when its line is read.

With --file F it reads F instead (a log file, say) and sends one batch at a time
with the API's answer awaited. --follow keeps reading as F grows and follows it
when it is rotated (renamed and created anew, or truncated). --state S records in
S, after each batch is delivered, how far F was read: run again, the loader goes on
from there, also into a file rotated meanwhile, and --from-start ignores S. A crash
or kill -9 loses nothing: lines read but not recorded are read again; the one batch
delivered but not yet recorded is sent twice.

Examples:
  echo "app.requests 42" | librato pipe
  librato pipe --file /var/log/app/metrics.log --follow --state /var/lib/app/pipe.state
  printf 'cpu 0.5 host=a\ncpu 0.7 host=b\n' | librato pipe --tag env=prod
  my-exporter --json | librato pipe --format json`,
	new: func() command { return &pipeCmd{format: newChoice("lines", "lines", "json")} },
}

type pipeCmd struct {
	conn     connFlags
	format   *choiceFlag
	source   string
	tags     tagsFlag
	batch    int
	interval time.Duration

	file      string
	follow    bool
	state     string
	fromStart bool
	// poll is how often a followed file is checked for growth; retryWait how long a batch waits
	// after a transient failure (tests shorten both).
	poll, retryWait time.Duration
}

func (c *pipeCmd) flags(fs *flag.FlagSet) {
	c.conn.register(fs)
	fs.Var(c.format, "format", "input `format`: lines or json")
	fs.StringVar(&c.source, "source", "", "`source` of measurements that have no tags and no source of their own")
	fs.Var(&c.tags, "tag", "tag `k=v` added to every measurement (repeatable; makes them all tagged)")
	fs.IntVar(&c.batch, "batch", 300, "send as soon as this many measurements are waiting")
	fs.DurationVar(&c.interval, "interval", 5*time.Second, "send what is waiting at least this often")
	fs.StringVar(&c.file, "file", "", "read `file` instead of standard input")
	fs.BoolVar(&c.follow, "follow", false, "with --file: keep reading as the file grows, across rotations")
	fs.StringVar(&c.state, "state", "", "with --file: record in `path` how far the file was read, and resume from there")
	fs.BoolVar(&c.fromStart, "from-start", false, "with --state: ignore it and read the file from its start")
}

func (c *pipeCmd) args(args []string) error {
	if len(args) > 0 {
		return usageErrorf("pipe takes no arguments; it reads standard input")
	}
	if c.batch < 1 {
		return usageErrorf("--batch must be at least 1")
	}
	if c.interval <= 0 {
		return usageErrorf("--interval must be positive")
	}
	switch {
	case c.file == "" && (c.follow || c.state != ""):
		return usageErrorf("--follow and --state go with --file")
	case c.fromStart && c.state == "":
		return usageErrorf("--from-start goes with --state")
	}
	if c.poll <= 0 {
		c.poll = 200 * time.Millisecond
	}
	if c.retryWait <= 0 {
		c.retryWait = time.Second
	}
	return nil
}

// parse reads one input line (not blank, not a comment) into a measurement with the command's
// --source and --tag applied. Warnings (unknown JSON fields) go to stderr with the line number.
func (c *pipeCmd) parse(text string, env *Env, line int) (librato.Measurement, error) {
	if c.format.value != "json" {
		return parseTextLine(text, env.now())
	}
	m, unknown, err := parseJSONLine(text, env.now())
	if len(unknown) > 0 {
		fmt.Fprintf(env.Stderr, "line %d: warning: unknown %s %s ignored\n", line, pluralWord(len(unknown), "field"), strings.Join(unknown, ", "))
	}
	return m, err
}

// closeTimeout bounds the final flush, which runs even after SIGINT.
const closeTimeout = 30 * time.Second

// maxLineBytes is the longest input line accepted.
const maxLineBytes = 1 << 20

func (c *pipeCmd) run(ctx context.Context, env *Env) error {
	cl, err := c.conn.connect(env)
	if err != nil {
		return err
	}
	if c.file != "" {
		return c.runFile(ctx, env, cl)
	}
	var mu sync.Mutex // guards the counters below and stderr writes from the queue's goroutine
	var rejectedLines, lost int
	index := newLineIndex(2 * librato.DefaultMaxPending)
	report := func(format string, args ...any) {
		mu.Lock()
		defer mu.Unlock()
		fmt.Fprintf(env.Stderr, format, args...)
	}
	q, err := cl.NewQueue(librato.QueueOptions{
		AutoSubmitCount: c.batch,
		FlushInterval:   c.interval,
		Tags:            c.tags,
		OnError: func(err error) {
			report("pipe: sending failed, will retry: %s\n", withoutPrefixes(err.Error()))
		},
		OnDrop: func(dropped []librato.Measurement, reason error) {
			mu.Lock()
			lost += len(dropped)
			mu.Unlock()
			report("pipe: %s not sent (%s): %s\n", plural(len(dropped), "measurement"), index.lines(dropped), withoutPrefixes(reason.Error()))
		},
	})
	if err != nil {
		return err
	}

	lines := make(chan lineOrErr)
	stopRead := make(chan struct{})
	defer close(stopRead)
	go readLines(env.Stdin, lines, stopRead)
	n, queued := 0, 0
	interrupted := false
read:
	for {
		var l lineOrErr
		var ok bool
		select {
		case l, ok = <-lines:
		case <-ctx.Done():
			interrupted = true
			break read
		}
		if !ok {
			break
		}
		if l.err != nil {
			report("pipe: reading input: %v\n", l.err)
			mu.Lock()
			rejectedLines++
			mu.Unlock()
			break
		}
		n++
		text := strings.TrimSpace(l.text)
		if text == "" || strings.HasPrefix(text, "#") {
			continue
		}
		mu.Lock() // parse may write a warning to stderr
		m, err := c.parse(text, env, n)
		mu.Unlock()
		if err == nil {
			if m.Source == "" && len(m.Tags) == 0 {
				m.Source = c.source
			}
			// A tool reading its input waits for room instead of dropping: when the queue is
			// full, the read stops until a flush has made progress.
			index.add(m, n)
			err = q.AddWait(ctx, m)
			if err != nil && ctx.Err() != nil && errors.Is(err, ctx.Err()) {
				report("line %d: not queued: interrupted\n", n)
				mu.Lock()
				rejectedLines++
				mu.Unlock()
				interrupted = true
				break read
			}
			err = lineError(err)
		}
		if err != nil {
			report("line %d: %v\n", n, err)
			mu.Lock()
			rejectedLines++
			mu.Unlock()
			continue
		}
		queued++
	}

	cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), closeTimeout)
	defer cancel()
	closeErr := q.Close(cctx)
	st := q.Stats()
	mu.Lock()
	defer mu.Unlock()
	how := "end of input"
	if interrupted {
		how = "interrupted"
	}
	fmt.Fprintf(env.Stderr, "pipe: %s: %s read, %s sent, %s rejected",
		how, plural(n, "line"), plural(int(st.Sent), "measurement"), plural(rejectedLines, "line"))
	if lost > 0 {
		fmt.Fprintf(env.Stderr, ", %s not sent", plural(lost, "measurement"))
	}
	fmt.Fprintln(env.Stderr)
	switch {
	case rejectedLines > 0 || lost > 0:
		return &exitError{code: ExitError}
	case closeErr != nil:
		return closeErr
	}
	return nil
}

// lineOrErr is one input line, or the error that ended the input.
type lineOrErr struct {
	text string
	err  error
}

// readLines sends each line of r to out and closes it at the end, or stops when stop is closed.
// It runs on its own goroutine so that a signal can end the command while a read blocks (that
// read is abandoned: the process is about to exit).
func readLines(r io.Reader, out chan<- lineOrErr, stop <-chan struct{}) {
	defer close(out)
	if r == nil {
		return
	}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 64*1024), maxLineBytes)
	for sc.Scan() {
		select {
		case out <- lineOrErr{text: sc.Text()}:
		case <-stop:
			return
		}
	}
	if err := sc.Err(); err != nil {
		select {
		case out <- lineOrErr{err: err}:
		case <-stop:
		}
	}
}

// parseTextLine reads "NAME VALUE [UNIX_TIME] [k=v ...]".
func parseTextLine(s string, now time.Time) (librato.Measurement, error) {
	f := strings.Fields(s)
	if len(f) < 2 {
		return librato.Measurement{}, errors.New("want NAME VALUE [UNIX_TIME] [k=v ...]")
	}
	m := librato.Measurement{Name: f[0], Time: now}
	v, err := parseValue(f[1])
	if err != nil {
		return m, err
	}
	m.Value = v
	rest := f[2:]
	if len(rest) > 0 && !strings.Contains(rest[0], "=") {
		sec, err := strconv.ParseInt(rest[0], 10, 64)
		if err != nil || sec < 0 {
			return m, fmt.Errorf("time %q is not Unix seconds (tags are k=v)", rest[0])
		}
		m.Time = time.Unix(sec, 0)
		rest = rest[1:]
	}
	for _, kv := range rest {
		k, val, ok := strings.Cut(kv, "=")
		if !ok || k == "" || val == "" {
			return m, fmt.Errorf("tag %q is not k=v", kv)
		}
		if m.Tags == nil {
			m.Tags = map[string]string{}
		}
		m.Tags[k] = val
	}
	return m, nil
}

func parseValue(s string) (float64, error) {
	v, err := strconv.ParseFloat(s, 64)
	if err != nil || math.IsNaN(v) || math.IsInf(v, 0) {
		return 0, fmt.Errorf("value %q is not a finite number", s)
	}
	return v, nil
}

// jsonFields are the fields of the json input format.
var jsonFields = []string{"name", "value", "time", "source", "tags", "type"}

// parseJSONLine reads one JSON object. Its errors say what is wrong in words ("value must be a
// number"); unknown fields are returned, quoted, for a warning (a typo is not silently lost).
func parseJSONLine(s string, now time.Time) (m librato.Measurement, unknown []string, err error) {
	if !strings.HasPrefix(s, "{") {
		return m, nil, errors.New("want a JSON object such as {\"name\": \"cpu\", \"value\": 1}")
	}
	var fields map[string]json.RawMessage
	dec := json.NewDecoder(strings.NewReader(s))
	if err := dec.Decode(&fields); err != nil {
		var syn *json.SyntaxError
		var typ *json.UnmarshalTypeError
		switch {
		case errors.As(err, &syn):
			return m, nil, fmt.Errorf("not valid JSON at byte %d: %s", syn.Offset, strings.TrimPrefix(syn.Error(), "json: "))
		case errors.Is(err, io.ErrUnexpectedEOF):
			return m, nil, errors.New("the JSON object ends early: the line is cut short")
		case errors.As(err, &typ):
			return m, nil, errors.New("want a JSON object such as {\"name\": \"cpu\", \"value\": 1}")
		}
		return m, nil, fmt.Errorf("not valid JSON: %s", strings.TrimPrefix(err.Error(), "json: "))
	}
	if fields == nil {
		return m, nil, errors.New("want a JSON object such as {\"name\": \"cpu\", \"value\": 1}")
	}
	if dec.More() {
		return m, nil, errors.New("more than one JSON value on the line")
	}
	for _, k := range slices.Sorted(maps.Keys(fields)) {
		if !slices.Contains(jsonFields, k) {
			unknown = append(unknown, strconv.Quote(k))
		}
	}
	field := func(name string, v any, want string) error {
		raw, ok := fields[name]
		if !ok || bytes.Equal(raw, []byte("null")) {
			return nil
		}
		if json.Unmarshal(raw, v) != nil {
			return fmt.Errorf("%s must be %s, got %s", name, want, raw)
		}
		return nil
	}
	var name *string
	var value *float64
	var typ string
	m.Time = now
	for _, err := range []error{
		field("name", &name, "a string"),
		field("value", &value, "a number"),
		field("source", &m.Source, "a string"),
		field("tags", &m.Tags, `an object of strings such as {"host": "a"}`),
		field("type", &typ, `"gauge" or "counter"`),
	} {
		if err != nil {
			return m, unknown, err
		}
	}
	if name == nil || value == nil {
		return m, unknown, errors.New(`"name" and "value" are required`)
	}
	m.Name, m.Value = *name, *value
	switch typ {
	case "", "gauge":
	case "counter":
		m.Type = librato.Counter
	default:
		return m, unknown, fmt.Errorf("type %q is neither gauge nor counter", typ)
	}
	if raw := fields["time"]; len(raw) > 0 && !bytes.Equal(raw, []byte("null")) {
		var sec float64
		var str string
		switch {
		case json.Unmarshal(raw, &sec) == nil:
			m.Time = time.Unix(int64(sec), 0)
		case json.Unmarshal(raw, &str) == nil:
			t, err := time.Parse(time.RFC3339, str)
			if err != nil {
				return m, unknown, fmt.Errorf("time %q is not RFC 3339", str)
			}
			m.Time = t
		default:
			return m, unknown, fmt.Errorf("time must be Unix seconds or an RFC 3339 string, got %s", raw)
		}
	}
	return m, unknown, nil
}

// lineIndex remembers which input lines the queued measurements came from, so that a measurement
// the API rejects is reported with its line. It is keyed by what a dropped measurement carries
// back whatever the tags: name, time in seconds and value; lines that share all three are named
// together. It holds the last max lines: older ones have long been sent.
type lineIndex struct {
	mu    sync.Mutex
	byKey map[lineKey][]int
	ring  []lineKey
	next  int
}

type lineKey struct {
	name  string
	sec   int64
	value uint64
}

func newLineIndex(max int) *lineIndex {
	return &lineIndex{byKey: make(map[lineKey][]int), ring: make([]lineKey, 0, max)}
}

func keyOf(m librato.Measurement) lineKey {
	return lineKey{name: m.Name, sec: m.Time.Unix(), value: math.Float64bits(m.Value)}
}

// add records that line n holds m.
func (x *lineIndex) add(m librato.Measurement, n int) {
	k := keyOf(m)
	k.name = strings.Clone(k.name) // not the whole input line
	x.mu.Lock()
	defer x.mu.Unlock()
	if len(x.ring) < cap(x.ring) {
		x.ring = append(x.ring, k)
	} else {
		old := x.ring[x.next]
		if ls := x.byKey[old]; len(ls) <= 1 {
			delete(x.byKey, old)
		} else {
			x.byKey[old] = ls[1:]
		}
		x.ring[x.next] = k
		x.next = (x.next + 1) % len(x.ring)
	}
	x.byKey[k] = append(x.byKey[k], n)
}

// maxLinesListed caps the line numbers one report lists.
const maxLinesListed = 20

// lines describes the input lines of ms: "line 7", "lines 7, 9 and 12 more".
func (x *lineIndex) lines(ms []librato.Measurement) string {
	x.mu.Lock()
	var ns []int
	for _, m := range ms {
		ns = append(ns, x.byKey[keyOf(m)]...)
	}
	x.mu.Unlock()
	slices.Sort(ns)
	ns = slices.Compact(ns)
	if len(ns) == 0 {
		return "input line not known"
	}
	var parts []string
	for i, n := range ns {
		if i == maxLinesListed {
			parts = append(parts, fmt.Sprintf("and %d more", len(ns)-maxLinesListed))
			break
		}
		parts = append(parts, strconv.Itoa(n))
	}
	return pluralWord(len(ns), "line") + " " + strings.Join(parts, ", ")
}

// pluralWord is noun, with an s unless n is 1.
func pluralWord(n int, noun string) string {
	if n == 1 {
		return noun
	}
	return noun + "s"
}

// lineError shortens a Queue.Add error for a line report: the line number already says which
// measurement, so only the reason (a *librato.ValidationError) is shown when there is one.
func lineError(err error) error {
	var ve *librato.ValidationError
	if errors.As(err, &ve) {
		return ve
	}
	return err
}
