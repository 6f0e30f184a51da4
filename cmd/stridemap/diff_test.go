package main

import (
	"database/sql"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/stridemap/stridemap/discover/discovertest"
	"github.com/stridemap/stridemap/export"
	"github.com/stridemap/stridemap/model/modeltest"
)

// copyDemo copies the demo app into a new directory, which tests edit.
func copyDemo(t *testing.T) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "demo")
	if err := os.CopyFS(dir, os.DirFS(demoDir)); err != nil {
		t.Fatal(err)
	}
	return dir
}

func diffJSON(t *testing.T, c *cli, args ...string) export.Diff {
	t.Helper()
	out := c.mustRun(append([]string{"diff", "--format", "json"}, args...)...)
	var d export.Diff
	dec := json.NewDecoder(strings.NewReader(out.stdout))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&d); err != nil {
		t.Fatalf("diff JSON: %v\n%s", err, out.stdout)
	}
	return d
}

func changeLines[T any](list []T, line func(T) []string) []string {
	out := []string{}
	for _, v := range list {
		out = append(out, line(v)...)
	}
	return out
}

func changed(list []export.DiffChanged) []string {
	return changeLines(list, func(c export.DiffChanged) []string {
		var out []string
		for _, ch := range c.Changes {
			out = append(out, c.ID+" "+ch.Field+": "+ch.Before+" → "+ch.After)
		}
		return out
	})
}

func idsOf[T any](list []T, id func(T) string) []string {
	out := []string{}
	for _, v := range list {
		out = append(out, id(v))
	}
	return out
}

func check(t *testing.T, what string, got, want []string) {
	t.Helper()
	if !slices.Equal(got, want) {
		t.Errorf("%s:\n got %q\nwant %q", what, got, want)
	}
}

