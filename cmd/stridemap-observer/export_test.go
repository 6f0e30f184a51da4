//go:build linux

package main

import (
	"bufio"
	"bytes"
	"context"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stridemap/stridemap/discover/flows"
)

var (
	t0     = time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)
	client = netip.MustParseAddr("10.0.0.1")
)

func flow(port uint16, opened, closed, sent uint64, last time.Time, protocols map[string]uint64) flows.Flow {
	return flows.Flow{Key: flows.Key{Netns: 1, Role: flows.RoleClient, Local: client, Remote: netip.MustParseAddr("10.0.0.2"), Port: port},
		Node: "node-a", Opened: opened, Closed: closed, BytesSent: sent, FirstSeen: t0, LastSeen: last, Protocols: protocols}
}

func readExports(t *testing.T, dir string) ([]string, *flows.Log) {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	var all bytes.Buffer
	for _, e := range entries {
		names = append(names, e.Name())
		b, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		all.Write(b)
	}
	log, err := flows.ReadLog(&all)
	if err != nil {
		t.Fatal(err)
	}
	return names, log
}

// TestExportIntervals: each file holds its interval, as the aggregator's
// Take handed it over, with the counters that interval added, so the
// files together say what the observer saw in all.
func TestExportIntervals(t *testing.T) {
	dir := t.TempDir()
	e := newExporter(dir, "node-a", 0, t0)
	if err := e.start(); err != nil {
		t.Fatal(err)
	}
	listener := flows.Listener{Netns: 1, Addr: netip.MustParseAddrPort("10.0.0.1:8080"), Time: t0}

	p1, err := e.export(t0.Add(5*time.Minute),
		[]flows.Flow{flow(80, 2, 1, 100, t0.Add(time.Minute), map[string]uint64{"http": 2}), flow(443, 1, 1, 10, t0.Add(time.Minute), nil)},
		[]flows.Listener{listener}, flows.Stats{Events: 10, Dropped: 1}, flows.AggregatorStats{Overflow: 2})
	if err != nil {
		t.Fatal(err)
	}
	if len(p1) != 1 || filepath.Base(p1[0]) != "flows-node-a-20250301T120500Z.jsonl" {
		t.Errorf("first export %v", p1)
	}
	second := []flows.Flow{flow(80, 3, 4, 300, t0.Add(7*time.Minute), map[string]uint64{"tls": 3}), flow(5432, 1, 0, 0, t0.Add(8*time.Minute), nil)}
	if _, err := e.export(t0.Add(10*time.Minute), second, nil, flows.Stats{Events: 25, Dropped: 1}, flows.AggregatorStats{Overflow: 2}); err != nil {
		t.Fatal(err)
	}
	names, log := readExports(t, dir)
	if want := []string{"flows-node-a-20250301T120500Z.jsonl", "flows-node-a-20250301T121000Z.jsonl"}; !slices.Equal(names, want) {
		t.Fatalf("files %v, want %v", names, want)
	}
	b, err := os.ReadFile(filepath.Join(dir, names[1]))
	if err != nil {
		t.Fatal(err)
	}
	l2, _ := flows.ReadLog(bytes.NewReader(b))
	if len(l2.Flows) != 2 || l2.Flows[0].Port != 80 || l2.Flows[0].Opened != 3 || l2.Flows[0].Protocols["tls"] != 3 || l2.Flows[1].Port != 5432 || len(l2.Listeners) != 0 {
		t.Errorf("second interval: %+v %+v", l2.Flows, l2.Listeners)
	}
	if s := l2.Summaries; len(s) != 1 || s[0].Node != "node-a" || !s[0].Started.Equal(t0.Add(5*time.Minute)) || s[0].Duration != 5*time.Minute ||
		s[0].Events != 15 || s[0].Dropped != 0 || s[0].Overflow != 0 || s[0].Flows != 2 {
		t.Errorf("second summary %+v", s)
	}
	var opened, events, dropped uint64
	for _, f := range log.Flows {
		opened += f.Opened
	}
	for _, s := range log.Summaries {
		events += s.Events
		dropped += s.Dropped
	}
	if opened != 7 || events != 25 || dropped != 1 || len(log.Listeners) != 1 {
		t.Errorf("all files: %d opened, %d events, %d dropped, %d listeners; want 7, 25, 1, 1", opened, events, dropped, len(log.Listeners))
	}
}

