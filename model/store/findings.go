package store

import (
	"bytes"
	"cmp"
	"encoding/json"
	"fmt"
	"slices"

	"github.com/stridemap/stridemap/internal/jsonstr"
)

// findingGroup is how the store keeps findings: one row for the findings
// of one element. An element has several findings (about four at 500
// copies of Online Boutique) and a row costs far more to write than its
// bytes do, so a scan writes a fourth of the rows it would one per
// finding; and an element whose findings did not change still shares its
// row with the scans before. The rows are read back in ID order, the
// order in which the catalog lists findings.
type findingGroup struct {
	Element   string           `json:"element"`
	Namespace string           `json:"namespace"`
	Findings  []groupedFinding `json:"findings"`
}

// groupedFinding is a finding without the element and namespace its group
// holds, and without its ID when that is RULE@ELEMENT, as the catalog
// makes every ID (a pointer, so that any other ID is kept).
type groupedFinding struct {
	ID       *string         `json:"id,omitempty"`
	RuleID   string          `json:"rule"`
	Stride   string          `json:"stride"`
	Severity string          `json:"severity"`
	Data     json.RawMessage `json:"data"`
}

// findingGroups lists the findings of each group, by index into findings:
// one group per element and namespace, in the order each first appears.
func findingGroups(findings []Finding) [][]int {
	type key struct{ element, namespace string }
	at := make(map[key]int)
	var groups [][]int
	for i := range findings {
		k := key{findings[i].Element, findings[i].Namespace}
		g, ok := at[k]
		if !ok {
			g = len(groups)
			at[k] = g
			groups = append(groups, nil)
		}
		groups[g] = append(groups[g], i)
	}
	return groups
}

// isRuleAtElement says f's ID is RULE@ELEMENT, without building it.
func isRuleAtElement(f *Finding) bool {
	id, n := f.ID, len(f.RuleID)
	return len(id) == n+1+len(f.Element) && id[:n] == f.RuleID && id[n] == '@' && id[n+1:] == f.Element
}

// findingGroupEncoder writes the JSON of a findingGroup without holding
// its findings' data at once: each finding's data is needed only while
// its own entry is written, so one reused buffer serves EncodeFinding. The
// bytes are those json.Marshal writes for the group without HTML escaping
// (TestFindingGroupEncoderIsMarshal), by hand: encoding/json checked and
// compacted each finding's data once more.
type findingGroupEncoder struct {
	out []byte
}

// encode returns the group of findings[members]; data gives finding i's
// JSON, valid until its next call, and checked says whether that JSON is
// known to be valid and compact (EncodeFinding's is), or must be compacted.
func (e *findingGroupEncoder) encode(findings []Finding, members []int, data func(i int) (json.RawMessage, error), checked bool) (string, error) {
	first := &findings[members[0]]
	e.out = append(e.out[:0], `{"element":`...)
	e.out = jsonstr.Append(e.out, first.Element, false)
	e.out = append(e.out, `,"namespace":`...)
	e.out = jsonstr.Append(e.out, first.Namespace, false)
	e.out = append(e.out, `,"findings":[`...)
	for n, i := range members {
		f := &findings[i]
		d, err := data(i)
		if err != nil {
			return "", err
		}
		if n > 0 {
			e.out = append(e.out, ',')
		}
		e.out = append(e.out, '{')
		if !isRuleAtElement(f) {
			e.out = append(e.out, `"id":`...)
			e.out = jsonstr.Append(e.out, f.ID, false)
			e.out = append(e.out, ',')
		}
		e.out = append(e.out, `"rule":`...)
		e.out = jsonstr.Append(e.out, f.RuleID, false)
		e.out = append(e.out, `,"stride":`...)
		e.out = jsonstr.Append(e.out, f.Stride, false)
		e.out = append(e.out, `,"severity":`...)
		e.out = jsonstr.Append(e.out, f.Severity, false)
		e.out = append(e.out, `,"data":`...)
		switch {
		case d == nil:
			e.out = append(e.out, "null"...)
		case checked:
			e.out = append(e.out, d...)
		default:
			buf := bytes.NewBuffer(e.out)
			if err := json.Compact(buf, d); err != nil {
				return "", fmt.Errorf("finding %s: data: %w", f.ID, err)
			}
			e.out = buf.Bytes()
		}
		e.out = append(e.out, '}')
	}
	e.out = append(e.out, `]}`...)
	return string(e.out), nil
}

// appendFindings appends the findings of the group stored in row content.
func appendFindings(out []Finding, content int64, g *findingGroup) []Finding {
	for _, f := range g.Findings {
		id := f.RuleID + "@" + g.Element
		if f.ID != nil {
			id = *f.ID
		}
		data := f.Data
		if string(data) == "null" { // saved from nil
			data = nil
		}
		out = append(out, Finding{ID: id, RuleID: f.RuleID, Stride: f.Stride, Severity: f.Severity,
			Element: g.Element, Namespace: g.Namespace, Data: data, Content: content})
	}
	return out
}

// sortFindings puts findings read group by group in ID order.
func sortFindings(findings []Finding) {
	slices.SortStableFunc(findings, func(a, b Finding) int { return cmp.Compare(a.ID, b.ID) })
}

// decodeFindingGroup reads a row of findings. It is json.Unmarshal into a
// findingGroup without checking each finding's data, which the threats
// package decodes next anyway: with encoding/json every byte of a scan's
// findings was scanned twice more, and reading them took 190 ms instead
// of 110 at 500 copies of Online Boutique. Keys are matched exactly, in
// any order, and unknown ones skipped; what is not a group is an error
// (FuzzDecodeFindingGroup).
func decodeFindingGroup(data []byte) (findingGroup, error) {
	var g findingGroup
	err := eachMember(data, func(key string, value []byte) error {
		switch key {
		case "element":
			return decodeString(value, &g.Element)
		case "namespace":
			return decodeString(value, &g.Namespace)
		case "findings":
			g.Findings = g.Findings[:0]
			return eachElement(value, func(entry []byte) error {
				var f groupedFinding
				err := eachMember(entry, func(key string, value []byte) error {
					switch key {
					case "id":
						if string(value) == "null" {
							f.ID = nil
							return nil
						}
						f.ID = new(string)
						return decodeString(value, f.ID)
					case "rule":
						return decodeString(value, &f.RuleID)
					case "stride":
						return decodeString(value, &f.Stride)
					case "severity":
						return decodeString(value, &f.Severity)
					case "data":
						f.Data = bytes.Clone(value)
					}
					return nil
				})
				g.Findings = append(g.Findings, f)
				return err
			})
		}
		return nil
	})
	return g, err
}
