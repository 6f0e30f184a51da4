package pages

import (
	"fmt"
	"strconv"
	"strings"

	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"
	"charm.land/lipgloss/v2"

	"github.com/stridemap/stridemap/internal/safetext"
	"github.com/stridemap/stridemap/model"
	"github.com/stridemap/stridemap/tui/common"
	"github.com/stridemap/stridemap/tui/components"
)

// mapRow is one line of the element list: a group heading (node -1) or a
// node.
type mapRow struct {
	group int
	node  int
}

// flowRef is one flow of the selected element, in or out.
type flowRef struct {
	edge     int
	inbound  bool
	neighbor string // the node at the other end
}

// Map lists every element grouped by boundary and shows the selected one's
// flows and neighbourhood. Enter on an element moves into its flows; enter
// on a flow jumps to the element at its other end; backspace goes back.
type Map struct {
	c     *common.Common
	graph *common.GraphIndex

	rows     []mapRow
	list     *components.List
	detail   *components.Detail
	input    *components.Input
	query    string
	flows    []flowRef
	flow     int  // the selected flow
	inFlows  bool // the cursor is in the flows, not the element list
	flowLine int  // the detail line of the first flow, to keep the selected one visible
	back     []string

	// The selected workload's suggested policy, rendered once per
	// selection: its rules are matched to its flows, which a hub with
	// many flows makes too slow to redo on every key.
	suggested      []string
	suggestedFor   int
	suggestedGraph *common.GraphIndex

	width, height int
}

// NewMap returns the page, empty until GraphLoadedMsg.
func NewMap(c *common.Common) *Map {
	p := &Map{c: c, detail: components.NewDetail(c), input: components.NewInput(c)}
	p.list = components.NewList(c, p.renderRow)
	p.list.SetSkip(func(i int) bool { return p.rows[i].node < 0 })
	return p
}

// Title implements Page.
func (p *Map) Title() string { return "Map" }

// Capturing implements Page.
func (p *Map) Capturing() bool { return p.input.Active() }

// ShortHelp implements Page.
func (p *Map) ShortHelp() []key.Binding {
	k := p.c.Keys
	if p.input.Active() {
		return []key.Binding{k.Confirm, k.Cancel}
	}
	if p.inFlows {
		return []key.Binding{k.Jump, k.Back, k.PageDown, k.Left}
	}
	return []key.Binding{k.Jump, k.Back, k.Search, k.Left, k.Right}
}

func (p *Map) listWidth() int { return min(max(p.width/3, 24), 44) }

// SetSize implements Page.
func (p *Map) SetSize(width, height int) {
	p.width, p.height = width, height
	p.layout()
}

func (p *Map) layout() {
	h := p.height - 1 // the title line
	if p.input.Active() {
		h--
	}
	p.list.SetSize(p.listWidth(), max(h, 1))
	p.detail.SetSize(max(p.width-p.listWidth()-3, 1), max(h, 1))
	p.input.SetWidth(p.width)
	p.refreshDetail()
}

// Update implements Page.
func (p *Map) Update(msg tea.Msg) tea.Cmd {
	switch msg := msg.(type) {
	case common.ScanLoadedMsg:
		p.graph, p.back, p.query = nil, nil, ""
		p.rebuild()
	case common.GraphLoadedMsg:
		p.graph = msg.Graph
		p.rebuild()
		p.list.Select(0)
		p.selectionChanged()
	case common.ShowOnMapMsg:
		p.focus(msg.Element, msg.Flow)
	case tea.KeyPressMsg:
		return p.key(msg)
	case tea.PasteMsg:
		if p.input.Active() {
			return p.input.Update(msg)
		}
	case tea.MouseClickMsg:
		if msg.Button != tea.MouseLeft || p.input.Active() {
			return nil
		}
		if msg.X < p.listWidth() {
			if p.list.Click(msg.Y - 1) {
				p.inFlows = false
				p.selectionChanged()
			}
			return nil
		}
		// A click on a flow line selects the flow.
		line := msg.Y - 1 + p.detail.YOffset()
		if i := line - p.flowLine; i >= 0 && i < len(p.flows) && p.flowLine > 0 {
			p.inFlows, p.flow = true, i
			p.refreshDetail()
		}
	case tea.MouseWheelMsg:
		if msg.X < p.listWidth() {
			if p.list.Update(msg) {
				p.selectionChanged()
			}
			return nil
		}
		p.detail.Update(msg)
	}
	return nil
}