// TestDiffDemoRelease: the demo and a changed copy differ by exactly the
// five changes made, and by the findings, flows and controls they imply.
func TestDiffDemoRelease(t *testing.T) {
	c := newCLI(t)
	dir := copyDemo(t)
	c.mustRun("scan", "-f", dir)
	discovertest.ChangeDemo(t, dir)
	c.mustRun("scan", "-f", dir)
	d := diffJSON(t, c)

	if d.SchemaVersion != 1 || d.Old.ID != 1 || d.New.ID != 2 || !d.SameTarget || d.New.Target != dir {
		t.Errorf("header = %d, #%d → #%d, same target %v, target %q; want 1, #1 → #2 of %s", d.SchemaVersion, d.Old.ID, d.New.ID, d.SameTarget, d.New.Target, dir)
	}
	check(t, "elements added", idsOf(d.Elements.Added, func(e export.DiffElement) string { return e.ID }), []string{"workload:shop/reviews"})
	check(t, "elements removed", idsOf(d.Elements.Removed, func(e export.DiffElement) string { return e.ID }), []string{})
	check(t, "elements changed", changed(d.Elements.Changed), []string{
		"workload:shop/cart container cart privileged: no → yes",
		"workload:shop/catalog container catalog image: ghcr.io/stridemap-demo/catalog:1.4.2 → ghcr.io/stridemap-demo/catalog:1.5.0",
	})
	check(t, "flows added", idsOf(d.Flows.Added, func(e export.DiffFlow) string { return e.ID }), []string{"workload:shop/catalog->workload:shop/reviews:8080"})
	check(t, "flows removed", idsOf(d.Flows.Removed, func(e export.DiffFlow) string { return e.ID }), []string{})
	// The default-deny policy stays: without the policy that admitted
	// shop, its flows to the data stores are denied.
	check(t, "flows changed", changed(d.Flows.Changed), []string{
		"workload:shop/cart->workload:shop-data/redis:6379 policy: allowed → denied",
		"workload:shop/checkout->workload:shop-data/orders-db:5432 policy: allowed → denied",
		"workload:shop/checkout->workload:shop-data/rabbitmq:5672 policy: allowed → denied",
		"workload:shop/inventory->workload:shop-data/rabbitmq:5672 policy: allowed → denied",
		"workload:shop/nightly-report->workload:shop-data/orders-db:5432 policy: allowed → denied",
	})
	check(t, "boundaries changed", changed(d.Boundaries.Changed), []string{
		"boundary:cluster member:  → workload:shop/reviews",
		"boundary:namespace:shop member:  → workload:shop/reviews",
	})
	// A privileged container escalates privileges whatever
	// allowPrivilegeEscalation says: that control is lost, with the
	// evidence the old scan had for it.
	check(t, "controls lost", idsOf(d.Controls.Lost, func(c export.DiffControl) string { return c.ID }), []string{"no-privilege-escalation@workload:shop/cart"})
	if lost := d.Controls.Lost; len(lost) == 1 && (len(lost[0].Evidence) == 0 || lost[0].Evidence[0].Object != "Deployment shop/cart") {
		t.Errorf("lost control's evidence = %+v, want the old scan's Deployment shop/cart", lost[0].Evidence)
	}
	check(t, "controls gained", idsOf(d.Controls.Gained, func(c export.DiffControl) string { return c.ID }), []string{})
	// The data stores are still behind a policy, but one the removed
	// allow-shop-clients no longer backs.
	check(t, "controls changed", idsOf(d.Controls.Changed, func(c export.DiffControlChange) string { return c.ID }), []string{
		"network-policy-ingress-restricted@workload:shop-data/orders-db",
		"network-policy-ingress-restricted@workload:shop-data/rabbitmq",
		"network-policy-ingress-restricted@workload:shop-data/redis",
		"network-policy@workload:shop-data/orders-db",
		"network-policy@workload:shop-data/rabbitmq",
		"network-policy@workload:shop-data/redis",
	})
	for _, ch := range d.Controls.Changed {
		if len(ch.Before) != 2 || len(ch.After) != 1 || ch.Before[1].Object != "NetworkPolicy shop-data/allow-shop-clients" {
			t.Errorf("%s: evidence %+v → %+v, want allow-shop-clients gone", ch.ID, ch.Before, ch.After)
		}
	}
	findingID := func(f export.DiffFinding) string { return f.ID + " " + string(f.Severity) }
	check(t, "findings new", idsOf(d.Findings.New, findingID), []string{
		"capabilities-not-dropped@workload:shop/reviews low",
		"container-privileged@workload:shop/cart high",
		"container-runs-as-root@workload:shop/reviews medium",
		"default-service-account@workload:shop/reviews low",
		"image-not-pinned-by-digest@workload:shop/reviews low",
		"no-health-probes@workload:shop/reviews medium",
		"no-resource-limits@workload:shop/reviews medium",
		"no-resource-requests@workload:shop/reviews medium",
		"no-seccomp-profile@workload:shop/reviews low",
		"plaintext-flow-between-workloads@workload:shop/catalog->workload:shop/reviews:8080 low",
		"privilege-escalation-allowed@workload:shop/reviews low",
		"service-account-token-automounted@workload:shop/reviews low",
		"single-replica@workload:shop/reviews medium",
		"writable-root-filesystem@workload:shop/reviews medium",
	})
	check(t, "findings fixed", idsOf(d.Findings.Fixed, findingID), []string{})
	check(t, "findings changed", idsOf(d.Findings.Changed, findingID), []string{})
	if d.Summary.Findings.New != 14 || d.Summary.Elements.Changed != 2 || d.Summary.Controls.Lost != 1 {
		t.Errorf("summary = %+v, disagrees with the lists", d.Summary)
	}

	// The reverse: what the release added is removed, what it lost gained.
	r := diffJSON(t, c, "2", "1")
	check(t, "reverse: elements removed", idsOf(r.Elements.Removed, func(e export.DiffElement) string { return e.ID }), []string{"workload:shop/reviews"})
	check(t, "reverse: controls gained", idsOf(r.Controls.Gained, func(c export.DiffControl) string { return c.ID }), []string{"no-privilege-escalation@workload:shop/cart"})
	if len(r.Findings.Fixed) != 14 || len(r.Findings.New) != 0 {
		t.Errorf("reverse: %d fixed, %d new; want 14, 0", len(r.Findings.Fixed), len(r.Findings.New))
	}
	for _, f := range r.Findings.Fixed {
		if gone := strings.HasSuffix(f.Element, "shop/reviews") || strings.Contains(f.Element, "shop/reviews:"); f.ElementRemoved != gone {
			t.Errorf("reverse: %s elementRemoved = %v, want %v", f.ID, f.ElementRemoved, gone)
		}
	}

	// The gate fails on the one new high finding, naming it, and on
	// nothing at critical.
	res := c.run("", "diff", "--format", "md", "--fail-on", "high")
	if res.code != exitFindings || !strings.Contains(res.stderr, "container-privileged@workload:shop/cart") || strings.Contains(res.stderr, "reviews") {
		t.Errorf("--fail-on high: exit %d, stderr %q; want 1 naming container-privileged@workload:shop/cart only", res.code, res.stderr)
	}
	oneLine(t, "--fail-on", res.stderr)
	if !strings.Contains(res.stdout, "# Changes: scan #1 → scan #2") || !strings.Contains(res.stdout, "| + | container-privileged@workload:shop/cart | new high |") {
		t.Errorf("markdown diff:\n%s", res.stdout)
	}
	if res := c.run("", "diff", "--format", "json", "--fail-on", "critical"); res.code != exitOK {
		t.Errorf("--fail-on critical: exit %d, %s", res.code, res.stderr)
	}
	// Triage is carried: a triaged new finding no longer fails the gate.
	c.mustRun("triage", "container-privileged@workload:shop/cart", "--status", "accepted", "--reason", "needs the host's devices")
	if res := c.run("", "diff", "--format", "json", "--fail-on", "high"); res.code != exitOK {
		t.Errorf("--fail-on high after triage: exit %d, %s", res.code, res.stderr)
	}
	d = diffJSON(t, c)
	for _, f := range d.Findings.New {
		if f.ID == "container-privileged@workload:shop/cart" && (f.Triage == nil || f.Triage.Status != "accepted") {
			t.Errorf("triage not carried: %+v", f.Triage)
		}
	}
}

