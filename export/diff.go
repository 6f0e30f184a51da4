package export

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/stridemap/stridemap/internal/safetext"
	"github.com/stridemap/stridemap/model"
	"github.com/stridemap/stridemap/model/store"
	"github.com/stridemap/stridemap/threats"
)

// DiffSchemaVersion is the version of the diff's JSON form
// (docs/diff-json.md). Bump it when a field changes meaning or
// disappears; adding a field does not.
const DiffSchemaVersion = 1

// Diff is the drift between two scans in the form `stridemap diff` prints
// and other tools read: every list present (empty, never null), elements
// summarised, evidence kept where it is the point (controls).
type Diff struct {
	SchemaVersion int      `json:"schemaVersion"`
	Old           DiffScan `json:"old"`
	New           DiffScan `json:"new"`
	// SameTarget is false when the scans were compared across targets
	// (--any-target) or a target is unknown.
	SameTarget  bool            `json:"sameTarget"`
	Summary     DiffSummary     `json:"summary"`
	Elements    DiffElements    `json:"elements"`
	Flows       DiffFlows       `json:"flows"`
	Boundaries  DiffBoundaries  `json:"boundaries"`
	Controls    DiffControls    `json:"controls"`
	Findings    DiffFindings    `json:"findings"`
	AttackPaths DiffAttackPaths `json:"attackPaths"`
}

// DiffScan names one side of a diff.
type DiffScan struct {
	ID        int64     `json:"id"`
	StartedAt time.Time `json:"startedAt"`
	// Target is the target in one line, "unknown" for a scan stored before
	// targets were recorded (then TargetKnown is false).
	Target      string `json:"target"`
	TargetKnown bool   `json:"targetKnown"`
}

// DiffSummary counts each kind of change.
type DiffSummary struct {
	Elements    AddedRemovedChanged `json:"elements"`
	Flows       AddedRemovedChanged `json:"flows"`
	Boundaries  AddedRemovedChanged `json:"boundaries"`
	Controls    GainedLostChanged   `json:"controls"`
	Findings    FindingCounts       `json:"findings"`
	AttackPaths NewClosedChanged    `json:"attackPaths"`
}

// AddedRemovedChanged, GainedLostChanged, NewClosedChanged and
// FindingCounts are the counts of DiffSummary.
type (
	AddedRemovedChanged struct {
		Added   int `json:"added"`
		Removed int `json:"removed"`
		Changed int `json:"changed"`
	}
	GainedLostChanged struct {
		Gained  int `json:"gained"`
		Lost    int `json:"lost"`
		Changed int `json:"changed"`
	}
	NewClosedChanged struct {
		New     int `json:"new"`
		Closed  int `json:"closed"`
		Changed int `json:"changed"`
	}
	FindingCounts struct {
		New              int `json:"new"`
		Fixed            int `json:"fixed"`
		Changed          int `json:"changed"`
		NoLongerAssessed int `json:"noLongerAssessed"`
		Unchanged        int `json:"unchanged"`
	}
)

// DiffElement is an element added or removed.
type DiffElement struct {
	ID        string         `json:"id"`
	Type      model.NodeType `json:"type"`
	Kind      string         `json:"kind,omitempty"`
	Name      string         `json:"name"`
	Namespace string         `json:"namespace,omitempty"`
}

// DiffChanged is an element, flow, control or boundary in both scans,
// with its changes field by field.
type DiffChanged struct {
	ID string `json:"id"`
	// PreviousID is the flow's ID in the old scan when its port changed.
	PreviousID string           `json:"previousId,omitempty"`
	Changes    []threats.Change `json:"changes"`
}

// DiffElements are the elements added, removed and changed.
type DiffElements struct {
	Added   []DiffElement `json:"added"`
	Removed []DiffElement `json:"removed"`
	Changed []DiffChanged `json:"changed"`
}

