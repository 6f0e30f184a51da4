package controls

import (
	"fmt"
	"path"
	"slices"
	"strings"

	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	"k8s.io/apimachinery/pkg/labels"

	"github.com/stridemap/stridemap/discover"
	"github.com/stridemap/stridemap/internal/fields"
	"github.com/stridemap/stridemap/model"
)

// Access control types: who may call an element, whether the caller's
// identity is checked, and how often it may call. The threat catalog asks
// for them by name, so the strings are stable.
const (
	// GatewayAuthentication: the gateway authenticates every request
	// before routing it (ingress-nginx auth-url/auth-type, client
	// certificates, Traefik/Kong auth plugins, an Istio CUSTOM policy,
	// Envoy Gateway SecurityPolicy, or a gateway that routes only to an
	// authenticating proxy such as oauth2-proxy).
	GatewayAuthentication = "gateway-authentication"
	// RequestAuthentication: an Istio RequestAuthentication
	// validates JWTs sent to the element. On its own it rejects bad
	// tokens but lets requests without one through.
	RequestAuthentication = "request-authentication"
	// RequestPrincipalRequired: Istio AuthorizationPolicies only let
	// requests with a validated JWT through.
	RequestPrincipalRequired = "request-principal-required"
	// AuthorizationPolicy: an Istio AuthorizationPolicy restricts
	// which callers and requests the element accepts.
	AuthorizationPolicy = "authorization-policy"
	// RateLimit: requests are rate limited at the gateway or by the
	// element's proxy.
	RateLimit = "rate-limit"
	// MTLSRequired: the workload accepts only mutual-TLS connections
	// from the mesh (Istio PeerAuthentication STRICT, Linkerd
	// all-authenticated), so callers prove their identity.
	MTLSRequired = "mtls-required"
)

// meshRootNamespace is Istio's default root namespace: policies there
// without a selector apply to the whole mesh.
const meshRootNamespace = "istio-system"

// addAccessControls detects authentication, authorization and rate limits
// at gateways and in the mesh. It runs after the gateways, edges and
// workload controls exist, because a gateway's control is read from the
// objects that configure it and the gateway's edges.
func addAccessControls(ix *model.Index) {
	gateways := gatewaysByObject(ix)
	addIngressAccessControls(ix, gateways)
	addAuthProxyGateways(ix)
	addIstioAccessControls(ix, gateways)
	addEnvoyGatewayPolicies(ix, gateways)
	addMTLSRequired(ix)
}

// gatewaysByObject maps the object a gateway node was made from, by its
// location, to the node's ID. Locations are unique per object, where
// kind/namespace/name is not: an Istio Gateway and a Gateway API Gateway
// may share a name.
func gatewaysByObject(ix *model.Index) map[discover.Location]string {
	out := map[discover.Location]string{}
	for _, n := range ix.Nodes() {
		if n.Type == model.Gateway && len(n.Evidence) > 0 {
			out[discover.Location{File: n.Evidence[0].File, Line: n.Evidence[0].Line}] = n.ID
		}
	}
	return out
}

func annotationEvidence(obj *discover.Object, key, detail string) model.Evidence {
	field := discover.PathKey("metadata.annotations", key)
	return model.Evidence{File: obj.Location.File, Line: obj.LineOf(field), Object: obj.Ref(), Field: field, Detail: detail}
}

// Ingress annotations read here.
const (
	nginxAuthURL          = "nginx.ingress.kubernetes.io/auth-url"
	nginxAuthSignin       = "nginx.ingress.kubernetes.io/auth-signin"
	nginxAuthType         = "nginx.ingress.kubernetes.io/auth-type"
	nginxAuthTLSVerify    = "nginx.ingress.kubernetes.io/auth-tls-verify-client"
	albAuthType           = "alb.ingress.kubernetes.io/auth-type"
	traefikMiddlewares    = "traefik.ingress.kubernetes.io/router.middlewares"
	kongPlugins           = "konghq.com/plugins"
	traefikProviderSuffix = "@kubernetescrd"
)