// TestDiffTableOnTerminal: on a terminal diff prints its table, and names
// from the input are escaped.
func TestDiffTableOnTerminal(t *testing.T) {
	c := newCLI(t)
	dir := filepath.Join(t.TempDir(), "app\x1b[31m")
	if err := os.CopyFS(dir, os.DirFS(demoDir)); err != nil {
		t.Fatal(err)
	}
	c.mustRun("scan", "-f", dir)
	discovertest.ReplaceInFile(t, filepath.Join(dir, "services.yaml"), "image: ghcr.io/stridemap-demo/catalog:1.4.2", "image: ghcr.io/stridemap-demo/catalog:1.5.0")
	c.mustRun("scan", "-f", dir)
	out := c.runTerminal(true, "diff")
	if out.code != 0 || !strings.Contains(out.stdout, "Scan #1") || !strings.Contains(out.stdout, "catalog:1.4.2 → ghcr.io/stridemap-demo/catalog:1.5.0") {
		t.Errorf("diff on a terminal: exit %d\n%s%s", out.code, out.stdout, out.stderr)
	}
	scans := c.runTerminal(true, "scans")
	for name, s := range map[string]string{"diff": out.stdout, "scans": scans.stdout} {
		if strings.Contains(s, "\x1b") || !strings.Contains(s, `app\x1b[31m`) {
			t.Errorf("%s: the directory's name is not escaped:\n%s", name, s)
		}
	}
	if !strings.Contains(scans.stdout, "TARGET") {
		t.Errorf("scans has no TARGET column:\n%s", scans.stdout)
	}
}

