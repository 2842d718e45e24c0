package statsd

import (
	"errors"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/go-librato/librato"
)

// series is what one flush interval gathered for one metric: one name, tag set and kind.
type series struct {
	kind metricKind
	name string            // sanitized
	tags map[string]string // the measurement's tags (global ones merged in where they apply)

	counter float64
	gauge   float64
	values  []float64           // timers and histograms
	members map[string]struct{} // sets
}

// aggregator gathers samples between flushes. Its caller serializes its use (Server.mu).
//
// A series is found by the bytes of its line (kind, name and tags as sent), so a series seen
// before costs one map lookup and no allocation; a line whose bytes are new is sanitized, its
// tags sorted, and found again by that canonical key, so that the same series sent with its
// tags in another order is still one series.
type aggregator struct {
	global    map[string]string
	maxSeries int
	maxValues int // timer values and set members kept in an interval
	values    int // kept so far

	byLine  map[string]*series // kind + raw name + raw tags
	byKey   map[string]*series // kind + sanitized name + sorted tags
	key     []byte             // scratch for lookups
	tagsBuf []tagPair          // scratch for canonical tags

	droppedTags uint64
}

type tagPair struct{ name, value string }

func newAggregator(global map[string]string, maxSeries, maxValues int) *aggregator {
	return &aggregator{global: global, maxSeries: maxSeries, maxValues: maxValues,
		byLine: map[string]*series{}, byKey: map[string]*series{}}
}

// errTooManySeries refuses a sample of a new series past Options.MaxSeries, errTooManyValues a
// timer value or new set member past Options.MaxValues.
var (
	errTooManySeries = errors.New("the series limit is reached (Options.MaxSeries): a new series is refused until the next flush")
	errTooManyValues = errors.New("the values limit is reached (Options.MaxValues): timer values and new set members are refused until the next flush")
)

// add adds one sample. It fails when the sample's series is new and its tags are malformed
// (errBadTags), or past the limit (errTooManySeries), or when it is a timer value or new set
// member past the values limit (errTooManyValues).
func (a *aggregator) add(s *sample) error {
	a.key = append(a.key[:0], byte(s.kind))
	if s.nameTags {
		a.key = append(a.key, '#')
	} else {
		a.key = append(a.key, '|')
	}
	a.key = append(a.key, s.name...)
	a.key = append(a.key, 0)
	a.key = append(a.key, s.tags...)
	se := a.byLine[string(a.key)]
	if se == nil {
		var err error
		if se, err = a.newSeries(s); err != nil {
			return err
		}
	}
	switch s.kind {
	case kindCounter:
		se.counter += s.value
	case kindGauge:
		if s.delta {
			se.gauge += s.value
		} else {
			se.gauge = s.value
		}
	case kindTimer, kindHistogram:
		if a.maxValues > 0 && a.values >= a.maxValues {
			return errTooManyValues
		}
		se.values = append(se.values, s.value)
		a.values++
	case kindSet:
		if se.members == nil {
			se.members = map[string]struct{}{}
		}
		if _, ok := se.members[string(s.member)]; !ok {
			if a.maxValues > 0 && a.values >= a.maxValues {
				return errTooManyValues
			}
			se.members[string(s.member)] = struct{}{}
			a.values++
		}
	}
	return nil
}

// newSeries finds or makes the series of a line whose bytes are new.
func (a *aggregator) newSeries(s *sample) (*series, error) {
	if len(s.tags) > 0 && !validTags(s.tags, s.nameTags) {
		return nil, errBadTags
	}
	// Spellings of one series (its tags in another order, names that sanitize alike) share it;
	// they are bounded too, at twice the series.
	if a.maxSeries > 0 && len(a.byLine) >= 2*a.maxSeries {
		return nil, errTooManySeries
	}
	name := librato.SanitizeMetricName(strings.TrimSpace(string(s.name)))
	tags := a.tagsOf(s)
	var key strings.Builder
	key.WriteByte(byte(s.kind))
	key.WriteString(name)
	for _, t := range a.tagsBuf {
		key.WriteByte(0)
		key.WriteString(t.name)
		key.WriteByte('=')
		key.WriteString(t.value)
	}
	se := a.byKey[key.String()]
	if se == nil {
		if a.maxSeries > 0 && len(a.byKey) >= a.maxSeries {
			return nil, errTooManySeries
		}
		se = &series{kind: s.kind, name: name, tags: tags}
		a.byKey[key.String()] = se
	}
	a.byLine[string(a.key)] = se
	return se, nil
}

