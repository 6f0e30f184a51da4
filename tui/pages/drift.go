package pages

import (
	"fmt"
	"strconv"
	"strings"

	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"
	"charm.land/lipgloss/v2"

	"github.com/stridemap/stridemap/internal/safetext"
	"github.com/stridemap/stridemap/model/store"
	"github.com/stridemap/stridemap/threats"
	"github.com/stridemap/stridemap/tui/common"
	"github.com/stridemap/stridemap/tui/components"
)

// DriftSection is one kind of change the Drift page lists; the section
// filter shows one at a time, or all.
type DriftSection int

// The sections, in the order the page lists them (as stridemap diff does).
const (
	AllSections DriftSection = iota
	ElementsSection
	FlowsSection
	BoundariesSection
	ControlsSection
	FindingsSection
	PathsSection
	driftSections
)

func (s DriftSection) String() string {
	return [...]string{"all", "elements", "flows", "boundaries", "controls", "findings", "attack paths"}[s]
}

// short names one change of the section, for the table's narrow column.
func (s DriftSection) short() string {
	return [...]string{"", "element", "flow", "boundary", "control", "finding", "path"}[s]
}

// The signs of a change, as stridemap diff prints them.
const (
	signAdded      = "+"
	signRemoved    = "-"
	signChanged    = "~"
	signUnassessed = "?"
)

// DriftRow is one change: its section, its sign, what it is about (an ID),
// a one-line summary, and where it is on the Map. Text from the input is
// escaped when the row is built.
type DriftRow struct {
	Section DriftSection
	Sign    string
	ID      string
	Summary string
	// Target is the element or flow the change is on, as the Map knows
	// it; "" when it has none (a boundary).
	Target string
	// Gone says the change is about something only the old scan has: a
	// removed element or flow, or a lost control, a fixed finding, a closed
	// path, whose element may be gone with it.
	Gone bool
	// detail renders the row's detail pane text, width cells wide.
	detail func(width int) string
}

// picking is which side of the comparison the scan picker chooses.
type picking int

const (
	pickNone picking = iota
	pickOld
	pickNew
)

// Drift compares two scans: by default the scan shown and the previous
// scan of its target; o and n pick others. It lists what changed, section
// by section, with each change's detail, and m opens the Map on the
// element or flow a change is about.
type Drift struct {
	c *common.Common

	shown    *store.ScanInfo    // the scan the app (and the Map) shows
	graph    *common.GraphIndex // its graph, to know what the Map can show
	old, new *store.ScanInfo
	loading  bool
	err      error
	drift    *threats.Drift

	all     []DriftRow
	counts  [driftSections]int
	section DriftSection
	rows    []int // indices into all that pass the section filter

	table  *components.Table
	detail *components.Detail
	zoomed bool

	picking  picking
	scans    []store.ScanInfo // the store's scans, newest first, once listed
	scansErr error
	picker   *components.Table
	// confirm is the scan of another target picked once: picking it
	// again compares anyway.
	confirm int64

	width, height int
}

// NewDrift returns the page, empty until ScanLoadedMsg.
func NewDrift(c *common.Common) *Drift {
	p := &Drift{c: c}
	p.table = components.NewTable(c, []components.Column{
		{Title: " ", Width: 1},
		{Title: "WHAT", Width: 8},
		{Title: "ID", Min: 12},
		{Title: "CHANGE", Min: 12},
	}, p.cells)
	p.picker = components.NewTable(c, []components.Column{
		{Title: "", Width: 3},
		{Title: "SCAN", Width: 5},
		{Title: "STARTED", Width: 20},
		{Title: "ELEMENTS", Width: 8},
		{Title: "FLOWS", Width: 6},
		{Title: "FINDINGS", Width: 8},
		{Title: "TARGET", Min: 10},
	}, p.scanCells)
	p.detail = components.NewDetail(c)
	return p
}

// Title implements Page.
func (p *Drift) Title() string { return "Drift" }

// Capturing implements Page: the scan picker takes every key until enter
// or esc.
func (p *Drift) Capturing() bool { return p.picking != pickNone }

