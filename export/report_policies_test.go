package export_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"html"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stridemap/stridemap/controls"
	"github.com/stridemap/stridemap/export"
	"github.com/stridemap/stridemap/model"
	"github.com/stridemap/stridemap/model/modeltest"
	"github.com/stridemap/stridemap/model/store"
)

// policyObject is the part of a NetworkPolicy the tests read.
type policyObject struct {
	Metadata struct {
		Name        string            `json:"name"`
		Namespace   string            `json:"namespace"`
		Annotations map[string]string `json:"annotations"`
	} `json:"metadata"`
	Spec struct {
		PodSelector struct {
			MatchLabels map[string]string `json:"matchLabels"`
		} `json:"podSelector"`
		PolicyTypes []string          `json:"policyTypes"`
		Egress      []json.RawMessage `json:"egress"`
	} `json:"spec"`
}

func appendixOf(t *testing.T, r *export.Report) map[string][]policyObject {
	t.Helper()
	var b bytes.Buffer
	if err := export.WriteReportJSON(&b, r); err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Policies []struct {
			Namespace string         `json:"namespace"`
			Policies  []policyObject `json:"policies"`
			Notes     []struct{ Subject, Reason string }
		} `json:"suggestedPolicies"`
	}
	if err := json.Unmarshal(b.Bytes(), &doc); err != nil {
		t.Fatal(err)
	}
	out := map[string][]policyObject{}
	for _, ns := range doc.Policies {
		out[ns.Namespace] = ns.Policies
	}
	return out
}

func findPolicy(policies []policyObject, name string) *policyObject {
	i := slices.IndexFunc(policies, func(p policyObject) bool { return p.Metadata.Name == name })
	if i < 0 {
		return nil
	}
	return &policies[i]
}

// TestReportSuggestedPolicies: the demo's report ends with the suggested
// policies of every namespace with workloads, default deny included, and
// checkout's policy allows its flow to orders-db; the JSON holds them as
// objects, the Markdown and HTML as YAML with the notes and the command
// that writes the files. A namespace's report has that namespace's only.
func TestReportSuggestedPolicies(t *testing.T) {
	s := demo(t)
	r := report(t, s, export.Scope{})
	appendix := appendixOf(t, r)
	var workloadNamespaces []string
	for i := range s.graph.Nodes {
		if n := &s.graph.Nodes[i]; n.Workload != nil && !slices.Contains(workloadNamespaces, n.Namespace) {
			workloadNamespaces = append(workloadNamespaces, n.Namespace)
		}
	}
	if len(appendix) != len(workloadNamespaces) {
		t.Errorf("the appendix covers %d namespaces, the demo has workloads in %v", len(appendix), workloadNamespaces)
	}
	for _, ns := range workloadNamespaces {
		deny := findPolicy(appendix[ns], "stridemap-default-deny")
		if deny == nil || len(deny.Spec.PolicyTypes) != 2 || len(deny.Spec.PodSelector.MatchLabels) != 0 {
			t.Errorf("%s: default deny = %+v", ns, deny)
		}
	}
	checkout := findPolicy(appendix["shop"], "stridemap-checkout")
	const flow = "workload:shop/checkout->workload:shop-data/orders-db:5432 ../testdata/demo/services.yaml:"
	if checkout == nil || !strings.Contains(checkout.Metadata.Annotations["stridemap.io/flows"], flow) || len(checkout.Spec.Egress) == 0 {
		t.Fatalf("checkout's policy should allow its flow to orders-db: %+v", checkout)
	}
	if checkout.Spec.PodSelector.MatchLabels["app.kubernetes.io/name"] != "checkout" {
		t.Errorf("checkout's policy selects %v", checkout.Spec.PodSelector.MatchLabels)
	}

	var md bytes.Buffer
	if err := export.WriteReportMarkdown(&md, r); err != nil {
		t.Fatal(err)
	}
	var page bytes.Buffer
	if err := export.WriteReportHTML(context.Background(), &page, r, export.HTMLOptions{}); err != nil {
		t.Fatal(err)
	}
	for name, out := range map[string]string{"markdown": md.String(), "html": page.String()} {
		for _, want := range []string{
			"Appendix: Suggested NetworkPolicies", "stridemap policy suggest -o DIR",
			"name: stridemap-checkout", "namespace: shop-data", flow,
			"goes to api.payments-provider.example, a host known by name only",
		} {
			if name == "html" {
				want = html.EscapeString(want)
			}
			if !strings.Contains(out, want) {
				t.Errorf("the %s report lacks %q", name, want)
			}
		}
	}
	if !strings.Contains(md.String(), "### Namespace shop\n\n") || !strings.Contains(md.String(), "```yaml\napiVersion: networking.k8s.io/v1\n") {
		t.Errorf("the Markdown appendix should head each namespace and fence its YAML")
	}
	if !strings.Contains(page.String(), `<pre class="yaml">apiVersion: networking.k8s.io/v1`) {
		t.Errorf("the HTML appendix should hold the YAML in a <pre>")
	}

	scoped := appendixOf(t, report(t, s, export.Scope{Namespace: "payments"}))
	if len(scoped) != 1 || findPolicy(scoped["payments"], "stridemap-payments") == nil {
		t.Errorf("the report of namespace payments should suggest its policies only: %v", scoped)
	}
}

