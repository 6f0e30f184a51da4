package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stridemap/stridemap/discover/cluster/clustertest"
	"github.com/stridemap/stridemap/discover/discovertest"
	"github.com/stridemap/stridemap/model"
	"github.com/stridemap/stridemap/policy"
)

// TestPolicyDiffOnlineBoutique compares "policy diff" on Online Boutique
// scanned with its upstream NetworkPolicies (and Istio manifests) with the
// golden file, which testdata/policy-diff/README.md checks line by line
// against the policies.
func TestPolicyDiffOnlineBoutique(t *testing.T) {
	corpus := discovertest.CorpusDir(t)
	c := newCLI(t)
	c.mustRun("scan", "--skip-threats", "-f", filepath.Join(corpus, "online-boutique"), "-f", filepath.Join(corpus, "online-boutique-policies"))
	out := c.mustRun("policy", "diff").stdout
	// Evidence names files as scanned: the golden holds wherever the
	// corpus sits.
	out = strings.ReplaceAll(out, corpus+string(filepath.Separator), "corpus/")
	golden := filepath.Join("testdata", "policy-diff", "online-boutique.golden")
	if *update {
		if err := os.WriteFile(golden, []byte(out), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatalf("%v (go test -run TestPolicyDiffOnlineBoutique -update writes it)", err)
	}
	if out != string(want) {
		t.Errorf("policy diff differs from %s (-update rewrites it; check it against the README):\n%s", golden, out)
	}
}

// TestPolicyDiffDemo checks the report against the verdicts the scan
// stored on each flow, which controls computed when the graph was built:
// the same policies, read again, must judge the flows the same way. And
// the suggestion must keep every flow and close every pair no policy
// governs today.
func TestPolicyDiffDemo(t *testing.T) {
	c := newCLI(t)
	c.mustRun("scan", "--skip-threats", "-f", demoDir)
	var g model.Graph
	if err := json.Unmarshal([]byte(c.mustRun("graph", "--format", "json").stdout), &g); err != nil {
		t.Fatal(err)
	}
	var r policy.Report
	res := c.mustRun("policy", "diff", "--format", "json")
	if err := json.Unmarshal([]byte(res.stdout), &r); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(res.stderr, "changed since") || strings.Contains(res.stderr, "other than scan") {
		t.Errorf("the demo did not change since its scan, and policy diff warns: %s", res.stderr)
	}
	stored := map[string]string{}
	for _, e := range g.Edges {
		stored[e.ID] = e.Policy
	}
	judged := 0
	for verdict, list := range map[string][]policy.Flow{model.PolicyAllowed: r.Used, model.PolicyDenied: r.Denied, "": r.Ungoverned} {
		for _, f := range list {
			judged++
			// The scan leaves flows from outside the cluster unjudged.
			if !strings.HasPrefix(f.From, "external:") && stored[f.Edge] != verdict {
				t.Errorf("flow %s is %q in policy diff, %q in the scan", f.Edge, verdict, stored[f.Edge])
			}
		}
	}
	if judged+len(r.NotJudged) != len(g.Edges) {
		t.Errorf("%d flows judged and %d not, of %d in the scan", judged, len(r.NotJudged), len(g.Edges))
	}
	if len(r.Used) == 0 || len(r.Ungoverned) == 0 || len(r.Open) == 0 {
		t.Fatalf("the demo has flows its policies allow and flows no policy governs: used %d, ungoverned %d, open pairs %d", len(r.Used), len(r.Ungoverned), len(r.Open))
	}
	if len(r.Broken) != 0 {
		t.Errorf("the suggestion would break flows of the demo: %+v", r.Broken)
	}
	removed := map[string]bool{}
	for _, p := range r.Removes {
		for _, from := range p.From {
			removed[fmt.Sprint(from, p.To, p.Port)] = true
		}
	}
	for _, p := range r.Open {
		for _, from := range p.From {
			if !removed[fmt.Sprint(from, p.To, p.Port)] {
				t.Errorf("%s -> %s on %d is open today, used by no flow, and the suggestion does not close it", from, p.To, p.Port.Number)
			}
		}
	}
	// --fail-on: exit 1 after the whole report when a section named has
	// flows, with one line saying which and how many.
	for _, tc := range []struct {
		sections string
		flows    int
		says     string
	}{
		{"broken", len(r.Broken), "the suggestion would not allow"},
		{"open", len(r.Ungoverned), "allowed only because no policy selects their destination"},
		{"denied,broken", len(r.Denied) + len(r.Broken), "used but denied today"},
	} {
		res := c.run("", "policy", "diff", "--format", "json", "--fail-on", tc.sections)
		switch {
		case tc.flows == 0 && res.code != 0:
			t.Errorf("--fail-on %s with no such flows: exit %d %s", tc.sections, res.code, res.stderr)
		case tc.flows > 0 && (res.code != exitFindings || !strings.Contains(res.stderr, tc.says) || strings.Count(strings.TrimSpace(res.stderr), "\n") != 0):
			t.Errorf("--fail-on %s with %d flows: exit %d, want %d and one line saying %q:\n%s", tc.sections, tc.flows, res.code, exitFindings, tc.says, res.stderr)
		case !json.Valid([]byte(res.stdout)):
			t.Errorf("--fail-on %s: the report was not written whole", tc.sections)
		}
	}
	if res := c.run("", "policy", "diff", "--fail-on", "leaky"); res.code != exitUsage {
		t.Errorf("--fail-on leaky: exit %d, want %d", res.code, exitUsage)
	}
	text := c.mustRun("policy", "diff").stdout
	for _, section := range []string{"Flows allowed and used (", "Flows allowed only because no policy selects their destination (", "Pairs allowed today, not declared", "Connectivity the suggestion removes ("} {
		if !strings.Contains(text, section) {
			t.Errorf("the text has no section %q:\n%s", section, text)
		}
	}
}

// TestPolicyDiffSources: a scan of stdin, or of files since removed,
// cannot be read again, and says so in one line naming what to pass; -f
// names today's sources instead; sources that changed are warned about.
func TestPolicyDiffSources(t *testing.T) {
	demo, err := os.ReadFile(filepath.Join(demoDir, "frontend.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	t.Run("stdin", func(t *testing.T) {
		c := newCLI(t)
		if r := c.run(string(demo), "scan", "--skip-threats", "-f", "-"); r.code != 0 {
			t.Fatalf("scan of stdin: exit %d: %s", r.code, r.stderr)
		}
		r := c.run("", "policy", "diff")
		if r.code == 0 || !strings.Contains(r.stderr, "standard input") || !strings.Contains(r.stderr, "-f PATH") || strings.Count(strings.TrimSpace(r.stderr), "\n") != 0 {
			t.Errorf("policy diff of a stdin scan: exit %d, stderr %q; want one line naming stdin and -f", r.code, r.stderr)
		}
		r = c.run(string(demo), "policy", "diff", "-f", "-")
		if r.code != 0 || !strings.Contains(r.stdout, "Flows allowed only because no policy selects their destination (") {
			t.Errorf("policy diff -f - : exit %d\n%s\n%s", r.code, r.stdout, r.stderr)
		}
	})
	t.Run("changed and removed", func(t *testing.T) {
		dir := t.TempDir()
		file := filepath.Join(dir, "frontend.yaml")
		if err := os.WriteFile(file, demo, 0o644); err != nil {
			t.Fatal(err)
		}
		c := newCLI(t)
		c.mustRun("scan", "--skip-threats", "-f", dir)
		if r := c.mustRun("policy", "diff"); strings.Contains(r.stderr, "warning") {
			t.Errorf("unchanged sources, and a warning: %s", r.stderr)
		}
		// Without its Services, the frontend declares no flows.
		var kept []string
		for _, doc := range strings.Split(string(demo), "\n---") {
			if !strings.Contains(doc, "kind: Service\n") {
				kept = append(kept, doc)
			}
		}
		if err := os.WriteFile(file, []byte(strings.Join(kept, "\n---")), 0o644); err != nil {
			t.Fatal(err)
		}
		if r := c.mustRun("policy", "diff"); !strings.Contains(r.stderr, "warning: the sources declare") {
			t.Errorf("the sources changed, and no warning: %s", r.stderr)
		}
		if err := os.RemoveAll(dir); err != nil {
			t.Fatal(err)
		}
		r := c.run("", "policy", "diff")
		if r.code == 0 || !strings.Contains(r.stderr, dir) || !strings.Contains(r.stderr, "re-scan") {
			t.Errorf("policy diff of removed files: exit %d, stderr %q; want the path and what to do", r.code, r.stderr)
		}
	})
}

// TestPolicyDiffLive: policy diff of a scan of a cluster reads the
// cluster's policies again, as they are now, from a real API server: a
// policy applied after the scan changes the verdict without a re-scan.
func TestPolicyDiffLive(t *testing.T) {
	srv := clustertest.Start(t)
	const client = `apiVersion: apps/v1
kind: Deployment
metadata: {name: client}
spec:
  selector: {matchLabels: {app: client}}
  template:
    metadata: {labels: {app: client}}
    spec: {containers: [{name: client, image: curlimages/curl:8.10.1, env: [{name: WEB_ADDR, value: "web:80"}]}]}
`
	srv.Apply(t, "shop", []byte(liveShop+"---\n"+client))
	t.Setenv("KUBECONFIG", srv.Kubeconfig) // what policy diff reads the cluster with
	c := newCLI(t)
	c.mustRun("scan", "--skip-threats", "--live", "-n", "shop")

	r := c.run("", "policy", "diff", "--fail-on", "open")
	if r.code != exitFindings || !strings.Contains(r.stdout, "Flows allowed only because no policy selects their destination (1)") || !strings.Contains(r.stdout, "workload:shop/client") {
		t.Fatalf("before any policy: exit %d, want the client's flow open\n%s\n%s", r.code, r.stdout, r.stderr)
	}
	c.mustRun("policy", "diff", "--fail-on", "denied")

	srv.Apply(t, "shop", []byte(`apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: default-deny}
spec:
  podSelector: {}
  policyTypes: [Ingress]
`))
	r = c.run("", "policy", "diff", "--fail-on", "denied")
	if r.code != exitFindings || !strings.Contains(r.stdout, "Flows used but denied today (1)") {
		t.Fatalf("after a default-deny policy, without a re-scan: exit %d, want the client's flow denied\n%s\n%s", r.code, r.stdout, r.stderr)
	}
}
