package controls_test

import (
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/stridemap/stridemap/controls"
	"github.com/stridemap/stridemap/discover/discovertest"
	"github.com/stridemap/stridemap/discover/manifests"
	"github.com/stridemap/stridemap/model"
	"github.com/stridemap/stridemap/model/modeltest"
)

// netpol renders a NetworkPolicy in namespace ns with the given spec.
func netpol(ns, name, spec string) string {
	return "apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {name: " + name + ", namespace: " + ns + "}\nspec:\n" + modeltest.Indent(spec, "  ")
}

func namespace(name, labels string) string {
	return "apiVersion: v1\nkind: Namespace\nmetadata: {name: " + name + ", labels: {" + labels + "}}"
}

// callerToCart is a web workload (in webNS) calling Service cart in shop,
// port 80 → targetPort 8080 named http, plus an unrelated workload "other"
// in shop calling the same Service.
func callerToCart(webNS string) []string {
	return []string{
		modeltest.Deployment(webNS, "web", modeltest.Env("CART_ADDR", "cart.shop:80")),
		modeltest.Deployment("shop", "other", modeltest.Env("CART_ADDR", "cart.shop:80")),
		strings.Replace(modeltest.Deployment("shop", "cart"), "image: example/cart:1.0", "image: example/cart:1.0\n        ports: [{name: http, containerPort: 8080}]", 1),
		modeltest.Service("shop", "cart"),
		namespace("shop", "team: shop"),
	}
}

// ingressToCart routes an Ingress of shop to Service cart: a source whose
// pods (the ingress controller's) are not in the manifests.
const ingressToCart = `apiVersion: networking.k8s.io/v1
kind: Ingress
metadata: {name: web, namespace: shop}
spec:
  rules:
  - http:
      paths:
      - {path: /, pathType: Prefix, backend: {service: {name: cart, port: {number: 80}}}}`

func TestNetworkPolicyVerdicts(t *testing.T) {
	const (
		web   = "workload:shop/web->workload:shop/cart:80"
		other = "workload:shop/other->workload:shop/cart:80"
	)
	tests := []struct {
		name     string
		webNS    string
		policies []string
		want     map[string]string // edge ID → verdict
	}{
		{"no policy: unrestricted", "shop", nil, map[string]string{web: "", other: ""}},
		{"podSelector {} with no rules denies all ingress", "shop",
			[]string{netpol("shop", "deny", "podSelector: {}\npolicyTypes: [Ingress]")},
			map[string]string{web: "denied", other: "denied"}},
		{"podSelector admits one caller", "shop",
			[]string{netpol("shop", "cart", "podSelector: {matchLabels: {app: cart}}\ningress:\n- from: [{podSelector: {matchLabels: {app: web}}}]")},
			map[string]string{web: "allowed", other: "denied"}},
		{"empty from admits everyone", "shop",
			[]string{netpol("shop", "cart", "podSelector: {matchLabels: {app: cart}}\ningress: [{}]")},
			map[string]string{web: "allowed", other: "allowed"}},
		{"policy selecting other pods leaves the flow unrestricted", "shop",
			[]string{netpol("shop", "web", "podSelector: {matchLabels: {app: web}}\npolicyTypes: [Ingress]")},
			map[string]string{web: "", other: ""}},
		{"ipBlock never matches a pod", "shop",
			[]string{netpol("shop", "cart", "podSelector: {}\ningress:\n- from: [{ipBlock: {cidr: 0.0.0.0/0}}]")},
			map[string]string{web: "denied", other: "denied"}},
		{"numbered port is the targetPort, not the Service port", "shop",
			[]string{netpol("shop", "cart", "podSelector: {}\ningress:\n- ports: [{port: 8080}]")},
			map[string]string{web: "allowed", other: "allowed"}},
		{"Service port number does not match", "shop",
			[]string{netpol("shop", "cart", "podSelector: {}\ningress:\n- ports: [{port: 80}]")},
			map[string]string{web: "denied", other: "denied"}},
		{"named port", "shop",
			[]string{netpol("shop", "cart", "podSelector: {}\ningress:\n- ports: [{port: http, protocol: TCP}]")},
			map[string]string{web: "allowed", other: "allowed"}},
		{"port range", "shop",
			[]string{netpol("shop", "cart", "podSelector: {}\ningress:\n- ports: [{port: 8000, endPort: 8100}]")},
			map[string]string{web: "allowed", other: "allowed"}},
		{"UDP port does not admit TCP", "shop",
			[]string{netpol("shop", "cart", "podSelector: {}\ningress:\n- ports: [{port: 8080, protocol: UDP}]")},
			map[string]string{web: "denied", other: "denied"}},
		{"egress of the source denies", "shop",
			[]string{netpol("shop", "web", "podSelector: {matchLabels: {app: web}}\npolicyTypes: [Egress]\negress:\n- to: [{podSelector: {matchLabels: {app: db}}}]")},
			map[string]string{web: "denied", other: ""}},
		{"egress and ingress both admit", "shop",
			[]string{
				netpol("shop", "web", "podSelector: {matchLabels: {app: web}}\npolicyTypes: [Egress]\negress:\n- to: [{podSelector: {matchLabels: {app: cart}}}]\n  ports: [{port: 8080}]"),
				netpol("shop", "cart", "podSelector: {matchLabels: {app: cart}}\ningress:\n- from: [{podSelector: {matchLabels: {app: web}}}]"),
			},
			map[string]string{web: "allowed", other: "denied"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			g := build(t, append(callerToCart(tc.webNS), tc.policies...)...)
			for id, want := range tc.want {
				e := modeltest.Edge(t, g, id)
				if e.Policy != want {
					t.Errorf("%s: policy = %q, want %q (evidence %+v)", id, e.Policy, want, e.PolicyEvidence)
				}
				if want != "" && (len(e.PolicyEvidence) == 0 || e.PolicyEvidence[0].Line == 0 || !strings.HasPrefix(e.PolicyEvidence[0].Object, "NetworkPolicy ")) {
					t.Errorf("%s: verdict without file:line of a policy: %+v", id, e.PolicyEvidence)
				}
			}
		})
	}
}