// nginxRateLimits are the ingress-nginx annotations that limit requests or
// connections per client. limit-rate is left out: it caps response
// bandwidth, not how often a client may call.
var nginxRateLimits = []string{
	"nginx.ingress.kubernetes.io/limit-rps",
	"nginx.ingress.kubernetes.io/limit-rpm",
	"nginx.ingress.kubernetes.io/limit-connections",
	"nginx.ingress.kubernetes.io/global-rate-limit",
}

// addIngressAccessControls reads authentication and rate limits from each
// Ingress: its controller's annotations, and the Traefik middlewares and
// Kong plugins they name.
func addIngressAccessControls(ix *model.Index, gateways map[discover.Location]string) {
	for _, obj := range ix.TypedObjects() {
		ing, ok := obj.Typed.(*networkingv1.Ingress)
		if !ok {
			continue
		}
		id := gateways[obj.Location]
		if id == "" {
			continue
		}
		a := ing.Annotations
		if ev, ok := ingressAuthentication(obj, a); ok {
			ix.AddControl(GatewayAuthentication, id, ev)
		}
		for _, key := range nginxRateLimits {
			if v := strings.TrimSpace(a[key]); v != "" && v != "0" {
				ix.AddControl(RateLimit, id, annotationEvidence(obj, key, key+": "+v))
			}
		}
		for _, m := range splitList(a[traefikMiddlewares]) {
			traefikMiddleware(ix, id, obj, m)
		}
		for _, p := range splitList(a[kongPlugins]) {
			kongPlugin(ix, id, obj, p)
		}
	}
}

// ingressAuthentication recognises the annotations with which an Ingress
// controller authenticates requests itself. auth-signin only says where to
// send a browser that auth-url rejected, so it counts with auth-url.
func ingressAuthentication(obj *discover.Object, a map[string]string) (model.Evidence, bool) {
	if url := a[nginxAuthURL]; url != "" {
		detail := "ingress-nginx checks every request with " + url
		if a[nginxAuthSignin] != "" {
			detail += ", signing in at " + a[nginxAuthSignin]
		}
		return annotationEvidence(obj, nginxAuthURL, detail), true
	}
	if t := strings.ToLower(a[nginxAuthType]); t == "basic" || t == "digest" {
		return annotationEvidence(obj, nginxAuthType, "ingress-nginx "+t+" authentication"), true
	}
	if strings.EqualFold(a[nginxAuthTLSVerify], "on") {
		return annotationEvidence(obj, nginxAuthTLSVerify, "ingress-nginx requires a client certificate"), true
	}
	if t := strings.ToLower(a[albAuthType]); t == "cognito" || t == "oidc" {
		return annotationEvidence(obj, albAuthType, "AWS load balancer "+t+" authentication"), true
	}
	return model.Evidence{}, false
}

// traefikMiddleware applies one middleware named in an Ingress's
// router.middlewares annotation ("NAMESPACE-NAME@kubernetescrd").
func traefikMiddleware(ix *model.Index, gateway string, ing *discover.Object, ref string) {
	name := strings.TrimSuffix(ref, traefikProviderSuffix)
	for _, group := range []string{"traefik.io", "traefik.containo.us"} {
		for _, m := range ix.Unstructured(group + "/Middleware") {
			if m.Namespace+"-"+m.Name != name {
				continue
			}
			spec := fields.Map(m.Fields, "spec")
			for _, kind := range []string{"forwardAuth", "basicAuth", "digestAuth"} {
				if spec[kind] != nil {
					ix.AddControl(GatewayAuthentication, gateway, pluginEvidence(ing, m, "spec."+kind, "Traefik middleware "+kind))
				}
			}
			if spec["rateLimit"] != nil {
				ix.AddControl(RateLimit, gateway, pluginEvidence(ing, m, "spec.rateLimit", "Traefik middleware rateLimit"))
			}
		}
	}
}

// kongAuthPlugins are the Kong plugins that authenticate consumers.
var kongAuthPlugins = []string{"basic-auth", "key-auth", "key-auth-enc", "jwt", "oauth2", "hmac-auth", "ldap-auth", "ldap-auth-advanced", "openid-connect", "mtls-auth"}

