package main

import (
	"context"
	"encoding/json"
	"fmt"
	"image"
	"image/png"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stridemap/stridemap/discover/discovertest"
	"github.com/stridemap/stridemap/export"
)

// renderBin builds cmd/stridemap-render once per test binary: the program
// stridemap runs to draw (it links Graphviz, stridemap does not).
var renderBin = sync.OnceValues(func() (string, error) {
	dir, err := os.MkdirTemp("", "stridemap-render-")
	if err != nil {
		return "", err
	}
	bin := filepath.Join(dir, "stridemap-render")
	out, err := exec.Command("go", "build", "-o", bin, "../stridemap-render").CombinedOutput()
	if err != nil {
		return "", fmt.Errorf("go build stridemap-render: %v\n%s", err, out)
	}
	return bin, nil
})

// useRenderer points $STRIDEMAP_RENDER at a freshly built stridemap-render
// for the rest of the test.
func useRenderer(t *testing.T) string {
	t.Helper()
	bin, err := renderBin()
	if err != nil {
		t.Fatal(err)
	}
	t.Setenv(rendererEnv, bin)
	return bin
}

func TestGraphSVG(t *testing.T) {
	useRenderer(t)
	c := newCLI(t)
	c.mustRun("scan", "-f", demoDir)
	out := filepath.Join(t.TempDir(), "demo.svg")
	c.mustRun("graph", "--format", "svg", "-o", out)
	svg, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"<svg", "<title>workload:shop&#45;data/orders&#45;db</title>", "Legend", "⚠ "} {
		if !strings.Contains(string(svg), want) {
			t.Errorf("SVG lacks %q", want)
		}
	}
	ns := c.mustRun("graph", "--format", "svg", "--namespace", "payments").stdout
	if !strings.Contains(ns, "payments") || strings.Contains(ns, "log&#45;shipper") {
		t.Error("--namespace payments should draw payments and what it talks to, not the log shipper")
	}
	focus := c.mustRun("graph", "--format", "dot", "--focus", "shop/checkout", "--depth", "1").stdout
	if !strings.Contains(focus, `"workload:shop-data/orders-db" [`) || strings.Contains(focus, `"gateway:shop/storefront" [`) {
		t.Errorf("--focus shop/checkout --depth 1:\n%s", focus)
	}
	if r := c.run("", "graph", "--format", "svg", "--focus", "nope"); r.code != exitUsage || !strings.Contains(r.stderr, `no element "nope"`) {
		t.Errorf("unknown focus: exit %d %q", r.code, r.stderr)
	}
}

// TestGraphOfOneLargeNamespace: a namespace over the diagram limit is drawn
// as an overview by application, not as one box, and the note does not
// send the user to --namespace, which the diagram already is.
func TestGraphOfOneLargeNamespace(t *testing.T) {
	dir := t.TempDir()
	var b strings.Builder
	for i := range export.MaxDiagramNodes + 10 {
		fmt.Fprintf(&b, "---\napiVersion: apps/v1\nkind: Deployment\nmetadata: {name: w%d, namespace: big, labels: {app.kubernetes.io/part-of: app%d}}\nspec:\n  template:\n    spec:\n      containers: [{name: c, image: nginx}]\n", i, i%3)
	}
	writeFile(t, filepath.Join(dir, "big.yaml"), b.String())
	c := newCLI(t)
	c.mustRun("scan", "-f", dir, "--skip-threats")
	for _, args := range [][]string{{"graph", "--format", "dot"}, {"graph", "--format", "dot", "--namespace", "big"}} {
		r := c.mustRun(args...)
		if !strings.Contains(r.stderr, "one box per app") || strings.Contains(r.stderr, "--namespace NS") || !strings.Contains(r.stderr, "--focus ELEMENT") {
			t.Errorf("%v: the note should offer --focus, not --namespace: %s", args, r.stderr)
		}
		for i, n := range []int{104, 103, 103} {
			if !strings.Contains(r.stdout, fmt.Sprintf(`"group:app:big/app%d" [label="app app%d · namespace big\n%d processes`, i, i, n)) {
				t.Errorf("%v: no box of app%d with its %d workloads:\n%s", args, i, n, r.stdout)
			}
		}
	}
}

