package export

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os/exec"
	"strings"

	"github.com/stridemap/stridemap/model"
)

// Layout formats a Renderer produces.
const (
	FormatSVG = "svg"
	// FormatLayoutJSON is Graphviz's "json0": the laid-out graph (bounding
	// boxes, node positions and sizes) without drawing operations.
	FormatLayoutJSON = "json0"
)

// Renderer lays out DOT text with Graphviz and writes the result in format
// (FormatSVG or FormatLayoutJSON).
//
// The stridemap command does not link Graphviz: go-graphviz starts a
// WebAssembly runtime when its package initialises, before main, which
// every command would pay (tens of milliseconds with a warm compilation
// cache, about a second without). It renders through CommandRenderer, a
// separate stridemap-render process built from export/graphviz, so only
// the commands that draw start Graphviz.
type Renderer interface {
	Render(ctx context.Context, dot []byte, format string, w io.Writer) error
}

// ErrNoRenderer is returned (wrapped) when no Graphviz renderer is
// available.
var ErrNoRenderer = errors.New("the Graphviz renderer (stridemap-render) was not found")

// CommandRenderer renders by running the stridemap-render program at Path:
// DOT on its standard input, "-T FORMAT", the result on standard output.
type CommandRenderer struct {
	Path string
}

// Render runs the renderer program once.
func (c CommandRenderer) Render(ctx context.Context, dot []byte, format string, w io.Writer) error {
	if c.Path == "" {
		return ErrNoRenderer
	}
	cmd := exec.CommandContext(ctx, c.Path, "-T", format)
	cmd.Stdin = bytes.NewReader(dot)
	cmd.Stdout = w
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Run(); err != nil {
		msg := strings.TrimSpace(stderr.String())
		if msg == "" {
			msg = err.Error()
		}
		return fmt.Errorf("render %s with %s: %s", format, c.Path, msg)
	}
	return nil
}

// WriteSVG draws g as an SVG document: the DOT of WriteDOTOptions, laid out
// by r. Every name from the manifests reaches the SVG as XML text that
// Graphviz escapes.
func WriteSVG(ctx context.Context, w io.Writer, r Renderer, g *model.Graph, opts DOTOptions) error {
	svg, err := RenderSVG(ctx, r, g, opts)
	if err != nil {
		return err
	}
	_, err = w.Write(svg)
	return err
}

// RenderSVG returns the SVG document of g (see WriteSVG).
func RenderSVG(ctx context.Context, r Renderer, g *model.Graph, opts DOTOptions) ([]byte, error) {
	if r == nil {
		return nil, ErrNoRenderer
	}
	var dot bytes.Buffer
	if err := WriteDOTOptions(&dot, g, opts); err != nil {
		return nil, err
	}
	return renderSVG(ctx, r, dot.Bytes())
}

// renderSVG lays out dot with r and checks that an SVG document came back.
func renderSVG(ctx context.Context, r Renderer, dot []byte) ([]byte, error) {
	var svg bytes.Buffer
	if err := r.Render(ctx, dot, FormatSVG, &svg); err != nil {
		return nil, err
	}
	if !bytes.Contains(svg.Bytes(), []byte("<svg")) {
		return nil, fmt.Errorf("the renderer returned no SVG (%d bytes)", svg.Len())
	}
	return svg.Bytes(), nil
}

// inlineSVG strips what comes before the <svg> element (the XML
// declaration, DOCTYPE and comments), which has no place inside an HTML
// document.
func inlineSVG(svg []byte) []byte {
	if i := bytes.Index(svg, []byte("<svg")); i >= 0 {
		return bytes.TrimSpace(svg[i:])
	}
	return nil
}
