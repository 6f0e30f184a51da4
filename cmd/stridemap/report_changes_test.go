package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stridemap/stridemap/discover/discovertest"
	"github.com/stridemap/stridemap/export"
)

// TestReportChangesSince: a report of a re-scan carries what changed since
// the previous scan of its target, in HTML, Markdown and JSON, narrowed to
// the report's scope; the first scan of a target has no such section.
func TestReportChangesSince(t *testing.T) {
	c := newCLI(t)
	dir := copyDemo(t)
	c.mustRun("scan", "-f", dir)
	discovertest.ChangeDemo(t, dir)
	c.mustRun("scan", "-f", dir)

	md := c.mustRun("report", "--format", "md").stdout
	for _, want := range []string{
		"## Changes since scan #1\n",
		"### Elements\n",
		`| + | workload:shop/reviews | process |`,
		`| \~ | workload:shop/cart | container cart privileged: no → yes |`,
		`| - | no-privilege-escalation@workload:shop/cart | lost: `,
		`| + | container-privileged@workload:shop/cart | new high |`,
	} {
		if !strings.Contains(md, want) {
			t.Errorf("Markdown report lacks %q", want)
		}
	}
	if strings.Index(md, "## Changes since") > strings.Index(md, "## STRIDE × severity") {
		t.Error("the changes come after the matrix; they belong under the summary")
	}

	var rep struct{ Changes *export.Diff }
	if err := json.Unmarshal([]byte(c.mustRun("report", "--format", "json").stdout), &rep); err != nil {
		t.Fatal(err)
	}
	if rep.Changes == nil || rep.Changes.Old.ID != 1 || rep.Changes.New.ID != 2 || rep.Changes.Summary.Elements.Added != 1 || rep.Changes.Summary.Findings.New == 0 {
		t.Errorf("JSON report changes = %+v", rep.Changes)
	}

	page := filepath.Join(t.TempDir(), "report.html")
	c.mustRun("report", "--format", "html", "--no-diagram", "-o", page)
	data, err := os.ReadFile(page)
	if err != nil {
		t.Fatal(err)
	}
	html := string(data)
	for _, want := range []string{`<a href="#changes">Changes</a>`, `<h2 id="changes">Changes since scan #1</h2>`, `<td class="sign sign-added">&#43;</td><td class="id">workload:shop/reviews</td>`} {
		if !strings.Contains(html, want) {
			t.Errorf("HTML report lacks %s", want)
		}
	}

	// Scoped to shop-data, only the data stores' changes are left.
	scoped := c.mustRun("report", "--format", "md", "--namespace", "shop-data").stdout
	if !strings.Contains(scoped, "network-policy@workload:shop-data/redis") || strings.Contains(scoped, "workload:shop/reviews |") {
		t.Errorf("report --namespace shop-data: changes not narrowed to the namespace\n%s", scoped)
	}

	for _, args := range [][]string{
		{"report", "1", "--format", "md"},
		{"report", "--format", "md", "--changes-since", "none"},
	} {
		if out := c.mustRun(args...).stdout; strings.Contains(out, "Changes since") {
			t.Errorf("%v: has a changes section", args)
		}
	}
	if out := c.mustRun("report", "1", "--format", "json").stdout; strings.Contains(out, `"changes"`) {
		t.Error("the first scan's JSON report has changes")
	}

	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"report", "--format", "md", "--changes-since", "2"}, "the one reported"},
		{[]string{"report", "--format", "md", "--changes-since", "9"}, "no scan 9"},
		{[]string{"report", "--format", "md", "--changes-since", "soon"}, "scan soon"},
		{[]string{"report", "--format", "sarif", "--changes-since", "1"}, "not to --format sarif"},
	} {
		if r := c.run("", tc.args...); r.code != exitUsage || !strings.Contains(r.stderr, tc.want) {
			t.Errorf("%v: exit %d, want %d and %q\n%s", tc.args, r.code, exitUsage, tc.want, r.stderr)
		}
	}

	// Another target is refused, not compared by accident.
	c.mustRun("scan", "-f", demoDir)
	if r := c.run("", "report", "--format", "md", "--changes-since", "2"); r.code != exitUsage || !strings.Contains(r.stderr, "another target") {
		t.Errorf("changes since another target's scan: exit %d\n%s", r.code, r.stderr)
	}
	if out := c.mustRun("report", "--format", "md").stdout; strings.Contains(out, "Changes since") {
		t.Error("the first scan of the demo's own target has a changes section")
	}
}