// TestGraphTooLargeDrawsAnOverview: a graph over the diagram limit is
// drawn as an overview, with a note naming the options that draw elements;
// --force draws every element, --namespace one namespace's, --overview an
// overview of any size; changes (--diff) are not drawn on an overview.
func TestGraphTooLargeDrawsAnOverview(t *testing.T) {
	dir := t.TempDir()
	var b strings.Builder
	for i := range export.MaxDiagramNodes + 10 {
		fmt.Fprintf(&b, "---\napiVersion: apps/v1\nkind: Deployment\nmetadata: {name: w%d, namespace: ns%d, labels: {app.kubernetes.io/part-of: app%d}}\nspec:\n  template:\n    spec:\n      containers: [{name: c, image: nginx}]\n", i, i%4, i%2)
	}
	writeFile(t, filepath.Join(dir, "many.yaml"), b.String())
	c := newCLI(t)
	c.mustRun("scan", "-f", dir, "--skip-threats")
	r := c.mustRun("graph", "--format", "dot")
	for _, want := range []string{"310 elements", "overview, one box per namespace", "--namespace NS", "--focus ELEMENT", "--force"} {
		if !strings.Contains(r.stderr, want) {
			t.Errorf("the note lacks %q: %s", want, r.stderr)
		}
	}
	if strings.Count(r.stderr, "\n") != 1 {
		t.Errorf("the note should be one line: %q", r.stderr)
	}
	for i, n := range []int{78, 78, 77, 77} {
		if !strings.Contains(r.stdout, fmt.Sprintf(`"group:namespace:ns%d" [label="namespace ns%d\n%d processes`, i, i, n)) {
			t.Errorf("no box of namespace ns%d with its %d workloads:\n%s", i, n, r.stdout)
		}
	}
	if strings.Contains(r.stdout, "workload:ns1/w309") {
		t.Error("the overview draws an element")
	}
	useRenderer(t)
	if out := c.mustRun("graph", "--format", "svg").stdout; !strings.Contains(out, "<title>group:namespace:ns1</title>") {
		t.Error("the SVG is not the overview")
	}
	if r := c.mustRun("graph", "--format", "dot", "--group-by", "app"); !strings.Contains(r.stdout, `"group:app:ns1/app1"`) || !strings.Contains(r.stderr, "one box per app") {
		t.Errorf("--group-by app:\n%s", r.stderr)
	}
	if r := c.mustRun("graph", "--format", "dot", "--force"); !strings.Contains(r.stdout, "workload:ns1/w309") || r.stderr != "" {
		t.Error("--force should draw everything, without a note")
	}
	if out := c.mustRun("graph", "--format", "dot", "--namespace", "ns1").stdout; strings.Count(out, "shape=box, style=\"rounded,filled\"") != 78 {
		t.Errorf("--namespace ns1 should draw its 78 workloads")
	}
	// An overview of one namespace is one box per application, unless a
	// box per namespace is asked for.
	if out := c.mustRun("graph", "--format", "dot", "--namespace", "ns1", "--overview").stdout; !strings.Contains(out, `"group:app:ns1/app1"`) || strings.Contains(out, `"group:app:ns2`) {
		t.Errorf("--overview of one namespace:\n%s", out)
	}
	if out := c.mustRun("graph", "--format", "dot", "--namespace", "ns1", "--overview", "--group-by", "namespace").stdout; !strings.Contains(out, `"group:namespace:ns1"`) || strings.Contains(out, `"group:namespace:ns2"`) {
		t.Errorf("--overview --group-by namespace of one namespace:\n%s", out)
	}
	c.mustRun("scan", "-f", dir, "--skip-threats")
	if r := c.run("", "graph", "--format", "dot", "--diff", "previous"); r.code != exitUsage || !strings.Contains(r.stderr, "--namespace NS") {
		t.Errorf("changes of a graph too large: exit %d %s", r.code, r.stderr)
	}
	for _, args := range [][]string{
		{"graph", "--format", "dot", "--overview", "--force"},
		{"graph", "--format", "dot", "--overview", "--diff", "previous"},
		{"graph", "--format", "dot", "--group-by", "team"},
		{"graph", "--format", "table", "--overview"},
		{"report", "--format", "md", "--overview"},
	} {
		if r := c.run("", args...); r.code != exitUsage || strings.Count(strings.TrimSpace(r.stderr), "\n") != 0 {
			t.Errorf("%v: exit %d, want %d with one line:\n%s", args, r.code, exitUsage, r.stderr)
		}
	}
}

