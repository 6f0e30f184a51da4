package export

import (
	"cmp"
	"encoding/json"
	"fmt"
	"io"
	"net/url"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"unicode"

	"github.com/stridemap/stridemap/model"
	"github.com/stridemap/stridemap/threats"
)

// SARIF 2.1.0 (OASIS), the subset GitHub code scanning reads. The types
// below are only what stridemap writes.
const (
	sarifVersion = "2.1.0"
	sarifSchema  = "https://json.schemastore.org/sarif-2.1.0.json"
	// sarifFingerprint is the partialFingerprints key holding a finding's
	// stable ID, so code scanning tracks one alert across scans.
	sarifFingerprint = "stridemapFindingId/v1"
)

type sarifLog struct {
	Schema  string     `json:"$schema"`
	Version string     `json:"version"`
	Runs    []sarifRun `json:"runs"`
}

type sarifRun struct {
	Tool               sarifTool                  `json:"tool"`
	AutomationDetails  *sarifAutomation           `json:"automationDetails,omitempty"`
	OriginalURIBaseIDs map[string]sarifArtifactID `json:"originalUriBaseIds,omitempty"`
	Results            []sarifResult              `json:"results"`
	Invocations        []sarifInvocation          `json:"invocations,omitempty"`
	Properties         map[string]any             `json:"properties,omitempty"`
}

// sarifInvocation records how the scan ran: what it could not read is a
// tool execution notification, not a result, so no alert claims a control
// missing that the scan could not see.
type sarifInvocation struct {
	ExecutionSuccessful        bool                `json:"executionSuccessful"`
	ToolExecutionNotifications []sarifNotification `json:"toolExecutionNotifications,omitempty"`
}

type sarifNotification struct {
	Level      string         `json:"level"`
	Message    sarifMessage   `json:"message"`
	Properties map[string]any `json:"properties,omitempty"`
}

type sarifAutomation struct {
	ID string `json:"id"`
}

type sarifTool struct {
	Driver sarifDriver `json:"driver"`
}

type sarifDriver struct {
	Name           string      `json:"name"`
	Version        string      `json:"version,omitempty"`
	InformationURI string      `json:"informationUri"`
	Rules          []sarifRule `json:"rules"`
}

type sarifMessage struct {
	Text     string `json:"text"`
	Markdown string `json:"markdown,omitempty"`
}

type sarifRule struct {
	ID                   string              `json:"id"`
	Name                 string              `json:"name"`
	ShortDescription     sarifMessage        `json:"shortDescription"`
	FullDescription      sarifMessage        `json:"fullDescription"`
	Help                 sarifMessage        `json:"help"`
	DefaultConfiguration sarifConfiguration  `json:"defaultConfiguration"`
	Properties           sarifRuleProperties `json:"properties"`
}

type sarifConfiguration struct {
	Level string `json:"level"`
}

type sarifRuleProperties struct {
	// SecuritySeverity is a number from 0.0 to 10.0 written as a string,
	// which GitHub maps to critical (≥ 9.0), high (≥ 7.0), medium (≥ 4.0)
	// or low.
	SecuritySeverity string   `json:"security-severity"`
	Tags             []string `json:"tags"`
	Precision        string   `json:"precision"`
	ProblemSeverity  string   `json:"problem.severity"`
}

type sarifResult struct {
	RuleID              string             `json:"ruleId"`
	RuleIndex           int                `json:"ruleIndex"`
	Level               string             `json:"level"`
	Message             sarifMessage       `json:"message"`
	Locations           []sarifLocation    `json:"locations,omitempty"`
	RelatedLocations    []sarifLocation    `json:"relatedLocations,omitempty"`
	PartialFingerprints map[string]string  `json:"partialFingerprints"`
	Suppressions        []sarifSuppression `json:"suppressions,omitempty"`
	BaselineState       string             `json:"baselineState,omitempty"`
	Properties          map[string]any     `json:"properties,omitempty"`
}

type sarifLocation struct {
	ID               *int                   `json:"id,omitempty"`
	PhysicalLocation *sarifPhysicalLocation `json:"physicalLocation,omitempty"`
	LogicalLocations []sarifLogicalLocation `json:"logicalLocations,omitempty"`
	Message          *sarifMessage          `json:"message,omitempty"`
}

type sarifPhysicalLocation struct {
	ArtifactLocation sarifArtifactID `json:"artifactLocation"`
	Region           *sarifRegion    `json:"region,omitempty"`
}

type sarifArtifactID struct {
	URI       string `json:"uri"`
	URIBaseID string `json:"uriBaseId,omitempty"`
}

