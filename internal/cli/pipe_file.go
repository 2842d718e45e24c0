package cli

// The log-file loader of pipe: --file F [--follow] [--state S] [--from-start].
//
// It reads F line by line and sends the measurements in batches with Client.Submit, one batch at
// a time, and only after a batch is delivered (or refused for good) does it record in S how far
// it has read. So a restart, a crash or kill -9 loses nothing: what was read and not recorded is
// read again. What kill -9 can duplicate is the one batch that was delivered but not recorded yet.
// With --follow it waits for F to grow and follows it when it is rotated (renamed and created
// anew, or truncated in place); a rotation while the loader was down is found through the rotated
// file's identity (device and inode), which S records.

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/go-librato/librato"
)

// fileState is the content of the --state file: where reading stopped, in which file.
type fileState struct {
	Path string `json:"path"`
	// Dev and Ino identify the file that was being read, so that it is found again after a
	// rotation under another name.
	Dev uint64 `json:"dev"`
	Ino uint64 `json:"ino"`
	// Offset is the byte after the last line whose measurements were delivered or refused; Line
	// is that line's number, for messages.
	Offset int64 `json:"offset"`
	Line   int   `json:"line"`
}

func loadFileState(path string) (*fileState, error) {
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var st fileState
	if err := json.Unmarshal(b, &st); err != nil {
		return nil, fmt.Errorf("--state %s is not a state file this version wrote (%v); remove it or use --from-start", path, err)
	}
	return &st, nil
}

// save writes the state durably: to a temporary file, synced, then renamed over the old one, so
// that a crash leaves the old state or the new one, never half of one.
func (st *fileState) save(path string) error {
	return writeFileAtomic(path, func(f *os.File) error {
		if err := json.NewEncoder(f).Encode(st); err != nil {
			return err
		}
		return f.Sync()
	})
}

// fileIdentity returns the device and inode of fi (0, 0 where the system has none).
func fileIdentity(fi os.FileInfo) (dev, ino uint64) {
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		return uint64(st.Dev), uint64(st.Ino)
	}
	return 0, 0
}

// tailFile reads the lines of a file that may grow and be rotated.
type tailFile struct {
	path   string
	follow bool
	poll   time.Duration

	f        *os.File
	r        *bufio.Reader
	dev, ino uint64
	offset   int64  // of the next byte of f to hand out
	partial  string // a line not ended yet by a newline
	line     int    // number of the last line handed out, in the current file
	// next, when set, is the file to read once f is exhausted: the one now at path, after a
	// rotation.
	next string
}

// open opens path (or, when it was rotated while nothing was reading, the file that st names)
// at the position st records; st nil starts at the beginning.
func (t *tailFile) open(st *fileState, warn func(string)) error {
	if st == nil {
		return t.openAt(t.path, 0, 0)
	}
	fi, err := os.Stat(t.path)
	if err == nil {
		if dev, ino := fileIdentity(fi); dev == st.Dev && ino == st.Ino {
			if fi.Size() < st.Offset {
				warn(fmt.Sprintf("%s is shorter than when it was last read (truncated?): reading it from the start", t.path))
				return t.openAt(t.path, 0, 0)
			}
			return t.openAt(t.path, st.Offset, st.Line)
		}
	}
	// Rotated while nothing was reading: finish the old file (under its new name) first.
	if old := findFile(filepath.Dir(t.path), st.Dev, st.Ino); old != "" {
		warn(fmt.Sprintf("%s was rotated: finishing %s from line %d first", t.path, old, st.Line+1))
		t.next = t.path
		return t.openAt(old, st.Offset, st.Line)
	}
	warn(fmt.Sprintf("the file last read (line %d of %s) is gone: reading %s from the start", st.Line, st.Path, t.path))
	return t.openAt(t.path, 0, 0)
}

// findFile returns the file in dir with the given identity, or "".
func findFile(dir string, dev, ino uint64) string {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return ""
	}
	for _, e := range entries {
		fi, err := e.Info()
		if err != nil || !fi.Mode().IsRegular() {
			continue
		}
		if d, i := fileIdentity(fi); d == dev && i == ino {
			return filepath.Join(dir, e.Name())
		}
	}
	return ""
}

