package policy_test

import (
	"slices"
	"strings"
	"testing"

	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/stridemap/stridemap/controls"
	"github.com/stridemap/stridemap/model"
	"github.com/stridemap/stridemap/model/modeltest"
	"github.com/stridemap/stridemap/policy"
)

func suggest(t *testing.T, from policy.From, docs ...string) policy.Suggestion {
	t.Helper()
	return policy.Suggest(model.Build(modeltest.Decode(t, docs...), controls.Detectors()...), policy.Options{From: from})
}

func find(s policy.Suggestion, ns, name string) *networkingv1.NetworkPolicy {
	for _, p := range s.Policies {
		if p.Namespace == ns && p.Name == name {
			return p
		}
	}
	return nil
}

func hasNote(s policy.Suggestion, subject, reason string) bool {
	return slices.ContainsFunc(s.Notes, func(n policy.Note) bool {
		return n.Subject == subject && strings.Contains(n.Reason, reason)
	})
}

// cart declares its port 8080 as http; web in another namespace calls it
// through the Service's port 80.
var webToCart = []string{
	modeltest.Deployment("web", "web", modeltest.Env("CART_ADDR", "cart.shop:80")),
	modeltest.Deployment("shop", "cart", "ports: [{name: http, containerPort: 8080}]"),
	modeltest.Service("shop", "cart"),
}

func TestSuggestFlowAcrossNamespaces(t *testing.T) {
	s := suggest(t, policy.FromBoth, webToCart...)
	if got := s.Namespaces(); !slices.Equal(got, []string{"shop", "web"}) {
		t.Errorf("namespaces = %v", got)
	}
	cart := find(s, "shop", "stridemap-cart")
	if cart == nil || len(cart.Spec.Ingress) != 1 || len(cart.Spec.Egress) != 0 {
		t.Fatalf("cart's policy = %+v", cart)
	}
	in := cart.Spec.Ingress[0]
	if peer := in.From[0]; peer.NamespaceSelector.MatchLabels["kubernetes.io/metadata.name"] != "web" || peer.PodSelector.MatchLabels["app"] != "web" {
		t.Errorf("ingress peer = %+v", peer)
	}
	if len(in.Ports) != 1 || in.Ports[0].Port.StrVal != "http" {
		t.Errorf("ingress ports = %+v, want the named pod port http", in.Ports)
	}
	flows := cart.Annotations[policy.AnnotationFlows]
	if !strings.HasPrefix(flows, "workload:web/web->workload:shop/cart:80 ") || !strings.Contains(flows, ":") {
		t.Errorf("flows annotation = %q", flows)
	}
	web := find(s, "web", "stridemap-web")
	if web == nil || len(web.Spec.Egress) != 1 || web.Spec.Egress[0].To[0].PodSelector.MatchLabels["app"] != "cart" {
		t.Fatalf("web's policy = %+v", web)
	}
	for _, ns := range []string{"shop", "web"} {
		if deny := find(s, ns, policy.DefaultDenyName); deny == nil || len(deny.Spec.PolicyTypes) != 2 {
			t.Errorf("%s: default deny = %+v", ns, deny)
		}
		if dns := find(s, ns, policy.DNSName); dns == nil || len(dns.Spec.Egress[0].Ports) != 2 {
			t.Errorf("%s: dns = %+v", ns, dns)
		}
	}
	for _, p := range s.Policies {
		if p.Name != policy.DefaultDenyName && p.Name != policy.DNSName && len(p.Spec.PodSelector.MatchLabels) == 0 {
			t.Errorf("%s/%s selects every pod", p.Namespace, p.Name)
		}
	}

	if observed := suggest(t, policy.FromObserved, webToCart...); find(observed, "shop", "stridemap-cart") != nil {
		t.Error("--from observed allowed a flow only the manifests declare")
	}
}

