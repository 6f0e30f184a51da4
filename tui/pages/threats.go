package pages

import (
	"fmt"
	"slices"
	"strconv"
	"strings"

	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"
	"charm.land/lipgloss/v2"

	"github.com/stridemap/stridemap/catalog"
	"github.com/stridemap/stridemap/internal/safetext"
	"github.com/stridemap/stridemap/model/store"
	"github.com/stridemap/stridemap/threats"
	"github.com/stridemap/stridemap/tui/common"
	"github.com/stridemap/stridemap/tui/components"
)

// wideWidth is the width from which the Threats and Questions pages show
// the table and the detail pane side by side; below it the detail pane
// opens over the table.
const wideWidth = 120

// prompt is what an open Input is for.
type prompt int

const (
	promptNone prompt = iota
	promptSearch
	promptTriage
)

// Threats is the findings table with its filters and detail pane, and
// triage in place.
type Threats struct {
	c        *common.Common
	findings *common.Findings
	triage   map[string]store.Decision

	// Filters. An empty strides set shows every category.
	strides     map[catalog.Stride]bool
	minSeverity threats.Severity
	namespaces  []string
	namespace   int // index into namespaces, -1 for all
	status      threats.Status
	query       string
	order       common.SortOrder
	rows        []int // record indices that pass the filters, in order

	table   *components.Table
	detail  *components.Detail
	input   *components.Input
	prompt  prompt
	pending threats.Status // the status a triage prompt will record
	target  string         // the finding a triage prompt is about
	zoomed  bool           // the detail pane is open (narrow) or focused (wide)
	history map[string][]store.Decision

	width, height int
}

// NewThreats returns the page, empty until FindingsLoadedMsg.
func NewThreats(c *common.Common) *Threats {
	p := &Threats{c: c, strides: map[catalog.Stride]bool{}, namespace: -1, history: map[string][]store.Decision{},
		triage: map[string]store.Decision{}}
	p.table = components.NewTable(c, nil, p.cells)
	p.setColumns()
	p.detail = components.NewDetail(c)
	p.input = components.NewInput(c)
	return p
}

// Title implements Page.
func (p *Threats) Title() string { return "Threats" }

// Capturing implements Page.
func (p *Threats) Capturing() bool { return p.input.Active() }

// ShortHelp implements Page.
func (p *Threats) ShortHelp() []key.Binding {
	k := p.c.Keys
	if p.input.Active() {
		return []key.Binding{k.Confirm, k.Cancel}
	}
	return []key.Binding{k.Open, k.Categories, k.Accept, k.Mitigated, k.FalsePositive, k.Reopen, k.Search, k.Severity, k.Namespace, k.Status, k.Sort}
}

// SetSize implements Page.
func (p *Threats) SetSize(width, height int) {
	p.width, p.height = width, height
	p.layout()
}

func (p *Threats) wide() bool { return p.width >= wideWidth }

// layout sizes the table, the detail pane and the prompt.
func (p *Threats) layout() {
	h := p.height - 1 // the filter bar
	if p.input.Active() {
		h--
	}
	h = max(h, 1)
	p.input.SetWidth(p.width)
	if p.wide() {
		tw := p.width * 11 / 20
		p.table.SetSize(tw, h)
		p.detail.SetSize(p.width-tw-3, h)
	} else {
		p.table.SetSize(p.width, h)
		p.detail.SetSize(p.width, h)
	}
	p.setColumns()
	p.refreshDetail()
}

func (p *Threats) setColumns() {
	cols := []components.Column{
		{Title: "SEVERITY", Width: 8},
		{Title: "S", Width: 1},
		{Title: "STATUS", Width: 9},
		{Title: "RULE", Min: 10},
		{Title: "ELEMENT", Min: 10},
	}
	p.table.SetColumns(cols)
}