// kongPlugin applies one KongPlugin (or KongClusterPlugin) named in an
// Ingress's konghq.com/plugins annotation.
func kongPlugin(ix *model.Index, gateway string, ing *discover.Object, name string) {
	candidates := slices.Concat(ix.Unstructured("configuration.konghq.com/KongPlugin"), ix.Unstructured("configuration.konghq.com/KongClusterPlugin"))
	for _, p := range candidates {
		if p.Name != name || (p.Namespace != "" && p.Namespace != ing.Namespace) {
			continue
		}
		plugin := fields.String(p.Fields, "plugin")
		switch {
		case slices.Contains(kongAuthPlugins, plugin):
			ix.AddControl(GatewayAuthentication, gateway, pluginEvidence(ing, p, "plugin", "Kong plugin "+plugin))
		case plugin == "rate-limiting" || plugin == "rate-limiting-advanced":
			ix.AddControl(RateLimit, gateway, pluginEvidence(ing, p, "plugin", "Kong plugin "+plugin))
		}
	}
}

// pluginEvidence points at the plugin object that does the work and names
// the Ingress that uses it.
func pluginEvidence(ing, plugin *discover.Object, field, what string) model.Evidence {
	return model.Evidence{File: plugin.Location.File, Line: plugin.LineOf(field), Object: plugin.Ref(), Field: field, Detail: what + ", used by " + ing.Ref()}
}

func splitList(s string) []string {
	var out []string
	for _, part := range strings.Split(s, ",") {
		if part = strings.TrimSpace(part); part != "" {
			out = append(out, part)
		}
	}
	return out
}

// authProxies are images of reverse proxies that authenticate every request
// before passing it on.
var authProxies = []string{"oauth2-proxy", "pomerium"}

// addAuthProxyGateways gives the authentication control to gateways whose
// every route leads to an authenticating proxy: the proxy stands between
// the internet and the application. A gateway that also routes elsewhere
// gets nothing, since those routes are not authenticated.
func addAuthProxyGateways(ix *model.Index) {
	routes := map[string][]*model.Edge{}
	edges := ix.Edges()
	for i := range edges {
		e := &edges[i]
		if strings.HasPrefix(e.From, "gateway:") {
			routes[e.From] = append(routes[e.From], e)
		}
	}
	for _, gw := range sortedKeys(routes) {
		var evidence []model.Evidence
		for _, e := range routes[gw] {
			image := authProxyImage(ix.Node(e.To))
			if image == "" {
				evidence = nil
				break
			}
			var ev model.Evidence
			if len(e.Evidence) > 0 {
				ev = e.Evidence[0]
			}
			ev.Detail = "routes to " + e.To + ", which runs " + image
			evidence = append(evidence, ev)
		}
		if len(evidence) > 0 {
			ix.AddControl(GatewayAuthentication, gw, evidence...)
		}
	}
}

func authProxyImage(n *model.Node) string {
	if n == nil || n.Workload == nil {
		return ""
	}
	for _, c := range n.Workload.Containers {
		if slices.Contains(authProxies, path.Base(c.Image.Repository)) {
			return c.Image.Ref
		}
	}
	return ""
}

// addIstioAccessControls reads Istio RequestAuthentication,
// AuthorizationPolicy and rate-limiting EnvoyFilters.
func addIstioAccessControls(ix *model.Index, gateways map[discover.Location]string) {
	for _, ra := range ix.Unstructured(istioSecurity + "/RequestAuthentication") {
		rules := fields.List(ra.Fields, "spec", "jwtRules")
		if len(rules) == 0 {
			continue
		}
		var issuers []string
		for _, r := range rules {
			if iss := fields.String(fields.AsMap(r), "issuer"); iss != "" {
				issuers = append(issuers, iss)
			}
		}
		detail := "validates JWTs from " + strings.Join(issuers, ", ")
		for _, t := range istioTargets(ix, ra, "spec.selector", gateways) {
			ix.AddControl(RequestAuthentication, t.id, t.evidence(detail))
		}
	}
	addAuthorizationPolicies(ix, gateways)
	for _, ef := range ix.Unstructured(istioNetworking + "/EnvoyFilter") {
		if !mentionsRateLimit(fields.At(ef.Fields, "spec", "configPatches")) {
			continue
		}
		for _, t := range istioTargets(ix, ef, "spec.workloadSelector", gateways) {
			ix.AddControl(RateLimit, t.id, t.evidence("EnvoyFilter adds an Envoy rate-limit filter"))
		}
	}
}