// DiffFlow is a flow added or removed.
type DiffFlow struct {
	ID         string           `json:"id"`
	From       string           `json:"from"`
	To         string           `json:"to"`
	Port       int32            `json:"port,omitempty"`
	Protocol   string           `json:"protocol"`
	Encryption model.Encryption `json:"encryption"`
	Policy     string           `json:"policy,omitempty"`
	Declared   bool             `json:"declared"`
	Observed   bool             `json:"observed"`
}

// DiffFlows are the flows added, removed and changed.
type DiffFlows struct {
	Added   []DiffFlow    `json:"added"`
	Removed []DiffFlow    `json:"removed"`
	Changed []DiffChanged `json:"changed"`
}

// DiffBoundary is a trust boundary added or removed, with its members.
type DiffBoundary struct {
	ID      string             `json:"id"`
	Type    model.BoundaryType `json:"type"`
	Members []string           `json:"members"`
}

// DiffBoundaries are the boundaries added and removed, and those whose
// members changed (a change per member: before set when it left, after
// set when it joined).
type DiffBoundaries struct {
	Added   []DiffBoundary `json:"added"`
	Removed []DiffBoundary `json:"removed"`
	Changed []DiffChanged  `json:"changed"`
}

// DiffControl is a control gained (with the new scan's evidence) or lost
// (with the old scan's).
type DiffControl struct {
	ID       string           `json:"id"`
	Type     string           `json:"type"`
	Target   string           `json:"target"`
	Evidence []model.Evidence `json:"evidence"`
}

// DiffControlChange is a control whose evidence changed: both sides.
type DiffControlChange struct {
	ID     string           `json:"id"`
	Before []model.Evidence `json:"before"`
	After  []model.Evidence `json:"after"`
}

// DiffControls are the controls gained, lost and changed.
type DiffControls struct {
	Gained  []DiffControl       `json:"gained"`
	Lost    []DiffControl       `json:"lost"`
	Changed []DiffControlChange `json:"changed"`
}

// DiffFinding is one finding of a diff. Triage is the decision in force
// (carried by finding ID across scans); SeverityBefore is set on a
// finding whose severity changed; Reason on one no longer assessed;
// ElementRemoved on a fixed finding whose element is gone.
type DiffFinding struct {
	ID             string           `json:"id"`
	Rule           string           `json:"rule"`
	Title          string           `json:"title,omitempty"`
	Severity       threats.Severity `json:"severity"`
	SeverityBefore threats.Severity `json:"severityBefore,omitempty"`
	Element        string           `json:"element"`
	Triage         *threats.Triage  `json:"triage,omitempty"`
	Reason         string           `json:"reason,omitempty"`
	ElementRemoved bool             `json:"elementRemoved,omitempty"`
}

// DiffFindings are the findings new, fixed, changed in severity and no
// longer assessed.
type DiffFindings struct {
	New              []DiffFinding `json:"new"`
	Fixed            []DiffFinding `json:"fixed"`
	Changed          []DiffFinding `json:"changed"`
	NoLongerAssessed []DiffFinding `json:"noLongerAssessed"`
}

// DiffPathChange is an attack path that runs through other elements.
type DiffPathChange struct {
	Finding string   `json:"finding"`
	Before  []string `json:"before"`
	After   []string `json:"after"`
}

// DiffAttackPaths are the attack paths new, closed and changed.
type DiffAttackPaths struct {
	New     []threats.AttackPath `json:"new"`
	Closed  []threats.AttackPath `json:"closed"`
	Changed []DiffPathChange     `json:"changed"`
}