// TestExportRetriesIntervals: an interval that could not be written (the
// directory is gone, the disk full) is written, on its own, by the next
// export, before the next interval: nothing taken is lost.
func TestExportRetriesIntervals(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "exports")
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	e := newExporter(dir, "node-a", 0, t0)
	if err := os.Remove(dir); err != nil {
		t.Fatal(err)
	}
	if _, err := e.export(t0.Add(5*time.Minute), []flows.Flow{flow(80, 2, 2, 0, t0, nil)}, nil, flows.Stats{}, flows.AggregatorStats{}); err == nil {
		t.Fatal("export into a missing directory: no error")
	}
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	paths, err := e.export(t0.Add(10*time.Minute), []flows.Flow{flow(80, 3, 3, 0, t0, nil)}, nil, flows.Stats{}, flows.AggregatorStats{})
	if err != nil || len(paths) != 2 {
		t.Fatalf("retry: %v %v, want two files", paths, err)
	}
	names, log := readExports(t, dir)
	if want := []string{"flows-node-a-20250301T120500Z.jsonl", "flows-node-a-20250301T121000Z.jsonl"}; !slices.Equal(names, want) {
		t.Errorf("files %v, want %v", names, want)
	}
	if len(log.Flows) != 2 || log.Flows[0].Opened+log.Flows[1].Opened != 5 {
		t.Errorf("flows %+v, want 2 and 3 connections", log.Flows)
	}
}

