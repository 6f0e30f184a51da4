package graphviz

import (
	"bytes"
	"context"
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