// BuildDiff puts the drift from scan old to scan new in its printed form.
func BuildDiff(old, new store.ScanInfo, d threats.Drift) *Diff {
	out := &Diff{
		SchemaVersion: DiffSchemaVersion,
		Old:           diffScan(old),
		New:           diffScan(new),
		SameTarget:    old.Target.Same(new.Target),
	}
	out.Elements = DiffElements{Added: mapList(d.NodesAdded, diffElement), Removed: mapList(d.NodesRemoved, diffElement),
		Changed: mapList(d.NodesChanged, func(c threats.Changed[model.Node]) DiffChanged { return DiffChanged{ID: c.ID, Changes: c.Changes} })}
	out.Flows = DiffFlows{Added: mapList(d.EdgesAdded, diffFlow), Removed: mapList(d.EdgesRemoved, diffFlow),
		Changed: mapList(d.EdgesChanged, func(c threats.Changed[model.Edge]) DiffChanged {
			dc := DiffChanged{ID: c.ID, Changes: c.Changes}
			if c.Before.ID != c.ID {
				dc.PreviousID = c.Before.ID
			}
			return dc
		})}
	out.Boundaries = DiffBoundaries{Added: mapList(d.BoundariesAdded, diffBoundary), Removed: mapList(d.BoundariesRemoved, diffBoundary),
		Changed: mapList(d.BoundariesChanged, func(c threats.Changed[model.Boundary]) DiffChanged { return DiffChanged{ID: c.ID, Changes: c.Changes} })}
	out.Controls = DiffControls{Gained: mapList(d.ControlsAdded, diffControl), Lost: mapList(d.ControlsRemoved, diffControl),
		Changed: mapList(d.ControlsChanged, func(c threats.Changed[model.Control]) DiffControlChange {
			return DiffControlChange{ID: c.ID, Before: orNone(c.Before.Evidence), After: orNone(c.After.Evidence)}
		})}
	removed := make(map[string]bool, len(d.NodesRemoved)+len(d.EdgesRemoved))
	for _, n := range d.NodesRemoved {
		removed[n.ID] = true
	}
	for _, e := range d.EdgesRemoved {
		removed[e.ID] = true
	}
	out.Findings = DiffFindings{
		New: mapList(d.FindingsNew, diffFinding),
		Fixed: mapList(d.FindingsFixed, func(f threats.Finding) DiffFinding {
			df := diffFinding(f)
			df.ElementRemoved = removed[f.Element]
			return df
		}),
		Changed: mapList(d.FindingsChanged, func(c threats.Changed[threats.Finding]) DiffFinding {
			df := diffFinding(c.After)
			df.SeverityBefore = c.Before.Severity
			return df
		}),
		NoLongerAssessed: mapList(d.FindingsNoLongerAssessed, func(n threats.NoLongerAssessed) DiffFinding {
			df := diffFinding(n.Finding)
			df.Reason = n.Reason.Reason()
			return df
		}),
	}
	out.AttackPaths = DiffAttackPaths{New: orNone(d.PathsNew), Closed: orNone(d.PathsClosed),
		Changed: mapList(d.PathsChanged, func(c threats.Changed[threats.AttackPath]) DiffPathChange {
			return DiffPathChange{Finding: c.ID, Before: c.Before.Nodes, After: c.After.Nodes}
		})}
	out.Summary = DiffSummary{
		Elements:    AddedRemovedChanged{len(d.NodesAdded), len(d.NodesRemoved), len(d.NodesChanged)},
		Flows:       AddedRemovedChanged{len(d.EdgesAdded), len(d.EdgesRemoved), len(d.EdgesChanged)},
		Boundaries:  AddedRemovedChanged{len(d.BoundariesAdded), len(d.BoundariesRemoved), len(d.BoundariesChanged)},
		Controls:    GainedLostChanged{len(d.ControlsAdded), len(d.ControlsRemoved), len(d.ControlsChanged)},
		Findings:    FindingCounts{len(d.FindingsNew), len(d.FindingsFixed), len(d.FindingsChanged), len(d.FindingsNoLongerAssessed), d.FindingsUnchanged},
		AttackPaths: NewClosedChanged{len(d.PathsNew), len(d.PathsClosed), len(d.PathsChanged)},
	}
	return out
}

func diffScan(s store.ScanInfo) DiffScan {
	return DiffScan{ID: s.ID, StartedAt: s.StartedAt, Target: s.Target.String(), TargetKnown: !s.Target.IsZero()}
}

