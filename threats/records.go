package threats

import (
	"encoding/json"
	"fmt"

	"github.com/stridemap/stridemap/model/store"
)

// Records converts findings to the store's form.
func Records(findings []Finding) ([]store.Finding, error) {
	out := make([]store.Finding, len(findings))
	for i, f := range findings {
		data, err := json.Marshal(f)
		if err != nil {
			return nil, fmt.Errorf("finding %s: %w", f.ID, err)
		}
		out[i] = store.Finding{ID: f.ID, RuleID: f.RuleID, Stride: string(f.Stride), Severity: string(f.Severity),
			Element: f.Element, Namespace: f.Namespace, Data: data}
	}
	return out, nil
}

// FromRecords decodes findings read from the store.
func FromRecords(records []store.Finding) ([]Finding, error) {
	out := make([]Finding, len(records))
	for i, r := range records {
		if err := json.Unmarshal(r.Data, &out[i]); err != nil {
			return nil, fmt.Errorf("finding %s: %w", r.ID, err)
		}
	}
	return out, nil
}

// ParseSeverity accepts low, medium, high or critical.
func ParseSeverity(s string) (Severity, error) {
	for _, v := range Severities {
		if string(v) == s {
			return v, nil
		}
	}
	return "", fmt.Errorf("unknown severity %q: use low, medium, high or critical", s)
}

// AtOrAbove returns the findings whose severity is at least min.
func AtOrAbove(findings []Finding, min Severity) []Finding {
	var out []Finding
	for _, f := range findings {
		if f.Severity.Rank() >= min.Rank() {
			out = append(out, f)
		}
	}
	return out
}