// Update implements Page.
func (p *Threats) Update(msg tea.Msg) tea.Cmd {
	switch msg := msg.(type) {
	case common.ScanLoadedMsg:
		p.triage = msg.Triage
		p.history = map[string][]store.Decision{}
	case common.FindingsLoadedMsg:
		p.findings = msg.Findings
		p.namespaces = msg.Findings.Namespaces()
		p.namespace = -1
		p.refilter()
		return p.selectionChanged()
	case common.TriageSavedMsg:
		delete(p.history, msg.Decision.Subject)
		cur := p.table.Cursor()
		p.refilter()
		p.table.Select(cur)
		return p.selectionChanged()
	case common.TriageHistoryMsg:
		p.history[msg.FindingID] = msg.History
		p.refreshDetail()
	case tea.KeyPressMsg:
		return p.key(msg)
	case tea.PasteMsg:
		if p.input.Active() {
			return p.input.Update(msg)
		}
	case tea.MouseClickMsg:
		return p.click(msg)
	case tea.MouseWheelMsg:
		if p.wide() && msg.X >= p.table.Width() || p.zoomed && !p.wide() {
			p.detail.Update(msg)
			return nil
		}
		if p.table.Update(msg) {
			return p.selectionChanged()
		}
	}
	return nil
}

func (p *Threats) key(msg tea.KeyPressMsg) tea.Cmd {
	k := p.c.Keys
	if p.input.Active() {
		switch {
		case key.Matches(msg, k.Confirm):
			return p.submit()
		case key.Matches(msg, k.Cancel):
			if p.prompt == promptSearch {
				p.query = ""
				p.refilter()
			}
			p.closePrompt()
			return p.selectionChanged()
		}
		cmd := p.input.Update(msg)
		if p.prompt == promptSearch && p.query != strings.ToLower(p.input.Value()) {
			p.query = strings.ToLower(p.input.Value())
			p.refilter()
			return tea.Batch(cmd, p.selectionChanged())
		}
		return cmd
	}

	if p.zoomed {
		switch {
		case key.Matches(msg, k.Cancel), key.Matches(msg, k.Back), key.Matches(msg, k.Open):
			p.zoomed = false
			return nil
		case key.Matches(msg, k.Up, k.Down, k.PageUp, k.PageDown, k.Top, k.Bottom):
			p.detail.Update(msg)
			return nil
		}
	}

	switch {
	case key.Matches(msg, k.Search):
		p.prompt = promptSearch
		cmd := p.input.Open("search", "rule, element, namespace or title", p.query)
		p.layout()
		return cmd
	case key.Matches(msg, k.Open):
		if p.table.Cursor() >= 0 {
			p.zoomed = true
		}
		return nil
	case key.Matches(msg, k.Cancel):
		if p.query != "" {
			p.query = ""
			p.refilter()
			return p.selectionChanged()
		}
		return nil
	case key.Matches(msg, k.Accept):
		return p.startTriage(threats.Accepted)
	case key.Matches(msg, k.Mitigated):
		return p.startTriage(threats.Mitigated)
	case key.Matches(msg, k.FalsePositive):
		return p.startTriage(threats.FalsePositive)
	case key.Matches(msg, k.Reopen):
		return p.startTriage(threats.Open)
	case key.Matches(msg, k.Severity):
		p.minSeverity = nextSeverity(p.minSeverity)
	case key.Matches(msg, k.Namespace):
		p.namespace++
		if p.namespace >= len(p.namespaces) {
			p.namespace = -1
		}
	case key.Matches(msg, k.Status):
		p.status = nextStatus(p.status)
	case key.Matches(msg, k.Sort):
		p.order = p.order.Next()
	case key.Matches(msg, k.Clear):
		p.strides = map[catalog.Stride]bool{}
		p.minSeverity, p.namespace, p.status, p.query = "", -1, "", ""
	default:
		if s, ok := p.strideKey(msg); ok {
			p.strides[s] = !p.strides[s]
			if !p.strides[s] {
				delete(p.strides, s)
			}
			break
		}
		if p.table.Update(msg) {
			return p.selectionChanged()
		}
		return nil
	}
	p.refilter()
	return p.selectionChanged()
}

func (p *Threats) strideKey(msg tea.KeyPressMsg) (catalog.Stride, bool) {
	k := p.c.Keys
	for i, b := range []key.Binding{k.Spoofing, k.Tampering, k.Repudiation, k.InfoDisclosure, k.DenialOfService, k.Elevation} {
		if key.Matches(msg, b) {
			return catalog.Strides[i], true
		}
	}
	return "", false
}

func nextSeverity(s threats.Severity) threats.Severity {
	switch s {
	case "":
		return threats.Medium
	case threats.Medium:
		return threats.High
	case threats.High:
		return threats.Critical
	}
	return ""
}