// TestSuggestBadInput: what a NetworkPolicy cannot govern is a note, and
// never an allow or a selector of every pod.
func TestSuggestBadInput(t *testing.T) {
	unlabelled := strings.Replace(modeltest.Deployment("shop", "batch", modeltest.Env("CART_ADDR", "cart:80")), "      labels: {app: batch}\n", "", 1)
	hostNet := strings.Replace(modeltest.Deployment("shop", "agent", modeltest.Env("CART_ADDR", "cart:80")), "    spec:\n      containers:", "    spec:\n      hostNetwork: true\n      containers:", 1)
	s := suggest(t, policy.FromBoth,
		modeltest.Deployment("shop", "cart", "ports: [{name: http, containerPort: 8080}]"), modeltest.Service("shop", "cart"),
		unlabelled, hostNet,
		modeltest.Deployment("shop", "web", modeltest.Env("DB_URL", "postgres://203.0.113.7:5432/shop", "API", "https://api.example.com", "NEXT", "recommender:8080")),
	)
	for _, want := range []struct{ subject, reason string }{
		{"workload:shop/batch", "no labels"},
		{"workload:shop/batch->workload:shop/cart:80", "cannot be selected"},
		{"workload:shop/agent", "hostNetwork"},
		{"workload:shop/agent->workload:shop/cart:80", "cannot be selected"},
		{"workload:shop/web->external:api.example.com:443", "known by name only"},
		{"workload:shop/web => recommender:8080", "do not hold"},
	} {
		if !hasNote(s, want.subject, want.reason) {
			t.Errorf("no note on %s saying %q; notes: %v", want.subject, want.reason, s.Notes)
		}
	}
	if p := find(s, "shop", "stridemap-batch"); p != nil {
		t.Errorf("a policy for the unlabelled workload: %+v", p)
	}
	if cart := find(s, "shop", "stridemap-cart"); cart != nil {
		t.Errorf("cart admits flows from workloads no policy governs: %+v", cart.Spec.Ingress)
	}
	web := find(s, "shop", "stridemap-web")
	if web == nil || len(web.Spec.Egress) != 1 || web.Spec.Egress[0].To[0].IPBlock == nil || web.Spec.Egress[0].To[0].IPBlock.CIDR != "203.0.113.7/32" {
		t.Fatalf("web's egress to a known address = %+v", web)
	}
}

// TestSuggestSelectorLeavesOutLookalikes: a canary whose labels hold all
// of web's would be selected by web's selector; a label only the canary
// has is required absent. Twins with the same labels are a note.
func TestSuggestSelectorLeavesOutLookalikes(t *testing.T) {
	canary := strings.Replace(modeltest.Deployment("shop", "web-canary"), "labels: {app: web-canary}", "labels: {app: web, track: canary, pod-template-hash: abc}", 1)
	twin := strings.Replace(modeltest.Deployment("shop", "web-copy"), "labels: {app: web-copy}", "labels: {app: web-canary-twin}", 1)
	twin2 := strings.Replace(modeltest.Deployment("shop", "web-copy2"), "labels: {app: web-copy2}", "labels: {app: web-canary-twin}", 1)
	caller := modeltest.Deployment("shop", "caller", modeltest.Env("A", "web:80", "B", "web-canary:80"))
	s := suggest(t, policy.FromBoth, modeltest.Deployment("shop", "web"), modeltest.Service("shop", "web"),
		canary, strings.Replace(modeltest.Service("shop", "web-canary"), "{app: web-canary}", "{track: canary}", 1), twin, twin2, caller)
	web := find(s, "shop", "stridemap-web")
	if web == nil {
		t.Fatal("no policy for web")
	}
	sel := web.Spec.PodSelector
	if len(sel.MatchExpressions) != 1 || sel.MatchExpressions[0].Key != "track" || sel.MatchExpressions[0].Operator != "DoesNotExist" {
		t.Errorf("web's selector = %+v, want track to be absent", sel)
	}
	canaryPolicy := find(s, "shop", "stridemap-web-canary")
	if canaryPolicy == nil || canaryPolicy.Spec.PodSelector.MatchLabels["pod-template-hash"] != "" || canaryPolicy.Spec.PodSelector.MatchLabels["track"] != "canary" {
		t.Errorf("canary's selector = %+v, want its stable labels", canaryPolicy)
	}
	if !hasNote(s, "workload:shop/web-copy", "same labels as those of workload:shop/web-copy2") {
		t.Errorf("no note on twins; notes: %v", s.Notes)
	}
}

func TestYAML(t *testing.T) {
	s := suggest(t, policy.FromBoth, webToCart...)
	data, err := policy.YAML(policy.InNamespace(s.Policies, "shop"))
	if err != nil {
		t.Fatal(err)
	}
	text := string(data)
	for _, want := range []string{"kind: NetworkPolicy", "name: stridemap-default-deny", "name: stridemap-cart", "port: http", "\n---\n"} {
		if !strings.Contains(text, want) {
			t.Errorf("YAML lacks %q:\n%s", want, text)
		}
	}
	if strings.Contains(text, "creationTimestamp") || strings.Contains(text, "namespace: web\n") {
		t.Errorf("YAML holds an empty timestamp or another namespace's policy:\n%s", text)
	}
}

