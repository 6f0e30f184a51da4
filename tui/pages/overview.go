package pages

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"

	"github.com/stridemap/stridemap/catalog"

	"github.com/stridemap/stridemap/discover"
	"github.com/stridemap/stridemap/internal/safetext"
	"github.com/stridemap/stridemap/model"
	"github.com/stridemap/stridemap/model/store"
	"github.com/stridemap/stridemap/threats"
	"github.com/stridemap/stridemap/tui/common"
	"github.com/stridemap/stridemap/tui/components"
)

// AttackPathRule is the rule whose findings are attack paths: chains of
// flows from the internet to sensitive data. Its evidence details start
// with "path:" and "gap:".
const AttackPathRule = "attack-path-to-sensitive-data"

// Overview is the first page: the scan, a STRIDE × severity matrix, the top
// risks, the attack paths and what changed since the previous scan.
type Overview struct {
	c        *common.Common
	scan     *store.ScanInfo
	previous *store.ScanInfo
	gaps     []discover.Gap
	triage   map[string]store.Decision
	findings *common.Findings
	matrix   map[catalog.Stride]map[threats.Severity]int
	paths    []int // records of attack-path findings, most severe first
	drift    *common.DriftLoadedMsg

	detail        *components.Detail
	width, height int
}

// NewOverview returns the page, empty until ScanLoadedMsg.
func NewOverview(c *common.Common) *Overview {
	return &Overview{c: c, detail: components.NewDetail(c)}
}

// Title implements Page.
func (p *Overview) Title() string { return "Overview" }

// Capturing implements Page.
func (p *Overview) Capturing() bool { return false }

// ShortHelp implements Page.
func (p *Overview) ShortHelp() []key.Binding {
	k := p.c.Keys
	return []key.Binding{k.Down, k.Up, k.Threats, k.Map}
}

// SetSize implements Page.
func (p *Overview) SetSize(width, height int) {
	p.width, p.height = width, height
	p.detail.SetSize(width, height)
	p.refresh()
}

// Update implements Page.
func (p *Overview) Update(msg tea.Msg) tea.Cmd {
	switch msg := msg.(type) {
	case common.ScanLoadedMsg:
		p.scan, p.previous, p.triage, p.gaps = &msg.Scan, msg.Previous, msg.Triage, msg.Gaps
		p.findings, p.drift, p.paths, p.matrix = nil, nil, nil, nil
	case common.FindingsLoadedMsg:
		p.findings = msg.Findings
		p.index()
	case common.DriftLoadedMsg:
		// The Drift page's own comparisons come by too: keep the one
		// since the previous scan.
		if p.scan == nil || p.previous == nil || msg.From.ID != p.previous.ID || msg.To.ID != p.scan.ID {
			return nil
		}
		p.drift = &msg
	case common.TriageSavedMsg:
	case tea.KeyPressMsg, tea.MouseWheelMsg:
		p.detail.Update(msg)
		return nil
	default:
		return nil
	}
	p.refresh()
	return nil
}

// index counts the findings by category and severity and picks out the
// attack paths: one pass over the records.
func (p *Overview) index() {
	p.matrix = map[catalog.Stride]map[threats.Severity]int{}
	for _, s := range catalog.Strides {
		p.matrix[s] = map[threats.Severity]int{}
	}
	for _, i := range p.findings.Order(common.BySeverity) {
		r := &p.findings.Records[i]
		if m := p.matrix[catalog.Stride(r.Stride)]; m != nil {
			m[threats.Severity(r.Severity)]++
		}
		if r.RuleID == AttackPathRule {
			p.paths = append(p.paths, i)
		}
	}
}

// View implements Page.
func (p *Overview) View() string {
	return components.FitLines(p.detail.View(), p.width, p.height)
}

