package threats

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/stridemap/stridemap/catalog"

	"github.com/stridemap/stridemap/internal/parallel"
	"github.com/stridemap/stridemap/model"
	"github.com/stridemap/stridemap/model/store"
)

// RuleText is what every finding of one rule shares; the store keeps it
// once per scan instead of once per finding.
type RuleText struct {
	Title       string             `json:"title"`
	Description string             `json:"description"`
	Mitigation  string             `json:"mitigation"`
	References  catalog.References `json:"references"`
}

// stored is what a finding's store record holds as JSON: the rest of the
// finding is in the record's columns (ID, rule, STRIDE category, severity,
// element, namespace), or in its rule's text, which the store keeps once
// per scan. Writing the columns' values again would make a large scan's
// findings a third bigger. Records written before held the whole finding:
// their extra keys are ignored, the columns having the same values.
type stored struct {
	Likelihood     int              `json:"likelihood"`
	Impact         int              `json:"impact"`
	Raised         []string         `json:"raised,omitempty"`
	ElementType    catalog.Target   `json:"elementType"`
	Evidence       []model.Evidence `json:"evidence"`
	MissingControl string           `json:"missingControl"`
}

// Records converts findings to the store's form: each finding without its
// rule's text, and the text of each rule once.
//
// A large scan has tens of thousands of findings, so they are encoded on
// all cores.
func Records(findings []Finding) ([]store.Finding, []store.Rule, error) {
	records, _, rules, err := ForStore(findings)
	if err != nil {
		return nil, nil, err
	}
	errs := make([]error, len(findings))
	data := parallel.Map(len(findings), func(i int) json.RawMessage {
		d, err := json.Marshal(storedOf(&findings[i]))
		if err != nil {
			errs[i] = fmt.Errorf("finding %s: %w", findings[i].ID, err)
		}
		return d
	})
	if err := errors.Join(errs...); err != nil {
		return nil, nil, err
	}
	for i := range records {
		records[i].Data = data[i]
	}
	return records, rules, nil
}

// ForStore is Records without the findings' JSON: encode gives finding
// i's, for store.ScanRecord.EncodeFinding, so a large scan's findings are
// encoded as they are saved rather than all held as JSON at once. The
// bytes encode returns are only valid until its next call, and it is not
// safe for concurrent use.
func ForStore(findings []Finding) (records []store.Finding, encode func(i int) (json.RawMessage, error), rules []store.Rule, err error) {
	seen := map[string]bool{}
	for _, f := range findings {
		if seen[f.RuleID] {
			continue
		}
		seen[f.RuleID] = true
		data, err := json.Marshal(f.text())
		if err != nil {
			return nil, nil, nil, fmt.Errorf("rule %s: %w", f.RuleID, err)
		}
		rules = append(rules, store.Rule{ID: f.RuleID, Data: data})
	}
	records = make([]store.Finding, len(findings))
	for i := range findings {
		f := &findings[i]
		records[i] = store.Finding{ID: f.ID, RuleID: f.RuleID, Stride: string(f.Stride), Severity: string(f.Severity),
			Element: f.Element, Namespace: f.Namespace}
	}
	// One buffer for every finding: the store copies each one's JSON
	// before asking for the next. The bytes are those json.Marshal, which
	// Records uses, writes (appendStored).
	var buf []byte
	encode = func(i int) (json.RawMessage, error) {
		s := storedOf(&findings[i])
		buf = appendStored(buf[:0], &s)
		return buf, nil
	}
	return records, encode, rules, nil
}

// storedOf is the JSON part of f's store record.
func storedOf(f *Finding) stored {
	return stored{Likelihood: f.Likelihood, Impact: f.Impact, Raised: f.Raised, ElementType: f.ElementType,
		Evidence: f.Evidence, MissingControl: f.MissingControl}
}

// DecodeRules reads the rule texts saved with a scan (store.Rules).
func DecodeRules(rules []store.Rule) (map[string]*RuleText, error) {
	texts := make(map[string]*RuleText, len(rules))
	for _, r := range rules {
		t := new(RuleText)
		if err := json.Unmarshal(r.Data, t); err != nil {
			return nil, fmt.Errorf("rule %s: %w", r.ID, err)
		}
		texts[r.ID] = t
	}
	return texts, nil
}

// Decode reads one stored finding and gives it its rule's text. Views that
// show thousands of findings decode only the ones on screen.
func Decode(record store.Finding, texts map[string]*RuleText) (Finding, error) {
	var d stored
	if err := json.Unmarshal(record.Data, &d); err != nil {
		return Finding{}, fmt.Errorf("finding %s: %w", record.ID, err)
	}
	f := Finding{ID: record.ID, RuleID: record.RuleID, Stride: catalog.Stride(record.Stride), Severity: Severity(record.Severity),
		Likelihood: d.Likelihood, Impact: d.Impact, Raised: d.Raised, Element: record.Element, ElementType: d.ElementType,
		Namespace: record.Namespace, Evidence: d.Evidence, MissingControl: d.MissingControl}
	return withText(f, texts), nil
}

// withText gives a decoded finding its rule's text, shared with the
// other findings of the rule.
func withText(f Finding, texts map[string]*RuleText) Finding {
	f.Texts = texts[f.RuleID]
	return f
}

