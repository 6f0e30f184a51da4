package main

import (
	"context"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	networkingv1 "k8s.io/api/networking/v1"
	"sigs.k8s.io/yaml"

	"github.com/stridemap/stridemap/model"
	"github.com/stridemap/stridemap/model/store"
	"github.com/stridemap/stridemap/policy"
)

// storedGraph reads the latest scan's graph straight from the store, so
// the tests check the command against what it read, not against itself.
func storedGraph(t *testing.T, c *cli) *model.Graph {
	t.Helper()
	ctx := context.Background()
	s, err := store.OpenExisting(ctx, c.db)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	id, err := s.LatestScanID(ctx)
	if err != nil {
		t.Fatal(err)
	}
	g, err := s.Graph(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	return g
}

// parsePolicies decodes a YAML stream that must hold NetworkPolicies only.
func parsePolicies(t *testing.T, what, stream string) []networkingv1.NetworkPolicy {
	t.Helper()
	var out []networkingv1.NetworkPolicy
	for _, doc := range regexp.MustCompile(`(?m)^---$`).Split(stream, -1) {
		var np networkingv1.NetworkPolicy
		if err := yaml.UnmarshalStrict([]byte(doc), &np); err != nil {
			t.Fatalf("%s: a document is not a NetworkPolicy: %v\n%s", what, err, doc)
		}
		if np.APIVersion != "networking.k8s.io/v1" || np.Kind != "NetworkPolicy" || np.Name == "" || np.Namespace == "" {
			t.Fatalf("%s: a document is %s %s %s/%s", what, np.APIVersion, np.Kind, np.Namespace, np.Name)
		}
		out = append(out, np)
	}
	return out
}

func policyNames(list []networkingv1.NetworkPolicy) []string {
	var out []string
	for _, p := range list {
		out = append(out, p.Namespace+"/"+p.Name)
	}
	slices.Sort(out)
	return out
}

// TestPolicySuggestDirectory: on the demo, -o DIR writes one file of
// NetworkPolicies per namespace with workloads (default deny, DNS and a
// policy per workload a flow reaches), a kustomization listing exactly
// those files, and the notes; every declared flow of the stored scan is
// named in a policy's stridemap.io/flows annotation or in a note.
func TestPolicySuggestDirectory(t *testing.T) {
	c := newCLI(t)
	c.mustRun("scan", "-f", demoDir)
	g := storedGraph(t, c)
	dir := filepath.Join(t.TempDir(), "policies", "new") // created, parents too
	keep := filepath.Join(filepath.Dir(dir), "new", "mine.yaml")
	writeFile(t, keep, "kept\n")
	out := c.mustRun("policy", "suggest", "-o", dir)

	namespaces := policy.WorkloadNamespaces(g)
	var wantFiles []string
	for _, ns := range namespaces {
		wantFiles = append(wantFiles, ns+".yaml")
	}
	var kustomization struct {
		Kind      string   `json:"kind"`
		Resources []string `json:"resources"`
	}
	if err := yaml.Unmarshal([]byte(mustRead(t, filepath.Join(dir, "kustomization.yaml"))), &kustomization); err != nil {
		t.Fatal(err)
	}
	if kustomization.Kind != "Kustomization" || !slices.Equal(kustomization.Resources, wantFiles) {
		t.Errorf("kustomization = %+v, want resources %v", kustomization, wantFiles)
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, e := range entries {
		got = append(got, e.Name())
	}
	if want := slices.Sorted(slices.Values(append(slices.Clone(wantFiles), "NOTES.txt", "kustomization.yaml", "mine.yaml"))); !slices.Equal(got, want) {
		t.Errorf("files in DIR = %v, want %v", got, want)
	}
	if mustRead(t, keep) != "kept\n" {
		t.Error("a file the command does not write was changed")
	}

	var all []networkingv1.NetworkPolicy
	flowLines := map[string]bool{}
	for _, ns := range namespaces {
		list := parsePolicies(t, ns+".yaml", mustRead(t, filepath.Join(dir, ns+".yaml")))
		names := map[string]bool{}
		for _, p := range list {
			if p.Namespace != ns {
				t.Errorf("%s.yaml holds %s/%s", ns, p.Namespace, p.Name)
			}
			names[p.Name] = true
			for _, line := range strings.Split(p.Annotations[policy.AnnotationFlows], "\n") {
				if id, _, _ := strings.Cut(line, " "); id != "" {
					flowLines[id] = true
				}
			}
		}
		if !names[policy.DefaultDenyName] || !names[policy.DNSName] {
			t.Errorf("%s.yaml lacks the default deny or DNS policy: %v", ns, names)
		}
		all = append(all, list...)
	}
	notes := mustRead(t, filepath.Join(dir, "NOTES.txt"))
	for _, e := range g.Edges {
		if !e.Declared {
			continue
		}
		if !flowLines[e.ID] && !strings.Contains(notes, "  "+e.ID+": ") {
			t.Errorf("declared flow %s is in no policy's %s annotation and no note", e.ID, policy.AnnotationFlows)
		}
		// Each workload end of an allowed flow has its own policy.
		for _, end := range []string{e.From, e.To} {
			if n := g.Node(end); flowLines[e.ID] && n != nil && n.Workload != nil &&
				!slices.Contains(policyNames(all), n.Namespace+"/stridemap-"+n.Name) {
				t.Errorf("flow %s is allowed but %s has no policy", e.ID, end)
			}
		}
	}
	for _, d := range g.Dangling {
		if !strings.Contains(notes, d.From+" => "+d.Target) {
			t.Errorf("dangling reference %s => %s is not in NOTES.txt", d.From, d.Target)
		}
	}

	// Every file written is listed; the summary counts what was written.
	for _, name := range append(wantFiles, "kustomization.yaml", "NOTES.txt") {
		if !strings.Contains(out.stdout, filepath.Join(dir, name)) {
			t.Errorf("the list of files written lacks %s:\n%s", name, out.stdout)
		}
	}
	wantSummary := policyCount(len(all)) + " in " + strconv.Itoa(len(namespaces)) + " namespaces, " + strconv.Itoa(len(flowLines)) + " flows allowed, "
	if !strings.HasPrefix(out.stderr, wantSummary) {
		t.Errorf("summary = %q, want it to start %q", out.stderr, wantSummary)
	}
	oneLine(t, "the summary", out.stderr)

	// Written again, the same files are overwritten, not added to.
	c.mustRun("policy", "suggest", "-o", dir, "-n", namespaces[0])
	if list := parsePolicies(t, "rewritten", mustRead(t, filepath.Join(dir, namespaces[0]+".yaml"))); !slices.Equal(policyNames(list), policyNames(policiesIn(all, namespaces[0]))) {
		t.Errorf("rewritten %s.yaml = %v", namespaces[0], policyNames(list))
	}
	if err := yaml.Unmarshal([]byte(mustRead(t, filepath.Join(dir, "kustomization.yaml"))), &kustomization); err != nil || !slices.Equal(kustomization.Resources, wantFiles[:1]) {
		t.Errorf("rewritten kustomization lists %v, want %v", kustomization.Resources, wantFiles[:1])
	}
}

func policiesIn(list []networkingv1.NetworkPolicy, ns string) []networkingv1.NetworkPolicy {
	return slices.DeleteFunc(slices.Clone(list), func(p networkingv1.NetworkPolicy) bool { return p.Namespace != ns })
}

// TestPolicySuggestStdout: without -o the policies are one stream of
// NetworkPolicies, the same as the directory's files hold; notes and the
// summary are on stderr; -n keeps the namespaces named.
func TestPolicySuggestStdout(t *testing.T) {
	c := newCLI(t)
	c.mustRun("scan", "-f", demoDir)
	g := storedGraph(t, c)
	out := c.mustRun("policy", "suggest")
	list := parsePolicies(t, "stdout", out.stdout)
	var inNamespaces []string
	for _, p := range list {
		if !slices.Contains(inNamespaces, p.Namespace) {
			inNamespaces = append(inNamespaces, p.Namespace)
		}
	}
	if want := policy.WorkloadNamespaces(g); !slices.Equal(inNamespaces, want) {
		t.Errorf("namespaces on stdout = %v, want %v", inNamespaces, want)
	}
	dir := t.TempDir()
	c.mustRun("policy", "suggest", "-o", dir)
	var fromFiles []networkingv1.NetworkPolicy
	for _, ns := range inNamespaces {
		fromFiles = append(fromFiles, parsePolicies(t, ns, mustRead(t, filepath.Join(dir, ns+".yaml")))...)
	}
	if !slices.Equal(policyNames(list), policyNames(fromFiles)) {
		t.Errorf("stdout holds %v, the files %v", policyNames(list), policyNames(fromFiles))
	}
	lines := strings.Split(strings.TrimSuffix(out.stderr, "\n"), "\n")
	notes := mustRead(t, filepath.Join(dir, "NOTES.txt"))
	if got := strings.Join(lines[:len(lines)-1], "\n") + "\n"; !strings.HasSuffix(notes, got) || len(lines) < 2 {
		t.Errorf("stderr's notes differ from NOTES.txt:\n%s\n---\n%s", got, notes)
	}
	if summary := lines[len(lines)-1]; !strings.HasPrefix(summary, policyCount(len(list))+" in "+strconv.Itoa(len(inNamespaces))+" namespaces") || !strings.HasSuffix(summary, plural(len(lines)-1, "note")) {
		t.Errorf("summary = %q", summary)
	}

	two := c.mustRun("policy", "suggest", "-n", "shop", "-n", "payments")
	for _, p := range parsePolicies(t, "-n shop -n payments", two.stdout) {
		if p.Namespace != "shop" && p.Namespace != "payments" {
			t.Errorf("-n shop -n payments wrote %s/%s", p.Namespace, p.Name)
		}
	}
	if !strings.Contains(two.stderr, " in 2 namespaces") {
		t.Errorf("-n shop -n payments: %s", two.stderr)
	}
}

// TestPolicySuggestCilium: --format cilium writes CiliumNetworkPolicies
// for the same namespaces, with its own notes: the hosts known by name
// only that the Kubernetes form notes are toFQDNs rules here.
func TestPolicySuggestCilium(t *testing.T) {
	c := newCLI(t)
	c.mustRun("scan", "-f", demoDir)
	k8s := c.mustRun("policy", "suggest")
	out := c.mustRun("policy", "suggest", "--format", "cilium")
	docs := strings.Split(out.stdout, "\n---\n")
	if len(docs) != len(parsePolicies(t, "kubernetes", k8s.stdout)) {
		t.Errorf("cilium wrote %d objects, kubernetes %d: want one for one", len(docs), len(parsePolicies(t, "kubernetes", k8s.stdout)))
	}
	for _, doc := range docs {
		var obj struct {
			APIVersion string `json:"apiVersion"`
			Kind       string `json:"kind"`
		}
		if err := yaml.Unmarshal([]byte(doc), &obj); err != nil || obj.APIVersion != "cilium.io/v2" || obj.Kind != "CiliumNetworkPolicy" {
			t.Errorf("a document of --format cilium is %+v (%v):\n%s", obj, err, doc)
		}
	}
	if !strings.Contains(out.stdout, "toFQDNs") || !strings.Contains(out.stdout, "matchPattern") {
		t.Errorf("the demo's egress to hosts known by name is no toFQDNs rule with its DNS rule:\n%s", out.stdout)
	}
	if strings.Count(out.stderr, "known by name") >= strings.Count(k8s.stderr, "known by name") && strings.Contains(k8s.stderr, "known by name") {
		t.Errorf("the Cilium form keeps the Kubernetes form's notes on hosts known by name:\n%s", out.stderr)
	}
}

// TestPolicySuggestErrors: bad values and namespaces without workloads
// are one line each, exit 2, naming what is valid.
func TestPolicySuggestErrors(t *testing.T) {
	c := newCLI(t)
	c.mustRun("scan", "-f", demoDir)
	for _, tc := range []struct {
		args []string
		want []string
	}{
		{[]string{"--from", "seen"}, []string{`--from "seen"`, "declared, observed or both"}},
		{[]string{"--format", "calico"}, []string{`--format "calico"`, "kubernetes or cilium"}},
		{[]string{"-n", "shop", "-n", "nowhere"}, []string{"-n nowhere", "no workloads", "logging, payments, shop, shop-data"}},
		{[]string{"--from", "observed"}, []string{"no observed flows", "deny everything but DNS", "stridemap observe"}},
		{[]string{"7"}, []string{"scan"}},
	} {
		r := c.run("", append([]string{"policy", "suggest"}, tc.args...)...)
		if r.code != exitUsage || r.stdout != "" {
			t.Errorf("policy suggest %v: exit %d, stdout %q", tc.args, r.code, r.stdout)
		}
		oneLine(t, "the error", r.stderr)
		for _, w := range tc.want {
			if !strings.Contains(r.stderr, w) {
				t.Errorf("policy suggest %v: %q lacks %q", tc.args, r.stderr, w)
			}
		}
	}
	if r := c.run("", "policy", "sugest"); r.code != exitUsage || !strings.Contains(r.stderr, "did you mean suggest?") {
		t.Errorf("policy sugest: exit %d %q", r.code, r.stderr)
	}
	help := c.mustRun("policy", "suggest", "--help").stdout
	for _, w := range []string{"stridemap-default-deny", "kubectl apply -k", "NOTES.txt", "ipBlock", "Notes are", "--from observed", "Examples:"} {
		if !strings.Contains(help, w) {
			t.Errorf("policy suggest --help lacks %q", w)
		}
	}
}

// TestPolicySuggestEscapes: names and labels holding terminal escapes
// (ESC, BEL, U+202E) reach stderr, NOTES.txt and a terminal's stdout
// escaped, never raw; a namespace that cannot be a file name is refused.
func TestPolicySuggestEscapes(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "evil.yaml"), `apiVersion: apps/v1
kind: Deployment
metadata: {name: "cart", namespace: shop}
spec:
  selector: {matchLabels: {app: "cart"}}
  template:
    metadata: {labels: {app: "cart"}}
    spec:
      containers: [{name: c, image: cart:1, ports: [{name: http, containerPort: 8080}]}]
---
apiVersion: v1
kind: Service
metadata: {name: cart, namespace: shop}
spec: {selector: {app: cart}, ports: [{port: 80, targetPort: 8080}]}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: "evil\u001b[2J\u0007\u202e", namespace: shop}
spec:
  template:
    spec:
      containers: [{name: c, image: evil:1, env: [{name: CART, value: "cart:80"}]}]
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: twin, namespace: shop}
spec:
  template:
    metadata: {labels: {app: "x\u001b]0;owned\u0007\u202e"}}
    spec:
      containers: [{name: c, image: twin:1, env: [{name: CART, value: "cart:80"}]}]
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: twin2, namespace: shop}
spec:
  template:
    metadata: {labels: {app: "x\u001b]0;owned\u0007\u202e"}}
    spec:
      containers: [{name: c, image: twin:1}]
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: caller, namespace: shop}
spec:
  template:
    metadata: {labels: {app: "caller\u202e"}}
    spec:
      containers: [{name: c, image: caller:1, env: [{name: CART, value: "cart:80"}, {name: NEXT, value: "http://gone\u001b[31m:8080"}]}]
`)
	c := newCLI(t)
	c.mustRun("scan", "-f", dir)
	raw := func(what, s string) {
		t.Helper()
		if i := strings.IndexAny(s, "\x1b\a\u202e"); i >= 0 {
			t.Errorf("%s holds a raw escape: %q", what, s[max(0, i-40):min(len(s), i+40)])
		}
	}
	out := c.mustRun("policy", "suggest")
	raw("stderr", out.stderr)
	for _, want := range []string{`evil\x1b[2J\a\u202e`, `same labels as those of workload:shop/twin2`} {
		if !strings.Contains(out.stderr, want) {
			t.Errorf("stderr lacks the note %q (escaped):\n%s", want, out.stderr)
		}
	}
	if !strings.Contains(out.stdout, "\u202e") {
		t.Error("stdout, a pipe, should hold the policies as they are: caller's label is gone")
	}
	raw("stdout on a terminal", c.runTerminal(true, "policy", "suggest").stdout)

	files := t.TempDir()
	written := c.mustRun("policy", "suggest", "-o", files)
	raw("stdout of -o", written.stdout)
	raw("stderr of -o", written.stderr)
	notes := mustRead(t, filepath.Join(files, "NOTES.txt"))
	raw("NOTES.txt", notes)
	if !strings.Contains(notes, `evil\x1b[2J\a\u202e`) {
		t.Errorf("NOTES.txt lacks the unlabelled workload:\n%s", notes)
	}

	bad := t.TempDir()
	writeFile(t, filepath.Join(bad, "ns.yaml"), strings.ReplaceAll(mustRead(t, filepath.Join(dir, "evil.yaml")), "namespace: shop", `namespace: "../sh\u001bop"`))
	c2 := newCLI(t)
	c2.mustRun("scan", "-f", bad)
	out2 := t.TempDir()
	r := c2.run("", "policy", "suggest", "-o", filepath.Join(out2, "p"))
	if r.code != exitUsage || !strings.Contains(r.stderr, "not a Kubernetes namespace name") {
		t.Errorf("a namespace that is no file name: exit %d %q", r.code, r.stderr)
	}
	raw("the refusal", r.stderr)
	if entries, _ := os.ReadDir(out2); len(entries) != 0 {
		t.Errorf("files written despite the refusal: %v", entries)
	}
}

