//go:build linux

package main

import (
	"errors"
	"fmt"
	"io/fs"
	"net/netip"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/stridemap/stridemap/discover/flows"
)

// exportTimeLayout names each export by the UTC time its interval ended;
// names of one node sort by time.
const exportTimeLayout = "20060102T150405Z"

// exporter writes, every interval, what was observed in that interval as
// a complete flow log of its own: flows-NODE-TIME.jsonl in a directory.
// Each file holds only its interval (connections opened, closed or failed,
// bytes, and listening sockets seen since the previous file), so any set
// of the files merges with "stridemap scan --flows" or "observe --flows"
// without counting a connection twice, and a file lost, or deleted by
// --keep, loses only its own interval. The aggregator only grows, so an
// interval is the difference between two of its snapshots.
type exporter struct {
	dir    string
	node   string
	prefix string // of this node's file names: "flows-NODE-"
	keep   int    // most files of this node kept; 0 keeps all

	since     time.Time // the interval's start: the previous export
	flows     map[flows.Key]flows.Flow
	listeners map[listenerKey]time.Time
	stats     flows.Stats
	agg       flows.AggregatorStats
	lastName  string
}

type listenerKey struct {
	netns uint32
	addr  netip.AddrPort
}

func newExporter(dir, node string, keep int, started time.Time) *exporter {
	return &exporter{dir: dir, node: node, prefix: "flows-" + fileNode(node) + "-", keep: keep, since: started,
		flows: map[flows.Key]flows.Flow{}, listeners: map[listenerKey]time.Time{}}
}

// fileNode makes a node name safe in a file name.
func fileNode(node string) string {
	if node == "" {
		return "unknown"
	}
	return strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '.' || r == '_' {
			return r
		}
		return '_'
	}, node)
}

// export writes the interval that ends now, given the aggregator's
// cumulative flows and listeners (Node and Cgroup filled in) and the
// counters so far, and removes the files beyond --keep. The interval is
// taken only once the file is written: after a failure, the next export
// covers both intervals.
func (e *exporter) export(now time.Time, fl []flows.Flow, ls []flows.Listener, stats flows.Stats, agg flows.AggregatorStats) (string, error) {
	var out []flows.Flow
	for _, f := range fl {
		if d, ok := interval(e.flows[f.Key], f, e.since); ok {
			out = append(out, d)
		}
	}
	var newListeners []flows.Listener
	for _, l := range ls {
		if t, ok := e.listeners[listenerKey{l.Netns, l.Addr}]; !ok || !t.Equal(l.Time) {
			newListeners = append(newListeners, l)
		}
	}
	d := flows.AggregatorStats{Overflow: agg.Overflow - e.agg.Overflow, Flows: len(out), Listeners: len(newListeners)}
	s := flows.Stats{Events: stats.Events - e.stats.Events, DecodeErrors: stats.DecodeErrors - e.stats.DecodeErrors,
		Dropped: stats.Dropped - e.stats.Dropped, Unattributed: stats.Unattributed - e.stats.Unattributed}
	summary := flows.NewSummary(e.node, e.since, now.Sub(e.since), s, d)

	path, err := e.write(now, out, newListeners, summary)
	if err != nil {
		return "", err
	}
	e.since, e.stats, e.agg = now, stats, agg
	for _, f := range fl {
		e.flows[f.Key] = f
	}
	for _, l := range ls {
		e.listeners[listenerKey{l.Netns, l.Addr}] = l.Time
	}
	return path, e.prune()
}

// interval is what cur, a flow's cumulative counts, adds to prev, the
// same flow at the previous export (zero when it is new); ok is false
// when nothing happened to it in between. Counts of protocols can shrink
// (an open connection's verdict is provisional until it closes), so each
// difference stops at zero.
func interval(prev, cur flows.Flow, since time.Time) (flows.Flow, bool) {
	d := cur
	d.Opened, d.Closed, d.Failed = cur.Opened-min(prev.Opened, cur.Opened), cur.Closed-min(prev.Closed, cur.Closed), cur.Failed-min(prev.Failed, cur.Failed)
	d.BytesSent, d.BytesReceived = cur.BytesSent-min(prev.BytesSent, cur.BytesSent), cur.BytesReceived-min(prev.BytesReceived, cur.BytesReceived)
	d.Protocols, d.Encryption = countsGrown(prev.Protocols, cur.Protocols), countsGrown(prev.Encryption, cur.Encryption)
	if d.Opened == 0 && d.Closed == 0 && d.Failed == 0 && d.BytesSent == 0 && d.BytesReceived == 0 && d.Protocols == nil && d.Encryption == nil {
		return flows.Flow{}, false
	}
	if !prev.FirstSeen.IsZero() {
		// Seen before: its first event in this interval came after the
		// interval began, and no later than its last.
		d.FirstSeen = since
		if cur.LastSeen.Before(since) {
			d.FirstSeen = cur.LastSeen
		}
	}
	return d, true
}