func diffElement(n model.Node) DiffElement {
	return DiffElement{ID: n.ID, Type: n.Type, Kind: n.Kind, Name: n.Name, Namespace: n.Namespace}
}

func diffFlow(e model.Edge) DiffFlow {
	return DiffFlow{ID: e.ID, From: e.From, To: e.To, Port: e.Port, Protocol: e.Protocol, Encryption: e.Encryption,
		Policy: e.Policy, Declared: e.Declared, Observed: e.Observed}
}

func diffBoundary(b model.Boundary) DiffBoundary {
	return DiffBoundary{ID: b.ID, Type: b.Type, Members: orNone(b.Members)}
}

func diffControl(c model.Control) DiffControl {
	return DiffControl{ID: c.ID, Type: c.Type, Target: c.Target, Evidence: orNone(c.Evidence)}
}

func diffFinding(f threats.Finding) DiffFinding {
	return DiffFinding{ID: f.ID, Rule: f.RuleID, Title: f.Title(), Severity: f.Severity, Element: f.Element, Triage: f.Triage}
}

// mapList converts each element; never nil, so JSON lists are [] not null.
func mapList[T, U any](list []T, fn func(T) U) []U {
	out := make([]U, len(list))
	for i, v := range list {
		out[i] = fn(v)
	}
	return out
}

func orNone[T any](list []T) []T {
	if list == nil {
		return []T{}
	}
	return list
}

// WriteDiffJSON writes the diff as indented JSON (docs/diff-json.md).
func WriteDiffJSON(w io.Writer, d *Diff) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(d)
}

// diffLine is one line of a diff's text forms: a sign (+ added, − removed,
// ~ changed, ? no longer assessed), what it is about and the detail.
// DiffLine is one change: a sign (+ added, - removed, ~ changed, ? no
// longer assessed), what changed and how.
type DiffLine struct{ Sign, What, Detail string }

// DiffSection is one titled list of a diff as every text form lays it out:
// Elements, Flows, Trust boundaries, Controls, Findings, Attack paths.
type DiffSection struct {
	Title string
	Lines []DiffLine
	// More counts the lines a cap left out (Sections' max).
	More int
}

// Sections lays the diff out, each section capped at max lines (0: no cap).
func (d *Diff) Sections(max int) []DiffSection {
	out := d.sections()
	for i := range out {
		if max > 0 && len(out[i].Lines) > max {
			out[i].More = len(out[i].Lines) - max
			out[i].Lines = out[i].Lines[:max]
		}
	}
	return out
}

