package store

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/stridemap/stridemap/discover"
)

// ErrNothingToCompare is returned by Pick when "previous" names nothing:
// the target has a single scan, so there is no earlier one to diff against.
var ErrNothingToCompare = errors.New("nothing to compare")

// SameTarget reports whether two scans may have looked at the same thing:
// their targets are equal, or one is unknown (stored before targets were
// recorded), which may be anything, as every scan was before.
func SameTarget(a, b ScanInfo) bool {
	return a.Target.IsZero() || b.Target.IsZero() || a.Target.Same(b.Target)
}

// Previous is the newest scan older than of with the same target (or an
// unknown one), from scans listed newest first (as Scans lists them);
// false when there is none.
func Previous(scans []ScanInfo, of ScanInfo) (ScanInfo, bool) {
	for _, s := range scans {
		if s.ID < of.ID && SameTarget(s, of) {
			return s, true
		}
	}
	return ScanInfo{}, false
}

// LatestOf is the newest scan of target (or of an unknown one), from scans
// listed newest first; false when there is none.
func LatestOf(scans []ScanInfo, target discover.Target) (ScanInfo, bool) {
	for _, s := range scans {
		if SameTarget(s, ScanInfo{Target: target}) {
			return s, true
		}
	}
	return ScanInfo{}, false
}

// ScanNames says how a scan may be named, for errors and help.
const ScanNames = "a scan number, latest, previous, or a date (YYYY-MM-DD)"

// Pick finds the scan name names among scans (newest first, never
// empty): a number; "latest", the newest scan; "previous", the scan
// before other of other's target (before the newest when other is nil);
// or a date YYYY-MM-DD, the last scan started on or before that day (local
// time), of other's target when other is given and it has one then.
func Pick(scans []ScanInfo, name string, other *ScanInfo) (ScanInfo, error) {
	switch name {
	case "latest":
		return scans[0], nil
	case "previous":
		of := scans[0]
		if other != nil {
			of = *other
		}
		prev, ok := Previous(scans, of)
		if !ok {
			return ScanInfo{}, fmt.Errorf("%w: no scan of %s before scan %d; scan again, or name two scans", ErrNothingToCompare, of.Target, of.ID)
		}
		return prev, nil
	}
	if id, err := strconv.ParseInt(name, 10, 64); err == nil && id > 0 {
		for _, s := range scans {
			if s.ID == id {
				return s, nil
			}
		}
		return ScanInfo{}, notFound(fmt.Sprintf("no scan %d; the store has %s (`stridemap scans` lists them)", id, idRanges(scans)))
	}
	day, err := time.ParseInLocation(time.DateOnly, name, time.Local)
	if err != nil {
		return ScanInfo{}, fmt.Errorf("scan %s: name %s", name, ScanNames)
	}
	end := day.AddDate(0, 0, 1)
	var anyTarget *ScanInfo
	for i := range scans { // newest first: the first match is the last scan of the day
		s := &scans[i]
		if !s.StartedAt.Before(end) {
			continue
		}
		if other == nil || SameTarget(*s, *other) {
			return *s, nil
		}
		if anyTarget == nil {
			anyTarget = s
		}
	}
	if anyTarget != nil {
		return *anyTarget, nil // of another target: the caller says so
	}
	oldest := scans[len(scans)-1]
	return ScanInfo{}, notFound(fmt.Sprintf("no scan on or before %s; the first is scan %d of %s", name, oldest.ID, oldest.StartedAt.Local().Format(time.DateOnly)))
}

// notFound is an error that is ErrScanNotFound and says only msg.
type notFound string

func (e notFound) Error() string        { return string(e) }
func (e notFound) Is(target error) bool { return target == ErrScanNotFound }

// idRanges lists the IDs of scans (newest first) as ascending ranges:
// "scans 1–3, 5".
func idRanges(scans []ScanInfo) string {
	var parts []string
	for i := len(scans) - 1; i >= 0; {
		first := scans[i].ID
		j := i
		for j > 0 && scans[j-1].ID == scans[j].ID+1 {
			j--
		}
		if last := scans[j].ID; last != first {
			parts = append(parts, fmt.Sprintf("%d–%d", first, last))
		} else {
			parts = append(parts, strconv.FormatInt(first, 10))
		}
		i = j - 1
	}
	if len(scans) == 1 {
		return "only scan " + parts[0]
	}
	return "scans " + strings.Join(parts, ", ")
}
