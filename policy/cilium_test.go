package policy_test

import (
	"slices"
	"strings"
	"testing"

	"github.com/stridemap/stridemap/model/modeltest"
	"github.com/stridemap/stridemap/policy"
)

func findCilium(policies []*policy.CiliumNetworkPolicy, ns, name string) *policy.CiliumNetworkPolicy {
	for _, p := range policies {
		if p.Namespace == ns && p.Name == name {
			return p
		}
	}
	return nil
}

// TestCiliumFlowAcrossNamespaces: the peer in another namespace is
// selected by Cilium's namespace label, on the named pod port, and the
// flows annotation is the Kubernetes form's.
func TestCiliumFlowAcrossNamespaces(t *testing.T) {
	s := suggest(t, policy.FromBoth, webToCart...)
	cilium := s.CiliumPolicies()
	cart := findCilium(cilium, "shop", "stridemap-cart")
	if cart == nil || len(cart.Spec.Ingress) != 1 || len(cart.Spec.Egress) != 0 {
		t.Fatalf("cart's policy = %+v", cart)
	}
	if got := cart.Spec.EndpointSelector.MatchLabels; got["app"] != "cart" || len(got) != 1 {
		t.Errorf("endpointSelector = %v", got)
	}
	in := cart.Spec.Ingress[0]
	if len(in.FromEndpoints) != 1 || in.FromEndpoints[0].MatchLabels["k8s:io.kubernetes.pod.namespace"] != "web" || in.FromEndpoints[0].MatchLabels["app"] != "web" {
		t.Errorf("fromEndpoints = %+v", in.FromEndpoints)
	}
	if len(in.ToPorts) != 1 || !slices.Equal(in.ToPorts[0].Ports, []policy.CiliumPort{{Port: "http", Protocol: "TCP"}}) {
		t.Errorf("toPorts = %+v, want the named pod port http", in.ToPorts)
	}
	if k8s := find(s, "shop", "stridemap-cart"); cart.Annotations[policy.AnnotationFlows] != k8s.Annotations[policy.AnnotationFlows] {
		t.Errorf("flows annotation %q differs from the Kubernetes form's %q", cart.Annotations[policy.AnnotationFlows], k8s.Annotations[policy.AnnotationFlows])
	}
	web := findCilium(cilium, "web", "stridemap-web")
	if web == nil || len(web.Spec.Egress) != 1 || web.Spec.Egress[0].ToEndpoints[0].MatchLabels["k8s:io.kubernetes.pod.namespace"] != "shop" {
		t.Fatalf("web's policy = %+v", web)
	}
	if len(cilium) != len(s.Policies) {
		t.Errorf("%d CiliumNetworkPolicies for %d NetworkPolicies", len(cilium), len(s.Policies))
	}
	for _, ns := range []string{"shop", "web"} {
		deny := findCilium(cilium, ns, policy.DefaultDenyName)
		if deny == nil || len(deny.Spec.Ingress) != 1 || len(deny.Spec.Egress) != 1 || deny.Spec.Ingress[0].FromEndpoints != nil ||
			deny.Spec.EnableDefaultDeny == nil || !*deny.Spec.EnableDefaultDeny.Ingress || !*deny.Spec.EnableDefaultDeny.Egress {
			t.Errorf("%s: default deny = %+v, want one empty rule each way", ns, deny)
		}
		dns := findCilium(cilium, ns, policy.DNSName)
		if dns == nil || len(dns.Spec.Egress) != 1 || len(dns.Spec.Egress[0].ToPorts) != 1 {
			t.Fatalf("%s: dns = %+v", ns, dns)
		}
		rule := dns.Spec.Egress[0]
		if rule.ToEndpoints[0].MatchLabels["k8s:k8s-app"] != "kube-dns" || rule.ToEndpoints[0].MatchLabels["k8s:io.kubernetes.pod.namespace"] != "kube-system" {
			t.Errorf("%s: dns goes to %+v, want kube-dns in kube-system", ns, rule.ToEndpoints)
		}
		if r := rule.ToPorts[0].Rules; r == nil || len(r.DNS) != 1 || r.DNS[0].MatchPattern != "*" {
			t.Errorf("%s: dns rule %+v does not send every lookup through the DNS proxy", ns, rule.ToPorts[0])
		}
	}
}