func TestNetworkPolicyNamespaceSelector(t *testing.T) {
	const web = "workload:front/web->workload:shop/cart:80"
	tests := []struct {
		name   string
		extra  []string
		policy string
		want   string
	}{
		{"podSelector alone stays in the policy's namespace", nil,
			"podSelector: {}\ningress:\n- from: [{podSelector: {matchLabels: {app: web}}}]", "denied"},
		{"namespaceSelector on the automatic name label", nil,
			"podSelector: {}\ningress:\n- from: [{namespaceSelector: {matchLabels: {kubernetes.io/metadata.name: front}}}]", "allowed"},
		{"namespaceSelector on a declared label", []string{namespace("front", "team: web")},
			"podSelector: {}\ningress:\n- from: [{namespaceSelector: {matchLabels: {team: web}}}]", "allowed"},
		{"namespaceSelector whose label the namespace lacks", nil,
			"podSelector: {}\ningress:\n- from: [{namespaceSelector: {matchLabels: {team: web}}}]", "denied"},
		{"both selectors in one peer must both match", nil,
			"podSelector: {}\ningress:\n- from: [{namespaceSelector: {matchLabels: {kubernetes.io/metadata.name: front}}, podSelector: {matchLabels: {app: api}}}]", "denied"},
		{"both selectors in one peer, matching", nil,
			"podSelector: {}\ningress:\n- from: [{namespaceSelector: {matchLabels: {kubernetes.io/metadata.name: front}}, podSelector: {matchLabels: {app: web}}}]", "allowed"},
		{"two peers are alternatives", nil,
			"podSelector: {}\ningress:\n- from: [{podSelector: {matchLabels: {app: web}}}, {namespaceSelector: {}}]", "allowed"},
		{"matchExpressions", []string{namespace("front", "env: prod")},
			"podSelector: {}\ningress:\n- from: [{namespaceSelector: {matchExpressions: [{key: env, operator: In, values: [prod, staging]}]}}]", "allowed"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			docs := append(callerToCart("front"), tc.extra...)
			g := build(t, append(docs, netpol("shop", "cart", tc.policy))...)
			if e := modeltest.Edge(t, g, web); e.Policy != tc.want {
				t.Errorf("policy = %q, want %q (evidence %+v)", e.Policy, tc.want, e.PolicyEvidence)
			}
		})
	}
}

