// Command stridemap-render lays out a DOT graph with Graphviz, in-process
// (go-graphviz, WebAssembly): DOT on standard input, the drawing on
// standard output. stridemap runs it to draw SVG diagrams, HTML reports
// and Threat Dragon layouts; it is a separate program so that stridemap's
// other commands do not pay Graphviz's start-up cost (see export/graphviz).
//
//	stridemap-render -T svg < graph.dot > graph.svg
//	stridemap-render -T json0 < graph.dot   # layout: positions and sizes
package main

import (
	"bufio"
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"

	"github.com/stridemap/stridemap/export/graphviz"
)

func main() {
	format := flag.String("T", "svg", "output format: svg or json0")
	flag.Usage = func() {
		fmt.Fprintln(os.Stderr, "usage: stridemap-render [-T svg|json0] < graph.dot > out")
		flag.PrintDefaults()
	}
	flag.Parse()
	if flag.NArg() != 0 {
		flag.Usage()
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if err := run(ctx, *format, os.Stdin, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "stridemap-render:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, format string, in io.Reader, out io.Writer) error {
	dot, err := io.ReadAll(in)
	if err != nil {
		return fmt.Errorf("read DOT: %w", err)
	}
	w := bufio.NewWriter(out)
	if err := (graphviz.Renderer{}).Render(ctx, dot, format, w); err != nil {
		return err
	}
	return w.Flush()
}
