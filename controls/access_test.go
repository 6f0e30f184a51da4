package controls_test

import (
	"slices"
	"strings"
	"testing"

	"github.com/stridemap/stridemap/controls"
	"github.com/stridemap/stridemap/model"
	"github.com/stridemap/stridemap/model/modeltest"
)

// accessControlTypes lists the control types attached to one element, sorted.
func accessControlTypes(g *model.Graph, target string) []string {
	var out []string
	for _, c := range g.Controls {
		if c.Target == target {
			out = append(out, c.Type)
		}
	}
	slices.Sort(out)
	return out
}

// accessControlsOn keeps only the controls access.go detects.
func accessControlsOn(g *model.Graph, target string) []string {
	access := []string{controls.GatewayAuthentication, controls.RequestAuthentication, controls.RequestPrincipalRequired,
		controls.AuthorizationPolicy, controls.RateLimit, controls.MTLSRequired}
	var out []string
	for _, c := range accessControlTypes(g, target) {
		if slices.Contains(access, c) {
			out = append(out, c)
		}
	}
	return out
}

// accessIngress is an Ingress in shop routing to the web Service, with the
// annotations given as YAML lines.
func accessIngress(annotations ...string) string {
	meta := "metadata:\n  name: web\n  namespace: shop"
	if len(annotations) > 0 {
		meta += "\n  annotations:\n" + modeltest.Indent(strings.Join(annotations, "\n"), "    ")
	}
	return "apiVersion: networking.k8s.io/v1\nkind: Ingress\n" + meta + `
spec:
  rules:
  - http:
      paths:
      - {path: /, pathType: Prefix, backend: {service: {name: web, port: {number: 80}}}}`
}

func TestGatewayAuthenticationAndRateLimit(t *testing.T) {
	web := []string{modeltest.Deployment("shop", "web"), modeltest.Service("shop", "web")}
	tests := []struct {
		name  string
		extra []string
		want  []string
	}{
		{"no annotations", []string{accessIngress()}, nil},
		{"nginx auth-url with sign-in", []string{accessIngress(
			`nginx.ingress.kubernetes.io/auth-url: "https://auth.example.com/oauth2/auth"`,
			`nginx.ingress.kubernetes.io/auth-signin: "https://auth.example.com/oauth2/start"`)},
			[]string{controls.GatewayAuthentication}},
		{"nginx basic auth", []string{accessIngress(`nginx.ingress.kubernetes.io/auth-type: basic`)}, []string{controls.GatewayAuthentication}},
		{"nginx auth-signin alone authenticates nothing", []string{accessIngress(`nginx.ingress.kubernetes.io/auth-signin: "https://x/start"`)}, nil},
		{"nginx client certificates", []string{accessIngress(`nginx.ingress.kubernetes.io/auth-tls-verify-client: "on"`)}, []string{controls.GatewayAuthentication}},
		{"nginx optional client certificates", []string{accessIngress(`nginx.ingress.kubernetes.io/auth-tls-verify-client: "optional"`)}, nil},
		{"nginx rate limits", []string{accessIngress(`nginx.ingress.kubernetes.io/limit-rps: "10"`, `nginx.ingress.kubernetes.io/limit-connections: "5"`)},
			[]string{controls.RateLimit}},
		{"nginx bandwidth limit is no rate limit", []string{accessIngress(`nginx.ingress.kubernetes.io/limit-rate: "100"`)}, nil},
		{"traefik middlewares", []string{
			accessIngress(`traefik.ingress.kubernetes.io/router.middlewares: "shop-auth@kubernetescrd, shop-limit@kubernetescrd"`),
			"apiVersion: traefik.io/v1alpha1\nkind: Middleware\nmetadata: {name: auth, namespace: shop}\nspec: {forwardAuth: {address: \"http://oauth2-proxy.auth/\"}}",
			"apiVersion: traefik.io/v1alpha1\nkind: Middleware\nmetadata: {name: limit, namespace: shop}\nspec: {rateLimit: {average: 100}}",
		}, []string{controls.GatewayAuthentication, controls.RateLimit}},
		{"traefik middleware that is not auth", []string{
			accessIngress(`traefik.ingress.kubernetes.io/router.middlewares: "shop-strip@kubernetescrd"`),
			"apiVersion: traefik.io/v1alpha1\nkind: Middleware\nmetadata: {name: strip, namespace: shop}\nspec: {stripPrefix: {prefixes: [/api]}}",
		}, nil},
		{"kong plugins", []string{
			accessIngress(`konghq.com/plugins: "jwt-auth,limit"`),
			"apiVersion: configuration.konghq.com/v1\nkind: KongPlugin\nmetadata: {name: jwt-auth, namespace: shop}\nplugin: jwt",
			"apiVersion: configuration.konghq.com/v1\nkind: KongPlugin\nmetadata: {name: limit, namespace: shop}\nplugin: rate-limiting\nconfig: {minute: 60}",
		}, []string{controls.GatewayAuthentication, controls.RateLimit}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			g := build(t, append(slices.Clone(web), tc.extra...)...)
			if got := accessControlsOn(g, "gateway:shop/web"); !slices.Equal(got, tc.want) {
				t.Errorf("controls on the gateway = %v, want %v", got, tc.want)
			}
		})
	}
}

