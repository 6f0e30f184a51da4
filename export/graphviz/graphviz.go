// Package graphviz lays out DOT text in-process with go-graphviz (Graphviz
// compiled to WebAssembly, run by wazero): no dot binary is needed.
//
// Importing this package has a cost at program start: go-graphviz compiles
// and instantiates its WebAssembly module in a package init function,
// before main runs (about 40 ms with wazero's compilation cache in
// $TMPDIR/go-graphviz warm, about a second cold). So the stridemap command
// never imports it; cmd/stridemap-render does, and stridemap runs that
// program only when it draws (export.CommandRenderer).
package graphviz

import (
	"context"
	"fmt"
	"io"
	"sync"

	gv "github.com/goccy/go-graphviz"
)

// Renderer renders DOT with the process's one Graphviz instance, created
// on first use. It is safe for concurrent use: renders are serialised, as
// the WebAssembly module has one memory.
type Renderer struct{}

var instance struct {
	once sync.Once
	mu   sync.Mutex
	gv   *gv.Graphviz
	err  error
}

// created reports whether the instance exists, for tests.
func created() bool {
	instance.mu.Lock()
	defer instance.mu.Unlock()
	return instance.gv != nil
}

// formats are the output formats stridemap uses.
var formats = map[string]gv.Format{
	"svg":   gv.SVG,
	"json0": gv.Format("json0"),
	"json":  gv.Format("json"),
	"plain": gv.Format("plain"),
	"dot":   gv.XDOT,
}

// Render lays out dot with the dot engine and writes format to w. Write
// to a writer, never to a file name: go-graphviz's RenderFilename is
// broken in v0.2.10.
func (Renderer) Render(ctx context.Context, dot []byte, format string, w io.Writer) error {
	f, ok := formats[format]
	if !ok {
		return fmt.Errorf("graphviz: unknown output format %q: use svg or json0", format)
	}
	instance.once.Do(func() {
		g, err := gv.New(ctx)
		instance.mu.Lock()
		instance.gv, instance.err = g, err
		instance.mu.Unlock()
	})
	instance.mu.Lock()
	defer instance.mu.Unlock()
	if instance.err != nil {
		return fmt.Errorf("graphviz: start: %w", instance.err)
	}
	graph, err := gv.ParseBytes(dot)
	if err != nil {
		return fmt.Errorf("graphviz: read DOT: %w", err)
	}
	defer graph.Close()
	if err := instance.gv.Render(ctx, graph, f, w); err != nil {
		return fmt.Errorf("graphviz: render %s: %w", format, err)
	}
	return nil
}