// authState gathers the AuthorizationPolicies on one element: a request
// reaches it only if no DENY policy matches and, when there are ALLOW
// policies, one of them matches.
type authState struct {
	allow, allowJWT int              // ALLOW policies, and those that only admit requests with a JWT
	denyTokenless   bool             // a DENY policy rejects every request without a JWT
	jwtEvidence     []model.Evidence // the policies that require the JWT
}

// addAuthorizationPolicies records authorization-policy for elements that an
// effective AuthorizationPolicy covers, and request-principal-required
// where the policies together let no request without a validated JWT in.
// Policies that restrict nothing (an ALLOW rule that is empty, a DENY
// without rules, AUDIT) are not controls.
func addAuthorizationPolicies(ix *model.Index, gateways map[discover.Location]string) {
	states := map[string]*authState{}
	var order []string
	for _, ap := range ix.Unstructured(istioSecurity + "/AuthorizationPolicy") {
		eff := authorizationEffectOf(fields.Map(ap.Fields, "spec"))
		if !eff.restricts {
			continue
		}
		for _, t := range istioTargets(ix, ap, "spec.selector", gateways) {
			ev := t.evidence(eff.detail)
			ix.AddControl(AuthorizationPolicy, t.id, ev)
			if eff.custom && strings.HasPrefix(t.id, "gateway:") {
				ix.AddControl(GatewayAuthentication, t.id, ev)
			}
			s := states[t.id]
			if s == nil {
				s = &authState{}
				states[t.id] = s
				order = append(order, t.id)
			}
			switch {
			case eff.allow:
				s.allow++
				if eff.requiresJWT {
					s.allowJWT++
					s.jwtEvidence = append(s.jwtEvidence, ev)
				}
			case eff.requiresJWT:
				s.denyTokenless = true
				s.jwtEvidence = append(s.jwtEvidence, ev)
			}
		}
	}
	for _, id := range order {
		s := states[id]
		if s.denyTokenless || (s.allow > 0 && s.allowJWT == s.allow) {
			ix.AddControl(RequestPrincipalRequired, id, s.jwtEvidence...)
		}
	}
}

// authorizationEffect is what one AuthorizationPolicy does.
type authorizationEffect struct {
	restricts   bool // the policy limits who or what may call
	allow       bool // an ALLOW policy (which admits only what it matches)
	custom      bool // delegated to an external authorizer (ext_authz)
	requiresJWT bool // ALLOW: admits only requests with a JWT; DENY: rejects those without
	detail      string
}

func authorizationEffectOf(spec map[string]any) authorizationEffect {
	action := strings.ToUpper(fields.String(spec, "action"))
	if action == "" {
		action = "ALLOW"
	}
	rules := fields.List(spec, "rules")
	switch action {
	case "ALLOW":
		if len(rules) == 0 {
			return authorizationEffect{restricts: true, allow: true, requiresJWT: true, detail: "ALLOW policy without rules: denies every request"}
		}
		all := true
		for _, r := range rules {
			if len(fields.AsMap(r)) == 0 {
				return authorizationEffect{} // an empty rule matches, and so allows, every request
			}
			all = all && ruleRequiresJWT(fields.AsMap(r))
		}
		return authorizationEffect{restricts: true, allow: true, requiresJWT: all, detail: fmt.Sprintf("ALLOW policy with %d rule(s)", len(rules))}
	case "DENY":
		if len(rules) == 0 {
			return authorizationEffect{} // a DENY policy without rules matches nothing
		}
		tokenless := false
		for _, r := range rules {
			tokenless = tokenless || ruleDeniesTokenless(fields.AsMap(r))
		}
		return authorizationEffect{restricts: true, requiresJWT: tokenless, detail: fmt.Sprintf("DENY policy with %d rule(s)", len(rules))}
	case "CUSTOM":
		return authorizationEffect{restricts: true, custom: true, detail: "CUSTOM policy: external authorization by provider " + fields.String(spec, "provider", "name")}
	}
	return authorizationEffect{} // AUDIT only logs
}