// TestPolicySuggestFromObserved: --from picks the flows: observed allows
// what was seen (an IP host as an ipBlock) and not what the manifests
// declare alone; declared the reverse.
func TestPolicySuggestFromObserved(t *testing.T) {
	c := newCLI(t)
	c.mustRun("scan", "-f", filepath.Join(flowsDir, "shop.yaml"),
		"--flows", filepath.Join(flowsDir, "node-a.jsonl"), "--inventory", filepath.Join(flowsDir, "pods.json"))
	g := storedGraph(t, c)
	allowed := func(from string) ([]string, []networkingv1.NetworkPolicy) {
		list := parsePolicies(t, "--from "+from, c.mustRun("policy", "suggest", "--from", from).stdout)
		var ids []string
		for _, p := range list {
			for _, line := range strings.Split(p.Annotations[policy.AnnotationFlows], "\n") {
				if id, _, _ := strings.Cut(line, " "); id != "" && !slices.Contains(ids, id) {
					ids = append(ids, id)
				}
			}
		}
		return ids, list
	}
	observed, list := allowed("observed")
	declared, _ := allowed("declared")
	for _, e := range g.Edges {
		if e.Observed && !slices.Contains(observed, e.ID) {
			t.Errorf("--from observed leaves out the observed flow %s", e.ID)
		}
		if slices.Contains(observed, e.ID) && !e.Observed {
			t.Errorf("--from observed allows %s, which was not seen", e.ID)
		}
		if slices.Contains(declared, e.ID) && !e.Declared {
			t.Errorf("--from declared allows %s, which no manifest declares", e.ID)
		}
	}
	if !slices.Contains(observed, "workload:shop/loadgen->workload:shop/frontend:8080") || slices.Contains(observed, "workload:shop/frontend->workload:shop/audit:9000") {
		t.Errorf("--from observed allows %v", observed)
	}
	ipBlock := false
	for _, p := range list {
		for _, r := range p.Spec.Egress {
			ipBlock = ipBlock || (r.To[0].IPBlock != nil && r.To[0].IPBlock.CIDR == "203.0.113.9/32")
		}
	}
	if !ipBlock {
		t.Error("no egress to the observed address 203.0.113.9 as an ipBlock")
	}
}
