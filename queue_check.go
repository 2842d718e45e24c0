package librato

import (
	"math"
	"reflect"
	"strconv"
	"strings"
	"sync/atomic"
	"time"
	"unsafe"
)

// Validation for Queue.Add. Add runs on the caller's hot path, so the common measurement (a gauge
// value, a name and a tag map that the call site passes again and again) is checked by quick,
// which remembers the names and tag maps it validated; anything else, and every invalid
// measurement, goes through checkMeasurement and checkRoute like Submit's measurements, which say
// what is wrong.

// quick reports whether m certainly passes checkMeasurement and checkRoute with the queue's tags,
// and where it goes (tagged). On true, m.Name is the sanitized name; on false m is unchanged and
// nothing is known: the caller runs the full check.
func (q *Queue) quick(m *Measurement) (tagged, ok bool) {
	if m.Type != Gauge || m.Summary != nil || len(m.Attributes) != 0 ||
		!(math.Abs(m.Value) < maxAbsValue) || // false for NaN and ±Inf too
		m.Period < 0 || m.Period%time.Second != 0 {
		return false, false
	}
	tagged = q.tagsAlways || len(m.Tags) > 0
	if m.Source != "" && (tagged || !validSource(m.Source)) {
		return false, false
	}
	if len(m.Tags) > 0 {
		if _, known := q.validTags.lookup(m.Tags); !known {
			return false, false
		}
	} else if !q.baseTagsOK {
		return false, false
	}
	if !m.Time.IsZero() && (m.Time.Before(minTime) || m.Time.After(q.c.now().Add(maxFuture))) {
		return false, false
	}
	name := q.c.sanitize(m.Name)
	if !q.validNames.known(name) {
		if !validChars(name, 1, MaxMetricNameLength, className) {
			return false, false
		}
		q.validNames.remember(name)
	}
	m.Name = name
	return tagged, true
}

// validSource is ValidateSource(s) == nil for a non-empty s, without building an error.
func validSource(s string) bool {
	return validChars(s, 1, MaxSourceLength, className) && !(len(s) == 3 && strings.EqualFold(s, "all"))
}

// check validates m for Add when quick could not vouch for it, skipping the tag validation of a
// tag map already validated. Errors name the measurement and wrap what is wrong (ErrInvalid).
func (q *Queue) check(m *Measurement) error {
	name := m.Name
	if err := q.checkTags(m); err != nil {
		if len(name) > 64 {
			name = name[:64] + "..."
		}
		return &queueAddError{name: name, err: err}
	}
	return nil
}

// queueAddError is an invalid measurement refused by Queue.Add:
// `librato: Queue.Add: measurement "<name>": <reason>`, wrapping the reason (ErrInvalid).
type queueAddError struct {
	name string
	err  error
}

func (e *queueAddError) Error() string {
	return "librato: Queue.Add: measurement " + strconv.Quote(e.name) + ": " + e.err.Error()
}

func (e *queueAddError) Unwrap() error { return e.err }

func (q *Queue) checkTags(m *Measurement) error {
	tags := m.Tags
	if len(tags) == 0 {
		if err := q.c.checkMeasurement(m); err != nil {
			return err
		}
		return q.c.checkRoute(m, q.tags)
	}
	id, known := q.validTags.lookup(tags)
	if known {
		m.Tags = nil // checkMeasurement checks everything but the tags...
	}
	err := q.c.checkMeasurement(m)
	m.Tags = tags
	if err != nil {
		return err
	}
	if err := q.c.checkRoute(m, q.tags); err != nil { // ...and this what depends on them.
		return err
	}
	if !known {
		q.validTags.remember(id, tags)
	}
	return nil
}

// tagCacheSize is the number of tag maps a Queue remembers as validated.
const tagCacheSize = 64

// tagCache remembers tag maps that passed validation, by identity, so that Add does not iterate
// and check the same map again and again. It is lock-free: a direct-mapped table of entries that
// hold the map, so a remembered map stays alive and its address cannot be reused by another map.
// A map is remembered the second time it is seen in a row in its slot, so maps built for a single
// Add cost no extra allocation. Callers promise not to change a map after Add (the queue keeps it
// until it is sent anyway); should one still change, the API refuses the measurement with 400 and
// the flush isolates and reports it.
type tagCache struct {
	slots [tagCacheSize]atomic.Pointer[tagCacheEntry]
	seen  [tagCacheSize]atomic.Uintptr // last map seen per slot, a hint only
}

type tagCacheEntry struct {
	id   uintptr
	tags map[string]string
}

func tagCacheSlot(id uintptr) uintptr {
	return (id >> 4 * 0x9E3779B97F4A7C15 >> 58) % tagCacheSize
}

// lookup reports whether tags was remembered; id identifies the map for remember.
func (c *tagCache) lookup(tags map[string]string) (id uintptr, ok bool) {
	id = reflect.ValueOf(tags).Pointer()
	e := c.slots[tagCacheSlot(id)].Load()
	return id, e != nil && e.id == id
}

// remember records a validated map.
func (c *tagCache) remember(id uintptr, tags map[string]string) {
	i := tagCacheSlot(id)
	if c.seen[i].Swap(id) == id {
		c.slots[i].Store(&tagCacheEntry{id: id, tags: tags})
	}
}

// nameCacheSize is the number of metric names a Queue remembers as valid.
const nameCacheSize = 64

// nameCache remembers valid metric names, so that Add does not scan the same name again and
// again. Names are looked up by the address of their bytes (call sites pass the same constant),
// and a hit is confirmed by comparing the strings, which is immediate for the same bytes: a name
// is known only if it equals a name that passed validation. Like tagCache, it is a lock-free
// direct-mapped table, and remembers a name the second time it is seen in a row in its slot.
type nameCache struct {
	slots [nameCacheSize]atomic.Pointer[string]
	seen  [nameCacheSize]atomic.Uintptr
}

func nameCacheSlot(p uintptr) uintptr {
	return (p * 0x9E3779B97F4A7C15 >> 58) % nameCacheSize
}

// known reports whether name was remembered.
func (c *nameCache) known(name string) bool {
	e := c.slots[nameCacheSlot(uintptr(unsafe.Pointer(unsafe.StringData(name))))].Load()
	return e != nil && *e == name
}

// remember records a valid name.
func (c *nameCache) remember(name string) {
	p := uintptr(unsafe.Pointer(unsafe.StringData(name)))
	i := nameCacheSlot(p)
	if c.seen[i].Swap(p) == p {
		c.slots[i].Store(&name)
	}
}