// TestExportKeepAndNames: at most --keep files of this node stay, other
// nodes' files and anything else are left alone, names never collide,
// and what a crash left half-written is cleared at start.
func TestExportKeepAndNames(t *testing.T) {
	dir := t.TempDir()
	for _, n := range []string{"flows-node-b-20250301T110000Z.jsonl", "notes.txt", "flows-node-a-20250301T110000Z.jsonl", ".flows-node-a-123.tmp"} {
		if err := os.WriteFile(filepath.Join(dir, n), nil, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	e := newExporter(dir, "node-a", 3, t0)
	if err := e.start(); err != nil {
		t.Fatal(err)
	}
	at := t0.Add(time.Minute)
	for i := range 5 {
		if i == 4 {
			at = at.Add(-time.Second + time.Millisecond) // within the previous file's second
		}
		if _, err := e.export(at, nil, nil, flows.Stats{}, flows.AggregatorStats{}); err != nil {
			t.Fatal(err)
		}
		at = at.Add(time.Second)
	}
	names, log := readExports(t, dir)
	want := []string{"flows-node-a-20250301T120102Z.jsonl", "flows-node-a-20250301T120103Z.jsonl", "flows-node-a-20250301T120104Z.jsonl",
		"flows-node-b-20250301T110000Z.jsonl", "notes.txt"}
	if !slices.Equal(names, want) {
		t.Errorf("files:\n got %v\nwant %v", names, want)
	}
	if len(log.Summaries) != 3 {
		t.Errorf("every export, even of no flow, says how long it observed: %+v", log.Summaries)
	}
	for _, n := range names[:3] {
		if info, err := os.Stat(filepath.Join(dir, n)); err != nil || info.Mode().Perm() != 0o644 {
			t.Errorf("%s: %v %v", n, info.Mode(), err)
		}
	}
	if e := newExporter(t.TempDir(), "a/../b c", 0, t0); e.prefix != "flows-a_.._b_c-" {
		t.Errorf("a node name is made safe for a file name: %q", e.prefix)
	}
}

func TestExportFlags(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--keep", "3"}, "--keep would do nothing without --export-dir DIR"},
		{[]string{"--export-every", "1m", "--keep", "3"}, "--export-every and --keep would do nothing"},
		{[]string{"--export-dir", "x", "--export-every", "500ms"}, "--export-every must be 1s or more"},
		{[]string{"--export-dir", "x", "--keep", "-1"}, "--keep must not be negative"},
		{[]string{"--export-dir", "x", "-o", "flows.jsonl"}, "-o and --export-dir: choose one"},
	} {
		var stderr bytes.Buffer
		if code := run(context.Background(), tc.args, &bytes.Buffer{}, &stderr); code != 2 || !strings.Contains(stderr.String(), tc.want) {
			t.Errorf("%v: exit %d\n%s", tc.args, code, stderr.String())
		}
	}
}

// TestPrepareExportDir: as root, a new export directory is made for the
// user the observer becomes; an existing one is never handed over, only
// checked.
func TestPrepareExportDir(t *testing.T) {
	needRoot(t, "handing a directory to another user needs root")
	t.Setenv("SUDO_UID", "")
	parent := t.TempDir()
	dir := filepath.Join(parent, "flows")
	if err := prepareExportDir(dir, true); err != nil {
		t.Fatal(err)
	}
	if st := stat(t, dir); st.Uid != nobody || st.Gid != nobody {
		t.Errorf("new export directory owned by %d:%d, want nobody", st.Uid, st.Gid)
	}
	if err := prepareExportDir(dir, true); err != nil {
		t.Errorf("again: %v", err)
	}
	// parent is root's: it is checked, and not handed over.
	if err := prepareExportDir(parent, true); err == nil || !strings.Contains(err.Error(), "not writable by uid 65534") || !strings.Contains(err.Error(), "chown 65534:65534 "+parent) {
		t.Errorf("root's directory: %v", err)
	}
	if st := stat(t, parent); st.Uid != 0 {
		t.Errorf("an existing directory changed owner")
	}
	if err := os.Chmod(parent, 0o1777); err != nil {
		t.Fatal(err)
	}
	if err := prepareExportDir(parent, true); err != nil {
		t.Errorf("a directory anyone may write: %v", err)
	}
	if err := prepareExportDir(filepath.Join(parent, "kept"), false); err != nil {
		t.Fatal(err)
	}
	if st := stat(t, filepath.Join(parent, "kept")); st.Uid != 0 {
		t.Errorf("with --keep-root the directory stays root's")
	}
}

// TestObserverExports runs the binary as root until SIGTERM, exporting
// every second into a directory it creates for nobody: every file is
// whole, the last is written on SIGTERM, and a connection appears in
// exactly one of them.
func TestObserverExports(t *testing.T) {
	needRoot(t, "the observer needs root")
	dir, err := os.MkdirTemp("", "stridemap-observer-exports-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	if err := os.Chmod(dir, 0o755); err != nil { // nobody must reach the directory
		t.Fatal(err)
	}
	bin := buildObserver(t, dir)
	exports := filepath.Join(dir, "flows")
	var stdout bytes.Buffer
	cmd, stderr := startObserver(t, bin, &stdout, "--duration", "0", "--progress", "0", "--export-dir", exports, "--export-every", "1s", "--keep", "0", "--node", "test-node")
	lines := make(chan string)
	go func() {
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			lines <- sc.Text()
		}
		close(lines)
	}()
	var log []string
	next := func(prefix string) {
		t.Helper()
		timeout := time.After(20 * time.Second)
		for {
			select {
			case l, ok := <-lines:
				if !ok {
					t.Fatalf("observer ended before %q:\n%s", prefix, strings.Join(log, "\n"))
				}
				log = append(log, l)
				if strings.HasPrefix(l, prefix) {
					return
				}
			case <-timeout:
				t.Fatalf("no %q in time:\n%s", prefix, strings.Join(log, "\n"))
			}
		}
	}
	next("observing")
	port := connectOnce(t, nil)
	next("exported")
	next("exported")
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	for l := range lines {
		log = append(log, l)
	}
	if err := cmd.Wait(); err != nil {
		t.Fatalf("observer: %v\n%s", err, strings.Join(log, "\n"))
	}
	if stdout.Len() > 0 {
		t.Errorf("with --export-dir and no -o nothing goes to standard output: %q", stdout.String())
	}
	exported := 0
	for _, l := range log {
		if strings.HasPrefix(l, "exported ") {
			exported++
		}
	}
	names, got := readExports(t, exports)
	if len(names) != exported || len(got.Summaries) != exported || exported < 3 {
		t.Errorf("%d files, %d summaries, %d exported lines (the last on SIGTERM):\n%s", len(names), len(got.Summaries), exported, strings.Join(log, "\n"))
	}
	for _, n := range names {
		if !strings.HasPrefix(n, "flows-test-node-") || !strings.HasSuffix(n, "Z.jsonl") {
			t.Errorf("file %s", n)
		}
		if st := stat(t, filepath.Join(exports, n)); st.Uid != nobody {
			t.Errorf("%s is written by uid %d, want nobody's once attached", n, st.Uid)
		}
	}
	var opened uint64
	for _, f := range got.Flows {
		if f.Role == flows.RoleClient && f.Port == port {
			opened += f.Opened
		}
	}
	if opened != 1 {
		t.Errorf("the connection to port %d opened %d times across the files, want once", port, opened)
	}
}

func stat(t *testing.T, path string) *syscall.Stat_t {
	t.Helper()
	info, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	return info.Sys().(*syscall.Stat_t)
}
