package threats

import (
	"fmt"
	"io"
	"sort"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/stridemap/stridemap/internal/yamlerr"
	"github.com/stridemap/stridemap/model/store"
)

// Status is a finding's triage status.
type Status string

const (
	Open          Status = "open"
	Accepted      Status = "accepted"       // the risk is known and accepted, with a reason
	Mitigated     Status = "mitigated"      // a control the scan cannot see handles it
	FalsePositive Status = "false-positive" // the rule is wrong about this element
)

// Statuses lists the triage statuses.
var Statuses = []Status{Open, Accepted, Mitigated, FalsePositive}

// ParseStatus accepts one of the statuses, in any case.
func ParseStatus(s string) (Status, error) {
	for _, v := range Statuses {
		if strings.EqualFold(string(v), s) {
			return v, nil
		}
	}
	return "", fmt.Errorf("unknown status %q: use open, accepted, mitigated or false-positive", s)
}

// Triage is the decision in force on a finding.
type Triage struct {
	Status Status    `json:"status" yaml:"status"`
	Reason string    `json:"reason" yaml:"reason"`
	By     string    `json:"by" yaml:"by"`
	At     time.Time `json:"at" yaml:"at"`
}

// ApplyTriage sets each finding's Triage from the decisions in force, by
// finding ID, so a decision made on an earlier scan follows the finding.
func ApplyTriage(findings []Finding, decisions map[string]store.Decision) {
	for i := range findings {
		if d, ok := decisions[findings[i].ID]; ok {
			findings[i].Triage = &Triage{Status: Status(d.Status), Reason: d.Reason, By: d.Who, At: d.At}
		}
	}
}

// IsOpen reports whether a finding still needs action: it has no decision,
// or was reopened. Only open findings fail a CI gate.
func (f Finding) IsOpen() bool { return f.Triage == nil || f.Triage.Status == Open }

// TriageFile is the YAML file teams keep next to their manifests, so triage
// is reviewed in pull requests like the code it is about.
type TriageFile struct {
	Version   int           `yaml:"version"`
	Decisions []TriageEntry `yaml:"decisions"`
}

// TriageEntry is one finding's decision in a TriageFile.
type TriageEntry struct {
	Finding string `yaml:"finding"`
	Triage  `yaml:",inline"`
}

// WriteTriageFile writes the decisions in force, in finding ID order.
func WriteTriageFile(w io.Writer, decisions map[string]store.Decision) error {
	f := TriageFile{Version: 1, Decisions: []TriageEntry{}}
	for id, d := range decisions {
		f.Decisions = append(f.Decisions, TriageEntry{Finding: id, Triage: Triage{Status: Status(d.Status), Reason: d.Reason, By: d.Who, At: d.At.UTC()}})
	}
	sort.Slice(f.Decisions, func(i, j int) bool { return f.Decisions[i].Finding < f.Decisions[j].Finding })
	if _, err := io.WriteString(w, "# stridemap triage decisions: keep this file in git next to the manifests.\n# Import with: stridemap triage import FILE\n"); err != nil {
		return err
	}
	enc := yaml.NewEncoder(w)
	enc.SetIndent(2)
	if err := enc.Encode(f); err != nil {
		return err
	}
	return enc.Close()
}

// ReadTriageFile reads and checks a TriageFile; name is used in errors.
func ReadTriageFile(r io.Reader, name string) ([]TriageEntry, error) {
	var f TriageFile
	dec := yaml.NewDecoder(r)
	dec.KnownFields(true)
	if err := dec.Decode(&f); err != nil {
		return nil, fmt.Errorf("%s: %w", name, yamlerr.OneLine(err))
	}
	if f.Version != 1 {
		return nil, fmt.Errorf("%s: version %d; this stridemap reads version 1", name, f.Version)
	}
	for i, e := range f.Decisions {
		if e.Finding == "" {
			return nil, fmt.Errorf("%s: decision %d has no finding ID", name, i+1)
		}
		st, err := ParseStatus(string(e.Status))
		if err != nil {
			return nil, fmt.Errorf("%s: finding %q: %w", name, e.Finding, err)
		}
		f.Decisions[i].Status = st // as stored, whatever its case in the file
	}
	return f.Decisions, nil
}