// ShortHelp implements Page.
func (p *Drift) ShortHelp() []key.Binding {
	k := p.c.Keys
	if p.picking != pickNone {
		return []key.Binding{k.Up, k.Down, k.Confirm, k.Cancel}
	}
	return []key.Binding{k.Open, k.OldScan, k.NewScan, k.Section, k.ShowOnMap}
}

// SetSize implements Page.
func (p *Drift) SetSize(width, height int) {
	p.width, p.height = width, height
	p.layout()
}

func (p *Drift) wide() bool { return p.width >= wideWidth }

// layout sizes the table and the detail pane below the two header lines.
func (p *Drift) layout() {
	h := max(p.height-2, 1)
	if p.wide() {
		tw := p.width * 11 / 20
		p.table.SetSize(tw, h)
		p.detail.SetSize(p.width-tw-3, h)
	} else {
		p.table.SetSize(p.width, h)
		p.detail.SetSize(p.width, h)
	}
	p.picker.SetSize(p.width, max(p.height-2, 1))
	p.refreshDetail()
}

// Update implements Page.
func (p *Drift) Update(msg tea.Msg) tea.Cmd {
	switch msg := msg.(type) {
	case common.ScanLoadedMsg:
		scan := msg.Scan
		p.shown, p.new, p.old, p.graph = &scan, &scan, msg.Previous, nil
		p.drift, p.err, p.loading, p.picking, p.confirm = nil, nil, p.old != nil, pickNone, 0
		p.setRows(nil)
	case common.GraphLoadedMsg:
		p.graph = msg.Graph
	case common.DriftLoadedMsg:
		if p.old == nil || p.new == nil || msg.From.ID != p.old.ID || msg.To.ID != p.new.ID {
			return nil // an earlier pick's, or the Overview's after a pick
		}
		p.loading, p.err = false, msg.Err
		if msg.Err != nil {
			p.setRows(nil)
			return nil
		}
		p.setRows(&msg.Drift)
	case common.ScansListedMsg:
		p.scans, p.scansErr = msg.Scans, msg.Err
		p.picker.SetCount(len(p.scans))
		p.pickerCursor()
	case tea.KeyPressMsg:
		return p.key(msg)
	case tea.MouseClickMsg:
		if msg.Button != tea.MouseLeft {
			return nil
		}
		if p.picking != pickNone {
			p.picker.Click(msg.Y - 1) // the title is line 0
			return nil
		}
		if msg.X < p.table.Width() || !p.wide() {
			if p.table.Click(msg.Y - 2) { // two header lines
				p.zoomed = false
				p.refreshDetail()
			}
			return nil
		}
		p.zoomed = true
	case tea.MouseWheelMsg:
		switch {
		case p.picking != pickNone:
			p.picker.Update(msg)
		case p.wide() && msg.X >= p.table.Width() || p.zoomed && !p.wide():
			p.detail.Update(msg)
		case p.table.Update(msg):
			p.refreshDetail()
		}
	}
	return nil
}

func (p *Drift) key(msg tea.KeyPressMsg) tea.Cmd {
	k := p.c.Keys
	if p.picking != pickNone {
		switch {
		case key.Matches(msg, k.Cancel):
			p.picking, p.confirm = pickNone, 0
		case key.Matches(msg, k.Confirm):
			return p.pick()
		default:
			if p.picker.Update(msg) {
				p.confirm = 0
			}
		}
		return nil
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
	case key.Matches(msg, k.OldScan):
		return p.openPicker(pickOld)
	case key.Matches(msg, k.NewScan):
		return p.openPicker(pickNew)
	case key.Matches(msg, k.Section):
		p.section = (p.section + 1) % driftSections
		p.refilter()
	case key.Matches(msg, k.Open):
		if p.table.Cursor() >= 0 {
			p.zoomed = true
		}
	case key.Matches(msg, k.ShowOnMap):
		return p.showOnMap()
	default:
		if p.table.Update(msg) {
			p.refreshDetail()
		}
	}
	return nil
}

// openPicker lists the store's scans afresh (another scan may have been
// stored since) for the side to pick.
func (p *Drift) openPicker(side picking) tea.Cmd {
	if p.new == nil {
		return nil
	}
	p.picking, p.confirm, p.scans, p.scansErr = side, 0, nil, nil
	p.picker.SetCount(0)
	return common.ListScansCmd(p.c.Ctx, p.c.Store)
}