type sarifRegion struct {
	StartLine int `json:"startLine"`
}

type sarifLogicalLocation struct {
	Name               string `json:"name"`
	FullyQualifiedName string `json:"fullyQualifiedName,omitempty"`
	Kind               string `json:"kind,omitempty"`
}

type sarifSuppression struct {
	Kind          string `json:"kind"`
	Status        string `json:"status"`
	Justification string `json:"justification,omitempty"`
}

// SARIFOptions says how findings are located.
type SARIFOptions struct {
	// BaseDir makes manifest paths relative to it (the repository root,
	// for GitHub code scanning). Paths outside it, and every path when it
	// is empty, are written as they were scanned: relative paths as they
	// are, absolute ones as file:// URIs.
	BaseDir string
	// Baseline, when set, marks each result new or unchanged against it,
	// and adds the baseline's findings the report no longer has as absent
	// results (SARIF's baselineState), so code-scanning views can show
	// what a change added.
	Baseline *threats.Baseline
}

// SARIF levels by severity: GitHub shows error, warning and note; the
// precise severity goes in security-severity.
var (
	sarifLevels = map[threats.Severity]string{
		threats.Critical: "error", threats.High: "error", threats.Medium: "warning", threats.Low: "note",
	}
	sarifScores = map[threats.Severity]string{
		threats.Critical: "9.5", threats.High: "8.0", threats.Medium: "5.5", threats.Low: "3.0",
	}
)