func TestNetworkPolicyEvidence(t *testing.T) {
	g := build(t, append(callerToCart("shop"),
		netpol("shop", "cart", "podSelector: {matchLabels: {app: cart}}\ningress:\n- from: [{podSelector: {matchLabels: {app: web}}}]"))...)
	allowed := modeltest.Edge(t, g, "workload:shop/web->workload:shop/cart:80")
	if ev := allowed.PolicyEvidence; len(ev) != 1 || ev[0].Field != "spec.ingress[0]" || ev[0].Object != "NetworkPolicy shop/cart" ||
		!strings.Contains(ev[0].Detail, "port 8080 (http)") {
		t.Errorf("allowed evidence should name the admitting rule and the pod port: %+v", ev)
	}
	denied := modeltest.Edge(t, g, "workload:shop/other->workload:shop/cart:80")
	if ev := denied.PolicyEvidence; len(ev) != 1 || ev[0].Field != "spec.podSelector" || !strings.Contains(ev[0].Detail, "no rule admits workload:shop/other") {
		t.Errorf("denied evidence should name the selecting policy: %+v", ev)
	}
}

func TestNetworkPolicyRestrictionControls(t *testing.T) {
	tests := []struct {
		name       string
		policy     string
		restricted bool
	}{
		{"one caller admitted", "podSelector: {matchLabels: {app: cart}}\ningress:\n- from: [{podSelector: {matchLabels: {app: web}}}]", true},
		{"default deny alone", "podSelector: {}\npolicyTypes: [Ingress]", true},
		{"every source admitted", "podSelector: {matchLabels: {app: cart}}\ningress: [{}]", false},
		{"every pod of the namespace admitted", "podSelector: {matchLabels: {app: cart}}\ningress:\n- from: [{podSelector: {}}]", false},
		{"every namespace admitted", "podSelector: {matchLabels: {app: cart}}\ningress:\n- from: [{namespaceSelector: {}}]", false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			g := build(t, append(callerToCart("shop"), netpol("shop", "cart", tc.policy))...)
			if got := hasControl(g, controls.NetworkPolicyIngressRestricted, "workload:shop/cart"); got != tc.restricted {
				t.Errorf("ingress restricted = %v, want %v", got, tc.restricted)
			}
		})
	}
	g := build(t, append(callerToCart("shop"), netpol("shop", "web", "podSelector: {matchLabels: {app: web}}\npolicyTypes: [Egress]\negress:\n- to: [{podSelector: {matchLabels: {app: cart}}}]"))...)
	if !hasControl(g, controls.NetworkPolicyEgressRestricted, "workload:shop/web") || hasControl(g, controls.NetworkPolicyEgressRestricted, "workload:shop/other") {
		t.Error("egress restriction should be recorded on web only")
	}
}

func hasControl(g *model.Graph, kind, target string) bool {
	for _, c := range g.Controls {
		if c.Type == kind && c.Target == target {
			return true
		}
	}
	return false
}

// TestNetworkPolicyGatewaySource: an Ingress's controller pods are not in
// the manifests; a rule that admits other namespaces is assumed to admit
// them, one that admits only pods of the policy's namespace is not.
func TestNetworkPolicyGatewaySource(t *testing.T) {
	tests := []struct {
		policy string
		want   string
	}{
		{"podSelector: {}\ningress:\n- from: [{namespaceSelector: {matchLabels: {kubernetes.io/metadata.name: ingress-nginx}}}]", "allowed"},
		{"podSelector: {}\ningress:\n- from: [{podSelector: {matchLabels: {app: web}}}]", "denied"},
		{"podSelector: {}\ningress: [{}]", "allowed"},
	}
	for _, tc := range tests {
		g := build(t, append(callerToCart("shop"), ingressToCart, netpol("shop", "cart", tc.policy))...)
		e := modeltest.Edge(t, g, "gateway:shop/web->workload:shop/cart:80")
		if e.Policy != tc.want {
			t.Errorf("%s: policy = %q, want %q", tc.policy, e.Policy, tc.want)
		}
	}
}