func TestReportFormats(t *testing.T) {
	useRenderer(t)
	c := newCLI(t)
	c.mustRun("scan", "-f", demoDir)
	dir := t.TempDir()
	for _, format := range []string{"html", "md", "json", "sarif", "threatdragon"} {
		out := filepath.Join(dir, "report."+format)
		r := c.mustRun("report", "--format", format, "-o", out, "--base-dir", "../..")
		if !strings.Contains(r.stderr, "written to "+out) {
			t.Errorf("%s: stderr %q", format, r.stderr)
		}
		data, err := os.ReadFile(out)
		if err != nil {
			t.Fatal(err)
		}
		switch format {
		case "html":
			if !strings.Contains(string(data), "<svg") || !strings.Contains(string(data), "STRIDE × severity") {
				t.Error("HTML report lacks its diagram or matrix")
			}
		case "md":
			if !strings.Contains(string(data), "## Findings") {
				t.Error("Markdown report lacks its findings")
			}
		default:
			var v map[string]any
			if err := json.Unmarshal(data, &v); err != nil {
				t.Errorf("%s: %v", format, err)
			}
			if format == "sarif" && !strings.Contains(string(data), `"uri": "testdata/demo/payments.yaml"`) {
				t.Error("SARIF paths should be relative to --base-dir")
			}
		}
	}
	// Without a renderer: the HTML report says how to go on.
	t.Setenv(rendererEnv, filepath.Join(dir, "missing"))
	if r := c.run("", "report", "--format", "html"); r.code != exitUsage || !strings.Contains(r.stderr, "--no-diagram") {
		t.Errorf("no renderer: exit %d %q", r.code, r.stderr)
	}
	if r := c.mustRun("report", "--format", "html", "--no-diagram"); !strings.Contains(r.stdout, "diagram was left out") {
		t.Error("--no-diagram should say the diagram was left out")
	}
}

// TestReportExitCodes: the CI gate. 0 clean, 1 open findings at or above
// --fail-on (triaged ones do not count), 2 usage errors.
func TestReportExitCodes(t *testing.T) {
	c := newCLI(t)
	if r := c.run("", "report", "--format", "md"); r.code != exitUsage || !strings.Contains(r.stderr, "stridemap scan") {
		t.Errorf("no scan: exit %d %q", r.code, r.stderr)
	}
	c.mustRun("scan", "-f", demoDir)
	tests := []struct {
		name   string
		args   []string
		code   int
		stderr string
	}{
		{"critical open", []string{"report", "--format", "json", "--fail-on", "critical"}, exitFindings, "at or above critical"},
		{"no gate", []string{"report", "--format", "json"}, exitOK, ""},
		{"scoped to a clean namespace", []string{"report", "--format", "json", "--namespace", "logging", "--fail-on", "critical"}, exitOK, ""},
		{"bad severity", []string{"report", "--format", "json", "--fail-on", "severe"}, exitUsage, "unknown severity"},
		{"bad format", []string{"report", "--format", "pdf"}, exitUsage, "use html, md, json, sarif or threatdragon"},
		{"bad namespace", []string{"report", "--format", "md", "--namespace", "nope"}, exitUsage, "namespaces in this scan"},
		{"bad depth", []string{"report", "--format", "md", "--focus", "web", "--depth", "-1"}, exitUsage, "--depth"},
		{"unknown scan", []string{"report", "9", "--format", "md"}, exitUsage, "not found"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := c.run("", tc.args...)
			if r.code != tc.code || !strings.Contains(r.stderr, tc.stderr) {
				t.Errorf("exit %d stderr %q; want exit %d and %q", r.code, r.stderr, tc.code, tc.stderr)
			}
		})
	}
	// Triage every critical finding: the gate passes, and the report still
	// lists them, as triaged.
	var findings []map[string]any
	if err := json.Unmarshal([]byte(c.mustRun("findings", "--format", "json", "--severity", "critical").stdout), &findings); err != nil {
		t.Fatal(err)
	}
	for _, f := range findings {
		c.mustRun("triage", f["id"].(string), "--status", "accepted", "--reason", "test", "--by", "ci")
	}
	if r := c.run("", "report", "--format", "sarif", "--fail-on", "critical"); r.code != exitOK || !strings.Contains(r.stdout, `"suppressions"`) {
		t.Errorf("with every critical finding triaged: exit %d %s", r.code, r.stderr)
	}
	if r := c.run("", "report", "--format", "md", "--fail-on", "high"); r.code != exitFindings {
		t.Errorf("high findings are still open: exit %d", r.code)
	}
}