// TestCiliumHostsAndEntries: a host known by name only is a note in the
// Kubernetes form and a toFQDNs rule in Cilium's; an address is toCIDR;
// an entry from the internet is the entity world, one through an Ingress
// whose controller is unknown world and ingress.
func TestCiliumHostsAndEntries(t *testing.T) {
	ingress := `apiVersion: networking.k8s.io/v1
kind: Ingress
metadata: {name: front, namespace: shop}
spec:
  rules:
  - http:
      paths:
      - {path: /, pathType: Prefix, backend: {service: {name: web, port: {number: 80}}}}`
	s := suggest(t, policy.FromBoth,
		modeltest.Deployment("shop", "web", modeltest.Env("DB_URL", "postgres://203.0.113.7:5432/shop", "API", "https://api.example.com")),
		modeltest.Service("shop", "web"), ingress,
	)
	const fqdnFlow = "workload:shop/web->external:api.example.com:443"
	kubernetesNote := func(n policy.Note) bool {
		return n.Subject == fqdnFlow && strings.Contains(n.Reason, "known by name only")
	}
	if !slices.ContainsFunc(s.NotesFor(policy.FormatKubernetes), kubernetesNote) {
		t.Errorf("the Kubernetes form's notes lack the host known by name: %v", s.NotesFor(policy.FormatKubernetes))
	}
	if slices.ContainsFunc(s.NotesFor(policy.FormatCilium), func(n policy.Note) bool { return n.Subject == fqdnFlow }) {
		t.Errorf("the Cilium form notes a flow it allows: %v", s.NotesFor(policy.FormatCilium))
	}

	web := findCilium(s.CiliumPolicies(), "shop", "stridemap-web")
	if web == nil {
		t.Fatal("no Cilium policy for web")
	}
	var fqdn, cidr bool
	for _, r := range web.Spec.Egress {
		switch {
		case len(r.ToFQDNs) == 1 && r.ToFQDNs[0].MatchName == "api.example.com":
			fqdn = len(r.ToEndpoints) == 0 && len(r.ToCIDR) == 0 && len(r.ToPorts) == 1 && r.ToPorts[0].Ports[0].Port == "443"
		case slices.Equal(r.ToCIDR, []string{"203.0.113.7/32"}):
			cidr = len(r.ToPorts) == 1 && r.ToPorts[0].Ports[0].Port == "5432"
		}
	}
	if !fqdn || !cidr {
		t.Errorf("web's egress = %+v, want toFQDNs api.example.com on 443 alone in its rule and toCIDR 203.0.113.7/32 on 5432", web.Spec.Egress)
	}
	if !strings.Contains(web.Annotations[policy.AnnotationFlows], fqdnFlow) {
		t.Errorf("the Cilium flows annotation lacks %s: %q", fqdnFlow, web.Annotations[policy.AnnotationFlows])
	}
	if k8s := find(s, "shop", "stridemap-web"); k8s == nil || strings.Contains(k8s.Annotations[policy.AnnotationFlows], fqdnFlow) || len(k8s.Spec.Egress) != 1 {
		t.Errorf("the Kubernetes form names or allows a flow it cannot say: %+v", k8s)
	}

	if len(web.Spec.Ingress) != 1 || !slices.Equal(web.Spec.Ingress[0].FromEntities, []string{"world", "ingress"}) {
		t.Errorf("web's ingress = %+v, want the entities world and ingress for the Ingress and the internet", web.Spec.Ingress)
	}
	if note := web.Annotations[policy.AnnotationNote]; !strings.Contains(note, "entities world") || strings.Contains(note, "ipBlock") {
		t.Errorf("web's note speaks of another format: %q", note)
	}
}

func TestCiliumYAML(t *testing.T) {
	s := suggest(t, policy.FromBoth, webToCart...)
	data, err := policy.CiliumYAML(policy.InNamespace(s.CiliumPolicies(), "shop"))
	if err != nil {
		t.Fatal(err)
	}
	text := string(data)
	for _, want := range []string{"apiVersion: cilium.io/v2", "kind: CiliumNetworkPolicy", "name: stridemap-default-deny", "  ingress:\n  - {}\n", "endpointSelector: {}", "k8s:io.kubernetes.pod.namespace: web", "matchPattern: '*'", "\n---\n"} {
		if !strings.Contains(text, want) {
			t.Errorf("YAML lacks %q:\n%s", want, text)
		}
	}
	if strings.Contains(text, "creationTimestamp") || strings.Contains(text, "\n  namespace: web\n") {
		t.Errorf("YAML holds an empty timestamp or another namespace's policy:\n%s", text)
	}
}

func TestParseFormat(t *testing.T) {
	for _, s := range []string{"kubernetes", "cilium"} {
		if f, err := policy.ParseFormat(s); err != nil || string(f) != s {
			t.Errorf("ParseFormat(%q) = %q, %v", s, f, err)
		}
	}
	if _, err := policy.ParseFormat("calico"); err == nil || !strings.Contains(err.Error(), "kubernetes or cilium") {
		t.Errorf("ParseFormat(calico) = %v", err)
	}
}
