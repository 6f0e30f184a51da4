package flows

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"time"

	"github.com/stridemap/stridemap/discover/flows/bpf"
	"github.com/stridemap/stridemap/internal/safetext"
)

// Summary closes one observer's output: where and how long it observed,
// and everything it lost.
type Summary struct {
	Node     string        `json:"node,omitempty"`
	Started  time.Time     `json:"started"`
	Duration time.Duration `json:"duration"` // nanoseconds
	// Counters from Stats and AggregatorStats.
	Events       uint64 `json:"events"`
	DecodeErrors uint64 `json:"decodeErrors"`
	Dropped      uint64 `json:"dropped"`
	Unattributed uint64 `json:"unattributed"`
	Skipped      uint64 `json:"skipped,omitempty"`  // Stats.Skipped
	Reported     uint64 `json:"reported,omitempty"` // Stats.Reported: the kernel's flow table was full
	Flows        int    `json:"flows"`
	Listeners    int    `json:"listeners"`
	Overflow     uint64 `json:"overflow"`
	// Kernel is the observing machine's kernel release (uname -r), and
	// Missing the parts of the observer that were not at work on it: what
	// those would have shown is unknown, not absent.
	Kernel  string    `json:"kernel,omitempty"`
	Missing []Missing `json:"missing,omitempty"`
}

// Missing is an optional part of the observer (bpf.Parts) that was not at
// work, and why.
type Missing struct {
	Part   string `json:"part"`
	Reason string `json:"reason"`
}

// String says in one line what was lost and why, e.g. "protocol
// classification unavailable: cgroup v2 is not mounted …; flows are still
// recorded, their protocol and encryption unknown".
func (m Missing) String() string {
	p := bpf.Part(m.Part)
	return fmt.Sprintf("%s unavailable: %s; %s", p.Title(), m.Reason, p.Loss())
}

// MissingLines say what the observer could not see and why, one line a
// part, naming the node and its kernel. A flow log is input: control
// characters in it are escaped, never sent to a terminal.
func (s Summary) MissingLines() []string {
	var out []string
	for _, m := range s.Missing {
		m.Part, m.Reason = safetext.Text(m.Part), safetext.Text(m.Reason)
		out = append(out, fmt.Sprintf("%s (kernel %s): %s", safetext.Text(s.Node), safetext.Text(s.Kernel), m))
	}
	return out
}

// Classified reports whether the observer peeked at payloads to classify
// protocols and encryption: when it did not, a flow without a protocol
// was not looked at, rather than unrecognised.
func (s Summary) Classified() bool {
	for _, m := range s.Missing {
		if m.Part == string(bpf.ProtocolPeek) {
			return false
		}
	}
	return true
}

// NewSummary gathers an observer's and an aggregator's counters.
func NewSummary(node string, started time.Time, d time.Duration, s Stats, a AggregatorStats) Summary {
	return Summary{
		Node: node, Started: started, Duration: d,
		Events: s.Events, DecodeErrors: s.DecodeErrors, Dropped: s.Dropped, Unattributed: s.Unattributed, Skipped: s.Skipped, Reported: s.Reported,
		Flows: a.Flows, Listeners: a.Listeners, Overflow: a.Overflow,
	}
}

// Lost is the number of events that did not make it into the flows.
func (s Summary) Lost() uint64 { return s.Dropped + s.DecodeErrors + s.Overflow + s.Skipped }

// Line is one line of stridemap's flow log (JSON lines): exactly one field
// is set. The observer writes its flows, then its listeners, then one
// summary; several logs (one per node) can simply be concatenated.
type Line struct {
	Flow     *Flow     `json:"flow,omitempty"`
	Listener *Listener `json:"listener,omitempty"`
	Summary  *Summary  `json:"summary,omitempty"`
}

// Log is a flow log read back.
type Log struct {
	Flows     []Flow
	Listeners []Listener
	Summaries []Summary
}

