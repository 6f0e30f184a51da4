package export

import (
	"fmt"
	"io"
	"strings"
	"text/tabwriter"

	"github.com/stridemap/stridemap/internal/safetext"
	"github.com/stridemap/stridemap/model"
)

// WriteTable writes the graph for people at a terminal: the elements, then
// every flow with how it is protected and where it is declared.
func WriteTable(w io.Writer, g *model.Graph) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "ELEMENT\tTYPE\tKIND\tEXPOSED\tDETAIL")
	for _, n := range g.Nodes {
		var exposed []string
		for _, x := range n.Exposure {
			exposed = append(exposed, safetext.Text(x.Kind))
		}
		detail := ""
		if n.DataStore != nil {
			detail = safetext.Cell(n.DataStore.Engine) + " (" + safetext.Cell(n.DataStore.Evidence.Detail) + ")"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", safetext.Cell(n.ID), n.Type, safetext.Cell(n.Kind), dash(strings.Join(exposed, ",")), detail)
	}
	fmt.Fprintln(tw, "\t\t\t\t")
	fmt.Fprintln(tw, "FLOW\tPORT\tPROTOCOL\tENCRYPTION\tDECLARED AT")
	for _, e := range g.Edges {
		at := ""
		if len(e.Evidence) > 0 {
			at = safetext.Cell(e.Evidence[0].Location())
		}
		fmt.Fprintf(tw, "%s → %s\t%d\t%s\t%s\t%s\n", safetext.Cell(e.From), safetext.Cell(e.To), e.Port, safetext.Cell(string(e.Protocol)), e.Encryption, at)
	}
	return tw.Flush()
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