// scanTwoTargets checks that args, run before any scan, say to scan
// first; then scans two copies of the demo, two targets, and returns
// their directories.
func scanTwoTargets(t *testing.T, c *cli, args ...string) (one, other string) {
	t.Helper()
	one, other = copyDemo(t), filepath.Join(t.TempDir(), "other")
	if err := os.CopyFS(other, os.DirFS(demoDir)); err != nil {
		t.Fatal(err)
	}
	if res := c.run("", args...); res.code != exitUsage || !strings.Contains(res.stderr, "stridemap scan -f DIR") {
		t.Errorf("%s with no store: exit %d, %q", strings.Join(args, " "), res.code, res.stderr)
	}
	c.mustRun("scan", "-f", one)
	c.mustRun("scan", "-f", other)
	return one, other
}

// wantUsageError checks res is a usage error (exit 2) in one line that
// says each of want.
func wantUsageError(t *testing.T, res result, want ...string) {
	t.Helper()
	if res.code != exitUsage {
		t.Errorf("exit %d, want 2; stdout %s", res.code, res.stdout)
	}
	oneLine(t, "error", res.stderr)
	for _, w := range want {
		if !strings.Contains(res.stderr, w) {
			t.Errorf("stderr %q lacks %q", res.stderr, w)
		}
	}
}

// TestDiffErrors: each way of naming no pair to compare is one line
// saying what to do, and exit 2.
func TestDiffErrors(t *testing.T) {
	c := newCLI(t)
	one, other := scanTwoTargets(t, c, "diff")
	tests := []struct {
		name string
		args []string
		want []string
	}{
		{"only one scan of the target", nil, []string{"nothing to compare", "scan again, or name two scans", other}},
		{"unknown scan number", []string{"9", "1"}, []string{"no scan 9", "scans 1–2", "stridemap scans"}},
		{"a scan with itself", []string{"1", "1"}, []string{"scan 1 diffed with itself"}},
		{"latest with itself", []string{"2"}, []string{"scan 2 diffed with itself"}},
		{"different targets", []string{"1", "2"}, []string{"different targets", one, other, "--any-target"}},
		{"not a scan name", []string{"last-week"}, []string{"scan last-week:", "latest, previous, or a date"}},
		{"a date before every scan", []string{"2001-01-01"}, []string{"no scan on or before 2001-01-01", "the first is scan 1"}},
		{"bad format", []string{"--format", "xml"}, []string{"--format", "table, json or md"}},
		{"bad severity", []string{"--fail-on", "severe"}, []string{"--fail-on", "unknown severity"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			res := c.run("", append([]string{"diff"}, tc.args...)...)
			wantUsageError(t, res, tc.want...)
		})
	}
	// --any-target compares them anyway and says they differ.
	d := diffJSON(t, c, "1", "2", "--any-target")
	if d.SameTarget || d.Old.Target != one || d.New.Target != other {
		t.Errorf("--any-target: same %v, %q → %q", d.SameTarget, d.Old.Target, d.New.Target)
	}
	// "previous" is the previous scan of the latest scan's target: after a
	// third scan of the first app, scan 2 (the other app) is skipped.
	c.mustRun("scan", "-f", one)
	if d := diffJSON(t, c); d.Old.ID != 1 || d.New.ID != 3 {
		t.Errorf("default pair = #%d → #%d, want #1 → #3", d.Old.ID, d.New.ID)
	}
	if d := diffJSON(t, c, "previous", "latest"); d.Old.ID != 1 || d.New.ID != 3 {
		t.Errorf("previous latest = #%d → #%d, want #1 → #3", d.Old.ID, d.New.ID)
	}
	// A date far ahead names the last scan of the other side's target.
	if d := diffJSON(t, c, "1", "2999-12-31"); d.Old.ID != 1 || d.New.ID != 3 {
		t.Errorf("1 2999-12-31 = #%d → #%d, want #1 → #3", d.Old.ID, d.New.ID)
	}
}