func countsGrown(prev, cur map[string]uint64) map[string]uint64 {
	var out map[string]uint64
	for k, n := range cur {
		if n > prev[k] {
			if out == nil {
				out = map[string]uint64{}
			}
			out[k] = n - prev[k]
		}
	}
	return out
}

// write writes a flow log atomically: into a temporary file that is
// synced, then renamed to its name, then the directory synced, so a
// crash leaves a whole file or none, and collectors never see half of one.
func (e *exporter) write(now time.Time, fl []flows.Flow, ls []flows.Listener, summary flows.Summary) (string, error) {
	name := e.name(now)
	f, err := os.CreateTemp(e.dir, "."+e.prefix+"*.tmp")
	if err != nil {
		return "", fmt.Errorf("export: %w", err)
	}
	defer os.Remove(f.Name()) // gone once renamed
	err = errors.Join(f.Chmod(0o644), flows.WriteLog(f, fl, ls, summary), f.Sync())
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return "", fmt.Errorf("export %s: %w", name, err)
	}
	path := filepath.Join(e.dir, name)
	if err := os.Rename(f.Name(), path); err != nil {
		return "", fmt.Errorf("export: %w", err)
	}
	e.lastName = name
	if err := syncDir(e.dir); err != nil {
		return "", fmt.Errorf("export %s: %w", path, err)
	}
	return path, nil
}

// name is the file name for an interval that ends at t, never one already
// there: a later second is taken instead.
func (e *exporter) name(t time.Time) string {
	t = t.UTC().Truncate(time.Second)
	for {
		name := e.prefix + t.Format(exportTimeLayout) + ".jsonl"
		if _, err := os.Lstat(filepath.Join(e.dir, name)); name > e.lastName && errors.Is(err, fs.ErrNotExist) {
			return name
		}
		t = t.Add(time.Second)
	}
}

// files lists this node's exports, oldest first, and the temporary files
// an interrupted export left.
func (e *exporter) files() (exports, stale []string, err error) {
	entries, err := os.ReadDir(e.dir)
	if err != nil {
		return nil, nil, err
	}
	export := regexp.MustCompile(`^` + regexp.QuoteMeta(e.prefix) + `[0-9]{8}T[0-9]{6}Z\.jsonl$`)
	temp := regexp.MustCompile(`^\.` + regexp.QuoteMeta(e.prefix) + `[0-9]+\.tmp$`)
	for _, en := range entries {
		switch n := en.Name(); {
		case en.Type().IsRegular() && export.MatchString(n):
			exports = append(exports, n)
		case en.Type().IsRegular() && temp.MatchString(n):
			stale = append(stale, n)
		}
	}
	slices.Sort(exports)
	return exports, stale, nil
}

// prune removes this node's oldest exports beyond --keep.
func (e *exporter) prune() error {
	if e.keep <= 0 {
		return nil
	}
	exports, _, err := e.files()
	if err != nil {
		return fmt.Errorf("export: %w", err)
	}
	var errs []error
	for len(exports) > e.keep {
		errs = append(errs, os.Remove(filepath.Join(e.dir, exports[0])))
		exports = exports[1:]
	}
	return errors.Join(errs...)
}

// start checks, as the user the observer now runs as, that it can write
// the directory, and removes the temporary files of an export a crash
// interrupted: better now than at the first export, minutes later.
func (e *exporter) start() error {
	_, stale, err := e.files()
	if err != nil {
		return fmt.Errorf("export directory: %w", err)
	}
	for _, n := range stale {
		_ = os.Remove(filepath.Join(e.dir, n))
	}
	f, err := os.CreateTemp(e.dir, "."+e.prefix+"*.tmp")
	if err != nil {
		return fmt.Errorf("export directory %s is not writable by uid %d: %w", e.dir, os.Geteuid(), err)
	}
	f.Close()
	return os.Remove(f.Name())
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	err = d.Sync()
	if cerr := d.Close(); err == nil {
		err = cerr
	}
	return err
}