func TestCiliumNetworkPolicy(t *testing.T) {
	cnp := func(spec string) string {
		return "apiVersion: cilium.io/v2\nkind: CiliumNetworkPolicy\nmetadata: {name: cart, namespace: shop}\nspec:\n" + modeltest.Indent(spec, "  ")
	}
	tests := []struct {
		name   string
		webNS  string
		policy string
		web    string
		other  string
	}{
		{"fromEndpoints by label", "shop",
			"endpointSelector: {matchLabels: {app: cart}}\ningress:\n- fromEndpoints: [{matchLabels: {app: web}}]", "allowed", "denied"},
		{"k8s: prefix and toPorts", "shop",
			"endpointSelector: {matchLabels: {'k8s:app': cart}}\ningress:\n- fromEndpoints: [{matchLabels: {'k8s:app': web}}]\n  toPorts: [{ports: [{port: '8080', protocol: TCP}]}]", "allowed", "denied"},
		{"wrong port", "shop",
			"endpointSelector: {matchLabels: {app: cart}}\ningress:\n- fromEndpoints: [{matchLabels: {app: web}}]\n  toPorts: [{ports: [{port: '9090', protocol: TCP}]}]", "denied", "denied"},
		{"peer in another namespace needs the namespace label", "front",
			"endpointSelector: {matchLabels: {app: cart}}\ningress:\n- fromEndpoints: [{matchLabels: {app: web}}]", "denied", "denied"},
		{"k8s:io.kubernetes.pod.namespace", "front",
			"endpointSelector: {matchLabels: {app: cart}}\ningress:\n- fromEndpoints: [{matchLabels: {app: web, 'k8s:io.kubernetes.pod.namespace': front}}]", "allowed", "denied"},
		{"empty ingress rule is default deny", "shop",
			"endpointSelector: {}\ningress: [{}]", "denied", "denied"},
		{"fromEntities cluster", "shop",
			"endpointSelector: {}\ningress: [{fromEntities: [cluster]}]", "allowed", "allowed"},
		{"ingressDeny wins", "shop",
			"endpointSelector: {}\ningress: [{fromEntities: [cluster]}]\ningressDeny: [{fromEndpoints: [{matchLabels: {app: other}}]}]", "allowed", "denied"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			g := build(t, append(callerToCart(tc.webNS), cnp(tc.policy))...)
			if e := modeltest.Edge(t, g, "workload:"+tc.webNS+"/web->workload:shop/cart:80"); e.Policy != tc.web {
				t.Errorf("web: policy = %q, want %q (%+v)", e.Policy, tc.web, e.PolicyEvidence)
			}
			if e := modeltest.Edge(t, g, "workload:shop/other->workload:shop/cart:80"); e.Policy != tc.other {
				t.Errorf("other: policy = %q, want %q (%+v)", e.Policy, tc.other, e.PolicyEvidence)
			}
		})
	}
	g := build(t, append(callerToCart("shop"), cnp("endpointSelector: {}\ningress: [{}]\negress: [{}]"))...)
	for _, kind := range []string{controls.NetworkPolicyDefaultDenyIngress, controls.NetworkPolicyDefaultDenyEgress} {
		if !hasControl(g, kind, model.NamespaceBoundaryID("shop")) {
			t.Errorf("a Cilium deny-all should give %s", kind)
		}
	}
	if !hasControl(g, controls.NetworkPolicy, "workload:shop/cart") {
		t.Error("a Cilium policy selecting a workload should give it the network-policy control")
	}
}