// ruleRequiresJWT reports whether an ALLOW rule can only match requests that
// carry a validated JWT: every source it accepts names request principals,
// or it has a condition on the token's claims.
func ruleRequiresJWT(rule map[string]any) bool {
	for _, w := range fields.List(rule, "when") {
		if strings.HasPrefix(fields.String(fields.AsMap(w), "key"), "request.auth.") {
			return true
		}
	}
	from := fields.List(rule, "from")
	if len(from) == 0 {
		return false
	}
	for _, f := range from {
		if len(fields.List(fields.AsMap(f), "source", "requestPrincipals")) == 0 {
			return false
		}
	}
	return true
}

// ruleDeniesTokenless reports whether a DENY rule rejects every request
// without a JWT: it matches sources with no request principal and is not
// narrowed to some operations or conditions.
func ruleDeniesTokenless(rule map[string]any) bool {
	if len(fields.List(rule, "to")) > 0 || len(fields.List(rule, "when")) > 0 {
		return false
	}
	for _, f := range fields.List(rule, "from") {
		if len(fields.List(fields.AsMap(f), "source", "notRequestPrincipals")) > 0 {
			return true
		}
	}
	return false
}

// mentionsRateLimit reports whether an EnvoyFilter's patches mention an
// Envoy rate-limit filter (envoy.filters.http.local_ratelimit,
// envoy.filters.http.ratelimit or their typed configs).
func mentionsRateLimit(v any) bool {
	switch x := v.(type) {
	case string:
		return strings.Contains(strings.ToLower(x), "ratelimit")
	case map[string]any:
		for k, e := range x {
			if strings.Contains(strings.ToLower(k), "ratelimit") || mentionsRateLimit(e) {
				return true
			}
		}
	case []any:
		for _, e := range x {
			if mentionsRateLimit(e) {
				return true
			}
		}
	}
	return false
}

// policyTarget is an element an Istio policy applies to and how it was
// chosen.
type policyTarget struct {
	id     string
	obj    *discover.Object
	field  string
	reason string
}

func (t policyTarget) evidence(detail string) model.Evidence {
	return model.Evidence{File: t.obj.Location.File, Line: t.obj.LineOf(t.field), Object: t.obj.Ref(), Field: t.field, Detail: detail + " (" + t.reason + ")"}
}

// istioTargets resolves the elements an Istio policy applies to:
//   - spec.targetRef(s) naming a Gateway API Gateway or a Service;
//   - otherwise the selector (at selectorField, matchLabels or labels):
//     the workloads of the policy's namespace it matches, and the Istio
//     Gateways whose selector includes its labels;
//   - without a selector, every workload of the namespace, or of the mesh
//     when the policy is in the root namespace (mesh-wide policies reach
//     the ingress gateways too).
//
// Workloads that opt out of sidecar injection are skipped: no proxy
// enforces the policy there. Injection enabled on a namespace cannot be
// seen in the manifests, so other workloads are assumed to be in the mesh.
func istioTargets(ix *model.Index, obj *discover.Object, selectorField string, gateways map[discover.Location]string) []policyTarget {
	if refs := targetRefs(obj); len(refs) > 0 {
		return targetRefTargets(ix, obj, refs, gateways)
	}
	sel := selectorLabels(obj, selectorField)
	meshWide := obj.Namespace == meshRootNamespace && len(sel) == 0
	field, reason := selectorField, "selects its pods"
	switch {
	case meshWide:
		field, reason = "metadata.namespace", "mesh-wide: no selector in the root namespace "+meshRootNamespace
	case len(sel) == 0:
		field, reason = "metadata.namespace", "namespace-wide: no selector"
	}
	var out []policyTarget
	selector := labels.SelectorFromSet(sel)
	candidates := ix.Workloads()
	if !meshWide {
		candidates = ix.SelectionCandidates(obj.Namespace, sel)
	}
	for _, w := range candidates {
		if !selector.Matches(labels.Set(w.Template.Labels)) || injectionDisabled(ix, w) {
			continue
		}
		out = append(out, policyTarget{id: w.ID, obj: obj, field: field, reason: reason})
	}
	for _, gw := range ix.Unstructured(istioNetworking + "/Gateway") {
		gwSelector := fields.StringMap(gw.Fields, "spec", "selector")
		applies := meshWide || (len(sel) > 0 && isSubset(sel, gwSelector) && (obj.Namespace == gw.Namespace || obj.Namespace == meshRootNamespace))
		if id := gateways[gw.Location]; applies && id != "" {
			r := reason
			if !meshWide {
				r = "selects the pods of " + gw.Ref()
			}
			out = append(out, policyTarget{id: id, obj: obj, field: field, reason: r})
		}
	}
	for _, gw := range ix.Unstructured(gatewayAPIGroup + "/Gateway") {
		// Istio deploys a Gateway API Gateway of class "istio" as pods in
		// the Gateway's namespace labelled with its name.
		if fields.String(gw.Fields, "spec", "gatewayClassName") != "istio" {
			continue
		}
		own := map[string]string{"gateway.networking.k8s.io/gateway-name": gw.Name}
		applies := meshWide || (gw.Namespace == obj.Namespace && (len(sel) == 0 || isSubset(sel, own)))
		if id := gateways[gw.Location]; applies && id != "" {
			out = append(out, policyTarget{id: id, obj: obj, field: field, reason: reason})
		}
	}
	return out
}