func nextStatus(s threats.Status) threats.Status {
	if s == "" {
		return threats.Statuses[0]
	}
	i := slices.Index(threats.Statuses, s)
	if i+1 >= len(threats.Statuses) {
		return ""
	}
	return threats.Statuses[i+1]
}

func (p *Threats) click(msg tea.MouseClickMsg) tea.Cmd {
	if msg.Button != tea.MouseLeft || p.input.Active() {
		return nil
	}
	if p.zoomed && !p.wide() {
		return nil
	}
	if msg.X < p.table.Width() || !p.wide() {
		if p.table.Click(msg.Y - 1) { // the filter bar is line 0
			p.zoomed = false
			return p.selectionChanged()
		}
		return nil
	}
	p.zoomed = true
	return nil
}

// startTriage opens the reason prompt for the selected finding.
func (p *Threats) startTriage(status threats.Status) tea.Cmd {
	i := p.selected()
	if i < 0 {
		return nil
	}
	p.prompt, p.pending, p.target = promptTriage, status, p.findings.Records[i].ID
	verb := map[threats.Status]string{threats.Accepted: "accept", threats.Mitigated: "mitigated", threats.FalsePositive: "false positive", threats.Open: "reopen"}[status]
	placeholder := "why? enter saves, esc cancels"
	if status == threats.Open {
		placeholder = "why (optional)? enter saves, esc cancels"
	}
	cmd := p.input.Open(verb+" · reason", placeholder, "")
	p.layout()
	return cmd
}

// submit acts on Enter in the prompt.
func (p *Threats) submit() tea.Cmd {
	switch p.prompt {
	case promptSearch:
		p.closePrompt()
		return nil
	case promptTriage:
		reason := strings.TrimSpace(p.input.Value())
		if reason == "" && p.pending != threats.Open {
			return func() tea.Msg {
				return common.ErrorMsg{Err: fmt.Errorf("a reason is required to mark %s %s; type why, or esc to cancel", p.target, p.pending)}
			}
		}
		d := store.Decision{Subject: p.target, Status: string(p.pending), Reason: reason, Who: p.c.User, At: p.c.Now()}
		p.closePrompt()
		return common.SaveTriageCmd(p.c.Ctx, p.c.Store, d)
	}
	return nil
}

func (p *Threats) closePrompt() {
	p.input.Close()
	p.prompt = promptNone
	p.layout()
}

// refilter recomputes the rows that pass the filters, in the sort order:
// one pass over the findings, already sorted.
func (p *Threats) refilter() {
	p.rows = p.rows[:0]
	if p.findings == nil {
		p.table.SetCount(0)
		return
	}
	ns := ""
	if p.namespace >= 0 {
		ns = p.namespaces[p.namespace]
	}
	minRank := p.minSeverity.Rank()
	for _, i := range p.findings.Order(p.order) {
		r := &p.findings.Records[i]
		if len(p.strides) > 0 && !p.strides[catalog.Stride(r.Stride)] {
			continue
		}
		if minRank > 0 && threats.Severity(r.Severity).Rank() < minRank {
			continue
		}
		if ns != "" && r.Namespace != ns {
			continue
		}
		if p.status != "" && common.StatusOf(p.triage, r.ID) != p.status {
			continue
		}
		if p.query != "" && !p.findings.Matches(i, p.query) {
			continue
		}
		p.rows = append(p.rows, i)
	}
	p.table.SetCount(len(p.rows))
}

// selected is the record index of the selected row, or -1.
func (p *Threats) selected() int {
	c := p.table.Cursor()
	if c < 0 || c >= len(p.rows) {
		return -1
	}
	return p.rows[c]
}

// Selected is the ID of the selected finding, or "".
func (p *Threats) Selected() string {
	if i := p.selected(); i >= 0 {
		return p.findings.Records[i].ID
	}
	return ""
}

// Rows is the number of findings that pass the filters.
func (p *Threats) Rows() int { return len(p.rows) }

// RowRecords are the record indices of the rows, in order. Callers must not
// modify them.
func (p *Threats) RowRecords() []int { return p.rows }

// selectionChanged refreshes the detail pane and loads the selected
// finding's triage history if it is not loaded yet.
func (p *Threats) selectionChanged() tea.Cmd {
	p.refreshDetail()
	id := p.Selected()
	if id == "" {
		return nil
	}
	if _, ok := p.history[id]; ok {
		return nil
	}
	return common.LoadTriageHistoryCmd(p.c.Ctx, p.c.Store, id)
}