func TestCalicoNetworkPolicy(t *testing.T) {
	calico := func(apiVersion, spec string) string {
		return "apiVersion: " + apiVersion + "\nkind: NetworkPolicy\nmetadata: {name: cart, namespace: shop}\nspec:\n" + modeltest.Indent(spec, "  ")
	}
	tests := []struct {
		name   string
		webNS  string
		api    string
		policy string
		web    string
		other  string
	}{
		{"selector ==", "shop", "projectcalico.org/v3",
			"selector: app == 'cart'\ningress:\n- action: Allow\n  source: {selector: app == 'web'}", "allowed", "denied"},
		{"crd group, ports", "shop", "crd.projectcalico.org/v1",
			"selector: app == 'cart'\ntypes: [Ingress]\ningress:\n- action: Allow\n  protocol: TCP\n  source: {selector: \"app in {'web', 'other'}\"}\n  destination: {ports: [8080]}", "allowed", "allowed"},
		{"first matching rule decides", "shop", "projectcalico.org/v3",
			"selector: all()\ningress:\n- action: Deny\n  source: {selector: app == 'other'}\n- action: Allow", "allowed", "denied"},
		{"namespaceSelector", "front", "projectcalico.org/v3",
			"selector: has(app)\ningress:\n- action: Allow\n  source: {namespaceSelector: projectcalico.org/name == 'front', selector: app == 'web'}", "allowed", "denied"},
		{"wrong port range", "shop", "projectcalico.org/v3",
			"selector: app == 'cart'\ningress:\n- action: Allow\n  protocol: TCP\n  destination: {ports: ['9000:9100']}", "denied", "denied"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			g := build(t, append(callerToCart(tc.webNS), calico(tc.api, tc.policy))...)
			if e := modeltest.Edge(t, g, "workload:"+tc.webNS+"/web->workload:shop/cart:80"); e.Policy != tc.web {
				t.Errorf("web: policy = %q, want %q (%+v)", e.Policy, tc.web, e.PolicyEvidence)
			}
			if e := modeltest.Edge(t, g, "workload:shop/other->workload:shop/cart:80"); e.Policy != tc.other {
				t.Errorf("other: policy = %q, want %q (%+v)", e.Policy, tc.other, e.PolicyEvidence)
			}
		})
	}
	// A selector form we do not read leaves the policy out instead of guessing.
	g := build(t, append(callerToCart("shop"), calico("projectcalico.org/v3", "selector: (app == 'cart' || app == 'x') && has(y)\ningress: []"))...)
	if e := modeltest.Edge(t, g, "workload:shop/web->workload:shop/cart:80"); e.Policy != "" {
		t.Errorf("unreadable selector: policy = %q, want none", e.Policy)
	}
}

// TestOnlineBoutiqueFlowsAllowedByItsPolicies: the app's own
// NetworkPolicies (deny-all plus one policy per service) admit every flow
// its manifests declare, so each comes out "allowed".
func TestOnlineBoutiqueFlowsAllowedByItsPolicies(t *testing.T) {
	corpus := discovertest.CorpusDir(t)
	g := scanCorpus(t, manifests.Request{
		Paths:     []string{filepath.Join(corpus, "online-boutique"), filepath.Join(corpus, "online-boutique-policies", "istio")},
		Kustomize: []string{filepath.Join(corpus, "online-boutique-policies", "network-policies")},
	})
	checked := 0
	for _, e := range g.Edges {
		if strings.HasPrefix(e.From, "external:") || !strings.HasPrefix(e.To, "workload:") {
			continue
		}
		checked++
		if e.Policy != model.PolicyAllowed {
			t.Errorf("%s: policy = %q, want allowed (%+v)", e.ID, e.Policy, e.PolicyEvidence)
		}
	}
	if checked < 16 {
		t.Errorf("only %d in-cluster flows checked", checked)
	}
	detected := map[string]bool{}
	for _, c := range g.Controls {
		detected[c.ID] = true
	}
	if !detected[controls.NetworkPolicyIngressRestricted+"@workload:default/redis-cart"] {
		t.Error("redis-cart admits only cartservice: its ingress should be restricted")
	}
	if detected[controls.NetworkPolicyIngressRestricted+"@workload:default/frontend"] {
		t.Error("frontend admits every source: its ingress is not restricted")
	}
}