func (p *Overview) refresh() {
	if p.scan == nil || p.width == 0 {
		return
	}
	scan := p.scanSection()
	matrix := p.matrixSection()
	risks := p.risksSection()
	paths := p.pathsSection()
	drift := p.driftSection()
	var text string
	if p.width >= wideWidth {
		lw := p.width/2 - 1
		rw := p.width - lw - 3
		left := strings.Join([]string{scan, matrix, drift}, "\n\n")
		right := strings.Join([]string{risks, paths}, "\n\n")
		h := max(strings.Count(left, "\n"), strings.Count(right, "\n")) + 1
		text = components.SideBySide(left, lw, p.c.Styles.Border.Render(" │ "), right, rw, h)
	} else {
		text = strings.Join([]string{scan, matrix, risks, paths, drift}, "\n\n")
	}
	p.detail.SetContent(fmt.Sprint(p.scan.ID), text)
}

func (p *Overview) scanSection() string {
	st := p.c.Styles
	s := p.scan
	var b strings.Builder
	state := st.Success.Render("complete")
	if s.Partial {
		state = st.Error.Render(fmt.Sprintf("partial (%d errors)", s.Counts.Errors))
	}
	fmt.Fprintf(&b, "%s  %s · took %s · %s\n", st.Heading.Render(fmt.Sprintf("Scan #%d", s.ID)), p.c.Time(s.StartedAt),
		s.FinishedAt.Sub(s.StartedAt).Round(10*time.Millisecond), state)
	for _, src := range s.Sources {
		fmt.Fprintf(&b, "  %s %s  %s\n", src.Kind, src.Path, st.Muted.Render(fmt.Sprintf("%d files, %d objects", src.Files, src.Objects)))
		for _, note := range src.Notes {
			fmt.Fprintf(&b, "    %s\n", st.Muted.Render(note))
		}
	}
	c := s.Counts
	var types []string
	for _, t := range []model.NodeType{model.Process, model.DataStore, model.Gateway, model.ExternalEntity} {
		if n := c.NodesByType[t]; n > 0 {
			types = append(types, fmt.Sprintf("%s %d", t, n))
		}
	}
	fmt.Fprintf(&b, "  %d objects → %d elements (%s)\n", c.Objects, c.Nodes, strings.Join(types, ", "))
	fmt.Fprintf(&b, "  %d flows, %d from the internet · %d boundaries · %d controls\n", c.Edges, c.Exposed, c.Boundaries, c.Controls)
	fmt.Fprintf(&b, "  %d dangling references · %d problems", c.Dangling, c.Problems)
	p.coverageLines(&b)
	if s.Catalog != "" {
		fmt.Fprintf(&b, "\n  catalog %s", s.Catalog)
	}
	return b.String()
}

// coverageGapLines is how many gaps the Overview lists; the reports list
// them all.
const coverageGapLines = 5

// coverageLines says what the scan could not read and how many checks were
// not assessed for want of it. Kind names and reasons come from the API
// server: escaped.
func (p *Overview) coverageLines(b *strings.Builder) {
	if len(p.gaps) == 0 {
		return
	}
	st := p.c.Styles
	fmt.Fprintf(b, "\n  %s", st.Error.Render(fmt.Sprintf("%d coverage gaps · %d checks not assessed", len(p.gaps), p.scan.Counts.NotAssessed)))
	for i, gap := range p.gaps {
		if i == coverageGapLines {
			fmt.Fprintf(b, "\n    %s", st.Muted.Render(fmt.Sprintf("… and %d more (stridemap report lists them)", len(p.gaps)-i)))
			break
		}
		fmt.Fprintf(b, "\n    %s", st.Muted.Render("not read: "+safetext.Text(gap.String())))
	}
}