// TestStridemapDoesNotLinkGraphviz: go-graphviz compiles its WebAssembly
// module in a package init, before main, so if stridemap linked it every
// command — version and --help included — would pay that start-up cost.
// Only stridemap-render may import it.
func TestStridemapDoesNotLinkGraphviz(t *testing.T) {
	if _, err := exec.LookPath("go"); err != nil {
		t.Skip("the go command is not on PATH")
	}
	out, err := exec.Command("go", "list", "-deps", ".").Output()
	if err != nil {
		t.Fatalf("go list -deps: %v", err)
	}
	for _, dep := range strings.Fields(string(out)) {
		if strings.HasPrefix(dep, "github.com/goccy/go-graphviz") || strings.HasPrefix(dep, "github.com/tetratelabs/wazero") || dep == "github.com/stridemap/stridemap/export/graphviz" {
			t.Errorf("stridemap links %s: Graphviz's start-up cost would be paid by every command; draw through export.Renderer (stridemap-render) instead", dep)
		}
	}
	out, err = exec.Command("go", "list", "-deps", "../stridemap-render").Output()
	if err != nil || !strings.Contains(string(out), "github.com/goccy/go-graphviz") {
		t.Errorf("stridemap-render should link go-graphviz (%v)", err)
	}
}

// TestOnlyDrawingStartsTheRenderer: version, --help and the commands that
// draw nothing never start the renderer; graph --format svg does.
func TestOnlyDrawingStartsTheRenderer(t *testing.T) {
	real := useRenderer(t)
	dir := t.TempDir()
	marker := filepath.Join(dir, "started")
	spy := filepath.Join(dir, "spy-render")
	writeFile(t, spy, fmt.Sprintf("#!/bin/sh\necho \"$@\" >> %q\nexec %q \"$@\"\n", marker, real))
	if err := os.Chmod(spy, 0o755); err != nil {
		t.Fatal(err)
	}
	t.Setenv(rendererEnv, spy)
	c := newCLI(t)
	c.mustRun("scan", "-f", demoDir)
	for _, args := range [][]string{{"version"}, {"--help"}, {"graph", "--format", "dot"}, {"report", "--format", "md"}, {"report", "--format", "sarif"}, {"findings"}} {
		c.mustRun(args...)
		if _, err := os.Stat(marker); err == nil {
			t.Fatalf("stridemap %s started the renderer", strings.Join(args, " "))
		}
	}
	c.mustRun("graph", "--format", "svg")
	if _, err := os.Stat(marker); err != nil {
		t.Error("graph --format svg did not run the renderer (the spy is broken?)")
	}
}

