package spool

// Damage is a damaged region of the log and what it cost, reported once to Options.OnDamage
// and added to Stats.
//
// The counts come from the running totals every record carries (see record.go) and from the
// checkpoint file: the totals of the valid records on both sides of a damaged region give
// exactly what the region held; the checkpoint stands in for the missing side at the head of
// the oldest segment and at the tail of the newest one. Exact is false only in these cases:
//
//   - No totals are known on one side: the damage is at the head of the oldest segment or at
//     the tail of the newest one, and the checkpoint file is missing or damaged, or (tail only)
//     it lags behind the log because the process died between writing records and writing the
//     checkpoint and the tail was damaged afterwards. The counts are then lower bounds
//     (possibly zero).
//   - The region lost both data records and acknowledgements, so a lost acknowledgement may
//     have been for a lost record; or more than one region lost acknowledgements in the same
//     Open. Then the totals still give RestoredRecords − Records (and the same for
//     measurements) exactly, and Stats.Measurements + Measurements − RestoredMeasurements
//     still equals what was appended and not acknowledged, but the split is not known: a record
//     counted as lost may have been delivered, a record counted as restored may not come back.
//
// When every Damage of an Open is exact: what Pending returns is exactly the records appended
// and not acknowledged, minus Records, plus RestoredRecords (and the same for measurements).
type Damage struct {
	// Segment is the path of the segment file the damage starts in. A region running from the
	// end of one segment file into the next is reported once, at its start.
	Segment string
	// Offset and Length are the damaged bytes. Length is 0 when records are missing without
	// damaged bytes (a segment cut at a record boundary, a segment file removed).
	Offset, Length int64
	// Records and Measurements are the data records lost in the region (records that were
	// acknowledged or dropped before are not counted: they were already delivered or counted).
	Records, Measurements int64
	// RestoredRecords and RestoredMeasurements are acknowledged (or dropped) records that come
	// back because the region held their acknowledgement: Pending returns them again and a
	// caller that sends them sends duplicates.
	RestoredRecords, RestoredMeasurements int64
	// Exact says the counts are exact; see the type's documentation for when they are not.
	Exact bool
	// Reason says what was found, for logs.
	Reason string
}

// Reasons of damage.
const (
	reasonDamaged   = "damaged records"
	reasonMissing   = "missing records"
	reasonUnwritten = "acknowledgements not written"
	reasonTorn      = "torn write of records never committed"
	reasonReadBack  = "record failed its check when read back"
)

// account adds d to the counters. Callers hold mu (or own s exclusively).
func (s *Spool) account(d *Damage) {
	s.stats.Damaged++
	s.stats.DamagedRecords += uint64(d.Records)
	s.stats.DamagedMeasurements += uint64(d.Measurements)
	s.stats.RestoredRecords += uint64(d.RestoredRecords)
	s.stats.RestoredMeasurements += uint64(d.RestoredMeasurements)
	if !d.Exact {
		s.stats.InexactDamage++
	}
}

// accounted is the damage found by Open: what to report, and what to note in the log.
type accounted struct {
	list []Damage
	lsns []uint64 // the gaps reported, named by the lsn after them
	// adjRecs and adjMeas move the acked totals so that, after the note, the totals say again
	// what is live: lost records count as acknowledged, restored ones as not (two's complement).
	adjRecs, adjMeas uint64
}

// accountGaps turns the gaps Open found (not those noted by an earlier Open) into Damage and
// adds it to the counters. The lost records of a gap are exact from its totals. The restored
// ones are what is live beyond what the totals at the end say is live (end), once the lost
// records are added back: exact whenever a single gap lost acknowledgements. Callers own s.
func (s *Spool) accountGaps(gaps []*gap, noted map[uint64]bool, end totals) accounted {
	var a accounted
	type calc struct {
		g              *gap
		d              Damage
		ackRecs, ackMs uint64 // acknowledgements lost in the gap
	}
	var cs []calc
	var lostRecs, lostMeas int64
	for _, g := range gaps {
		if noted[g.after] {
			continue
		}
		c := calc{g: g, d: Damage{Segment: g.seg.path, Offset: g.off, Length: g.size}}
		ok := atLeast(g.to, g.from) && g.to.ackedRecs >= g.from.ackedRecs && g.to.ackedMeas >= g.from.ackedMeas
		if ok {
			dr, dm := g.to.lastID-g.from.lastID, g.to.dataMeas-g.from.dataMeas
			ok = g.ackedRecs <= dr && g.ackedMeas <= dm
			if ok {
				c.d.Records, c.d.Measurements = int64(dr-g.ackedRecs), int64(dm-g.ackedMeas)
				c.ackRecs, c.ackMs = g.to.ackedRecs-g.from.ackedRecs, g.to.ackedMeas-g.from.ackedMeas
			}
		}
		c.d.Exact = ok && g.fromKnown && g.toKnown && (c.d.Records == 0 || c.ackRecs == 0)
		lostRecs += c.d.Records
		lostMeas += c.d.Measurements
		cs = append(cs, c)
	}
	if len(cs) == 0 {
		return a
	}
	// Restored: live now minus live by the totals, plus what the gaps lost.
	restRecs := int64(len(s.byID)) - int64(end.lastID-end.ackedRecs) + lostRecs
	restMeas := s.liveCount - int64(end.dataMeas-end.ackedMeas) + lostMeas
	var ackGaps int
	var capRecs, capMeas int64
	for _, c := range cs {
		if c.ackRecs > 0 {
			ackGaps++
			capRecs += int64(c.ackRecs)
			capMeas += int64(c.ackMs)
		}
	}
	restExact := restRecs >= 0 && restMeas >= 0 && restRecs <= capRecs && restMeas <= capMeas &&
		(ackGaps <= 1 || restRecs == 0 && restMeas == 0 || restRecs == capRecs && restMeas == capMeas)
	for i := range cs {
		c := &cs[i]
		if c.ackRecs > 0 {
			c.d.RestoredRecords = min(max(restRecs, 0), int64(c.ackRecs))
			c.d.RestoredMeasurements = min(max(restMeas, 0), int64(c.ackMs))
			restRecs -= c.d.RestoredRecords
			restMeas -= c.d.RestoredMeasurements
			c.d.Exact = c.d.Exact && restExact
		}
		switch g := c.g; {
		case g.tail && !g.damaged && c.d.Records == 0 && c.d.RestoredRecords > 0:
			c.d.Reason = reasonUnwritten
		case g.tail && g.damaged && c.d.Records == 0 && c.ackRecs == 0 && c.d.Exact:
			c.d.Reason = reasonTorn
		case !g.damaged:
			c.d.Reason = reasonMissing
		default:
			c.d.Reason = reasonDamaged
		}
		s.account(&c.d)
		a.list = append(a.list, c.d)
		a.lsns = append(a.lsns, c.g.after)
		a.adjRecs += uint64(c.d.Records - c.d.RestoredRecords)
		a.adjMeas += uint64(c.d.Measurements - c.d.RestoredMeasurements)
	}
	return a
}