func (t *tailFile) openAt(path string, offset int64, line int) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	fi, err := f.Stat()
	if err == nil {
		_, err = f.Seek(offset, io.SeekStart)
	}
	if err != nil {
		f.Close()
		return err
	}
	if t.f != nil {
		t.f.Close()
	}
	t.f, t.r, t.offset, t.line, t.partial = f, bufio.NewReaderSize(f, 64*1024), offset, line, ""
	t.dev, t.ino = fileIdentity(fi)
	return nil
}

func (t *tailFile) close() {
	if t.f != nil {
		t.f.Close()
	}
}

// state is where reading stands: everything handed out so far is before it.
func (t *tailFile) state() fileState {
	return fileState{Path: t.path, Dev: t.dev, Ino: t.ino, Offset: t.offset, Line: t.line}
}

// errEnd is readLine's end of input (without --follow).
var errEnd = errors.New("end of input")

// readLine returns the next whole line (without its newline). Without follow, a last line
// without a newline is a line too, and the end is errEnd. With follow it waits (until ctx ends)
// for more, and moves to a new file at path when the current one was rotated or truncated.
// wait is called before each pause, so that the caller can send what it holds meanwhile; its
// error ends the reading.
func (t *tailFile) readLine(ctx context.Context, wait func() error) (string, error) {
	for {
		chunk, err := t.r.ReadString('\n')
		if len(t.partial)+len(chunk) > maxLineBytes {
			return "", fmt.Errorf("line %d of %s is longer than %d bytes", t.line+1, t.f.Name(), maxLineBytes)
		}
		if err == nil {
			text := t.partial + chunk
			t.partial = ""
			t.offset += int64(len(text))
			t.line++
			return strings.TrimSuffix(strings.TrimSuffix(text, "\n"), "\r"), nil
		}
		if err != io.EOF {
			return "", err
		}
		t.partial += chunk
		if t.next != "" { // the rotated file is done: on to the current one
			if t.partial != "" {
				return t.takePartial(), nil
			}
			next := t.next
			t.next = ""
			if err := t.openAt(next, 0, 0); err != nil {
				return "", err
			}
			continue
		}
		if !t.follow {
			if t.partial != "" {
				return t.takePartial(), nil
			}
			return "", errEnd
		}
		if rotated, err := t.rotated(); err != nil {
			return "", err
		} else if rotated {
			// Read the old file to its end once more (its writer may have added lines since), then
			// move on: see the t.next case above.
			t.next = t.path
			continue
		}
		if err := wait(); err != nil {
			return "", err
		}
		select {
		case <-ctx.Done():
			return "", ctx.Err()
		case <-time.After(t.poll):
		}
	}
}

// takePartial hands out a last line that has no newline.
func (t *tailFile) takePartial() string {
	text := t.partial
	t.partial = ""
	t.offset += int64(len(text))
	t.line++
	return strings.TrimSuffix(text, "\r")
}

// rotated reports whether path now names another file, or the file was truncated below what
// was read. A path that is missing for now (between a rename and a create) is not a rotation.
func (t *tailFile) rotated() (bool, error) {
	fi, err := os.Stat(t.path)
	if errors.Is(err, os.ErrNotExist) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	if dev, ino := fileIdentity(fi); dev != t.dev || ino != t.ino {
		return true, nil
	}
	return fi.Size() < t.offset+int64(len(t.partial)), nil
}

// withDefaults applies --source (to a measurement with neither source nor tags) and --tag (to
// every measurement, its own tags winning), as the Queue's options do for standard input.
func (c *pipeCmd) withDefaults(m librato.Measurement) librato.Measurement {
	if m.Source == "" && len(m.Tags) == 0 {
		m.Source = c.source
	}
	if len(c.tags) > 0 {
		tags := maps.Clone(map[string]string(c.tags))
		maps.Copy(tags, m.Tags)
		m.Tags = tags
	}
	return m
}

// fileLine is a parsed measurement and the line it came from.
type fileLine struct {
	m    librato.Measurement
	line int
}