func (p *Overview) matrixSection() string {
	st := p.c.Styles
	var b strings.Builder
	if p.findings == nil {
		return st.Heading.Render("Findings") + "\n" + st.Muted.Render("  loading…")
	}
	open := 0
	for i := range p.findings.Records {
		if common.StatusOf(p.triage, p.findings.Records[i].ID) == threats.Open {
			open++
		}
	}
	fmt.Fprintf(&b, "%s  %d, %d open, %d triaged\n", st.Heading.Render("Findings"), p.findings.Len(), open, p.findings.Len()-open)
	sevs := slices.Clone(threats.Severities)
	slices.Reverse(sevs)
	b.WriteString(st.TableHeader.Render(fmt.Sprintf("  %-26s", "STRIDE × severity")))
	for _, sev := range sevs {
		b.WriteString(st.TableHeader.Render(fmt.Sprintf("%6s", severityAbbrev(sev))))
	}
	b.WriteString(st.TableHeader.Render(fmt.Sprintf("%7s", "total")) + "\n")
	totals := map[threats.Severity]int{}
	all := 0
	for _, s := range catalog.Strides {
		row := 0
		fmt.Fprintf(&b, "  %s %-24s", st.Bold.Render(s.Letter()), s)
		for _, sev := range sevs {
			n := p.matrix[s][sev]
			row += n
			totals[sev] += n
			cell := fmt.Sprintf("%6d", n)
			if n == 0 {
				cell = st.Muted.Render(fmt.Sprintf("%6s", "·"))
			} else {
				cell = st.Severity(sev).Render(cell)
			}
			b.WriteString(cell)
		}
		all += row
		fmt.Fprintf(&b, "%7d\n", row)
	}
	fmt.Fprintf(&b, "  %-26s", "total")
	for _, sev := range sevs {
		fmt.Fprintf(&b, "%6d", totals[sev])
	}
	fmt.Fprintf(&b, "%7d", all)
	return b.String()
}

// severityAbbrev keeps the matrix narrow enough for 80 columns.
func severityAbbrev(s threats.Severity) string {
	switch s {
	case threats.Critical:
		return "crit"
	case threats.Medium:
		return "med"
	}
	return string(s)
}

// topRisks is how many open findings "Top risks" lists.
const topRisks = 8

func (p *Overview) risksSection() string {
	st := p.c.Styles
	var b strings.Builder
	b.WriteString(st.Heading.Render("Top risks") + "\n")
	if p.findings == nil {
		return b.String() + st.Muted.Render("  loading…")
	}
	n := 0
	for _, i := range p.findings.Order(common.BySeverity) {
		r := &p.findings.Records[i]
		if common.StatusOf(p.triage, r.ID) != threats.Open {
			continue
		}
		if n == topRisks {
			break
		}
		n++
		sev := threats.Severity(r.Severity)
		fmt.Fprintf(&b, "  %s %s %s\n", st.Severity(sev).Render(fmt.Sprintf("%-8s", sev)), catalog.Stride(r.Stride).Letter(), p.findings.Title(i))
		fmt.Fprintf(&b, "    %s\n", st.Muted.Render(r.Element))
	}
	if n == 0 {
		b.WriteString(st.Muted.Render("  no open findings") + "\n")
	}
	return strings.TrimRight(b.String(), "\n")
}

// shownPaths is how many attack paths the Overview draws.
const shownPaths = 5

func (p *Overview) pathsSection() string {
	st := p.c.Styles
	var b strings.Builder
	if p.findings == nil {
		return st.Heading.Render("Attack paths") + "\n" + st.Muted.Render("  loading…")
	}
	fmt.Fprintf(&b, "%s  %d from the internet to sensitive data\n", st.Heading.Render("Attack paths"), len(p.paths))
	if len(p.paths) == 0 {
		b.WriteString(st.Muted.Render("  none: no chain of flows reaches sensitive data with gaps on the way"))
		return b.String()
	}
	for _, i := range p.paths[:min(len(p.paths), shownPaths)] {
		f, err := p.findings.Finding(i)
		if err != nil {
			b.WriteString(st.Error.Render("  "+err.Error()) + "\n")
			continue
		}
		gaps := 0
		var path string
		for _, ev := range f.Evidence {
			switch {
			case strings.HasPrefix(ev.Detail, "path:") && path == "":
				path = strings.TrimSpace(strings.TrimPrefix(ev.Detail, "path:"))
			case strings.HasPrefix(ev.Detail, "gap:"):
				gaps++
			}
		}
		fmt.Fprintf(&b, "  %s %s · %d gaps\n", st.Severity(f.Severity).Render(fmt.Sprintf("%-8s", f.Severity)), f.Element, gaps)
		if path != "" {
			b.WriteString(st.Muted.Render("    "+path) + "\n")
		}
	}
	if len(p.paths) > shownPaths {
		fmt.Fprintf(&b, "  … %d more on the Threats page (search %s)\n", len(p.paths)-shownPaths, AttackPathRule)
	}
	return strings.TrimRight(b.String(), "\n")
}