// TestOnlineBoutiqueWithPolicies scans the app with its NetworkPolicies (a
// kustomize Component, rendered with -k) and its Istio/Gateway API manifests:
// segmentation becomes detected controls and the Gateway an entry point.
func TestOnlineBoutiqueWithPolicies(t *testing.T) {
	corpus := discovertest.CorpusDir(t)
	g := scanCorpus(t, manifests.Request{
		Paths:     []string{filepath.Join(corpus, "online-boutique"), filepath.Join(corpus, "online-boutique-policies", "istio")},
		Kustomize: []string{filepath.Join(corpus, "online-boutique-policies", "network-policies")},
	})
	detected := map[string]model.Control{}
	for _, c := range g.Controls {
		detected[c.ID] = c
	}
	deny, ok := detected["network-policy-default-deny-ingress@boundary:namespace:default"]
	if !ok {
		t.Fatal("the deny-all NetworkPolicy was not detected as a default-deny control")
	}
	if ev := deny.Evidence[0]; !strings.HasSuffix(ev.File, "network-policy-deny-all.yaml") || ev.Line == 0 {
		t.Errorf("default-deny evidence should point into the original file: %+v", ev)
	}
	for _, n := range g.Nodes {
		if n.Type == model.ExternalEntity || n.Type == model.Gateway {
			continue
		}
		if _, ok := detected["network-policy@"+n.ID]; !ok {
			t.Errorf("%s has no NetworkPolicy control", n.ID)
		}
	}
	for _, want := range []string{"external:internet->gateway:default/istio-gateway:80", "gateway:default/istio-gateway->workload:default/frontend:80"} {
		if !slices.Contains(modeltest.EdgeIDs(g), want) {
			t.Errorf("missing edge %s", want)
		}
	}
}

// TestPolicyEvaluatorVerdict asks the evaluator about flows the graph does
// not hold: another port of the same pods, a caller the policy does not
// name, the gateway and the internet against ipBlocks.
func TestPolicyEvaluatorVerdict(t *testing.T) {
	const (
		web, other, cart = "workload:shop/web", "workload:shop/other", "workload:shop/cart"
		gateway          = "gateway:shop/web"
	)
	http := model.PodPort{Number: 8080, Name: "http", Protocol: "TCP"}
	tests := []struct {
		name   string
		policy string
		from   string
		port   model.PodPort
		want   string
	}{
		{"named caller on the named port", "ingress:\n- from: [{podSelector: {matchLabels: {app: web}}}]\n  ports: [{port: http}]", web, http, model.PolicyAllowed},
		{"named caller by number", "ingress:\n- from: [{podSelector: {matchLabels: {app: web}}}]\n  ports: [{port: 8080}]", web, http, model.PolicyAllowed},
		{"named caller on another port", "ingress:\n- from: [{podSelector: {matchLabels: {app: web}}}]\n  ports: [{port: http}]", web, model.PodPort{Number: 9090}, model.PolicyDenied},
		{"caller the policy does not name", "ingress:\n- from: [{podSelector: {matchLabels: {app: web}}}]", other, http, model.PolicyDenied},
		{"UDP where the rule admits TCP", "ingress:\n- ports: [{port: 8080}]", web, model.PodPort{Number: 8080, Protocol: "UDP"}, model.PolicyDenied},
		{"gateway through an ipBlock of every address", "ingress:\n- from: [{ipBlock: {cidr: 0.0.0.0/0}}]", gateway, http, model.PolicyAllowed},
		{"gateway through a narrower ipBlock", "ingress:\n- from: [{ipBlock: {cidr: 10.0.0.0/8}}]", gateway, http, model.PolicyDenied},
		{"gateway through a block with exceptions", "ingress:\n- from: [{ipBlock: {cidr: 0.0.0.0/0, except: [10.0.0.0/8]}}]", gateway, http, model.PolicyDenied},
		{"internet through an ipBlock of every address", "ingress:\n- from: [{ipBlock: {cidr: 0.0.0.0/0}}]", model.InternetID, http, model.PolicyAllowed},
		{"internet is in no namespace a selector picks", "ingress:\n- from: [{namespaceSelector: {}}]", model.InternetID, http, model.PolicyDenied},
		{"a pod of the ipBlock's policy is not an address of it", "ingress:\n- from: [{ipBlock: {cidr: 0.0.0.0/0}}]", web, http, model.PolicyDenied},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var ev *controls.PolicyEvaluator
			capture := func(ix *model.Index) { ev = controls.NewPolicyEvaluator(ix) }
			docs := append(callerToCart("shop"), ingressToCart, netpol("shop", "cart", "podSelector: {matchLabels: {app: cart}}\n"+tc.policy))
			model.Build(modeltest.Decode(t, docs...), append(controls.Detectors(), capture)...)
			got, evidence, ok := ev.Verdict(tc.from, cart, tc.port)
			if !ok || got != tc.want {
				t.Fatalf("Verdict(%s, %s, %+v) = %q, %v, want %q", tc.from, cart, tc.port, got, ok, tc.want)
			}
			if len(evidence) == 0 || evidence[0].Line == 0 {
				t.Errorf("verdict without a line of evidence: %+v", evidence)
			}
		})
	}
	t.Run("no policy", func(t *testing.T) {
		var ev *controls.PolicyEvaluator
		model.Build(modeltest.Decode(t, callerToCart("shop")...), append(controls.Detectors(), func(ix *model.Index) { ev = controls.NewPolicyEvaluator(ix) })...)
		if got, _, ok := ev.Verdict(other, cart, http); !ok || got != "" {
			t.Errorf("without policies Verdict = %q, %v, want \"\", true", got, ok)
		}
		if _, _, ok := ev.Verdict(web, "workload:shop/missing", http); ok {
			t.Error("Verdict to a workload that is not there: ok")
		}
	})
}