// Append adds another log's flows, listeners and summaries to l.
func (l *Log) Append(other *Log) {
	l.Flows = append(l.Flows, other.Flows...)
	l.Listeners = append(l.Listeners, other.Listeners...)
	l.Summaries = append(l.Summaries, other.Summaries...)
}

// NodeSummaries adds up the summaries of each node, in the order nodes
// first appear, so that a directory of periodic exports reports one line
// per node.
func (l *Log) NodeSummaries() []Summary {
	var out []Summary
	index := map[string]int{}
	for _, s := range l.Summaries {
		i, ok := index[s.Node]
		if !ok {
			index[s.Node] = len(out)
			s.Missing = slices.Clone(s.Missing)
			out = append(out, s)
			continue
		}
		t := &out[i]
		if s.Started.Before(t.Started) {
			t.Started = s.Started
		}
		t.Duration += s.Duration
		t.Events += s.Events
		t.DecodeErrors += s.DecodeErrors
		t.Dropped += s.Dropped
		t.Unattributed += s.Unattributed
		t.Skipped += s.Skipped
		t.Reported += s.Reported
		t.Flows += s.Flows
		t.Listeners += s.Listeners
		t.Overflow += s.Overflow
		if t.Kernel == "" {
			t.Kernel = s.Kernel
		}
		for _, m := range s.Missing {
			if !slices.Contains(t.Missing, m) {
				t.Missing = append(t.Missing, m)
			}
		}
	}
	return out
}

// MissingNotes are what the observers of the log could not see, and why:
// one line a part, node and kernel, for the scan's sources.
func (l *Log) MissingNotes() []string {
	var out []string
	for _, s := range l.NodeSummaries() {
		out = append(out, s.MissingLines()...)
	}
	return out
}

// WriteLog writes flows, listeners and the summary as JSON lines.
func WriteLog(w io.Writer, flows []Flow, listeners []Listener, summary Summary) error {
	bw := bufio.NewWriter(w)
	enc := json.NewEncoder(bw)
	for i := range flows {
		if err := enc.Encode(Line{Flow: &flows[i]}); err != nil {
			return err
		}
	}
	for i := range listeners {
		if err := enc.Encode(Line{Listener: &listeners[i]}); err != nil {
			return err
		}
	}
	if err := enc.Encode(Line{Summary: &summary}); err != nil {
		return err
	}
	return bw.Flush()
}

// ErrNotFlowLog means a line is not one of stridemap's flow log lines.
var ErrNotFlowLog = errors.New("not a stridemap flow log line")

// maxLogLine bounds a line of a flow log: one flow is a few hundred bytes.
const maxLogLine = 1 << 20

// ReadLog reads a flow log written by WriteLog (or several, concatenated).
// Errors name the line.
func ReadLog(r io.Reader) (*Log, error) {
	log := &Log{}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64*1024), maxLogLine)
	n := 1
	for ; sc.Scan(); n++ {
		b := sc.Bytes()
		if len(b) == 0 {
			continue
		}
		var l Line
		if err := json.Unmarshal(b, &l); err != nil {
			return nil, fmt.Errorf("line %d: %w", n, err)
		}
		switch {
		case l.Flow != nil:
			log.Flows = append(log.Flows, *l.Flow)
		case l.Listener != nil:
			log.Listeners = append(log.Listeners, *l.Listener)
		case l.Summary != nil:
			log.Summaries = append(log.Summaries, *l.Summary)
		default:
			return nil, fmt.Errorf("line %d: %w: want one of flow, listener or summary", n, ErrNotFlowLog)
		}
	}
	if err := sc.Err(); errors.Is(err, bufio.ErrTooLong) {
		return nil, fmt.Errorf("line %d: longer than %d MiB, more than a flow log line holds; check that the file is a flow log", n, maxLogLine>>20)
	} else if err != nil {
		return nil, err
	}
	return log, nil
}