// pickerCursor puts the picker's cursor on the scan the side has now.
func (p *Drift) pickerCursor() {
	cur := p.new
	if p.picking == pickOld {
		cur = p.old
	}
	for i := range p.scans {
		if cur != nil && p.scans[i].ID == cur.ID {
			p.picker.Select(i)
			return
		}
	}
	p.picker.Select(0)
}

// other is the side of the comparison the picker does not change.
func (p *Drift) other() *store.ScanInfo {
	if p.picking == pickOld {
		return p.new
	}
	return p.old
}

// otherTarget reports whether scan is of another target than the side the
// picker does not change: comparing them is rarely meant.
func (p *Drift) otherTarget(scan store.ScanInfo) bool {
	o := p.other()
	return o != nil && !store.SameTarget(*o, scan)
}

// pick takes the scan under the picker's cursor for its side and starts
// the comparison. A scan compared with itself is refused; one of another
// target needs a second enter.
func (p *Drift) pick() tea.Cmd {
	i := p.picker.Cursor()
	if i < 0 || i >= len(p.scans) {
		return nil
	}
	scan := p.scans[i]
	if o := p.other(); o != nil && o.ID == scan.ID {
		return errorCmd(fmt.Errorf("scan #%d is already on the other side: pick another scan to compare it with", scan.ID))
	}
	if p.otherTarget(scan) && p.confirm != scan.ID {
		p.confirm = scan.ID
		return statusCmd(safetext.Text(fmt.Sprintf("scan #%d is of another target (%s): enter again to compare anyway, esc to cancel",
			scan.ID, scan.Target)))
	}
	if p.picking == pickOld {
		p.old = &scan
	} else {
		p.new = &scan
	}
	p.picking, p.confirm = pickNone, 0
	if p.old == nil {
		return nil // the new side was picked with nothing to compare it with yet
	}
	p.loading, p.err = true, nil
	p.setRows(nil)
	return tea.Batch(common.LoadDriftCmd(p.c.Ctx, p.c.Store, *p.old, *p.new),
		statusCmd(fmt.Sprintf("Comparing scan #%d with scan #%d…", p.old.ID, p.new.ID)))
}

func statusCmd(text string) tea.Cmd {
	return func() tea.Msg { return common.StatusMsg{Text: text} }
}

func errorCmd(err error) tea.Cmd {
	return func() tea.Msg { return common.ErrorMsg{Err: err} }
}

// showOnMap opens the Map on the selected change's element or flow, or
// says in the status line why it cannot.
func (p *Drift) showOnMap() tea.Cmd {
	r := p.Selected()
	if r == nil {
		return nil
	}
	if r.Target == "" {
		return errorCmd(fmt.Errorf("%s is not an element or a flow: nothing to show on the Map", safetext.Text(r.ID)))
	}
	target := safetext.Text(r.Target)
	if p.graph == nil {
		return statusCmd("The Map is still loading the graph; try again in a moment")
	}
	element, flow := p.locate(r.Target)
	switch {
	case element == "" && r.Gone:
		return errorCmd(fmt.Errorf("%s was removed: it is not in scan #%d, so the Map cannot show it", target, p.shown.ID))
	case element == "":
		return errorCmd(fmt.Errorf("%s is not in scan #%d, the scan the Map shows (ctrl+r reloads the latest)", target, p.shown.ID))
	}
	return tea.Batch(func() tea.Msg { return common.ShowOnMapMsg{Element: element, Flow: flow} },
		statusCmd(fmt.Sprintf("Map of scan #%d: %s", p.shown.ID, target)))
}

// locate finds id on the Map: an element, or a flow (shown from the
// element it leaves).
func (p *Drift) locate(id string) (element, flow string) {
	if _, ok := p.graph.Node(id); ok {
		return id, ""
	}
	for i := range p.graph.Graph.Edges {
		if e := &p.graph.Graph.Edges[i]; e.ID == id {
			return e.From, e.ID
		}
	}
	return "", ""
}

// Selected is the selected change, or nil.
func (p *Drift) Selected() *DriftRow {
	c := p.table.Cursor()
	if c < 0 || c >= len(p.rows) {
		return nil
	}
	return &p.all[p.rows[c]]
}