// tagsOf returns the tags a series' measurements carry, and leaves them sorted in a.tagsBuf:
// statsd-librato-backend's name#k=v tags replace the global tags (as that backend does);
// DogStatsD's |#k:v tags are added to them (as DogStatsD does), winning on a clash. Names and
// values are sanitized; a tag with an empty name or value, or past librato.MaxTags, is left out
// and counted.
func (a *aggregator) tagsOf(s *sample) map[string]string {
	tags := map[string]string{}
	if !s.nameTags {
		for k, v := range a.global {
			tags[k] = v
		}
	}
	if len(s.tags) > 0 {
		for pair := range strings.SplitSeq(string(s.tags), ",") {
			k, v, _ := cutTag([]byte(pair), s.nameTags)
			name, value := librato.SanitizeTagName(string(k)), librato.SanitizeTagValue(string(v))
			if name == "" || value == "" {
				a.droppedTags++
				continue
			}
			tags[name] = value
		}
	}
	a.tagsBuf = a.tagsBuf[:0]
	for k, v := range tags {
		a.tagsBuf = append(a.tagsBuf, tagPair{k, v})
	}
	slices.SortFunc(a.tagsBuf, func(x, y tagPair) int { return strings.Compare(x.name, y.name) })
	if len(a.tagsBuf) > librato.MaxTags {
		for _, t := range a.tagsBuf[librato.MaxTags:] {
			delete(tags, t.name)
		}
		a.droppedTags += uint64(len(a.tagsBuf) - librato.MaxTags)
		a.tagsBuf = a.tagsBuf[:librato.MaxTags]
	}
	if len(tags) == 0 {
		return nil
	}
	return tags
}

// flush returns the measurements of the interval, stamped with at, and forgets every series
// (statsd's deleteIdleStats: a series idle for an interval sends nothing and costs no memory).
func (a *aggregator) flush(at time.Time, period time.Duration, percentiles []float64) []librato.Measurement {
	out := make([]librato.Measurement, 0, len(a.byKey))
	for _, se := range a.byKey {
		m := librato.Measurement{Name: se.name, Tags: se.tags, Time: at, Period: period}
		switch se.kind {
		case kindCounter:
			m.Value = se.counter
		case kindGauge:
			m.Value = se.gauge
		case kindSet:
			m.Value = float64(len(se.members))
		case kindTimer, kindHistogram:
			slices.Sort(se.values)
			m.Summary = summarize(se.values)
			out = append(out, m)
			for _, p := range percentiles {
				// statsd's percentThreshold: the lowest n - round((100-p)% of n) values.
				n := len(se.values) - int(math.Round((100-p)/100*float64(len(se.values))))
				if n < 1 {
					continue
				}
				pm := m
				pm.Name = librato.SanitizeMetricName(se.name + "." + percentileName(p))
				pm.Summary = summarize(se.values[:n])
				out = append(out, pm)
			}
			continue
		}
		out = append(out, m)
	}
	clear(a.byLine)
	clear(a.byKey)
	a.values = 0
	return out
}

// summarize returns count, sum, min, max, the sum of squares and (of two values or more) the
// sample standard deviation of sorted values.
func summarize(sorted []float64) *librato.Summary {
	s := &librato.Summary{Count: int64(len(sorted)), Min: sorted[0], Max: sorted[len(sorted)-1]}
	var squares float64
	for _, v := range sorted {
		s.Sum += v
		squares += v * v
	}
	s.SumSquares = &squares
	if n := len(sorted); n > 1 {
		mean, dev := s.Sum/float64(n), 0.0
		for _, v := range sorted {
			dev += (v - mean) * (v - mean)
		}
		s.Stddev = librato.Float(math.Sqrt(dev / float64(n-1)))
	}
	return s
}

// percentileName is statsd's suffix for a percentile: 90 → "90", 99.9 → "99_9".
func percentileName(p float64) string {
	return strings.ReplaceAll(strconv.FormatFloat(p, 'f', -1, 64), ".", "_")
}
