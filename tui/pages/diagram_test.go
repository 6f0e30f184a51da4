package pages

import (
	"fmt"
	"regexp"
	"strings"
	"testing"

	"github.com/charmbracelet/colorprofile"
	"github.com/charmbracelet/x/ansi"

	"github.com/stridemap/stridemap/model"
	"github.com/stridemap/stridemap/tui/common"
)

func TestNeighbourhood(t *testing.T) {
	c := &common.Common{Styles: common.DefaultStyles(colorprofile.ASCII), Keys: common.DefaultKeyMap()}
	g := &model.Graph{Nodes: []model.Node{
		{ID: "workload:shop/api", Name: "api", Namespace: "shop", Type: model.Process},
		{ID: "external:internet", Name: "internet", Type: model.ExternalEntity},
		{ID: "workload:shop/web", Name: "web", Namespace: "shop", Type: model.Process},
		{ID: "workload:data/db", Name: "db", Namespace: "data", Type: model.DataStore},
	}, Edges: []model.Edge{
		{ID: "external:internet->workload:shop/api:443", From: "external:internet", To: "workload:shop/api", Port: 443, Crosses: []string{"boundary:internet"}},
		{ID: "workload:shop/web->workload:shop/api:80", From: "workload:shop/web", To: "workload:shop/api", Port: 80},
		{ID: "workload:shop/api->workload:data/db:5432", From: "workload:shop/api", To: "workload:data/db", Port: 5432, Crosses: []string{"boundary:namespace:data"}},
	}}
	x := common.NewGraphIndex(g, nil)
	got := ansi.Strip(Neighbourhood(c, x, 0, 80))
	lines := strings.Split(got, "\n")
	if len(lines) != 4 {
		t.Fatalf("two callers, one callee: a box of two rows and its borders, got %d lines:\n%s", len(lines), got)
	}
	checks := []struct {
		line int
		want string
	}{
		{0, "┌"},
		{1, `internet ‹internet› ─+┊443▶│ api `}, // a caller on the left, crossing a boundary
		{1, `│─+┊5432▶ db ‹data›`},               // the callee on the right, its boundary named
		{2, `   web ─+80▶│ shop · process │$`},   // same boundary: no marker, no name; no callee
		{3, "└"},
	}
	for _, ck := range checks {
		if !regexp.MustCompile(ck.want).MatchString(lines[ck.line]) {
			t.Errorf("line %d lacks %q:\n%s", ck.line, ck.want, got)
		}
	}

	// Many callers: as many as fit are drawn, the rest counted.
	for i := range 20 {
		id := fmt.Sprintf("workload:shop/client-%02d", i)
		g.Nodes = append(g.Nodes, model.Node{ID: id, Name: fmt.Sprintf("client-%02d", i), Namespace: "shop", Type: model.Process})
		g.Edges = append(g.Edges, model.Edge{ID: id + "->workload:shop/api:80", From: id, To: "workload:shop/api", Port: 80})
	}
	got = ansi.Strip(Neighbourhood(c, common.NewGraphIndex(g, nil), 0, 80))
	if n := strings.Count(got, "▶│"); n != maxDiagramRows-1 {
		t.Errorf("%d caller arrows drawn, want %d:\n%s", n, maxDiagramRows-1, got)
	}
	if !strings.Contains(got, fmt.Sprintf("+%d more", 22-(maxDiagramRows-1))) {
		t.Errorf("the callers not drawn should be counted:\n%s", got)
	}
	for _, l := range strings.Split(got, "\n") {
		if w := ansi.StringWidth(l); w > 80 {
			t.Errorf("a line is %d cells wide, more than the 80 given: %q", w, l)
		}
	}
}
