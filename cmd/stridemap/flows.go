package main

import (
	"fmt"
	"io"
	"time"

	"github.com/stridemap/stridemap/discover/cluster"
	"github.com/stridemap/stridemap/discover/flows"
	"github.com/stridemap/stridemap/discover/flows/resolve"
	"github.com/stridemap/stridemap/internal/safetext"
	"github.com/stridemap/stridemap/pipeline"
)

// writeFlowNotes says on stderr what each observer saw and lost, where
// the pods came from, and how to name the flows' ends when nothing did.
func (a *app) writeFlowNotes(m *pipeline.FlowsMerged) {
	for _, src := range m.Inventory {
		if src.Kind == cluster.SourceAPI {
			fmt.Fprintf(a.stderr, "inventory: %d pods and services from %s\n", src.Objects, safetext.Text(src.Path))
		}
	}
	writeObservationSummary(a.stderr, m.Nodes)
	if r := m.Report; !m.Named && r.External+r.Unknown > 0 {
		fmt.Fprintf(a.stderr, "hint: %d flows have an end no pod was found for: name pods by address with --live (the cluster kubectl uses) or --inventory pods.json (kubectl get pods,services -A -o json > pods.json)\n", r.External+r.Unknown)
	}
}

// writeObservationSummary reports what each observer saw and lost.
func writeObservationSummary(w io.Writer, nodes []flows.Summary) {
	for _, s := range nodes {
		lost := "nothing lost"
		if s.Lost() > 0 || s.Unattributed > 0 {
			lost = fmt.Sprintf("INCOMPLETE: %d events dropped by the kernel (ring buffer full: retry with a larger --ring-buffer), %d socket state changes the kernel skipped (another eBPF program was running on the CPU), %d undecodable, %d flows beyond the observer's bound, %d sockets without owner",
				s.Dropped, s.Skipped, s.DecodeErrors, s.Overflow, s.Unattributed)
		}
		fmt.Fprintf(w, "observed %d flows on %s in %s from %d events; %s\n", s.Flows, safetext.Text(s.Node), s.Duration.Round(time.Millisecond), s.Events, lost)
		for _, line := range s.MissingLines() {
			fmt.Fprintln(w, "warning:", line)
		}
	}
}

// writeFlowSummary is the scan summary's line about the merged flows.
func writeFlowSummary(w io.Writer, m *pipeline.FlowsMerged) {
	r := m.Report
	fmt.Fprintf(w, "\nFlows: %d read from %s; %d resolved (%d with a peer that is no known pod), %d between no known pods left out, %d inside one pod%s; %d edges observed, %d of them declared by no manifest\n",
		r.Flows, plural(m.Logs, "flow log"), r.Resolved, r.External, r.Unknown, r.Loopback, meshSummary(r), len(m.Touched), m.Undeclared)
}

// meshSummary tells, when there were mesh sidecars, how their flows were
// read: "" when there were none.
func meshSummary(r resolve.Report) string {
	if r.Intercepted == 0 && r.Captured == 0 {
		return ""
	}
	return fmt.Sprintf(", %d calls captured by their pod's mesh proxy (encryption judged on the proxies' connections), %d connections a proxy accepted from a caller not observed left out",
		r.Intercepted, r.Captured)
}