// targetRefs returns a policy's spec.targetRefs, or its older single
// spec.targetRef, as maps.
func targetRefs(obj *discover.Object) []map[string]any {
	var out []map[string]any
	for _, r := range fields.List(obj.Fields, "spec", "targetRefs") {
		if m := fields.AsMap(r); m != nil {
			out = append(out, m)
		}
	}
	if m := fields.Map(obj.Fields, "spec", "targetRef"); m != nil {
		out = append(out, m)
	}
	return out
}

// targetRefTargets resolves targetRefs to gateways and Service backends in
// the policy's namespace.
func targetRefTargets(ix *model.Index, obj *discover.Object, refs []map[string]any, gateways map[discover.Location]string) []policyTarget {
	var out []policyTarget
	field := "spec.targetRefs"
	if fields.Map(obj.Fields, "spec", "targetRef") != nil {
		field = "spec.targetRef"
	}
	for _, ref := range refs {
		name := fields.String(ref, "name")
		switch fields.String(ref, "kind") {
		case "Gateway":
			for _, gw := range ix.Unstructured(gatewayAPIGroup + "/Gateway") {
				if gw.Namespace == obj.Namespace && gw.Name == name && gateways[gw.Location] != "" {
					out = append(out, policyTarget{id: gateways[gw.Location], obj: obj, field: field, reason: "targets " + gw.Ref()})
				}
			}
		case "Service":
			if s := ix.Service(obj.Namespace, name); s != nil {
				for _, w := range s.Backends {
					out = append(out, policyTarget{id: w.ID, obj: obj, field: field, reason: "targets " + s.Ref()})
				}
			}
		}
	}
	return out
}

// selectorLabels reads a policy's selector: matchLabels for security
// policies, labels for an EnvoyFilter's workloadSelector.
func selectorLabels(obj *discover.Object, field string) map[string]string {
	path := strings.Split(field, ".")
	if m := fields.StringMap(obj.Fields, append(path, "matchLabels")...); len(m) > 0 {
		return m
	}
	return fields.StringMap(obj.Fields, append(path, "labels")...)
}

func isSubset(sub, of map[string]string) bool {
	for k, v := range sub {
		if of[k] != v {
			return false
		}
	}
	return true
}

// injectionDisabled reports a pod template that opts out of the Istio
// sidecar, unless its pods run one all the same: what was injected is
// what enforces the policy.
func injectionDisabled(ix *model.Index, w *model.IndexedWorkload) bool {
	if n := ix.Node(w.ID); n != nil && n.Workload != nil && n.Workload.RunningMesh() == "istio" {
		return false
	}
	t := w.Template
	return t.Annotations["sidecar.istio.io/inject"] == "false" || t.Labels["sidecar.istio.io/inject"] == "false"
}