func (p *Threats) cells(row int) ([]string, []lipgloss.Style) {
	i := p.rows[row]
	r := &p.findings.Records[i]
	st := p.c.Styles
	sev := threats.Severity(r.Severity)
	status := common.StatusOf(p.triage, r.ID)
	return []string{r.Severity, catalog.Stride(r.Stride).Letter(), shortStatus(status), safetext.Text(r.RuleID), safetext.Text(r.Element)},
		[]lipgloss.Style{st.Severity(sev), st.Bold, st.Status(status), st.Row, st.Muted}
}

func shortStatus(s threats.Status) string {
	if s == threats.FalsePositive {
		return "false-pos"
	}
	return string(s)
}

// filterBar renders the first line: each filter and how many rows pass.
func (p *Threats) filterBar() string {
	st := p.c.Styles
	var b strings.Builder
	for _, s := range catalog.Strides {
		switch {
		case len(p.strides) == 0:
			b.WriteString(st.FilterOff.Render(s.Letter()))
		case p.strides[s]:
			b.WriteString(st.FilterOn.Render(s.Letter()))
		default:
			b.WriteString(st.FilterOff.Render("·"))
		}
	}
	part := func(label, value string, on bool) string {
		if on {
			return label + " " + st.FilterOn.Render(value)
		}
		return label + " " + st.FilterOff.Render(value)
	}
	sev := "any"
	if p.minSeverity != "" {
		sev = "≥" + string(p.minSeverity)
	}
	ns := "all"
	if p.namespace >= 0 {
		ns = p.namespaces[p.namespace]
	}
	status := "all"
	if p.status != "" {
		status = string(p.status)
	}
	parts := []string{b.String(), part("sev", sev, p.minSeverity != ""), part("ns", ns, p.namespace >= 0),
		part("status", status, p.status != "")}
	if p.query != "" {
		parts = append(parts, part("/", p.query, true))
	}
	parts = append(parts, "sort "+p.order.String())
	left := strings.Join(parts, st.Muted.Render(" │ "))
	total := 0
	if p.findings != nil {
		total = p.findings.Len()
	}
	right := fmt.Sprintf("%d of %d", len(p.rows), total)
	gap := p.width - lipgloss.Width(left) - lipgloss.Width(right)
	if gap < 1 {
		return components.Fit(left, p.width)
	}
	return left + strings.Repeat(" ", gap) + right
}

// View implements Page.
func (p *Threats) View() string {
	if p.findings == nil {
		return components.FitLines(p.c.Styles.Muted.Render("Loading findings…"), p.width, p.height)
	}
	var body string
	p.table.SetFocused(!p.zoomed)
	h := p.table.Height() + 1
	switch {
	case p.findings.Len() == 0:
		body = components.FitLines("No findings in this scan: the catalog found no threat.", p.width, h)
	case p.wide():
		sep := p.c.Styles.Border.Render(" │ ")
		right := p.detail.View()
		body = components.SideBySide(p.table.View(), p.table.Width(), sep, right, p.detail.Width(), h)
	case p.zoomed:
		body = p.detail.View()
	default:
		body = p.table.View()
	}
	out := p.filterBar() + "\n" + body
	if p.input.Active() {
		out += "\n" + components.Fit(p.input.View(), p.width)
	}
	return components.FitLines(out, p.width, p.height)
}

// refreshDetail renders the selected finding into the detail pane.
func (p *Threats) refreshDetail() {
	i := p.selected()
	if i < 0 || p.findings == nil {
		msg := "No finding selected."
		if p.findings != nil && len(p.rows) == 0 && p.findings.Len() > 0 {
			msg = "No finding matches the filters; c clears them."
		}
		p.detail.SetContent("", p.c.Styles.Muted.Render(msg))
		return
	}
	f, err := p.findings.Finding(i)
	if err != nil {
		p.detail.SetContent("", p.c.Styles.Error.Render(err.Error()))
		return
	}
	id := f.ID
	hist, loaded := p.history[id]
	p.detail.SetContent(id, FindingDetail(p.c, f, common.StatusOf(p.triage, id), hist, loaded, p.detail.Width()))
}