// TestDiffAcrossMigration: a store written before targets were recorded
// (schema 6) opens, and its scans diff against new ones: a scan of an
// absolute path gets its target from its sources, one of a relative path
// is of an unknown target, which is said, not refused.
func TestDiffAcrossMigration(t *testing.T) {
	for _, tc := range []struct {
		name, path string
		known      bool
	}{
		{"absolute path", "", true},
		{"relative path", demoDir, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := newCLI(t)
			dir := tc.path
			if dir == "" {
				dir = copyDemo(t)
			}
			c.mustRun("scan", "-f", dir)
			downgradeToSchema6(t, c.db)
			if r := c.mustRun("scan", "-f", dir); !strings.Contains(r.stderr, "upgrading the store "+c.db+" from schema 6 to ") {
				t.Errorf("a scan into an old store does not say it upgrades it:\n%s", r.stderr)
			}
			if r := c.mustRun("store", "migrate"); strings.Contains(r.stderr, "pgrading") || !strings.Contains(r.stdout, "up to date") {
				t.Errorf("store migrate of the upgraded store:\n%s%s", r.stdout, r.stderr)
			}
			d := diffJSON(t, c)
			if d.Old.ID != 1 || d.New.ID != 2 || d.Old.TargetKnown != tc.known || d.SameTarget != tc.known || d.Summary.Findings.Unchanged == 0 {
				t.Errorf("diff across the migration: %+v %+v same %v, %+v", d.Old, d.New, d.SameTarget, d.Summary)
			}
			if len(d.Elements.Added)+len(d.Elements.Removed)+len(d.Findings.New)+len(d.Findings.Fixed) != 0 {
				t.Errorf("the same input drifted across the migration: %+v", d.Summary)
			}
			table := c.runTerminal(true, "diff")
			if want := "(a scan stored before targets were recorded)"; !tc.known && !strings.Contains(table.stdout, want) {
				t.Errorf("table does not say the target is unknown:\n%s", table.stdout)
			}
		})
	}
}

// TestDiffOnlineBoutiqueWithoutItsPolicies: Online Boutique scanned with
// its NetworkPolicies, then again after they were deleted: the policy
// controls are lost and the findings they prevented are new; nothing is
// fixed.
func TestDiffOnlineBoutiqueWithoutItsPolicies(t *testing.T) {
	corpus := discovertest.CorpusDir(t)
	dir := filepath.Join(t.TempDir(), "boutique")
	if err := os.CopyFS(dir, os.DirFS(filepath.Join(corpus, "online-boutique"))); err != nil {
		t.Fatal(err)
	}
	policies := filepath.Join(corpus, "online-boutique-policies", "network-policies")
	entries, err := os.ReadDir(policies)
	if err != nil {
		t.Fatal(err)
	}
	var copied []string
	for _, e := range entries {
		if e.Name() == "kustomization.yaml" || !strings.HasSuffix(e.Name(), ".yaml") {
			continue
		}
		copied = append(copied, filepath.Join(dir, "policy-"+e.Name()))
		writeFile(t, copied[len(copied)-1], mustRead(t, filepath.Join(policies, e.Name())))
	}
	c := newCLI(t)
	c.mustRun("scan", "-f", dir)
	for _, p := range copied {
		if err := os.Remove(p); err != nil {
			t.Fatal(err)
		}
	}
	c.mustRun("scan", "-f", dir)
	d := diffJSON(t, c)

	if len(d.Elements.Added)+len(d.Elements.Removed)+len(d.Elements.Changed) != 0 {
		t.Errorf("elements drifted, though only policies went: %+v", d.Elements)
	}
	if len(d.Controls.Lost) == 0 || len(d.Controls.Gained) != 0 {
		t.Errorf("controls: %d lost, %d gained; want some lost, none gained", len(d.Controls.Lost), len(d.Controls.Gained))
	}
	for _, c := range d.Controls.Lost {
		if !strings.HasPrefix(c.Type, "network-policy") || len(c.Evidence) == 0 || !strings.HasPrefix(c.Evidence[0].Object, "NetworkPolicy ") {
			t.Errorf("lost control %s (%s) with evidence %+v: want a NetworkPolicy's", c.ID, c.Type, c.Evidence)
		}
	}
	// Every flow the policies admitted is now unrestricted.
	if len(d.Flows.Changed) == 0 {
		t.Error("no flow changed its policy verdict")
	}
	for _, ch := range d.Flows.Changed {
		if len(ch.Changes) != 1 || ch.Changes[0].Field != "policy" || ch.Changes[0].After != "unrestricted" {
			t.Errorf("flow %s changed %+v; want policy → unrestricted", ch.ID, ch.Changes)
		}
	}
	if len(d.Findings.New) == 0 || len(d.Findings.Fixed) != 0 {
		t.Errorf("findings: %d new, %d fixed; want some new, none fixed", len(d.Findings.New), len(d.Findings.Fixed))
	}
	// Which findings the policies prevented: the data store anyone could
	// reach and write to, and the namespace without default-deny.
	check(t, "findings new", idsOf(d.Findings.New, func(f export.DiffFinding) string { return f.ID }), []string{
		"datastore-reachable-by-any-workload@workload:default/redis-cart",
		"datastore-writable-by-any-workload@workload:default/redis-cart",
		"namespace-without-default-deny-egress@boundary:namespace:default",
		"namespace-without-default-deny-ingress@boundary:namespace:default",
	})
}

