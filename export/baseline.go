package export

import (
	"encoding/json"
	"fmt"
	"io"

	"github.com/stridemap/stridemap/threats"
)

// ReadBaseline reads a JSON report (report --format json) as the baseline
// of a later scan, so a pipeline without a persistent store can gate on
// what a change adds. name is the file's path, for errors.
func ReadBaseline(r io.Reader, name string) (*threats.Baseline, error) {
	var rep struct {
		SchemaVersion  int               `json:"schemaVersion"`
		Tool           ToolInfo          `json:"tool"`
		Findings       []threats.Finding `json:"findings"`
		EntryPoints    []EntryPoint      `json:"entryPoints"`
		PlaintextFlows []string          `json:"plaintextFlows"`
	}
	if err := json.NewDecoder(r).Decode(&rep); err != nil {
		return nil, fmt.Errorf("baseline %s is not a JSON report (%v): write one with stridemap report --format json -o FILE", name, err)
	}
	switch {
	case rep.Tool.Name != "stridemap" || rep.SchemaVersion == 0:
		return nil, fmt.Errorf("baseline %s is not a report of stridemap (tool %q): write one with stridemap report --format json -o FILE", name, rep.Tool.Name)
	case rep.SchemaVersion > ReportSchemaVersion:
		return nil, fmt.Errorf("baseline %s is a report of schema version %d, written by stridemap %s; this stridemap reads version %d and before: upgrade it, or write the baseline with this version",
			name, rep.SchemaVersion, rep.Tool.Version, ReportSchemaVersion)
	}
	b := threats.NewBaseline(name, nil, rep.Findings)
	for _, e := range rep.EntryPoints {
		b.EntryPoints[e.Edge] = true
	}
	if rep.PlaintextFlows == nil {
		b.Plaintext = nil // a report from before the field: unknown, not none
	}
	for _, id := range rep.PlaintextFlows {
		b.Plaintext[id] = true
	}
	return b, nil
}