func TestGatewayAuthenticationEvidence(t *testing.T) {
	g := build(t, modeltest.Deployment("shop", "web"), modeltest.Service("shop", "web"), accessIngress(`nginx.ingress.kubernetes.io/auth-url: "https://auth/x"`))
	for _, c := range g.Controls {
		if c.Type != controls.GatewayAuthentication {
			continue
		}
		ev := c.Evidence[0]
		if ev.File != "test.yaml" || ev.Line != 33 || ev.Field != "metadata.annotations[nginx.ingress.kubernetes.io/auth-url]" || !strings.Contains(ev.Detail, "https://auth/x") {
			t.Errorf("evidence = %+v", ev)
		}
		return
	}
	t.Fatal("no gateway-authentication control")
}

func TestAuthProxyInFrontOfEverything(t *testing.T) {
	proxy := strings.Replace(modeltest.Deployment("shop", "oauth2-proxy"), "example/oauth2-proxy:1.0", "quay.io/oauth2-proxy/oauth2-proxy:v7.6.0", 1)
	route := strings.ReplaceAll(accessIngress(), "name: web, port", "name: oauth2-proxy, port")
	g := build(t, proxy, modeltest.Service("shop", "oauth2-proxy"), route)
	if got := accessControlsOn(g, "gateway:shop/web"); !slices.Equal(got, []string{controls.GatewayAuthentication}) {
		t.Errorf("gateway routing only to oauth2-proxy: controls %v", got)
	}
	// A second route that bypasses the proxy removes the control.
	route = strings.Replace(route, "      paths:\n", "      paths:\n      - {path: /open, pathType: Prefix, backend: {service: {name: web, port: {number: 80}}}}\n", 1)
	g = build(t, proxy, modeltest.Service("shop", "oauth2-proxy"), modeltest.Deployment("shop", "web"), modeltest.Service("shop", "web"), route)
	if got := accessControlsOn(g, "gateway:shop/web"); len(got) != 0 {
		t.Errorf("gateway with a route around the proxy: controls %v", got)
	}
}

const requestAuthentication = `apiVersion: security.istio.io/v1
kind: RequestAuthentication
metadata: {name: jwt, namespace: shop}
spec:
  selector: {matchLabels: {app: api}}
  jwtRules: [{issuer: "https://issuer.example.com", jwksUri: "https://issuer.example.com/jwks"}]`