// An Istio Gateway names its proxy pods by selector: the ingress rule
// admits those pods in any namespace, not every address. An Ingress names
// no pods, so its entry port is open to every address, with a note.
func TestSuggestEntryPoints(t *testing.T) {
	s := suggest(t, policy.FromDeclared,
		modeltest.Deployment("shop", "web", "ports: [{name: http, containerPort: 8080}]"),
		modeltest.Service("shop", "web"),
		`apiVersion: networking.istio.io/v1
kind: Gateway
metadata: {name: public, namespace: shop}
spec:
  selector: {istio: ingressgateway}
  servers: [{port: {number: 80, name: http, protocol: HTTP}, hosts: ["*"]}]`,
		`apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: web, namespace: shop}
spec:
  hosts: ["*"]
  gateways: [public]
  http: [{route: [{destination: {host: web, port: {number: 80}}}]}]`,
	)
	web := find(s, "shop", "stridemap-web")
	if web == nil || len(web.Spec.Ingress) != 1 {
		t.Fatalf("web's policy = %+v", web)
	}
	peer := web.Spec.Ingress[0].From[0]
	if peer.IPBlock != nil || peer.NamespaceSelector == nil || len(peer.NamespaceSelector.MatchLabels) != 0 || peer.PodSelector.MatchLabels["istio"] != "ingressgateway" {
		t.Errorf("ingress peer = %+v, want the gateway's pods (istio: ingressgateway) in any namespace", peer)
	}
	if hasNote(s, "gateway:shop/public->workload:shop/web:80", "ingress controller") {
		t.Errorf("notes = %v: an Istio Gateway's pods are known by its selector", s.Notes)
	}
	// Cilium confines a selector without the namespace label to the
	// policy's namespace: "any namespace" must be said.
	cweb := findCilium(s.CiliumPolicies(), "shop", "stridemap-web")
	if cweb == nil || len(cweb.Spec.Ingress) != 1 || len(cweb.Spec.Ingress[0].FromEndpoints) != 1 {
		t.Fatalf("web's Cilium policy = %+v", cweb)
	}
	from := cweb.Spec.Ingress[0].FromEndpoints[0]
	anyNamespace := slices.ContainsFunc(from.MatchExpressions, func(r metav1.LabelSelectorRequirement) bool {
		return r.Key == "k8s:io.kubernetes.pod.namespace" && r.Operator == metav1.LabelSelectorOpExists
	})
	if from.MatchLabels["istio"] != "ingressgateway" || !anyNamespace {
		t.Errorf("web's Cilium ingress from = %+v, want istio: ingressgateway in any namespace", from)
	}

	s = suggest(t, policy.FromDeclared,
		modeltest.Deployment("shop", "web", "ports: [{name: http, containerPort: 8080}]"),
		modeltest.Service("shop", "web"),
		`apiVersion: networking.k8s.io/v1
kind: Ingress
metadata: {name: public, namespace: shop}
spec:
  rules: [{http: {paths: [{path: /, pathType: Prefix, backend: {service: {name: web, port: {number: 80}}}}]}}]`,
	)
	web = find(s, "shop", "stridemap-web")
	if web == nil || len(web.Spec.Ingress) != 1 || web.Spec.Ingress[0].From[0].IPBlock == nil || web.Spec.Ingress[0].From[0].IPBlock.CIDR != "0.0.0.0/0" {
		t.Fatalf("web's policy behind an Ingress = %+v, want ingress from every address", web)
	}
	if !strings.Contains(web.Annotations[policy.AnnotationNote], "ingress controller") {
		t.Errorf("note = %q, want it to say the controller's pods are unknown", web.Annotations[policy.AnnotationNote])
	}
}

// A workload whose name is as long as Kubernetes allows still gets a
// policy name the API server takes.
func TestSuggestLongName(t *testing.T) {
	long := strings.Repeat("a", 250)
	s := suggest(t, policy.FromDeclared,
		modeltest.Deployment("shop", long, modeltest.Env("API", "http://web:80")),
		modeltest.Deployment("shop", "web", "ports: [{containerPort: 80}]"),
		modeltest.Service("shop", "web"),
	)
	for _, p := range s.Policies {
		if len(p.Name) > 253 {
			t.Errorf("policy name of %d characters: %s", len(p.Name), p.Name)
		}
	}
	if len(s.Policies) != 4 {
		t.Errorf("policies = %d, want the default deny, DNS, web's and the long-named workload's", len(s.Policies))
	}
}