// FromRecords decodes findings read from the store, each with its rule's
// text as it was when the scan ran.
func FromRecords(records []store.Finding, rules []store.Rule) ([]Finding, error) {
	texts, err := DecodeRules(rules)
	if err != nil {
		return nil, err
	}
	// Decoding is most of the time a report of a large scan takes to read
	// its findings: it is spread over the cores.
	errs := make([]error, len(records))
	out := parallel.Map(len(records), func(i int) Finding {
		f, err := Decode(records[i], texts)
		errs[i] = err
		return f
	})
	for _, err := range errs {
		if err != nil {
			return nil, err
		}
	}
	return out, nil
}

// Load reads the findings of a scan with their rule texts and the triage
// decisions in force.
func Load(ctx context.Context, s *store.Store, scan int64) ([]Finding, error) {
	records, err := s.Findings(ctx, scan)
	if err != nil {
		return nil, err
	}
	rules, err := s.Rules(ctx, scan)
	if err != nil {
		return nil, err
	}
	findings, err := FromRecords(records, rules)
	if err != nil {
		return nil, err
	}
	decisions, err := s.Triage(ctx)
	if err != nil {
		return nil, err
	}
	ApplyTriage(findings, decisions)
	return findings, nil
}

// ParseSeverity accepts low, medium, high or critical, in any case: people
// type "High" as often as "high".
func ParseSeverity(s string) (Severity, error) {
	for _, v := range Severities {
		if strings.EqualFold(string(v), s) {
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

// LoadSnapshot reads what Compare needs of a stored scan: its graph, its
// findings with the triage in force, and what its coverage gaps left
// unassessed.
func LoadSnapshot(ctx context.Context, s *store.Store, scan int64) (Snapshot, error) {
	var g *model.Graph
	var graphErr error
	graph := make(chan struct{})
	go func() { // the graph and the findings are read side by side
		defer close(graph)
		g, graphErr = s.Graph(ctx, scan)
	}()
	findings, err := Load(ctx, s, scan)
	<-graph
	if err := errors.Join(graphErr, err); err != nil {
		return Snapshot{}, err
	}
	unassessed, err := s.NotAssessed(ctx, scan)
	if err != nil {
		return Snapshot{}, err
	}
	return Snapshot{Graph: g, Findings: findings, NotAssessed: unassessed}, nil
}

// LoadPair reads two stored scans as Compare takes them. Two scans of one
// target share nearly everything, and what they share is read and decoded
// once: the snapshots share memory, so treat them as read-only.
func LoadPair(ctx context.Context, s *store.Store, before, after int64) (Snapshot, Snapshot, error) {
	var gb, ga *model.Graph
	var graphErr error
	graphs := make(chan struct{})
	go func() { // the graphs and the findings are read side by side
		defer close(graphs)
		gb, ga, graphErr = s.GraphPair(ctx, before, after)
	}()
	fb, fa, err := loadFindingsPair(ctx, s, before, after)
	<-graphs
	if err := errors.Join(graphErr, err); err != nil {
		return Snapshot{}, Snapshot{}, err
	}
	nb, err := s.NotAssessed(ctx, before)
	if err != nil {
		return Snapshot{}, Snapshot{}, err
	}
	na, err := s.NotAssessed(ctx, after)
	if err != nil {
		return Snapshot{}, Snapshot{}, err
	}
	return Snapshot{Graph: gb, Findings: fb, NotAssessed: nb}, Snapshot{Graph: ga, Findings: fa, NotAssessed: na}, nil
}

// loadFindingsPair reads and decodes the findings of two scans, with the
// triage decisions in force, decoding those they share once.
func loadFindingsPair(ctx context.Context, s *store.Store, before, after int64) ([]Finding, []Finding, error) {
	rb, ra, err := s.FindingsPair(ctx, before, after)
	if err != nil {
		return nil, nil, err
	}
	fb, err := loadFindings(ctx, s, before, rb, nil, nil)
	if err != nil {
		return nil, nil, err
	}
	fa, err := loadFindings(ctx, s, after, ra, rb, fb)
	if err != nil {
		return nil, nil, err
	}
	decisions, err := s.Triage(ctx)
	if err != nil {
		return nil, nil, err
	}
	ApplyTriage(fb, decisions)
	ApplyTriage(fa, decisions)
	return fb, fa, nil
}

// loadFindings decodes scan's finding records with its rule texts; a
// record that is one of known's (the same finding in the same stored row)
// is taken from its decoded twin instead of decoded again.
func loadFindings(ctx context.Context, s *store.Store, scan int64, records, known []store.Finding, decoded []Finding) ([]Finding, error) {
	rules, err := s.Rules(ctx, scan)
	if err != nil {
		return nil, err
	}
	texts, err := DecodeRules(rules)
	if err != nil {
		return nil, err
	}
	// A stored row holds the findings of one element: a finding is the
	// row and its ID.
	type rowFinding struct {
		content int64
		id      string
	}
	twin := make(map[rowFinding]int, len(known))
	for i, r := range known {
		twin[rowFinding{r.Content, r.ID}] = i
	}
	out := make([]Finding, len(records))
	for i, r := range records {
		j, ok := twin[rowFinding{r.Content, r.ID}]
		if !ok {
			if out[i], err = Decode(r, texts); err != nil {
				return nil, err
			}
			continue
		}
		out[i] = withText(decoded[j], texts)
	}
	return out, nil
}