// addEnvoyGatewayPolicies reads Envoy Gateway's SecurityPolicy
// (authentication) and BackendTrafficPolicy (rate limits) attached to
// Gateway API Gateways.
func addEnvoyGatewayPolicies(ix *model.Index, gateways map[discover.Location]string) {
	const group = "gateway.envoyproxy.io"
	for _, sp := range ix.Unstructured(group + "/SecurityPolicy") {
		spec := fields.Map(sp.Fields, "spec")
		for _, kind := range []string{"jwt", "oidc", "basicAuth", "apiKeyAuth", "extAuth"} {
			if spec[kind] == nil {
				continue
			}
			for _, t := range targetRefTargets(ix, sp, targetRefs(sp), gateways) {
				if strings.HasPrefix(t.id, "gateway:") {
					t.field = "spec." + kind
					ix.AddControl(GatewayAuthentication, t.id, t.evidence("SecurityPolicy "+kind))
				}
			}
		}
	}
	for _, tp := range ix.Unstructured(group + "/BackendTrafficPolicy") {
		if fields.Map(tp.Fields, "spec", "rateLimit") == nil {
			continue
		}
		for _, t := range targetRefTargets(ix, tp, targetRefs(tp), gateways) {
			t.field = "spec.rateLimit"
			ix.AddControl(RateLimit, t.id, t.evidence("BackendTrafficPolicy rateLimit"))
		}
	}
}

// peerAuthentication is one PeerAuthentication's mode and where it is.
type peerAuthentication struct {
	obj      *discover.Object
	selector map[string]string
	mode     string // STRICT, PERMISSIVE, DISABLE, or "" for UNSET (inherit)
	ports    bool   // some port is not STRICT
}

// addMTLSRequired records mtls-required on workloads that only accept
// mutual TLS: the PeerAuthentication that governs the workload says STRICT
// and no port is excepted. Istio's precedence is followed: a policy
// selecting the workload over its namespace's policy over the mesh-wide
// one in the root namespace, with UNSET inheriting from the next. For
// Linkerd, the default inbound policy all-authenticated on the pod or its
// namespace admits only meshed, mTLS-authenticated clients.
func addMTLSRequired(ix *model.Index) {
	var pas []peerAuthentication
	for _, obj := range ix.Unstructured(istioSecurity + "/PeerAuthentication") {
		pa := peerAuthentication{obj: obj, selector: fields.StringMap(obj.Fields, "spec", "selector", "matchLabels"), mode: strings.ToUpper(fields.String(obj.Fields, "spec", "mtls", "mode"))}
		if pa.mode == "UNSET" {
			pa.mode = ""
		}
		for _, p := range fields.Map(obj.Fields, "spec", "portLevelMtls") {
			if m := strings.ToUpper(fields.String(fields.AsMap(p), "mode")); m != "STRICT" && m != "" && m != "UNSET" {
				pa.ports = true
			}
		}
		pas = append(pas, pa)
	}
	levels := indexPeerAuthentications(pas)
	for _, w := range ix.Workloads() {
		if pa := levels.governing(w); pa != nil && !injectionDisabled(ix, w) {
			field := "spec.mtls.mode"
			ix.AddControl(MTLSRequired, w.ID, model.Evidence{File: pa.obj.Location.File, Line: pa.obj.LineOf(field), Object: pa.obj.Ref(), Field: field,
				Detail: "PeerAuthentication STRICT governs this workload"})
		}
	}
	addLinkerdAuthenticated(ix)
}

// peerAuthLevels holds the PeerAuthentications by the level of Istio's
// precedence they apply at: those with a selector under the first of its
// labels (so a workload is tried only against those naming one of its
// labels), and the first without a selector of each namespace.
type peerAuthLevels struct {
	selecting     map[podLabel][]int // indexes into pas, in the order read
	namespaceWide map[string]*peerAuthentication
	pas           []peerAuthentication
}