func (d *Diff) sections() []DiffSection {
	var out []DiffSection
	add := func(title string, lines []DiffLine) {
		if len(lines) > 0 {
			out = append(out, DiffSection{Title: title, Lines: lines})
		}
	}
	changed := func(list []DiffChanged) []DiffLine {
		var lines []DiffLine
		for _, c := range list {
			for _, ch := range c.Changes {
				lines = append(lines, DiffLine{"~", c.ID, ch.String()})
			}
		}
		return lines
	}
	var lines []DiffLine
	for _, n := range d.Elements.Added {
		lines = append(lines, DiffLine{"+", n.ID, string(n.Type)})
	}
	for _, n := range d.Elements.Removed {
		lines = append(lines, DiffLine{"-", n.ID, string(n.Type)})
	}
	add("Elements", append(lines, changed(d.Elements.Changed)...))

	lines = nil
	for _, e := range d.Flows.Added {
		lines = append(lines, DiffLine{"+", e.ID, flowText(e)})
	}
	for _, e := range d.Flows.Removed {
		lines = append(lines, DiffLine{"-", e.ID, flowText(e)})
	}
	add("Flows", append(lines, changed(d.Flows.Changed)...))

	lines = nil
	for _, b := range d.Boundaries.Added {
		lines = append(lines, DiffLine{"+", b.ID, fmt.Sprintf("%d members", len(b.Members))})
	}
	for _, b := range d.Boundaries.Removed {
		lines = append(lines, DiffLine{"-", b.ID, fmt.Sprintf("%d members", len(b.Members))})
	}
	add("Trust boundaries", append(lines, changed(d.Boundaries.Changed)...))

	lines = nil
	for _, c := range d.Controls.Gained {
		lines = append(lines, DiffLine{"+", c.ID, "gained: " + evidenceText(c.Evidence)})
	}
	for _, c := range d.Controls.Lost {
		lines = append(lines, DiffLine{"-", c.ID, "lost: " + evidenceText(c.Evidence)})
	}
	for _, c := range d.Controls.Changed {
		lines = append(lines, DiffLine{"~", c.ID, "evidence: " + evidenceText(c.Before) + " → " + evidenceText(c.After)})
	}
	add("Controls", lines)

	lines = nil
	for _, f := range d.Findings.New {
		lines = append(lines, DiffLine{"+", f.ID, "new " + string(f.Severity) + triageText(f.Triage)})
	}
	for _, f := range d.Findings.Fixed {
		what := "fixed"
		if f.ElementRemoved {
			what = "gone with its element"
		}
		lines = append(lines, DiffLine{"-", f.ID, what + " (was " + string(f.Severity) + ")"})
	}
	for _, f := range d.Findings.Changed {
		lines = append(lines, DiffLine{"~", f.ID, "severity " + string(f.SeverityBefore) + " → " + string(f.Severity) + triageText(f.Triage)})
	}
	for _, f := range d.Findings.NoLongerAssessed {
		lines = append(lines, DiffLine{"?", f.ID, "no longer assessed (was " + string(f.Severity) + "): " + f.Reason})
	}
	add("Findings", lines)

	lines = nil
	for _, p := range d.AttackPaths.New {
		lines = append(lines, DiffLine{"+", p.Finding, strings.Join(p.Nodes, " → ")})
	}
	for _, p := range d.AttackPaths.Closed {
		lines = append(lines, DiffLine{"-", p.Finding, "closed: " + strings.Join(p.Nodes, " → ")})
	}
	for _, p := range d.AttackPaths.Changed {
		lines = append(lines, DiffLine{"~", p.Finding, strings.Join(p.Before, " → ") + "  ⇒  " + strings.Join(p.After, " → ")})
	}
	add("Attack paths", lines)
	return out
}

func flowText(e DiffFlow) string {
	how := []string{}
	if e.Declared {
		how = append(how, "declared")
	}
	if e.Observed {
		how = append(how, "observed")
	}
	policy := e.Policy
	if policy == "" {
		policy = "no policy"
	}
	return fmt.Sprintf("%s, %s, %s, %s", portLabel(e.Protocol, e.Port), e.Encryption, policy, strings.Join(how, "+"))
}

func evidenceText(evidence []model.Evidence) string {
	if len(evidence) == 0 {
		return "no evidence"
	}
	return strings.Join(EvidenceLines(evidence), "; ")
}

func triageText(t *threats.Triage) string {
	if t == nil {
		return ""
	}
	return " [" + string(t.Status) + "]"
}

// Headline says which scans are compared, and of what.
func (d *Diff) Headline() string {
	day := func(s DiffScan) string { return s.StartedAt.Local().Format("2006-01-02 15:04") }
	h := fmt.Sprintf("Scan #%d (%s) → scan #%d (%s)", d.Old.ID, day(d.Old), d.New.ID, day(d.New))
	switch {
	case d.SameTarget:
		h += " of " + d.New.Target
	case !d.Old.TargetKnown || !d.New.TargetKnown:
		h += fmt.Sprintf("; target of #%d: %s, of #%d: %s (a scan stored before targets were recorded)", d.Old.ID, d.Old.Target, d.New.ID, d.New.Target)
	default:
		h += fmt.Sprintf("; different targets: #%d of %s, #%d of %s", d.Old.ID, d.Old.Target, d.New.ID, d.New.Target)
	}
	return h
}