// runFile is pipe with --file: batches sent with Submit, the state saved after each.
func (c *pipeCmd) runFile(ctx context.Context, env *Env, cl *librato.Client) error {
	var st *fileState
	var err error
	if c.state != "" && !c.fromStart {
		if st, err = loadFileState(c.state); err != nil {
			return err
		}
	}
	warn := func(s string) { fmt.Fprintf(env.Stderr, "pipe: %s\n", s) }
	t := &tailFile{path: c.file, follow: c.follow, poll: c.poll}
	if err := t.open(st, warn); err != nil {
		return err
	}
	defer t.close()
	if st != nil && c.state != "" {
		warn(fmt.Sprintf("resuming %s after line %d", t.f.Name(), st.Line))
	}

	var batch []fileLine
	var saved fileState // the position last recorded
	if st != nil {
		saved = *st
	}
	read, sent, rejected := 0, 0, 0
	lastSend := time.Now()
	// flush delivers the batch, retrying what a transient failure left unsent until ctx ends;
	// then it records the position. Rejected measurements are reported with their lines.
	flush := func() error {
		for len(batch) > 0 {
			ms := make([]librato.Measurement, len(batch))
			for i, fl := range batch {
				ms[i] = fl.m
			}
			// An interrupt does not abort a batch in flight: its answer, whatever it is, decides
			// what is recorded. Cut off, a delivered batch would look unsent and go twice.
			sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), closeTimeout)
			err := cl.Submit(sctx, ms...)
			cancel()
			var se *librato.SubmitError
			switch {
			case err == nil:
				sent += len(batch)
				batch = batch[:0]
			case errors.As(err, &se) && len(se.Invalid) > 0:
				// Nothing was sent: drop the invalid ones (reported) and send the rest.
				bad := map[int]bool{}
				for _, ie := range se.Invalid {
					bad[ie.Index] = true
					fmt.Fprintf(env.Stderr, "line %d: %s\n", batch[ie.Index].line, withoutPrefixes(lineError(ie.Err).Error()))
					rejected++
				}
				kept := batch[:0]
				for i, fl := range batch {
					if !bad[i] {
						kept = append(kept, fl)
					}
				}
				batch = kept
			case errors.As(err, &se):
				for _, re := range se.Rejected {
					for _, i := range re.Indices {
						fmt.Fprintf(env.Stderr, "line %d: not sent: %s\n", batch[i].line, withoutPrefixes(re.Err.Error()))
						rejected++
					}
				}
				sent += se.Sent
				unsent := make([]fileLine, 0, len(se.UnsentIndices))
				for _, i := range se.UnsentIndices {
					unsent = append(unsent, batch[i])
				}
				batch = unsent
				if len(batch) > 0 {
					fmt.Fprintf(env.Stderr, "pipe: sending failed, will retry %s: %s\n", plural(len(batch), "measurement"), withoutPrefixes(se.Err.Error()))
					if err := sleepCtx(ctx, c.retryWait); err != nil {
						return err
					}
				}
			default:
				return err
			}
		}
		lastSend = time.Now()
		s := t.state()
		if c.state == "" || s == saved {
			return nil
		}
		if err := s.save(c.state); err != nil {
			return err
		}
		saved = s
		return nil
	}
	for {
		text, err := t.readLine(ctx, func() error {
			if len(batch) > 0 || c.state != "" {
				return flush()
			}
			return nil
		})
		if errors.Is(err, errEnd) {
			err = nil
			break
		}
		if err != nil {
			if ctx.Err() == nil {
				return err
			}
			break // interrupted: what was read is still sent below
		}
		read++
		text = strings.TrimSpace(text)
		if text == "" || strings.HasPrefix(text, "#") {
			continue
		}
		m, perr := c.parse(text, env, t.line)
		if perr == nil {
			m = c.withDefaults(m)
		}
		if perr != nil {
			fmt.Fprintf(env.Stderr, "line %d: %v\n", t.line, perr)
			rejected++
			continue
		}
		batch = append(batch, fileLine{m: m, line: t.line})
		if len(batch) >= c.batch || time.Since(lastSend) >= c.interval {
			if err := flush(); err != nil {
				return err
			}
		}
	}
	// The end, or an interrupt: send what is held, bounded, even after SIGINT.
	fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), closeTimeout)
	defer cancel()
	ctx = fctx
	if err := flush(); err != nil {
		return fmt.Errorf("%w (%s held: not recorded as read, so a re-run sends them)", err, plural(len(batch), "measurement"))
	}
	fmt.Fprintf(env.Stderr, "pipe: %s: %s read, %s sent, %s rejected\n", t.f.Name(), plural(read, "line"),
		plural(sent, "measurement"), plural(rejected, "line"))
	if rejected > 0 {
		return &exitError{code: ExitError}
	}
	return nil
}
