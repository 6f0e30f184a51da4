package pages

import (
	"strconv"
	"strings"

	"charm.land/lipgloss/v2"

	"github.com/stridemap/stridemap/model"
	"github.com/stridemap/stridemap/tui/common"
	"github.com/stridemap/stridemap/tui/components"
)

// neighbour is one end of a flow in the diagram.
type neighbour struct {
	label   string // the neighbour's name
	group   string // its boundary, when it differs from the element's
	port    int32
	crosses bool // the flow crosses a trust boundary
}

// maxDiagramRows bounds the diagram; more neighbours are counted, not drawn.
const maxDiagramRows = 12

// Neighbourhood draws an element with its callers on the left and its
// callees on the right, one arrow per flow, labelled with the port. A flow
// that crosses a trust boundary is drawn with ┊ where it crosses, and a
// neighbour in another boundary has the boundary's name in ‹›.
//
//	                    ┌──────────────┐
//	web ‹shop› ───8080─▶│ api-gateway  │──8080─▶ catalog
//	                    │ shop         │──8080─▶ cart
//	                    └──────────────┘
func Neighbourhood(c *common.Common, x *common.GraphIndex, node int, width int) string {
	g := x.Graph
	n := &g.Nodes[node]
	home := common.GroupOf(n)
	ends := func(edges []int, other func(e *model.Edge) string) []neighbour {
		var out []neighbour
		for _, ei := range edges {
			e := &g.Edges[ei]
			nb := neighbour{label: other(e), port: e.Port, crosses: len(e.Crosses) > 0}
			if j, ok := x.Node(other(e)); ok {
				nb.label = g.Nodes[j].Name
				if grp := common.GroupOf(&g.Nodes[j]); grp != home {
					nb.group = grp
				}
			}
			out = append(out, nb)
		}
		return out
	}
	callers := ends(x.In[node], func(e *model.Edge) string { return e.From })
	callees := ends(x.Out[node], func(e *model.Edge) string { return e.To })

	moreIn, moreOut := 0, 0
	if len(callers) > maxDiagramRows {
		moreIn, callers = len(callers)-maxDiagramRows+1, callers[:maxDiagramRows-1]
	}
	if len(callees) > maxDiagramRows {
		moreOut, callees = len(callees)-maxDiagramRows+1, callees[:maxDiagramRows-1]
	}
	rows := max(len(callers)+btoi(moreIn > 0), len(callees)+btoi(moreOut > 0), 2)

	// Widths: the box in the middle, arrows of 9 cells, labels share the rest.
	box := []string{n.Name, home + " · " + string(n.Type)}
	boxW := 0
	for _, l := range box {
		boxW = max(boxW, lipgloss.Width(l))
	}
	boxW = min(boxW, max(width/3, 12))
	const arrowW = 9
	side := max((width-boxW-4-2*arrowW)/2, 6)

	st := c.Styles
	border := lipgloss.NewStyle().Foreground(st.Box)
	label := func(nb neighbour) string {
		s := nb.label
		if nb.group != "" {
			s += " ‹" + nb.group + "›"
		}
		return s
	}
	arrow := func(nb neighbour) string {
		port := ""
		if nb.port > 0 {
			port = strconv.Itoa(int(nb.port))
		}
		mid := "─"
		if nb.crosses {
			mid = "┊"
		}
		body := mid + port
		dashes := arrowW - 1 - lipgloss.Width(body)
		return strings.Repeat("─", max(dashes, 1)) + body + "▶"
	}

	var b strings.Builder
	blank := strings.Repeat(" ", side+arrowW)
	b.WriteString(blank + border.Render("┌"+strings.Repeat("─", boxW+2)+"┐") + "\n")
	for r := range rows {
		left := blank
		switch {
		case r < len(callers):
			name := strings.TrimRight(components.Fit(label(callers[r]), side-1), " ") + " "
			left = lipgloss.PlaceHorizontal(side, lipgloss.Right, name) + border.Render(arrow(callers[r]))
		case r == len(callers) && moreIn > 0:
			left = lipgloss.PlaceHorizontal(side+arrowW, lipgloss.Right, st.Muted.Render("+"+strconv.Itoa(moreIn)+" more ── "))
		}
		content := ""
		if r < len(box) {
			content = box[r]
		}
		mid := border.Render("│") + " " + components.Fit(content, boxW) + " " + border.Render("│")
		if r == 0 {
			mid = border.Render("│") + " " + st.Bold.Render(components.Fit(content, boxW)) + " " + border.Render("│")
		}
		right := ""
		switch {
		case r < len(callees):
			right = border.Render(arrow(callees[r])) + " " + components.Fit(label(callees[r]), side-1)
		case r == len(callees) && moreOut > 0:
			right = st.Muted.Render(" ── +" + strconv.Itoa(moreOut) + " more")
		}
		b.WriteString(left + mid + right + "\n")
	}
	b.WriteString(blank + border.Render("└"+strings.Repeat("─", boxW+2)+"┘"))
	if len(callers) == 0 && len(callees) == 0 {
		b.WriteString("\n" + st.Muted.Render("no flows in or out"))
	}
	return b.String()
}

func btoi(b bool) int {
	if b {
		return 1
	}
	return 0
}