// hostilePolicyReport is a report whose suggested policies carry names
// and labels a manifest author controls: markup, a terminal title
// sequence, a bell, a bidi override and a code fence.
func hostilePolicyReport(t *testing.T) *export.Report {
	t.Helper()
	const evil = "<script>alert(1)</script>\x1b]0;pwned\x07\u202e```"
	web := strings.Replace(modeltest.Deployment("shop", "web", modeltest.Env("CART_ADDR", "cart:80")),
		"labels: {app: web}", `labels: {app: web, tier: "<script>alert(1)</script>\e]0;pwned\a\u202e`+"```"+`"}`, 1)
	// A workload without labels is a note, which names it.
	unlabelled := modeltest.Deployment("shop", `"batch\e]0;pwned\a\u202e"`)
	unlabelled = unlabelled[:strings.Index(unlabelled, "      labels:")] + unlabelled[strings.Index(unlabelled, "    spec:\n      containers"):]
	g := model.Build(modeltest.Decode(t, web, unlabelled,
		modeltest.Deployment("shop", "cart", "ports: [{name: http, containerPort: 8080}]"), modeltest.Service("shop", "cart"),
	), controls.Detectors()...)
	found := false
	for i := range g.Nodes {
		if n := &g.Nodes[i]; n.Workload != nil && n.Workload.PodLabels["tier"] == evil {
			found = true
		}
	}
	if !found {
		t.Fatalf("the hostile label did not reach the graph")
	}
	r, err := export.BuildReport(export.ReportInput{Title: "T", GeneratedAt: time.Unix(0, 0), Scan: store.ScanInfo{ID: 1}, Graph: g})
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func TestPolicyAppendixEscapesHostileNames(t *testing.T) {
	r := hostilePolicyReport(t)
	var page bytes.Buffer
	if err := export.WriteReportHTML(context.Background(), &page, r, export.HTMLOptions{}); err != nil {
		t.Fatal(err)
	}
	var md bytes.Buffer
	if err := export.WriteReportMarkdown(&md, r); err != nil {
		t.Fatal(err)
	}
	for name, out := range map[string]string{"html": page.String(), "markdown": md.String()} {
		if strings.ContainsAny(out, "\x1b\x07\u202e") {
			t.Errorf("the %s report holds a raw ESC, BEL or U+202E", name)
		}
	}
	h := page.String()
	if strings.Contains(h, "<script") {
		t.Error("the HTML appendix holds a raw <script>")
	}
	if !strings.Contains(h, `tier: &#34;&lt;script&gt;alert(1)&lt;/script&gt;\e]0;pwned\a\u202e`) {
		t.Errorf("the HTML appendix should show the label as escaped text:\n%s", h[strings.Index(h, `id="policies"`):])
	}
	m := md.String()
	if want := `- workload:shop/batch\\x1b\]0;pwned\\a\\u202e: its pod template has no labels`; !strings.Contains(m, want) {
		t.Errorf("the Markdown appendix should note the unlabelled workload, escaped, as %q:\n%s", want, m[strings.Index(m, "## Appendix"):])
	}
	appendix := m[strings.Index(m, "## Appendix: Suggested NetworkPolicies"):]
	if !strings.Contains(appendix, "````yaml\n") || !strings.Contains(appendix, `\e]0;pwned\a\u202e`+"```") {
		t.Errorf("the Markdown appendix should fence the YAML past its backticks and escape its controls:\n%s", appendix)
	}
	// Between the fences, nothing can end the code block early.
	body := appendix[strings.Index(appendix, "````yaml\n")+len("````yaml\n"):]
	body = body[:strings.Index(body, "\n````")]
	if strings.Contains(body, "\n````") {
		t.Errorf("the YAML closes its own fence:\n%s", body)
	}
}

// TestPolicyAppendixOfManyNamespaces: the HTML and Markdown reports print
// the YAML of the first namespaces only and say how to get the rest; the
// JSON report holds every namespace.
func TestPolicyAppendixOfManyNamespaces(t *testing.T) {
	var docs []string
	for i := range 53 {
		docs = append(docs, modeltest.Deployment(fmt.Sprintf("ns-%02d", i), "app"))
	}
	g := model.Build(modeltest.Decode(t, docs...), controls.Detectors()...)
	r, err := export.BuildReport(export.ReportInput{Title: "T", GeneratedAt: time.Unix(0, 0), Scan: store.ScanInfo{ID: 1}, Graph: g})
	if err != nil {
		t.Fatal(err)
	}
	if got := len(appendixOf(t, r)); got != 53 {
		t.Errorf("the JSON appendix has %d namespaces, want 53", got)
	}
	var md, page bytes.Buffer
	if err := export.WriteReportMarkdown(&md, r); err != nil {
		t.Fatal(err)
	}
	if err := export.WriteReportHTML(context.Background(), &page, r, export.HTMLOptions{}); err != nil {
		t.Fatal(err)
	}
	for name, out := range map[string]string{"markdown": md.String(), "html": page.String()} {
		if !strings.Contains(out, "namespace: ns-49\n") || strings.Contains(out, "namespace: ns-50\n") {
			t.Errorf("the %s report should print the policies of the first 50 namespaces only", name)
		}
		if !strings.Contains(out, "… and 3 more namespaces (") {
			t.Errorf("the %s report should say how many namespaces it left out", name)
		}
	}
}