// WriteReportSARIF writes the report's findings as a SARIF 2.1.0 log with
// one run: a rule per catalog rule that fired (help text, severity and
// STRIDE/CWE tags) and a result per finding, located at the manifest line
// that causes it, fingerprinted by the finding's stable ID. Triaged
// findings carry a suppression, so code scanning closes their alerts.
func WriteReportSARIF(w io.Writer, r *Report, opts SARIFOptions) error {
	base := ""
	if opts.BaseDir != "" {
		abs, err := filepath.Abs(opts.BaseDir)
		if err != nil {
			return fmt.Errorf("--base-dir %s: %w", opts.BaseDir, err)
		}
		base = abs
	}
	run := sarifRun{
		Tool: sarifTool{Driver: sarifDriver{
			Name: "stridemap", Version: r.Tool.Version, InformationURI: "https://github.com/stridemap/stridemap", Rules: []sarifRule{},
		}},
		AutomationDetails: &sarifAutomation{ID: "stridemap/"},
		Results:           []sarifResult{},
		Properties:        map[string]any{"scan": r.Scan.ID, "reportSchemaVersion": r.SchemaVersion},
	}
	if r.Scope != nil {
		run.Properties["scope"] = r.Scope.String()
	}

	findings, absent := r.Findings, absentFromReport(r, opts.Baseline)
	if len(absent) > 0 {
		findings = slices.Concat(findings, absent)
	}
	ruleIndex := map[string]int{}
	for _, g := range (&Report{Findings: findings}).RuleGroups() {
		ruleIndex[g.RuleID] = len(run.Tool.Driver.Rules)
		run.Tool.Driver.Rules = append(run.Tool.Driver.Rules, sarifRuleOf(g))
	}
	for i := range findings {
		f := &findings[i]
		res := sarifResult{
			RuleID:              f.RuleID,
			RuleIndex:           ruleIndex[f.RuleID],
			Level:               sarifLevels[f.Severity],
			Message:             sarifMessage{Text: sarifResultText(f)},
			PartialFingerprints: map[string]string{sarifFingerprint: f.ID},
			Properties: map[string]any{
				"findingId": f.ID, "severity": string(f.Severity), "stride": string(f.Stride), "element": f.Element,
				"status": string(StatusOf(f)),
			},
		}
		if res.Level == "" {
			res.Level = "warning"
		}
		if b := opts.Baseline; b != nil {
			_, before := b.Findings[f.ID]
			switch {
			case i >= len(r.Findings):
				res.BaselineState = threats.BaselineAbsent
			case before:
				res.BaselineState = threats.BaselineUnchanged
			default:
				res.BaselineState = threats.BaselineNew
			}
		}
		logical := []sarifLogicalLocation{{Name: f.Element, FullyQualifiedName: f.Element, Kind: string(f.ElementType)}}
		locs := sarifLocations(f.Evidence, base)
		if len(locs) == 0 {
			// GitHub shows only results with a file: a finding about a
			// namespace or the whole cluster sits at its Namespace object,
			// or at the first manifest scanned.
			if at, ok := r.Place(f); ok {
				at.Detail = "no single line causes this finding; shown at " + cmpOr(at.Object, "the first manifest scanned")
				locs = sarifLocations([]model.Evidence{at}, base)
			}
		}
		if len(locs) > 0 {
			locs[0].LogicalLocations = logical
			res.Locations = locs[:1]
			for j := range locs[1:] {
				id := j + 1
				rel := locs[j+1]
				rel.ID = &id
				res.RelatedLocations = append(res.RelatedLocations, rel)
			}
		} else {
			res.Locations = []sarifLocation{{LogicalLocations: logical}}
		}
		if t := f.Triage; t != nil && t.Status != threats.Open {
			res.Suppressions = []sarifSuppression{{Kind: "external", Status: "accepted", Justification: string(t.Status) + ": " + t.Reason}}
		}
		run.Results = append(run.Results, res)
	}
	if len(r.Coverage) > 0 {
		run.Invocations = []sarifInvocation{{ExecutionSuccessful: true, ToolExecutionNotifications: sarifCoverage(r.Coverage)}}
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	return enc.Encode(sarifLog{Schema: sarifSchema, Version: sarifVersion, Runs: []sarifRun{run}})
}

// sarifCoverage is one warning per coverage gap, naming the checks it
// left not assessed.
func sarifCoverage(coverage []CoverageGap) []sarifNotification {
	out := make([]sarifNotification, 0, len(coverage))
	for _, c := range coverage {
		ids := make([]string, len(c.NotAssessed))
		for i, n := range c.NotAssessed {
			ids[i] = n.ID()
		}
		out = append(out, sarifNotification{
			Level: "warning",
			Message: sarifMessage{Text: fmt.Sprintf("Coverage gap: %s could not be read (%s); %d checks that depend on it were not assessed.",
				c.Gap.What(), c.Gap.Reason, len(c.NotAssessed))},
			Properties: map[string]any{"gap": c.Gap, "notAssessed": ids},
		})
	}
	return out
}

func sarifRuleOf(g *RuleGroup) sarifRule {
	tags := []string{"security", "stride", "stride/" + string(g.Stride)}
	for _, cwe := range g.References.CWE {
		if n, ok := strings.CutPrefix(strings.ToUpper(cwe), "CWE-"); ok {
			tags = append(tags, "external/cwe/cwe-"+n)
		}
	}
	refs := ReferenceList(g.References)
	text := strings.TrimSpace(g.Description) + "\n\nMitigation: " + strings.TrimSpace(g.Mitigation)
	markdown := md(strings.TrimSpace(g.Description)) + "\n\n**Mitigation:** " + md(strings.TrimSpace(g.Mitigation)) +
		"\n\n**STRIDE:** " + md(string(g.Stride)) + " · **missing control:** " + md(g.MissingControl)
	if len(refs) > 0 {
		text += "\n\nReferences: " + strings.Join(refs, ", ")
		markdown += "\n\n**References:** " + md(strings.Join(refs, ", "))
	}
	return sarifRule{
		ID:                   g.RuleID,
		Name:                 sarifRuleName(g.RuleID),
		ShortDescription:     sarifMessage{Text: g.Title},
		FullDescription:      sarifMessage{Text: strings.TrimSpace(g.Description)},
		Help:                 sarifMessage{Text: text, Markdown: markdown},
		DefaultConfiguration: sarifConfiguration{Level: cmpOr(sarifLevels[g.Worst], "warning")},
		Properties: sarifRuleProperties{
			SecuritySeverity: cmpOr(sarifScores[g.Worst], "5.5"),
			Tags:             tags,
			Precision:        "high",
			ProblemSeverity:  cmpOr(sarifLevels[g.Worst], "warning"),
		},
	}
}

func cmpOr(s, fallback string) string {
	if s == "" {
		return fallback
	}
	return s
}

// sarifRuleName is the rule ID in PascalCase, the identifier SARIF
// suggests for reportingDescriptor.name: no-resource-limits → NoResourceLimits.
func sarifRuleName(id string) string {
	var b strings.Builder
	upper := true
	for _, r := range id {
		if !unicode.IsLetter(r) && !unicode.IsDigit(r) {
			upper = true
			continue
		}
		if upper {
			r = unicode.ToUpper(r)
			upper = false
		}
		b.WriteRune(r)
	}
	return b.String()
}

func sarifResultText(f *threats.Finding) string {
	text := f.Title() + " — " + f.Element + " (" + string(f.Severity) + ", " + string(f.Stride) + "; missing control: " + f.MissingControl + ")."
	var details []string
	for _, ev := range f.Evidence {
		if ev.Detail != "" {
			details = append(details, ev.Detail)
		}
	}
	if len(details) > 0 {
		text += " " + strings.Join(details, "; ") + "."
	}
	if len(f.Raised) > 0 {
		text += " Severity raised: " + strings.Join(f.Raised, "; ") + "."
	}
	return text + " Finding " + f.ID + "."
}

// absentFromReport are the baseline's findings the report does not have:
// fixed, or on elements gone. Those a coverage gap left not assessed are
// not absent, and a scoped report leaves out what lies outside its graph.
func absentFromReport(r *Report, b *threats.Baseline) []threats.Finding {
	if b == nil {
		return nil
	}
	present := map[string]bool{}
	for _, f := range r.Findings {
		present[f.ID] = true
	}
	for _, gap := range r.Coverage {
		for _, n := range gap.NotAssessed {
			present[n.ID()] = true
		}
	}
	inScope := func(string) bool { return true }
	if r.Scope != nil && r.Graph != nil {
		elements := r.Graph.ElementIDs()
		inScope = func(id string) bool { return elements[id] }
	}
	var out []threats.Finding
	for id, f := range b.Findings {
		if !present[id] && inScope(f.Element) {
			out = append(out, f)
		}
	}
	slices.SortFunc(out, func(a, b threats.Finding) int {
		return cmp.Or(cmp.Compare(b.Severity.Rank(), a.Severity.Rank()), cmp.Compare(a.ID, b.ID))
	})
	return out
}

// detailLine finds "(line N)" in an evidence detail: the catalog's
// evidence expressions name the exact line of a container field (an env
// variable, a port) when the evidence itself points at the object.
var detailLine = regexp.MustCompile(`\(line (\d+)\)`)

// sarifLocations turns evidence into physical locations, one per distinct
// file:line, most precise first: a line named in a detail is where the
// problem is, the object's line only where it is declared.
func sarifLocations(evidence []model.Evidence, base string) []sarifLocation {
	type at struct {
		file   string
		line   int
		detail string
	}
	var precise, coarse []at
	for _, ev := range evidence {
		if ev.File == "" || ev.File == "-" && ev.Line == 0 {
			continue
		}
		if m := detailLine.FindStringSubmatch(ev.Detail); m != nil {
			if n, err := strconv.Atoi(m[1]); err == nil && n > 0 {
				precise = append(precise, at{ev.File, n, ev.Detail})
				continue
			}
		}
		detail := ev.Detail
		if ev.Version != "" {
			// An API object: its URL is the artifact, and the version says
			// which state of it was read.
			detail = strings.TrimPrefix(detail+"; read at resourceVersion "+ev.Version, "; ")
		}
		coarse = append(coarse, at{ev.File, ev.Line, detail})
	}
	var out []sarifLocation
	seen := map[string]bool{}
	for _, a := range slices.Concat(precise, coarse) {
		key := a.file + ":" + strconv.Itoa(a.line)
		if seen[key] {
			continue
		}
		seen[key] = true
		loc := sarifLocation{PhysicalLocation: &sarifPhysicalLocation{ArtifactLocation: sarifArtifactID{URI: sarifURI(a.file, base)}}}
		if a.line > 0 {
			loc.PhysicalLocation.Region = &sarifRegion{StartLine: a.line}
		}
		if a.detail != "" {
			loc.Message = &sarifMessage{Text: a.detail}
		}
		out = append(out, loc)
	}
	return out
}

// sarifURI is a manifest path as a URI reference: relative to base when the
// file is inside it, otherwise relative as scanned or an absolute file URI.
// Each path segment is percent-encoded.
func sarifURI(file, base string) string {
	if file == "-" {
		return "stdin"
	}
	if u, err := url.Parse(file); err == nil && (u.Scheme == "https" || u.Scheme == "http") {
		return file // an object read from an API server
	}
	path := file
	if base != "" {
		abs, err := filepath.Abs(file)
		if err == nil {
			if rel, err := filepath.Rel(base, abs); err == nil && rel != ".." && !strings.HasPrefix(rel, ".."+string(filepath.Separator)) {
				path = rel
			}
		}
	}
	if filepath.IsAbs(path) {
		return (&url.URL{Scheme: "file", Path: filepath.ToSlash(path)}).String()
	}
	rel := (&url.URL{Path: filepath.ToSlash(path)}).EscapedPath()
	if first, _, _ := strings.Cut(rel, "/"); strings.Contains(first, ":") {
		rel = "./" + rel // not a scheme
	}
	return rel
}