func TestIstioAuthentication(t *testing.T) {
	base := []string{modeltest.Deployment("shop", "api"), modeltest.Deployment("shop", "other"), requestAuthentication}
	policy := func(spec string) string {
		return "apiVersion: security.istio.io/v1\nkind: AuthorizationPolicy\nmetadata: {name: p, namespace: shop}\nspec:\n" + modeltest.Indent(spec, "  ")
	}
	tests := []struct {
		name   string
		policy []string
		api    []string
	}{
		{"RequestAuthentication alone", nil, []string{controls.RequestAuthentication}},
		{"ALLOW requiring a request principal", []string{policy("selector: {matchLabels: {app: api}}\nrules: [{from: [{source: {requestPrincipals: [\"*\"]}}]}]")},
			[]string{controls.AuthorizationPolicy, controls.RequestAuthentication, controls.RequestPrincipalRequired}},
		{"ALLOW on a claim", []string{policy("selector: {matchLabels: {app: api}}\nrules: [{when: [{key: \"request.auth.claims[groups]\", values: [admin]}]}]")},
			[]string{controls.AuthorizationPolicy, controls.RequestAuthentication, controls.RequestPrincipalRequired}},
		{"DENY without a request principal", []string{policy("selector: {matchLabels: {app: api}}\naction: DENY\nrules: [{from: [{source: {notRequestPrincipals: [\"*\"]}}]}]")},
			[]string{controls.AuthorizationPolicy, controls.RequestAuthentication, controls.RequestPrincipalRequired}},
		{"DENY only on some paths", []string{policy("selector: {matchLabels: {app: api}}\naction: DENY\nrules: [{from: [{source: {notRequestPrincipals: [\"*\"]}}], to: [{operation: {paths: [/admin]}}]}]")},
			[]string{controls.AuthorizationPolicy, controls.RequestAuthentication}},
		{"a second ALLOW without principals lets token-less requests in", []string{
			policy("selector: {matchLabels: {app: api}}\nrules: [{from: [{source: {requestPrincipals: [\"*\"]}}]}]"),
			strings.Replace(policy("selector: {matchLabels: {app: api}}\nrules: [{from: [{source: {namespaces: [shop]}}]}]"), "name: p,", "name: q,", 1),
		}, []string{controls.AuthorizationPolicy, controls.RequestAuthentication}},
		{"ALLOW with an empty rule allows everything", []string{policy("selector: {matchLabels: {app: api}}\nrules: [{}]")},
			[]string{controls.RequestAuthentication}},
		{"AUDIT is no control", []string{policy("selector: {matchLabels: {app: api}}\naction: AUDIT\nrules: [{}]")},
			[]string{controls.RequestAuthentication}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			g := build(t, append(slices.Clone(base), tc.policy...)...)
			if got := accessControlsOn(g, "workload:shop/api"); !slices.Equal(got, tc.api) {
				t.Errorf("controls on api = %v, want %v", got, tc.api)
			}
			if got := accessControlsOn(g, "workload:shop/other"); len(got) != 0 {
				t.Errorf("the selector does not pick other, yet it has %v", got)
			}
		})
	}
}

func TestIstioPolicyScopes(t *testing.T) {
	workloads := []string{modeltest.Deployment("shop", "api"), modeltest.Deployment("pay", "card"),
		strings.Replace(modeltest.Deployment("shop", "legacy"), "labels: {app: legacy}", "labels: {app: legacy}\n      annotations: {sidecar.istio.io/inject: \"false\"}", 1),
		`apiVersion: networking.istio.io/v1
kind: Gateway
metadata: {name: public, namespace: shop}
spec:
  selector: {istio: ingressgateway}
  servers: [{port: {number: 80, name: http, protocol: HTTP}, hosts: ["*"]}]`,
	}
	allow := func(ns, selector string) string {
		s := "apiVersion: security.istio.io/v1\nkind: AuthorizationPolicy\nmetadata: {name: p, namespace: " + ns + "}\nspec:\n"
		if selector != "" {
			s += "  selector: {matchLabels: {" + selector + "}}\n"
		}
		return s + "  rules: [{from: [{source: {principals: [\"cluster.local/ns/shop/sa/web\"]}}]}]"
	}
	tests := []struct {
		name   string
		policy string
		want   []string // elements with authorization-policy
	}{
		{"namespace-wide", allow("shop", ""), []string{"workload:shop/api"}},
		{"mesh-wide from the root namespace", allow("istio-system", ""), []string{"gateway:shop/public", "workload:pay/card", "workload:shop/api"}},
		{"the ingress gateway's pods", allow("istio-system", "istio: ingressgateway"), []string{"gateway:shop/public"}},
		{"another namespace's selector", allow("pay", "app: api"), nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			g := build(t, append(slices.Clone(workloads), tc.policy)...)
			var got []string
			for _, c := range g.Controls {
				if c.Type == controls.AuthorizationPolicy {
					got = append(got, c.Target)
				}
			}
			slices.Sort(got)
			if !slices.Equal(got, tc.want) {
				t.Errorf("authorization-policy on %v, want %v", got, tc.want)
			}
		})
	}
}