func (p *Map) key(msg tea.KeyPressMsg) tea.Cmd {
	k := p.c.Keys
	if p.input.Active() {
		switch {
		case key.Matches(msg, k.Confirm):
			p.input.Close()
			p.layout()
			return nil
		case key.Matches(msg, k.Cancel):
			p.input.Close()
			p.setQuery("")
			p.layout()
			return nil
		}
		cmd := p.input.Update(msg)
		p.setQuery(p.input.Value())
		return cmd
	}
	switch {
	case key.Matches(msg, k.Search):
		cmd := p.input.Open("filter elements", "name, namespace or type", p.query)
		p.layout()
		return cmd
	case key.Matches(msg, k.Back):
		p.goBack()
	case key.Matches(msg, k.Jump):
		if !p.inFlows {
			p.inFlows = len(p.flows) > 0
			p.refreshDetail()
			return nil
		}
		if p.flow < len(p.flows) {
			p.jump(p.flows[p.flow].neighbor)
		}
	case key.Matches(msg, k.Right):
		p.inFlows = len(p.flows) > 0
		p.refreshDetail()
	case key.Matches(msg, k.Left), key.Matches(msg, k.Cancel):
		if !p.inFlows && key.Matches(msg, k.Cancel) && p.query != "" {
			p.setQuery("")
			return nil
		}
		p.inFlows = false
		p.refreshDetail()
	case p.inFlows && key.Matches(msg, k.PageUp, k.PageDown, k.Top, k.Bottom):
		// In the flows, the pane is what moves: down to the suggested
		// policy under the neighbourhood, say.
		p.detail.Update(msg)
	case p.inFlows && key.Matches(msg, k.Up):
		p.flow = max(p.flow-1, 0)
		p.refreshDetail()
	case p.inFlows && key.Matches(msg, k.Down):
		p.flow = min(p.flow+1, len(p.flows)-1)
		p.refreshDetail()
	default:
		if p.list.Update(msg) {
			p.selectionChanged()
		}
	}
	return nil
}

// setQuery filters the element list.
func (p *Map) setQuery(q string) {
	q = strings.ToLower(q)
	if q == p.query {
		return
	}
	cur := p.Selected()
	p.query = q
	p.rebuild()
	p.selectNode(cur)
	p.selectionChanged()
}

// rebuild lays the groups and their matching nodes out as rows.
func (p *Map) rebuild() {
	p.rows = p.rows[:0]
	if p.graph == nil {
		p.list.SetCount(0)
		return
	}
	g := p.graph.Graph
	for gi, grp := range p.graph.Groups {
		start := len(p.rows)
		p.rows = append(p.rows, mapRow{group: gi, node: -1})
		for _, ni := range grp.Nodes {
			n := &g.Nodes[ni]
			if p.query != "" && !strings.Contains(strings.ToLower(n.ID), p.query) && !strings.Contains(string(n.Type), p.query) {
				continue
			}
			p.rows = append(p.rows, mapRow{group: gi, node: ni})
		}
		if len(p.rows) == start+1 {
			p.rows = p.rows[:start]
		}
	}
	p.list.SetCount(len(p.rows))
}

// Selected is the ID of the selected element, or "".
func (p *Map) Selected() string {
	c := p.list.Cursor()
	if p.graph == nil || c < 0 || c >= len(p.rows) || p.rows[c].node < 0 {
		return ""
	}
	return p.graph.Graph.Nodes[p.rows[c].node].ID
}

// selectNode moves the cursor to the element with id, if it is listed.
func (p *Map) selectNode(id string) bool {
	if id == "" || p.graph == nil {
		return false
	}
	ni, ok := p.graph.Node(id)
	if !ok {
		return false
	}
	for i, r := range p.rows {
		if r.node == ni {
			p.list.Select(i)
			return true
		}
	}
	return false
}

// jump selects the element id, remembering where we were.
func (p *Map) jump(id string) {
	cur := p.Selected()
	if !p.selectNode(id) {
		p.setQuery("") // the filter hid it
		if !p.selectNode(id) {
			return
		}
	}
	if cur != "" && cur != id {
		p.back = append(p.back, cur)
	}
	p.inFlows = false
	p.selectionChanged()
}

// focus selects the element id as jump does, and its flow edgeID when
// that is one of its flows: where another page sends the reader.
func (p *Map) focus(id, edgeID string) {
	if p.input.Active() {
		p.input.Close()
		p.layout()
	}
	p.jump(id)
	if p.Selected() != id {
		return
	}
	for i, f := range p.flows {
		if p.graph.Graph.Edges[f.edge].ID == edgeID {
			p.inFlows, p.flow = true, i
			p.refreshDetail()
			return
		}
	}
}

// SelectedFlow is the ID of the selected flow while the cursor is in the
// flows, or "".
func (p *Map) SelectedFlow() string {
	if !p.inFlows || p.flow >= len(p.flows) {
		return ""
	}
	return p.graph.Graph.Edges[p.flows[p.flow].edge].ID
}