// TestCiliumPolicyEvaluatorVerdict: the entities and fields a suggested
// CiliumNetworkPolicy uses. world admits the internet and no pod; ingress
// (Cilium's own Ingress proxy) a gateway whose pods are unknown; a CIDR of
// every address is world; toFQDNs admits hosts, never a pod; an empty
// section ("ingress: []") turns nothing on, and enableDefaultDeny false
// leaves what no rule admits allowed.
func TestCiliumPolicyEvaluatorVerdict(t *testing.T) {
	const (
		web, other, cart = "workload:shop/web", "workload:shop/other", "workload:shop/cart"
		gateway          = "gateway:shop/web"
	)
	http := model.PodPort{Number: 8080, Name: "http", Protocol: "TCP"}
	cnp := func(name, spec string) string {
		return "apiVersion: cilium.io/v2\nkind: CiliumNetworkPolicy\nmetadata: {name: " + name + ", namespace: shop}\nspec:\n" + modeltest.Indent(spec, "  ")
	}
	cartIngress := func(rules string) []string {
		return []string{cnp("cart", "endpointSelector: {matchLabels: {app: cart}}\ningress:\n"+rules)}
	}
	tests := []struct {
		name     string
		policies []string
		from     string
		want     string
	}{
		{"world admits the internet", cartIngress("- fromEntities: [world]\n  toPorts: [{ports: [{port: http, protocol: TCP}]}]"), model.InternetID, model.PolicyAllowed},
		{"world admits no pod", cartIngress("- fromEntities: [world]"), web, model.PolicyDenied},
		{"world is not a gateway's controller in the cluster", cartIngress("- fromEntities: [world]"), gateway, model.PolicyDenied},
		{"ingress admits a gateway", cartIngress("- fromEntities: [ingress]\n  toPorts: [{ports: [{port: '8080', protocol: TCP}]}]"), gateway, model.PolicyAllowed},
		{"ingress admits no pod", cartIngress("- fromEntities: [ingress]"), web, model.PolicyDenied},
		{"ingress is not the internet", cartIngress("- fromEntities: [ingress]"), model.InternetID, model.PolicyDenied},
		{"all admits the internet", cartIngress("- fromEntities: [all]"), model.InternetID, model.PolicyAllowed},
		{"cluster does not admit the internet", cartIngress("- fromEntities: [cluster]"), model.InternetID, model.PolicyDenied},
		{"fromCIDR of every address is world", cartIngress("- fromCIDR: [0.0.0.0/0]"), model.InternetID, model.PolicyAllowed},
		{"fromCIDRSet with an exception is not", cartIngress("- fromCIDRSet: [{cidr: 0.0.0.0/0, except: [10.0.0.0/8]}]"), model.InternetID, model.PolicyDenied},
		{"fromCIDR of every address admits no pod", cartIngress("- fromCIDR: [0.0.0.0/0]"), web, model.PolicyDenied},
		{"an empty ingress section is no policy", []string{cnp("cart", "endpointSelector: {matchLabels: {app: cart}}\ningress: []")}, other, ""},
		{"enableDefaultDeny false: what no rule admits passes", []string{cnp("cart", "endpointSelector: {matchLabels: {app: cart}}\nenableDefaultDeny: {ingress: false}\ningress:\n- fromEndpoints: [{matchLabels: {app: web}}]")}, other, ""},
		{"enableDefaultDeny false: its rules still allow", []string{cnp("cart", "endpointSelector: {matchLabels: {app: cart}}\nenableDefaultDeny: {ingress: false}\ningress:\n- fromEndpoints: [{matchLabels: {app: web}}]")}, web, model.PolicyAllowed},
		{"enableDefaultDeny false beside a default deny", []string{
			cnp("cart", "endpointSelector: {matchLabels: {app: cart}}\nenableDefaultDeny: {ingress: false}\ningress:\n- fromEndpoints: [{matchLabels: {app: web}}]"),
			cnp("deny", "endpointSelector: {}\ningress: [{}]"),
		}, other, model.PolicyDenied},
		{"enableDefaultDeny false: a deny rule still denies", []string{cnp("cart", "endpointSelector: {matchLabels: {app: cart}}\nenableDefaultDeny: {ingress: false}\ningressDeny:\n- fromEndpoints: [{matchLabels: {app: other}}]")}, other, model.PolicyDenied},
		{"toFQDNs admits no pod", []string{cnp("web", "endpointSelector: {matchLabels: {app: web}}\negress:\n- toFQDNs: [{matchName: cart.example.com}]")}, web, model.PolicyDenied},
		{"toFQDNs beside a toEndpoints rule: the pod is not denied", []string{cnp("web", "endpointSelector: {matchLabels: {app: web}}\negress:\n- toFQDNs: [{matchName: api.example.com}]\n- toEndpoints: [{matchLabels: {app: cart}}]")}, web, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var ev *controls.PolicyEvaluator
			capture := func(ix *model.Index) { ev = controls.NewPolicyEvaluator(ix) }
			docs := append(append(callerToCart("shop"), ingressToCart), tc.policies...)
			model.Build(modeltest.Decode(t, docs...), append(controls.Detectors(), capture)...)
			got, evidence, ok := ev.Verdict(tc.from, cart, http)
			if !ok || got != tc.want {
				t.Fatalf("Verdict(%s, %s) = %q, %v, want %q: %+v", tc.from, cart, got, ok, tc.want, evidence)
			}
		})
	}
}