func TestIstioCustomPolicyAuthenticatesAtTheGateway(t *testing.T) {
	g := build(t, `apiVersion: networking.istio.io/v1
kind: Gateway
metadata: {name: public, namespace: istio-system}
spec:
  selector: {istio: ingressgateway}
  servers: [{port: {number: 443, name: https, protocol: HTTPS}, hosts: ["*"], tls: {mode: SIMPLE, credentialName: c}}]`,
		`apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: ext-authz, namespace: istio-system}
spec:
  selector: {matchLabels: {istio: ingressgateway}}
  action: CUSTOM
  provider: {name: oauth2-proxy}
  rules: [{to: [{operation: {hosts: ["app.example.com"]}}]}]`)
	want := []string{controls.AuthorizationPolicy, controls.GatewayAuthentication}
	if got := accessControlsOn(g, "gateway:istio-system/public"); !slices.Equal(got, want) {
		t.Errorf("controls = %v, want %v", got, want)
	}
}

func TestEnvoyRateLimits(t *testing.T) {
	g := build(t, modeltest.Deployment("shop", "api"), modeltest.Deployment("shop", "other"), `apiVersion: networking.istio.io/v1alpha3
kind: EnvoyFilter
metadata: {name: limit, namespace: shop}
spec:
  workloadSelector: {labels: {app: api}}
  configPatches:
  - applyTo: HTTP_FILTER
    patch:
      operation: INSERT_BEFORE
      value:
        name: envoy.filters.http.local_ratelimit
        typed_config: {"@type": type.googleapis.com/udpa.type.v1.TypedStruct}`)
	if got := accessControlsOn(g, "workload:shop/api"); !slices.Equal(got, []string{controls.RateLimit}) {
		t.Errorf("api controls = %v", got)
	}
	if got := accessControlsOn(g, "workload:shop/other"); len(got) != 0 {
		t.Errorf("other controls = %v", got)
	}
}

func TestEnvoyGatewayPolicies(t *testing.T) {
	g := build(t, `apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: {name: eg, namespace: shop}
spec:
  gatewayClassName: eg
  listeners: [{name: http, protocol: HTTP, port: 80}]`,
		`apiVersion: gateway.envoyproxy.io/v1alpha1
kind: SecurityPolicy
metadata: {name: oidc, namespace: shop}
spec:
  targetRefs: [{group: gateway.networking.k8s.io, kind: Gateway, name: eg}]
  oidc: {provider: {issuer: "https://accounts.example.com"}, clientID: shop}`,
		`apiVersion: gateway.envoyproxy.io/v1alpha1
kind: BackendTrafficPolicy
metadata: {name: limit, namespace: shop}
spec:
  targetRefs: [{group: gateway.networking.k8s.io, kind: Gateway, name: eg}]
  rateLimit: {type: Local, local: {rules: [{limit: {requests: 10, unit: Second}}]}}`)
	want := []string{controls.GatewayAuthentication, controls.RateLimit}
	if got := accessControlsOn(g, "gateway:shop/eg"); !slices.Equal(got, want) {
		t.Errorf("controls = %v, want %v", got, want)
	}
}

