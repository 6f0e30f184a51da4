package graphviz

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"math"
	"strings"
	"sync"
	"testing"
)

// TestOneInstanceCreatedOnFirstRender: nothing starts Graphviz until a
// render needs it, and concurrent renders share the one instance.
func TestOneInstanceCreatedOnFirstRender(t *testing.T) {
	if created() {
		t.Fatal("the Graphviz instance exists before any render")
	}
	var wg sync.WaitGroup
	outs := make([]bytes.Buffer, 4)
	errs := make([]error, 4)
	for i := range outs {
		wg.Go(func() {
			errs[i] = Renderer{}.Render(context.Background(), []byte(`digraph { "a\"b" -> c }`), "svg", &outs[i])
		})
	}
	wg.Wait()
	for i := range outs {
		if errs[i] != nil {
			t.Fatal(errs[i])
		}
		if !strings.Contains(outs[i].String(), "a&quot;b") {
			t.Errorf("render %d lacks the escaped node name:\n%s", i, outs[i].String())
		}
	}
	first := instance.gv
	if !created() || first == nil {
		t.Fatal("no instance after rendering")
	}
	if err := (Renderer{}).Render(context.Background(), []byte("digraph { x }"), "json0", new(bytes.Buffer)); err != nil {
		t.Fatal(err)
	}
	if instance.gv != first {
		t.Error("a second instance was created")
	}
}

// TestLayoutAttributePicksTheEngine: a graph's layout attribute chooses
// Graphviz's engine here as it does for the dot command (the overview of a
// large graph asks for sfdp so), and a graph without one is laid out by
// dot again: the one instance keeps no engine from a render before. A star tells them apart: twopi puts the
// leaves on a circle around the centre, dot in one rank below it.
func TestLayoutAttributePicksTheEngine(t *testing.T) {
	star := func(layout string) string {
		return "digraph { " + layout + " c -> l1; c -> l2; c -> l3; c -> l4; c -> l5; c -> l6 }"
	}
	spread := func(dot string) float64 {
		t.Helper()
		var out bytes.Buffer
		if err := (Renderer{}).Render(context.Background(), []byte(dot), "json0", &out); err != nil {
			t.Fatal(err)
		}
		var layout struct {
			Objects []struct{ Name, Pos string }
		}
		if err := json.Unmarshal(out.Bytes(), &layout); err != nil {
			t.Fatal(err)
		}
		pos := map[string][2]float64{}
		for _, o := range layout.Objects {
			var p [2]float64
			if _, err := fmt.Sscanf(o.Pos, "%g,%g", &p[0], &p[1]); err != nil {
				t.Fatalf("position %q of %s: %v", o.Pos, o.Name, err)
			}
			pos[o.Name] = p
		}
		lo, hi := math.Inf(1), 0.0
		for i := 1; i <= 6; i++ {
			l := pos[fmt.Sprintf("l%d", i)]
			d := math.Hypot(l[0]-pos["c"][0], l[1]-pos["c"][1])
			lo, hi = min(lo, d), max(hi, d)
		}
		return hi - lo
	}
	if s := spread(star("layout=twopi;")); s > 1 {
		t.Errorf("twopi: the leaves are %g points apart in distance from the centre, want a circle", s)
	}
	for _, layout := range []string{"", "layout=dot;"} {
		if s := spread(star(layout)); s < 10 {
			t.Errorf("%q: the leaves are on a circle (spread %g): not laid out by dot", layout, s)
		}
	}
	err := (Renderer{}).Render(context.Background(), []byte(star("layout=magic;")), "svg", new(bytes.Buffer))
	if err == nil || !strings.Contains(err.Error(), `"magic" not recognized`) {
		t.Errorf("an unknown layout: %v", err)
	}
}