// Rows are the changes that pass the section filter, in order.
func (p *Drift) Rows() []DriftRow {
	out := make([]DriftRow, len(p.rows))
	for i, r := range p.rows {
		out[i] = p.all[r]
	}
	return out
}

// Pair is the scans compared: old and new; old is nil when there is none.
func (p *Drift) Pair() (old, new *store.ScanInfo) { return p.old, p.new }

// Picking reports whether the scan picker is open.
func (p *Drift) Picking() bool { return p.picking != pickNone }

// setRows builds the rows of d (none when nil).
func (p *Drift) setRows(d *threats.Drift) {
	p.drift = d
	p.all = nil
	if d != nil {
		p.all = driftRows(p.c, d, p.old.ID, p.new.ID)
	}
	p.counts = [driftSections]int{}
	for _, r := range p.all {
		p.counts[r.Section]++
	}
	p.counts[AllSections] = len(p.all)
	p.zoomed = false
	p.refilter()
	p.table.Select(0)
	p.refreshDetail()
}

func (p *Drift) refilter() {
	p.rows = p.rows[:0]
	for i, r := range p.all {
		if p.section == AllSections || r.Section == p.section {
			p.rows = append(p.rows, i)
		}
	}
	p.table.SetCount(len(p.rows))
	p.refreshDetail()
}

func (p *Drift) signStyle(sign string) lipgloss.Style {
	st := p.c.Styles
	switch sign {
	case signAdded:
		return st.Added
	case signRemoved:
		return st.Removed
	case signChanged:
		return st.FilterOn
	}
	return st.Muted
}

func (p *Drift) cells(row int) ([]string, []lipgloss.Style) {
	r := &p.all[p.rows[row]]
	st := p.c.Styles
	return []string{r.Sign, r.Section.short(), r.ID, r.Summary},
		[]lipgloss.Style{p.signStyle(r.Sign), st.Muted, st.Row, st.Muted}
}

func (p *Drift) scanCells(row int) ([]string, []lipgloss.Style) {
	s := &p.scans[row]
	st := p.c.Styles
	mark := ""
	switch {
	case p.old != nil && s.ID == p.old.ID:
		mark = "old"
	case p.new != nil && s.ID == p.new.ID:
		mark = "new"
	}
	target := safetext.Text(s.Target.String())
	targetStyle := st.Muted
	if p.otherTarget(*s) {
		target, targetStyle = "≠ "+target, st.Error
	}
	return []string{mark, "#" + strconv.FormatInt(s.ID, 10), p.c.Time(s.StartedAt), strconv.Itoa(s.Counts.Nodes),
			strconv.Itoa(s.Counts.Edges), strconv.Itoa(s.Counts.Findings), target},
		[]lipgloss.Style{st.FilterOn, st.Bold, st.Row, st.Row, st.Row, st.Row, targetStyle}
}

// header is the first line: which scans are compared, of what.
func (p *Drift) header() string {
	st := p.c.Styles
	scan := func(s *store.ScanInfo) string {
		return st.Bold.Render(fmt.Sprintf("scan #%d", s.ID)) + st.Muted.Render(" ("+p.c.Time(s.StartedAt)+")")
	}
	line := scan(p.old) + " → " + scan(p.new)
	switch {
	case p.old.Target.Same(p.new.Target):
		line += st.Muted.Render(" of " + safetext.Text(p.new.Target.String()))
	case store.SameTarget(*p.old, *p.new):
		line += st.Muted.Render(" (a scan stored before targets were recorded)")
	default:
		line += " " + st.Error.Render("different targets")
	}
	return line
}

// sectionBar is the second line: each section with its count, the one
// shown highlighted.
func (p *Drift) sectionBar() string {
	st := p.c.Styles
	parts := make([]string, 0, driftSections)
	for s := range driftSections {
		name := s.String()
		if s == PathsSection && !p.wide() {
			name = "paths" // so the bar fits 80 columns
		}
		label := fmt.Sprintf("%s %d", name, p.counts[s])
		if s == p.section {
			parts = append(parts, st.FilterOn.Render(label))
		} else {
			parts = append(parts, st.FilterOff.Render(label))
		}
	}
	sep := " │ "
	if !p.wide() {
		sep = "  "
	}
	return strings.Join(parts, st.Muted.Render(sep))
}