// driftLines is how many changes the Overview lists.
const driftLines = 10

func (p *Overview) driftSection() string {
	st := p.c.Styles
	if p.previous == nil {
		return st.Heading.Render("Since the previous scan") + "\n" + st.Muted.Render("  this is the first scan: nothing to compare yet")
	}
	title := st.Heading.Render(fmt.Sprintf("Since scan #%d", p.previous.ID)) + st.Muted.Render(" ("+p.c.Time(p.previous.StartedAt)+
		") · "+p.c.Keys.Drift.Help().Key+" for the Drift page")
	if p.drift == nil {
		return title + "\n" + st.Muted.Render("  comparing…")
	}
	if p.drift.Err != nil {
		return title + "\n" + st.Error.Render("  could not compare: ") + safetext.Text(p.drift.Err.Error())
	}
	d := p.drift.Drift
	if d.Empty() {
		return title + "\n  nothing changed"
	}
	var b strings.Builder
	b.WriteString(title + "\n")
	count := func(label string, added, removed int) string {
		return fmt.Sprintf("%s %s %s", label, st.Added.Render(fmt.Sprintf("+%d", added)), st.Removed.Render(fmt.Sprintf("−%d", removed)))
	}
	b.WriteString("  " + strings.Join([]string{
		count("elements", len(d.NodesAdded), len(d.NodesRemoved)),
		count("flows", len(d.EdgesAdded), len(d.EdgesRemoved)),
		count("controls", len(d.ControlsAdded), len(d.ControlsRemoved)),
		count("findings", len(d.FindingsNew), len(d.FindingsFixed)),
	}, " · ") + "\n")

	var lines []string
	added := slices.Clone(d.FindingsNew)
	slices.SortStableFunc(added, func(a, b threats.Finding) int { return b.Severity.Rank() - a.Severity.Rank() })
	for _, f := range added {
		lines = append(lines, st.Added.Render("+ ")+"new "+string(f.Severity)+" "+f.ID)
	}
	for _, c := range d.ControlsRemoved {
		lines = append(lines, st.Removed.Render("− ")+"control gone "+c.ID)
	}
	for _, n := range d.NodesAdded {
		lines = append(lines, st.Added.Render("+ ")+"element "+n.ID)
	}
	for _, n := range d.NodesRemoved {
		lines = append(lines, st.Removed.Render("− ")+"element "+n.ID)
	}
	for _, e := range d.EdgesAdded {
		lines = append(lines, st.Added.Render("+ ")+"flow "+e.ID)
	}
	for _, e := range d.EdgesRemoved {
		lines = append(lines, st.Removed.Render("− ")+"flow "+e.ID)
	}
	for _, c := range d.ControlsAdded {
		lines = append(lines, st.Added.Render("+ ")+"control "+c.ID)
	}
	for _, f := range d.FindingsFixed {
		lines = append(lines, st.Removed.Render("− ")+"fixed "+f.ID)
	}
	for _, l := range lines[:min(len(lines), driftLines)] {
		b.WriteString("  " + l + "\n")
	}
	if len(lines) > driftLines {
		b.WriteString(st.Muted.Render(fmt.Sprintf("  … and %d more changes", len(lines)-driftLines)) + "\n")
	}
	return strings.TrimRight(b.String(), "\n")
}