// TestHTMLReportScreenshot opens the demo's HTML report in headless
// Chromium and checks the screenshot shows the diagram (the fills of data
// stores and gateways are only drawn there) and the STRIDE matrix (its
// critical cells' colour). Chromium is Debian's package:
// .ci/deps.sh installs it. Skipped only where it is missing
// and CI is unset.
func TestHTMLReportScreenshot(t *testing.T) {
	chromium, err := exec.LookPath("chromium")
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatal("chromium is not installed (CI is set): run .ci/deps.sh")
		}
		t.Skip("skipping: chromium not installed; run .ci/deps.sh")
	}
	useRenderer(t)
	c := newCLI(t)
	demo := copyDemo(t)
	c.mustRun("scan", "-f", demo)
	discovertest.ChangeDemo(t, demo) // a re-scan: the page has its "Changes since" section
	c.mustRun("scan", "-f", demo)
	dir := t.TempDir()
	page := filepath.Join(dir, "report.html")
	c.mustRun("report", "--format", "html", "-o", page)
	shot := filepath.Join(dir, "report.png")
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, chromium, "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
		"--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync",
		"--hide-scrollbars", "--user-data-dir="+filepath.Join(dir, "profile"), "--screenshot="+shot, "--window-size=1400,4000",
		"file://"+page)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("chromium: %v\n%s", err, out)
	}
	if keep := os.Getenv("STRIDEMAP_KEEP_SCREENSHOT"); keep != "" {
		data, _ := os.ReadFile(shot)
		_ = os.WriteFile(keep, data, 0o644)
	}
	info, err := os.Stat(shot)
	if err != nil || info.Size() < 50_000 {
		t.Fatalf("screenshot missing or trivial: %v, %d bytes", err, info.Size())
	}
	f, err := os.Open(shot)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	img, err := png.Decode(f)
	if err != nil {
		t.Fatal(err)
	}
	if b := img.Bounds(); b.Dx() != 1400 || b.Dy() != 4000 {
		t.Errorf("screenshot is %v, want 1400x4000", b)
	}
	colours := distinctColours(img)
	if len(colours) < 200 {
		t.Errorf("only %d distinct colours: the page looks blank", len(colours))
	}
	for name, rgb := range map[string][3]uint8{
		"data store fill (diagram)":        {0xfe, 0xf7, 0xe0},
		"gateway fill (diagram)":           {0xe6, 0xf4, 0xea},
		"critical cell (STRIDE matrix)":    {0xfc, 0xe8, 0xe6},
		"critical severity badge (header)": {0xa5, 0x0e, 0x0e},
		"added sign (changes)":             {0xdf, 0xf3, 0xe4},
		"removed sign (changes)":           {0xfb, 0xe3, 0xe1},
		"changed sign (changes)":           {0xff, 0xf1, 0xd6},
	} {
		if colours[rgb] < 20 {
			t.Errorf("the screenshot shows no %s (#%02x%02x%02x)", name, rgb[0], rgb[1], rgb[2])
		}
	}
}

// distinctColours counts the pixels of each colour.
func distinctColours(img image.Image) map[[3]uint8]int {
	out := map[[3]uint8]int{}
	b := img.Bounds()
	for y := b.Min.Y; y < b.Max.Y; y++ {
		for x := b.Min.X; x < b.Max.X; x++ {
			r, g, bl, _ := img.At(x, y).RGBA()
			out[[3]uint8{uint8(r >> 8), uint8(g >> 8), uint8(bl >> 8)}]++
		}
	}
	return out
}

// BenchmarkVersionStartup runs the built stridemap binary's version command:
// what every invocation pays before doing anything (the budget is
// 50 ms). make bench reports it.
func BenchmarkVersionStartup(b *testing.B) {
	bin := filepath.Join(b.TempDir(), "stridemap")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		b.Fatalf("go build: %v\n%s", err, out)
	}
	for _, args := range [][]string{{"version"}, {"--help"}} {
		b.Run(args[0], func(b *testing.B) {
			for b.Loop() {
				if out, err := exec.Command(bin, args...).CombinedOutput(); err != nil {
					b.Fatalf("%v\n%s", err, out)
				}
			}
		})
	}
}