// TestLinkerdOptOut: a pod template that sets linkerd.io/inject: disabled in
// an injected, all-authenticated namespace gets no proxy, so nothing
// requires mTLS of its callers; its neighbour does.
func TestLinkerdOptOut(t *testing.T) {
	deployment := func(name, annotations string) string {
		return `apiVersion: apps/v1
kind: Deployment
metadata: {name: ` + name + `, namespace: shop}
spec:
  selector: {matchLabels: {app: ` + name + `}}
  template:
    metadata: {labels: {app: ` + name + `}, annotations: {` + annotations + `}}
    spec:
      containers: [{name: app, image: app:1}]`
	}
	g := build(t, "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: shop\n  annotations: {linkerd.io/inject: enabled, config.linkerd.io/default-inbound-policy: all-authenticated}",
		deployment("api", ""), deployment("report", "linkerd.io/inject: disabled"))
	var got []string
	for _, c := range g.Controls {
		if c.Type == controls.MTLSRequired {
			got = append(got, c.Target)
		}
	}
	if want := []string{"workload:shop/api"}; !slices.Equal(got, want) {
		t.Errorf("mtls-required on %v, want %v", got, want)
	}
}

func TestMTLSRequired(t *testing.T) {
	workloads := []string{modeltest.Deployment("shop", "api"), modeltest.Deployment("shop", "legacy"), modeltest.Deployment("pay", "card")}
	pa := func(name, ns, selector, mode string) string {
		s := "apiVersion: security.istio.io/v1\nkind: PeerAuthentication\nmetadata: {name: " + name + ", namespace: " + ns + "}\nspec:\n"
		if selector != "" {
			s += "  selector: {matchLabels: {" + selector + "}}\n"
		}
		return s + "  mtls: {mode: " + mode + "}"
	}
	tests := []struct {
		name     string
		policies []string
		want     []string
	}{
		{"none", nil, nil},
		{"mesh-wide STRICT", []string{pa("default", "istio-system", "", "STRICT")}, []string{"workload:pay/card", "workload:shop/api", "workload:shop/legacy"}},
		{"namespace STRICT", []string{pa("default", "shop", "", "STRICT")}, []string{"workload:shop/api", "workload:shop/legacy"}},
		{"workload PERMISSIVE overrides namespace STRICT", []string{pa("default", "shop", "", "STRICT"), pa("legacy", "shop", "app: legacy", "PERMISSIVE")},
			[]string{"workload:shop/api"}},
		{"namespace DISABLE overrides mesh STRICT", []string{pa("default", "istio-system", "", "STRICT"), pa("default", "pay", "", "DISABLE")},
			[]string{"workload:shop/api", "workload:shop/legacy"}},
		{"UNSET inherits", []string{pa("default", "istio-system", "", "STRICT"), pa("default", "pay", "", "UNSET")},
			[]string{"workload:pay/card", "workload:shop/api", "workload:shop/legacy"}},
		{"a PERMISSIVE port is an exception", []string{pa("default", "shop", "", "STRICT") + "\n  portLevelMtls: {\"8080\": {mode: PERMISSIVE}}"},
			nil},
		{"Linkerd all-authenticated namespace", []string{
			"apiVersion: v1\nkind: Namespace\nmetadata:\n  name: shop\n  annotations: {linkerd.io/inject: enabled, config.linkerd.io/default-inbound-policy: all-authenticated}",
		}, []string{"workload:shop/api", "workload:shop/legacy"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			g := build(t, append(slices.Clone(workloads), tc.policies...)...)
			var got []string
			for _, c := range g.Controls {
				if c.Type == controls.MTLSRequired {
					got = append(got, c.Target)
					if len(c.Evidence) == 0 || c.Evidence[0].Line == 0 {
						t.Errorf("control %s lacks evidence", c.ID)
					}
				}
			}
			slices.Sort(got)
			if !slices.Equal(got, tc.want) {
				t.Errorf("mtls-required on %v, want %v", got, tc.want)
			}
		})
	}
}