// downgradeToSchema6 takes the store at path back to the schema before
// targets were recorded (migration 0007), as an older stridemap left it.
func downgradeToSchema6(t *testing.T, path string) {
	t.Helper()
	db, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	modeltest.UndoRowGroups(t, db) // 0011, 0010, 0009
	for _, stmt := range []string{`DROP TABLE rescan_failures` /* 0008 */, `DROP INDEX scans_target`, `ALTER TABLE scans DROP COLUMN target`, `PRAGMA user_version = 6`} {
		if _, err := db.Exec(stmt); err != nil {
			t.Fatalf("%s: %v", stmt, err)
		}
	}
}

// TestDiffJSONDocumented: every field the diff's JSON holds is described
// in docs/diff-json.md, so the documented schema is the printed one.
func TestDiffJSONDocumented(t *testing.T) {
	c := newCLI(t)
	dir := copyDemo(t)
	c.mustRun("scan", "-f", dir)
	discovertest.ChangeDemo(t, dir)
	c.mustRun("scan", "-f", dir)
	c.mustRun("triage", "container-privileged@workload:shop/cart", "--status", "accepted", "--reason", "needs the host's devices")
	var doc any
	if err := json.Unmarshal([]byte(c.mustRun("diff", "--format", "json").stdout), &doc); err != nil {
		t.Fatal(err)
	}
	docs := mustRead(t, filepath.Join("..", "..", "docs", "diff-json.md"))
	keys := map[string]bool{}
	var walk func(v any)
	walk = func(v any) {
		switch v := v.(type) {
		case map[string]any:
			for k, x := range v {
				keys[k] = true
				walk(x)
			}
		case []any:
			for _, x := range v {
				walk(x)
			}
		}
	}
	walk(doc)
	if doc.(map[string]any)["schemaVersion"] != float64(1) {
		t.Errorf("schemaVersion = %v, want 1", doc.(map[string]any)["schemaVersion"])
	}
	for k := range keys {
		if !strings.Contains(docs, "`"+k+"`") && !strings.Contains(docs, `"`+k+`"`) {
			t.Errorf("field %q is not in docs/diff-json.md", k)
		}
	}
	if len(keys) < 40 {
		t.Errorf("only %d distinct fields walked: the diff lost its lists?", len(keys))
	}
}