func indexPeerAuthentications(pas []peerAuthentication) *peerAuthLevels {
	l := &peerAuthLevels{selecting: map[podLabel][]int{}, namespaceWide: map[string]*peerAuthentication{}, pas: pas}
	for i := range pas {
		pa := &pas[i]
		ns := pa.obj.Namespace
		if keys := sortedKeys(pa.selector); len(keys) > 0 {
			key := podLabel{ns, keys[0], pa.selector[keys[0]]}
			l.selecting[key] = append(l.selecting[key], i)
		} else if l.namespaceWide[ns] == nil {
			l.namespaceWide[ns] = pa
		}
	}
	return l
}

// governing returns the policy that makes a workload STRICT, or nil when
// the effective mode is anything else: the first policy of its namespace
// whose selector matches it, else its namespace's, else the mesh-wide one
// in the root namespace.
func (l *peerAuthLevels) governing(w *model.IndexedWorkload) *peerAuthentication {
	ns := w.Template.Object.Namespace
	var levels [3]*peerAuthentication // workload, namespace, mesh
	first := -1
	for k, v := range w.Template.Labels {
		for _, i := range l.selecting[podLabel{ns, k, v}] {
			if first >= 0 && i > first {
				break // later than one already found
			}
			if labels.SelectorFromSet(l.pas[i].selector).Matches(labels.Set(w.Template.Labels)) {
				first = i
				break
			}
		}
	}
	if first >= 0 {
		levels[0] = &l.pas[first]
	}
	levels[1] = l.namespaceWide[ns]
	if ns != meshRootNamespace {
		levels[2] = l.namespaceWide[meshRootNamespace]
	}
	for _, pa := range levels {
		if pa == nil || pa.mode == "" {
			continue // no policy at this level, or UNSET: inherit
		}
		if pa.mode == "STRICT" && !pa.ports {
			return pa
		}
		return nil
	}
	return nil
}

// Linkerd annotations read here.
const (
	linkerdInboundPolicy = "config.linkerd.io/default-inbound-policy"
	linkerdInject        = "linkerd.io/inject"
)

// linkerdMeshed decides, as Linkerd's proxy injector does, whether a pod is
// meshed: a running proxy says so; else the pod template's inject
// annotation wins over its namespace's, so a pod that opts out stays out.
func linkerdMeshed(sidecar, podInject, namespaceInject string) bool {
	if sidecar == "linkerd" {
		return true
	}
	inject := podInject
	if inject == "" {
		inject = namespaceInject
	}
	return inject == "enabled" || inject == "ingress"
}

// addLinkerdAuthenticated records mtls-required for Linkerd-meshed
// workloads whose default inbound policy, set on the pod or else on its
// namespace, is all-authenticated.
func addLinkerdAuthenticated(ix *model.Index) {
	namespaces := map[string]*discover.Object{}
	for _, obj := range ix.TypedObjects() {
		if _, ok := obj.Typed.(*corev1.Namespace); ok {
			namespaces[obj.Name] = obj
		}
	}
	for _, w := range ix.Workloads() {
		nsObj := namespaces[w.Template.Object.Namespace]
		var nsAnnots map[string]string
		if nsObj != nil {
			nsAnnots = model.AnnotationsOf(nsObj)
		}
		if !linkerdMeshed(ix.Node(w.ID).Workload.MeshSidecar, w.Template.Annotations[linkerdInject], nsAnnots[linkerdInject]) {
			continue
		}
		metadata := strings.TrimSuffix(w.Template.SpecPath, "spec") + "metadata"
		switch {
		case w.Template.Annotations[linkerdInboundPolicy] != "":
			if w.Template.Annotations[linkerdInboundPolicy] == "all-authenticated" {
				field := discover.PathKey(metadata+".annotations", linkerdInboundPolicy)
				obj := w.Template.Object
				ix.AddControl(MTLSRequired, w.ID, model.Evidence{File: obj.Location.File, Line: obj.LineOf(field), Object: obj.Ref(), Field: field,
					Detail: "Linkerd admits only mTLS-authenticated clients"})
			}
		case nsAnnots[linkerdInboundPolicy] == "all-authenticated":
			ix.AddControl(MTLSRequired, w.ID, annotationEvidence(nsObj, linkerdInboundPolicy, "Linkerd admits only mTLS-authenticated clients in this namespace"))
		}
	}
}