// CountsLine counts each kind of change in one line.
func (d *Diff) CountsLine() string {
	s := d.Summary
	return fmt.Sprintf("elements +%d −%d ~%d · flows +%d −%d ~%d · boundaries +%d −%d ~%d · controls +%d −%d ~%d · findings new %d, fixed %d, changed %d, no longer assessed %d · attack paths new %d, closed %d",
		s.Elements.Added, s.Elements.Removed, s.Elements.Changed, s.Flows.Added, s.Flows.Removed, s.Flows.Changed,
		s.Boundaries.Added, s.Boundaries.Removed, s.Boundaries.Changed, s.Controls.Gained, s.Controls.Lost, s.Controls.Changed,
		s.Findings.New, s.Findings.Fixed, s.Findings.Changed, s.Findings.NoLongerAssessed, s.AttackPaths.New, s.AttackPaths.Closed)
}

// WriteDiffText writes the diff for a terminal: a headline, the counts,
// then one line per change. Every name from the input is escaped, so it
// cannot move the cursor or recolour the screen.
func WriteDiffText(w io.Writer, d *Diff) error {
	b := bufio.NewWriter(w)
	fmt.Fprintln(b, safetext.Text(d.Headline()))
	fmt.Fprintln(b, d.CountsLine())
	sections := d.sections()
	if len(sections) == 0 {
		fmt.Fprintln(b, "\nNothing changed.")
	}
	for _, s := range sections {
		fmt.Fprintf(b, "\n%s\n", s.Title)
		for _, l := range s.Lines {
			fmt.Fprintf(b, "  %s %s  %s\n", l.Sign, safetext.Text(l.What), safetext.Text(l.Detail))
		}
	}
	return b.Flush()
}

// WriteDiffMarkdown writes the diff as Markdown for pull requests, every
// value from the input escaped.
func WriteDiffMarkdown(w io.Writer, d *Diff) error {
	b := bufio.NewWriter(w)
	fmt.Fprintf(b, "# Changes: scan #%d → scan #%d\n", d.Old.ID, d.New.ID)
	writeDiffMarkdown(b, d, "##", 0)
	return b.Flush()
}

// writeDiffMarkdown writes the diff's headline, counts and sections, each
// section under a heading of the given level and capped at max lines.
func writeDiffMarkdown(w io.Writer, d *Diff, heading string, max int) {
	fmt.Fprintf(w, "\n%s\n\n%s\n", md(d.Headline()), md(d.CountsLine()))
	sections := d.Sections(max)
	if len(sections) == 0 {
		fmt.Fprintln(w, "\nNothing changed.")
	}
	for _, s := range sections {
		fmt.Fprintf(w, "\n%s %s\n\n| | | |\n|---|---|---|\n", heading, s.Title)
		for _, l := range s.Lines {
			fmt.Fprintf(w, "| %s | %s | %s |\n", md(l.Sign), md(l.What), md(l.Detail))
		}
		if s.More > 0 {
			fmt.Fprintf(w, "\n… and %d more (`stridemap diff %d %d` lists them all).\n", s.More, d.Old.ID, d.New.ID)
		}
	}
}

// NarrowSnapshot keeps what a scoped view of drift needs: the part of the
// snapshot's graph in scope and the findings on its elements. A scope that
// names nothing in this snapshot (an element added since) leaves it empty,
// so everything in scope shows as added.
func NarrowSnapshot(s threats.Snapshot, scope Scope) threats.Snapshot {
	if scope.IsZero() {
		return s
	}
	g := s.Graph
	if g == nil {
		g = &model.Graph{}
	}
	narrow, err := Narrow(g, scope)
	if err != nil {
		return threats.Snapshot{Graph: &model.Graph{}}
	}
	in := elementsOf(narrow)
	out := threats.Snapshot{Graph: narrow, Findings: findingsIn(narrow, s.Findings)}
	for _, n := range s.NotAssessed {
		if in[n.Element] {
			out.NotAssessed = append(out.NotAssessed, n)
		}
	}
	return out
}