// FindingDetail renders a finding for the detail pane, width cells wide.
func FindingDetail(c *common.Common, f *threats.Finding, status threats.Status, history []store.Decision, historyLoaded bool, width int) string {
	st := c.Styles
	var b strings.Builder
	// Every text of a finding may quote the input: escaped before wrapping.
	wrap := func(s string, indent int) string {
		pad := strings.Repeat(" ", indent)
		lines := strings.Split(components.Wrap(safetext.Lines(strings.TrimSpace(s)), width-indent), "\n")
		return pad + strings.Join(lines, "\n"+pad)
	}
	section := func(title string) {
		b.WriteString("\n" + st.Heading.Render(title) + "\n")
	}
	b.WriteString(st.Bold.Render(wrap(f.Title(), 0)) + "\n")
	b.WriteString(st.Muted.Render(wrap(f.ID, 0)) + "\n")
	b.WriteString(st.Severity(f.Severity).Render(string(f.Severity)) + " · " + f.Stride.Letter() + " " + string(f.Stride) +
		" · likelihood " + strconv.Itoa(f.Likelihood) + " × impact " + strconv.Itoa(f.Impact) + " · " + st.Status(status).Render(string(status)) + "\n")
	if len(f.Raised) > 0 {
		b.WriteString(wrap("raised: "+strings.Join(f.Raised, "; "), 0) + "\n")
	}
	if f.Description() != "" {
		section("Description")
		b.WriteString(wrap(f.Description(), 2) + "\n")
	}

	var path, gaps []string
	section("Evidence")
	for _, ev := range f.Evidence {
		switch {
		case strings.HasPrefix(ev.Detail, "path:"):
			path = append(path, strings.TrimSpace(strings.TrimPrefix(ev.Detail, "path:")))
			continue
		case strings.HasPrefix(ev.Detail, "gap:"):
			gaps = append(gaps, strings.TrimSpace(strings.TrimPrefix(ev.Detail, "gap:")))
			continue
		}
		b.WriteString(wrap("• "+evidenceLine(ev), 2) + "\n")
	}
	if len(path) > 0 || len(gaps) > 0 {
		section("Attack path")
		for _, p := range path {
			hops := strings.Split(p, " → ")
			for j, hop := range hops {
				prefix := "  "
				if j > 0 {
					prefix = "  " + strings.Repeat(" ", min(j-1, 6)) + "└→ "
				}
				b.WriteString(components.Fit(prefix+safetext.Text(hop), width) + "\n")
			}
		}
		for _, g := range gaps {
			b.WriteString(wrap("gap: "+g, 2) + "\n")
		}
	}
	section("Missing control")
	b.WriteString(wrap(f.MissingControl, 2) + "\n")
	if f.Mitigation() != "" {
		section("Mitigation")
		b.WriteString(wrap(f.Mitigation(), 2) + "\n")
	}
	refs := f.References()
	if len(refs.CWE)+len(refs.CAPEC)+len(refs.ATTACK)+len(refs.OWASP)+len(refs.NSA) > 0 {
		section("References")
		for _, r := range []struct {
			name string
			list []string
		}{{"CWE", refs.CWE}, {"CAPEC", refs.CAPEC}, {"ATT&CK", refs.ATTACK}, {"OWASP", refs.OWASP}, {"NSA/CISA", refs.NSA}} {
			if len(r.list) > 0 {
				b.WriteString(wrap(r.name+": "+strings.Join(r.list, ", "), 2) + "\n")
			}
		}
	}
	section("Triage")
	switch {
	case !historyLoaded:
		b.WriteString(st.Muted.Render("  loading…") + "\n")
	case len(history) == 0:
		k := c.Keys
		hint := "  open; no decision yet — "
		for i, kb := range []key.Binding{k.Accept, k.Mitigated, k.FalsePositive} {
			if i > 0 {
				hint += " · "
			}
			hint += kb.Help().Key + " " + kb.Help().Desc
		}
		b.WriteString(st.Muted.Render(hint) + "\n")
	default:
		for _, d := range history {
			line := c.Time(d.At) + "  " + d.Status + " by " + d.Who
			if d.Reason != "" {
				line += ": " + d.Reason
			}
			b.WriteString(wrap(line, 2) + "\n")
		}
	}
	return strings.TrimRight(b.String(), "\n")
}
