package threats_test

import (
	"bytes"
	"strings"
	"testing"

	"github.com/stridemap/stridemap/model/store"
	"github.com/stridemap/stridemap/threats"
)

// FuzzReadTriageFile: any bytes read as a triage file give decisions or
// one line naming the file; every decision read names a finding and has a
// status in its stored form, and the decisions written back by
// WriteTriageFile read again as the same decisions (the last one of each
// finding winning, as an import records them).
func FuzzReadTriageFile(f *testing.F) {
	f.Add([]byte("version: 1\ndecisions:\n  - finding: r@x\n    status: Accepted\n    reason: why\n"))
	f.Add([]byte("# stridemap triage decisions\nversion: 1\ndecisions:\n  - finding: plaintext-flow@workload:shop/a->workload:shop/b:80\n    status: false-positive\n    reason: \"mTLS by the mesh\\n\\x1b[2J\"\n    by: alice\n    at: 2025-03-01T12:00:00+02:00\n  - finding: r@x\n    status: open\n  - finding: r@x\n    status: MITIGATED\n"))
	f.Add([]byte("version: 2\ndecisions: []\n"))
	f.Add([]byte("version: 1\ndecisions:\n  - finding: r@x\n    status: accepted\n    colour: red\n"))
	f.Add([]byte("version: 1\ndecisions:\n  - status: accepted\n"))
	f.Add([]byte("version: 1\ndecisions: {a: b}\nextra: [1, 2\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		const name = "triage.yaml"
		entries, err := threats.ReadTriageFile(bytes.NewReader(data), name)
		if err != nil {
			if msg := err.Error(); strings.Contains(msg, "\n") || !strings.HasPrefix(msg, name+":") {
				t.Fatalf("error is not one line naming the file: %q", msg)
			}
			return
		}
		if len(entries) > len(data) {
			t.Fatalf("%d decisions from %d bytes", len(entries), len(data))
		}
		last := map[string]store.Decision{}
		for _, e := range entries {
			if e.Finding == "" {
				t.Fatalf("a decision without a finding: %+v", e)
			}
			if st, err := threats.ParseStatus(string(e.Status)); err != nil || st != e.Status {
				t.Fatalf("status %q read, not in its stored form", e.Status)
			}
			last[e.Finding] = store.Decision{Subject: e.Finding, Status: string(e.Status), Reason: e.Reason, Who: e.By, At: e.At}
		}
		var buf bytes.Buffer
		if err := threats.WriteTriageFile(&buf, last); err != nil {
			t.Fatalf("decisions read but not written: %v", err)
		}
		again, err := threats.ReadTriageFile(bytes.NewReader(buf.Bytes()), name)
		if err != nil {
			t.Fatalf("the file as written does not read: %v\n%s", err, buf.Bytes())
		}
		if len(again) != len(last) {
			t.Fatalf("%d findings' decisions written, %d read back", len(last), len(again))
		}
		for _, e := range again {
			d := last[e.Finding]
			if string(e.Status) != d.Status || e.Reason != d.Reason || e.By != d.Who || !e.At.Equal(d.At) {
				t.Fatalf("%q: wrote %+v, read back %+v", e.Finding, d, e.Triage)
			}
		}
	})
}
