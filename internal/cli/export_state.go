package cli

import (
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"
)

// exportStateFile records an export's settings and finished metrics in its directory.
const exportStateFile = ".librato-export.json"

// exportState is the content of exportStateFile.
type exportState struct {
	Version    int    `json:"version"`
	Name       string `json:"name"`
	Resolution int    `json:"resolution"`
	Format     string `json:"format"`
	Tagged     bool   `json:"tagged"`
	// Start and End are the resolved range of the current pass (Unix seconds): a resumed export
	// reads the same range even when it was given as "-24h". Origin is the start of the first
	// pass: a series first seen by a refresh is read from there.
	Start  int64 `json:"start"`
	End    int64 `json:"end"`
	Origin int64 `json:"origin,omitempty"`
	// Done maps each metric finished in the current pass to the files written for it.
	Done map[string][]string `json:"done"`
	// Complete says the last pass finished every metric: a new run refreshes the export.
	// Refresh says the current pass is one: it merges new points into the files there.
	Complete bool `json:"complete,omitempty"`
	Refresh  bool `json:"refresh,omitempty"`
}

func loadExportState(dir string) (*exportState, error) {
	b, err := os.ReadFile(filepath.Join(dir, exportStateFile))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var st exportState
	if err := json.Unmarshal(b, &st); err != nil || st.Version != 1 {
		return nil, fmt.Errorf("%s is not an export state file this version can read; use --restart", filepath.Join(dir, exportStateFile))
	}
	if st.Done == nil {
		st.Done = map[string][]string{}
	}
	if st.Origin == 0 {
		st.Origin = st.Start
	}
	return &st, nil
}

// save writes the state atomically: a crash leaves the previous state, never half of one.
func (st *exportState) save(dir string) error {
	return writeFileAtomic(filepath.Join(dir, exportStateFile), func(f *os.File) error {
		enc := json.NewEncoder(f)
		enc.SetIndent("", " ")
		return enc.Encode(st)
	})
}

// sameSettings reports whether a resumed export would produce the same kind of files. The time
// range is not compared: a resumed export uses the recorded one.
func (st *exportState) sameSettings(o *exportState) bool {
	return st.Name == o.Name && st.Resolution == o.Resolution && st.Format == o.Format && st.Tagged == o.Tagged
}

func (st *exportState) settings() string {
	return fmt.Sprintf("--name %q --resolution %d --format %s --tagged=%t", st.Name, st.Resolution, st.Format, st.Tagged)
}

// readExportFile reads a file an export wrote (JSON or CSV, as format says) back into a series.
func readExportFile(path, format string) (series, error) {
	f, err := os.Open(path)
	if err != nil {
		return series{}, err
	}
	defer f.Close()
	var s series
	if format == "json" {
		if err := json.NewDecoder(f).Decode(&s); err != nil {
			return series{}, fmt.Errorf("%s: %w", path, err)
		}
		return s, nil
	}
	rows, err := csv.NewReader(f).ReadAll()
	if err != nil {
		return series{}, fmt.Errorf("%s: %w", path, err)
	}
	for i, row := range rows {
		if i == 0 || len(row) != len(seriesCSVHeader) {
			continue // the header
		}
		s.Name, s.Source = row[0], row[1]
		if row[2] != "" {
			s.Tags = map[string]string{}
			for _, kv := range strings.Split(row[2], ";") {
				k, v, _ := strings.Cut(kv, "=")
				s.Tags[k] = v
			}
		}
		t, err := time.Parse(time.RFC3339, row[3])
		if err != nil {
			return series{}, fmt.Errorf("%s: line %d: %w", path, i+1, err)
		}
		p := point{Time: t.UTC()}
		if row[5] != "" {
			v, err := strconv.ParseFloat(row[5], 64)
			if err != nil {
				return series{}, fmt.Errorf("%s: line %d: %w", path, i+1, err)
			}
			p.Value = &v
		}
		s.Points = append(s.Points, p)
	}
	return s, nil
}

// mergePoints returns old's points and new's, by time; where both have a time, new's wins (the
// API may have filled a bucket that was still open when old was read).
func mergePoints(old, new []point) []point {
	byTime := make(map[int64]point, len(old)+len(new))
	for _, p := range old {
		byTime[p.Time.UnixNano()] = p
	}
	for _, p := range new {
		byTime[p.Time.UnixNano()] = p
	}
	out := make([]point, 0, len(byTime))
	for _, p := range byTime {
		out = append(out, p)
	}
	slices.SortFunc(out, func(a, b point) int { return a.Time.Compare(b.Time) })
	return out
}

// exportFileName names a series' file: METRIC, METRIC@SOURCE or METRIC@k=v,k=v, plus the format's
// extension. Bytes that are unsafe in file names on some system (path separators, ':', '@',
// '%', spaces, control and non-ASCII bytes) are %-escaped, so names never collide or escape DIR.
func exportFileName(s series, format string) string {
	name := escapeFileName(s.Name)
	switch {
	case len(s.Tags) > 0:
		parts := make([]string, 0, len(s.Tags))
		for _, kv := range strings.Split(formatTags(s.Tags, "\x00"), "\x00") {
			k, v, _ := strings.Cut(kv, "=")
			parts = append(parts, escapeFileName(k)+"="+escapeFileName(v))
		}
		name += "@" + strings.Join(parts, ",")
	case s.Source != "":
		name += "@" + escapeFileName(s.Source)
	}
	return name + "." + format
}

func escapeFileName(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		ch := s[i]
		switch {
		case ch >= 'a' && ch <= 'z', ch >= 'A' && ch <= 'Z', ch >= '0' && ch <= '9', ch == '.' && i > 0, ch == '_', ch == '-':
			b.WriteByte(ch)
		default:
			fmt.Fprintf(&b, "%%%02X", ch)
		}
	}
	return b.String()
}

// progressBar draws "[#####.....] 12/40 cpu.load" on one terminal line. A nil bar draws nothing.
type progressBar struct {
	w     io.Writer
	total int
	last  int // length of the last line, to blank it out
}

const progressWidth = 30

func (p *progressBar) update(done int, current string) {
	if p == nil {
		return
	}
	filled := 0
	if p.total > 0 {
		filled = done * progressWidth / p.total
	}
	line := fmt.Sprintf("[%s%s] %d/%d %s", strings.Repeat("#", filled), strings.Repeat(".", progressWidth-filled), done, p.total, current)
	pad := max(p.last-len(line), 0)
	fmt.Fprintf(p.w, "\r%s%s", line, strings.Repeat(" ", pad))
	p.last = len(line)
}

func (p *progressBar) finish() {
	if p == nil || p.last == 0 {
		return
	}
	fmt.Fprintln(p.w)
	p.last = 0
}