// TestCiliumDefaultDenyControls: a policy that opts out of default deny
// (enableDefaultDeny false) neither denies a namespace by default nor
// narrows a workload, though it selects every pod and admits nothing.
func TestCiliumDefaultDenyControls(t *testing.T) {
	cnp := "apiVersion: cilium.io/v2\nkind: CiliumNetworkPolicy\nmetadata: {name: all, namespace: shop}\nspec:\n  endpointSelector: {}\n  enableDefaultDeny: {ingress: false, egress: true}\n  ingress: [{}]\n  egress: [{}]"
	g := build(t, append(callerToCart("shop"), cnp)...)
	if hasControl(g, controls.NetworkPolicyDefaultDenyIngress, model.NamespaceBoundaryID("shop")) {
		t.Error("ingress default deny from a policy with enableDefaultDeny.ingress false")
	}
	if !hasControl(g, controls.NetworkPolicyDefaultDenyEgress, model.NamespaceBoundaryID("shop")) {
		t.Error("no egress default deny from a policy with enableDefaultDeny.egress true")
	}
	if hasControl(g, controls.NetworkPolicyIngressRestricted, "workload:shop/cart") {
		t.Error("cart's ingress counted as narrowed by a policy that does not deny by default")
	}
	if !hasControl(g, controls.NetworkPolicyEgressRestricted, "workload:shop/cart") {
		t.Error("cart's egress not counted as narrowed by a default deny")
	}
}