func (p *Map) goBack() {
	if len(p.back) == 0 {
		return
	}
	id := p.back[len(p.back)-1]
	p.back = p.back[:len(p.back)-1]
	if !p.selectNode(id) {
		p.setQuery("")
		p.selectNode(id)
	}
	p.inFlows = false
	p.selectionChanged()
}

// selectionChanged collects the selected element's flows.
func (p *Map) selectionChanged() {
	p.flows, p.flow = p.flows[:0], 0
	id := p.Selected()
	if id != "" {
		ni, _ := p.graph.Node(id)
		g := p.graph.Graph
		for _, e := range p.graph.In[ni] {
			p.flows = append(p.flows, flowRef{edge: e, inbound: true, neighbor: g.Edges[e].From})
		}
		for _, e := range p.graph.Out[ni] {
			p.flows = append(p.flows, flowRef{edge: e, neighbor: g.Edges[e].To})
		}
	}
	if len(p.flows) == 0 {
		p.inFlows = false
	}
	p.refreshDetail()
}

func glyph(t model.NodeType) string {
	switch t {
	case model.Process:
		return "●"
	case model.DataStore:
		return "◼"
	case model.Gateway:
		return "◆"
	case model.ExternalEntity:
		return "○"
	}
	return "·"
}

func (p *Map) renderRow(i int, selected bool, width int) string {
	st := p.c.Styles
	r := p.rows[i]
	grp := p.graph.Groups[r.group]
	if r.node < 0 {
		return st.GroupRow.Render(components.Fit("▾ "+grp.Name+" ("+strconv.Itoa(len(grp.Nodes))+")", width))
	}
	n := &p.graph.Graph.Nodes[r.node]
	right := string(n.Type)
	if c := p.graph.Findings[n.ID]; c > 0 {
		right = strconv.Itoa(c) + "! " + right
	}
	name := components.Fit("  "+glyph(n.Type)+" "+n.Name, max(width-lipgloss.Width(right)-1, 1))
	line := name + " " + right
	if selected {
		if p.inFlows {
			return st.Bold.Render(components.Fit(line, width))
		}
		return st.SelectedRow.Render(components.Fit(line, width))
	}
	return components.Fit(line, width)
}

// refreshDetail renders the selected element.
func (p *Map) refreshDetail() {
	id := p.Selected()
	if id == "" || p.width == 0 {
		p.detail.SetContent("", "")
		return
	}
	ni, _ := p.graph.Node(id)
	text, flowLine := p.elementDetail(ni, p.detail.Width())
	p.flowLine = flowLine
	p.detail.SetContent(id, text)
	if p.inFlows {
		p.detail.EnsureVisible(flowLine + p.flow)
	}
}

// elementDetail renders a node, its flows and its neighbourhood, and says
// on which line the flows start.
func (p *Map) elementDetail(ni, width int) (string, int) {
	st := p.c.Styles
	g := p.graph.Graph
	n := &g.Nodes[ni]
	var lines []string
	add := func(s string) { lines = append(lines, s) }
	add(st.Bold.Render(n.Name) + "  " + st.Muted.Render(string(n.Type)+" · "+n.Kind))
	add(st.Muted.Render(n.ID + " · boundary " + common.GroupOf(n)))
	if c := p.graph.Findings[n.ID]; c > 0 {
		add(fmt.Sprintf("%d findings on this element", c))
	}
	for _, ex := range n.Exposure {
		line := "exposed: " + ex.Kind + " via " + ex.Via
		if ex.Port > 0 {
			line += " :" + strconv.Itoa(int(ex.Port))
		}
		add(st.BadgeBad.Render(line))
	}
	for _, d := range n.Data {
		add(st.BadgeInfo.Render("data: " + d.Class + " (" + d.Source + ")"))
	}
	if n.DataStore != nil {
		add("data store: " + n.DataStore.Engine)
	}
	if n.Workload != nil && len(n.Workload.Running) > 0 {
		add("")
		add(st.Heading.Render("Running") + st.Muted.Render("  what the pods run, by digest"))
		for _, c := range n.Workload.Running {
			add(runningLine(&st, c))
		}
	}
	add("")
	nIn := len(p.graph.In[ni])
	add(st.Heading.Render(fmt.Sprintf("Flows  %d in · %d out", nIn, len(p.flows)-nIn)))
	first := len(lines)
	for i, f := range p.flows {
		add(p.flowLineText(f, i == p.flow && p.inFlows, width))
	}
	if len(p.flows) == 0 {
		add(st.Muted.Render("  none"))
	}
	add("")
	add(st.Heading.Render("Neighbourhood") + st.Muted.Render("  ┊ crosses a trust boundary · ‹ns› another boundary"))
	add(Neighbourhood(p.c, p.graph, ni, width))
	if section := p.suggestedPolicy(ni); len(section) > 0 {
		add("")
		lines = append(lines, section...)
	}
	// Lines are cut, never wrapped, so line numbers stay those of the flows.
	return components.FitLines(strings.Join(lines, "\n"), width, strings.Count(strings.Join(lines, "\n"), "\n")+1), first
}

