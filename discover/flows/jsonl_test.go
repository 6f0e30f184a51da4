package flows

import (
	"bytes"
	"errors"
	"net/netip"
	"reflect"
	"strings"
	"testing"
	"time"
)

func TestLogRoundTrip(t *testing.T) {
	flows := []Flow{{
		Key:  Key{Netns: 4026532316, CgroupID: 7, Role: RoleClient, Local: netip.MustParseAddr("10.200.0.2"), Remote: netip.MustParseAddr("10.96.0.10"), Port: 80},
		Node: "node-a", Cgroup: "/kubepods/pod1/c1", Comm: "frontend", PID: 42, Opened: 2, Closed: 2, BytesSent: 10, BytesReceived: 20,
		FirstSeen: t0, LastSeen: t0.Add(time.Second),
	}, {
		Key:    Key{Netns: 4026532317, Role: RoleServer, Local: netip.MustParseAddr("fd00::3"), Remote: netip.MustParseAddr("fd00::2"), Port: 7070},
		Opened: 1, FirstSeen: t0, LastSeen: t0,
	}}
	listeners := []Listener{{Netns: 4026532317, Addr: netip.MustParseAddrPort("[::]:7070"), Comm: "cart", PID: 43, Time: t0}}
	summary := NewSummary("node-a", t0, 30*time.Second, Stats{Events: 9, Dropped: 1, Skipped: 2}, AggregatorStats{Events: 9, Flows: 2, Overflow: 3})
	var buf bytes.Buffer
	if err := WriteLog(&buf, flows, listeners, summary); err != nil {
		t.Fatal(err)
	}
	if lines := strings.Count(buf.String(), "\n"); lines != 4 {
		t.Errorf("%d lines, want 4:\n%s", lines, buf.String())
	}
	if !strings.Contains(buf.String(), `{"flow":{"netns":4026532316,"cgroupId":7,"role":"client","local":"10.200.0.2","remote":"10.96.0.10","port":80,"node":"node-a"`) {
		t.Errorf("flow line format changed:\n%s", buf.String())
	}
	// Two nodes' logs, concatenated.
	log, err := ReadLog(strings.NewReader(buf.String() + "\n" + buf.String()))
	if err != nil {
		t.Fatal(err)
	}
	want := &Log{Flows: append(flows, flows...), Listeners: append(listeners, listeners...), Summaries: []Summary{summary, summary}}
	if !reflect.DeepEqual(log, want) {
		t.Errorf("read back:\n got %+v\nwant %+v", log, want)
	}
	if summary.Lost() != 6 {
		t.Errorf("lost %d, want 6 (dropped, skipped, overflow)", summary.Lost())
	}
}

func TestReadLogErrors(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{`{"flow":{"role":"sideways"}}`, "line 1: unknown flow role"},
		{"\n{\"something\":1}", "line 2: not a stridemap flow log line"},
		{`{"flow":`, "line 1: unexpected end"},
		{"\n\n" + strings.Repeat("x", maxLogLine+1), "line 3: longer than 1 MiB"},
	} {
		_, err := ReadLog(strings.NewReader(tc.in))
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("ReadLog(%.40q) = %v, want %q", tc.in, err, tc.want)
		}
	}
	_, err := ReadLog(strings.NewReader(`{"x":1}`))
	if !errors.Is(err, ErrNotFlowLog) {
		t.Errorf("%v is not ErrNotFlowLog", err)
	}
}

// TestMissingLinesEscape: a flow log's text reaches a terminal escaped.
func TestMissingLinesEscape(t *testing.T) {
	s := Summary{Node: "node\x1b]0;pwned\x07", Kernel: "6.1\u202e", Missing: []Missing{{Part: "protocol-peek", Reason: "no\x1b[2J"}}}
	lines := s.MissingLines()
	if len(lines) != 1 || strings.ContainsAny(lines[0], "\x1b\x07\u202e") || !strings.Contains(lines[0], `node\x1b]0;pwned\a (kernel 6.1\u202e): protocol classification unavailable: no\x1b[2J`) {
		t.Errorf("MissingLines = %q", lines)
	}
}