// View implements Page.
func (p *Drift) View() string {
	st := p.c.Styles
	if p.new == nil {
		return components.FitLines(st.Muted.Render("Loading the scan…"), p.width, p.height)
	}
	if p.picking != pickNone {
		return p.pickerView()
	}
	if p.old == nil {
		return components.FitLines(p.emptyView(), p.width, p.height)
	}
	var body string
	p.table.SetFocused(!p.zoomed)
	h := p.table.Height() + 1
	switch {
	case p.loading:
		body = st.Muted.Render(fmt.Sprintf("Comparing scan #%d with scan #%d…", p.old.ID, p.new.ID))
	case p.err != nil:
		body = st.Error.Render("Could not compare the scans:") + "\n" + components.Wrap(safetext.Text(p.err.Error()), p.width)
	case len(p.all) == 0:
		body = fmt.Sprintf("Nothing changed from scan #%d to scan #%d.", p.old.ID, p.new.ID)
	case p.wide():
		body = components.SideBySide(p.table.View(), p.table.Width(), st.Border.Render(" │ "), p.detail.View(), p.detail.Width(), h)
	case p.zoomed:
		body = p.detail.View()
	default:
		body = p.table.View()
	}
	return components.FitLines(p.header()+"\n"+p.sectionBar()+"\n"+body, p.width, p.height)
}

// emptyView says there is nothing to compare with, and how to get it.
func (p *Drift) emptyView() string {
	st := p.c.Styles
	k := p.c.Keys
	var b strings.Builder
	b.WriteString(st.Bold.Render(fmt.Sprintf("No earlier scan of this target to compare scan #%d with.", p.new.ID)) + "\n\n")
	b.WriteString("Re-scan the same sources after a change, or let stridemap watch re-scan them:\n\n")
	b.WriteString("    " + st.Command.Render("stridemap scan -f DIR") + "\n")
	b.WriteString("    " + st.Command.Render("stridemap watch -f DIR --every 10m") + "\n\n")
	b.WriteString(st.Muted.Render("Then " + k.Reload.Help().Key + " reloads. " + k.OldScan.Help().Key +
		" picks any stored scan to compare with, of another target too."))
	return st.Empty.Render(components.Wrap(b.String(), p.width-st.Empty.GetHorizontalFrameSize()))
}

func (p *Drift) pickerView() string {
	st := p.c.Styles
	k := p.c.Keys
	side, with := "OLD", p.new
	if p.picking == pickNew {
		side, with = "NEW", p.old
	}
	title := st.Heading.Render("Pick the " + side + " scan")
	if with != nil {
		title += st.Muted.Render(fmt.Sprintf(" to compare with scan #%d", with.ID))
	}
	title += st.Muted.Render(" · " + k.Confirm.Help().Key + " picks, " + k.Cancel.Help().Key + " cancels")
	legend := st.Muted.Render("≠ another target: pick it twice to compare anyway")
	var body string
	switch {
	case p.scansErr != nil:
		body = st.Error.Render("Could not list the scans: ") + safetext.Text(p.scansErr.Error())
	case p.scans == nil:
		body = st.Muted.Render("Listing the scans…")
	default:
		body = p.picker.View()
	}
	return components.FitLines(title+"\n"+legend+"\n"+body, p.width, p.height)
}

// refreshDetail renders the selected change into the detail pane.
func (p *Drift) refreshDetail() {
	r := p.Selected()
	if r == nil {
		msg := "No change selected."
		if len(p.all) > 0 {
			msg = "No change in this section; " + p.c.Keys.Section.Help().Key + " shows the next."
		}
		p.detail.SetContent("", p.c.Styles.Muted.Render(msg))
		return
	}
	text := r.detail(p.detail.Width())
	st := p.c.Styles
	switch {
	case r.Target == "":
	case r.Gone && (r.Section == ElementsSection || r.Section == FlowsSection):
		text += "\n\n" + st.Muted.Render("Removed: the Map cannot show it.")
	default:
		text += "\n\n" + st.Muted.Render(components.Wrap(p.c.Keys.ShowOnMap.Help().Key+" shows "+safetext.Text(r.Target)+" on the Map.", p.detail.Width()))
	}
	p.detail.SetContent(r.Section.String()+r.Sign+r.ID, text)
}