// suggestedPolicy is the "Suggested NetworkPolicy" section of the node
// at ni, rendered again only when the selection or the graph changes.
func (p *Map) suggestedPolicy(ni int) []string {
	if p.suggestedGraph != p.graph || p.suggestedFor != ni {
		p.suggested = suggestedPolicy(&p.c.Styles, p.graph, ni)
		p.suggestedGraph, p.suggestedFor = p.graph, ni
	}
	return p.suggested
}

// runningLine renders one container the pods run: its name, the image
// the pod names and the digest that runs, and whether admission injected
// it. Names and images come from the cluster, so they are escaped.
func runningLine(st *common.Styles, c model.RunningContainer) string {
	name := safetext.Text(c.Name)
	if c.Init {
		name += " (init)"
	}
	digest := c.Digest
	if algorithm, hex, ok := strings.Cut(digest, ":"); ok && len(hex) > 12 {
		digest = algorithm + ":" + hex[:12] // as docker shortens image IDs
	}
	if digest == "" {
		digest = "not started"
	}
	line := "  " + name + "  " + safetext.Text(c.Image) + "  " + st.Muted.Render("@ "+safetext.Text(digest))
	if c.Injected {
		line += " " + st.BadgeInfo.Render("[injected]")
	}
	return line
}

// flowLineText renders one flow: direction, the other end, port, protocol
// and badges for how we know it, encryption and policy.
func (p *Map) flowLineText(f flowRef, selected bool, width int) string {
	st := p.c.Styles
	e := &p.graph.Graph.Edges[f.edge]
	arrow := "→"
	if f.inbound {
		arrow = "←"
	}
	other := f.neighbor
	port := ""
	if e.Port > 0 {
		port = ":" + strconv.Itoa(int(e.Port))
	}
	how := "declared"
	switch {
	case e.Declared && e.Observed:
		how = "declared+observed"
	case e.Observed:
		how = "observed"
	}
	enc := string(e.Encryption)
	encStyle := st.BadgeBad
	switch e.Encryption {
	case model.EncryptionTLS, model.EncryptionMTLS:
		encStyle = st.BadgeGood
	case model.EncryptionUnknown, "":
		enc, encStyle = "enc?", st.Muted
	}
	policy, polStyle := "no policy", st.BadgeBad
	switch e.Policy {
	case "allowed":
		policy, polStyle = "policy allows", st.BadgeGood
	case "denied":
		policy, polStyle = "policy denies", st.BadgeInfo
	}
	cross := ""
	if len(e.Crosses) > 0 {
		cross = " ┊"
	}
	plain := fmt.Sprintf("%s %s%s %s [%s] [%s] [%s]%s", arrow, other, port, e.Protocol, how, enc, policy, cross)
	if selected {
		return st.SelectedRow.Render(components.Fit(plain, width))
	}
	return components.Fit(fmt.Sprintf("%s %s%s %s %s %s %s%s", arrow, other, port, e.Protocol,
		st.BadgeInfo.Render("["+how+"]"), encStyle.Render("["+enc+"]"), polStyle.Render("["+policy+"]"), cross), width)
}

// View implements Page.
func (p *Map) View() string {
	st := p.c.Styles
	if p.graph == nil {
		return components.FitLines(st.Muted.Render("Loading the graph…"), p.width, p.height)
	}
	lw := p.listWidth()
	listTitle, flowTitle := st.Focused.Render("Elements"), st.Muted.Render("Element")
	if p.inFlows {
		listTitle, flowTitle = st.Muted.Render("Elements"), st.Focused.Render("Flows")
	}
	count := fmt.Sprintf(" %d", len(p.graph.Graph.Nodes))
	if p.query != "" {
		count = " filter " + st.FilterOn.Render(p.query)
	}
	back := ""
	if len(p.back) > 0 {
		back = st.Muted.Render(fmt.Sprintf("  %s back (%d)", p.c.Keys.Back.Help().Key, len(p.back)))
	}
	title := components.Fit(listTitle+st.Muted.Render(count), lw) + "   " + flowTitle + back
	h := p.list.Height()
	body := components.SideBySide(p.list.View(), lw, st.Border.Render(" │ "), p.detail.View(), p.detail.Width(), h)
	out := components.Fit(title, p.width) + "\n" + body
	if p.input.Active() {
		out += "\n" + components.Fit(p.input.View(), p.width)
	}
	return components.FitLines(out, p.width, p.height)
}
