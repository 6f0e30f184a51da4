package model

import (
	"fmt"
	"strings"

	"github.com/stridemap/stridemap/discover"
	"github.com/stridemap/stridemap/internal/fields"
)

const (
	gatewayAPIGroup = "gateway.networking.k8s.io"
	istioNetworking = "networking.istio.io"
)

// routeKinds are the Gateway API route kinds and the protocol their
// backends speak when the port says nothing.
var routeKinds = map[string]string{"HTTPRoute": "http", "GRPCRoute": "grpc", "TLSRoute": "tls", "TCPRoute": "tcp", "UDPRoute": "udp"}

// addGatewayAPI adds Gateway API Gateways with their listeners, and edges
// for every route attached to them.
func (b *builder) addGatewayAPI() {
	gateways := map[nsName]string{}
	for _, obj := range b.byKind[gatewayAPIGroup+"/Gateway"] {
		id := b.addGatewayNode(obj)
		gateways[nsName{obj.Namespace, obj.Name}] = id
		var listeners []listener
		for i, l := range fields.List(obj.Fields, "spec", "listeners") {
			lm := fields.AsMap(l)
			field := fmt.Sprintf("spec.listeners[%d]", i)
			proto := strings.ToUpper(fields.String(lm, "protocol"))
			li := listener{port: fields.Number(lm, "port"), protocol: strings.ToLower(proto), encryption: EncryptionPlaintext, encryptionSource: "listener protocol " + proto,
				evidence: Evidence{File: obj.Location.File, Line: obj.LineOf(field), Object: obj.Ref(), Field: field, Detail: fmt.Sprintf("listener %s %s/%d", fields.String(lm, "name"), proto, fields.Number(lm, "port"))}}
			switch proto {
			case "HTTPS":
				li.protocol, li.encryption = "http", EncryptionTLS
			case "TLS":
				li.encryption = EncryptionTLS
			case "TCP", "UDP":
				li.encryption, li.encryptionSource = EncryptionUnknown, ""
			}
			listeners = append(listeners, li)
		}
		b.exposeGateway(id, "Gateway", obj.Ref(), listeners)
	}
	for _, kind := range sortedKeysOf(routeKinds) {
		for _, route := range b.byKind[gatewayAPIGroup+"/"+kind] {
			b.addGatewayRoute(route, routeKinds[kind], gateways)
		}
	}
}

func (b *builder) addGatewayRoute(route *discover.Object, protocol string, gateways map[nsName]string) {
	var parents []string
	for i, p := range fields.List(route.Fields, "spec", "parentRefs") {
		pm := fields.AsMap(p)
		if k := fields.String(pm, "kind"); k != "" && k != "Gateway" {
			continue
		}
		ns := fields.String(pm, "namespace")
		if ns == "" {
			ns = route.Namespace
		}
		field := fmt.Sprintf("spec.parentRefs[%d]", i)
		if id, ok := gateways[nsName{ns, fields.String(pm, "name")}]; ok {
			parents = append(parents, id)
		} else {
			b.addDangling(DanglingRef{From: route.Ref(), Target: "Gateway " + ns + "/" + fields.String(pm, "name"), Reason: "no such Gateway in the scanned manifests",
				Evidence: Evidence{File: route.Location.File, Line: route.LineOf(field), Object: route.Ref(), Field: field}})
		}
	}
	for i, rule := range fields.List(route.Fields, "spec", "rules") {
		for j, ref := range fields.List(fields.AsMap(rule), "backendRefs") {
			rm := fields.AsMap(ref)
			if k := fields.String(rm, "kind"); k != "" && k != "Service" {
				continue
			}
			ns := fields.String(rm, "namespace")
			if ns == "" {
				ns = route.Namespace
			}
			field := fmt.Sprintf("spec.rules[%d].backendRefs[%d]", i, j)
			a := address{Host: fields.String(rm, "name"), Port: fields.Number(rm, "port"), Encryption: EncryptionUnknown}
			a.Shown = hostPortString(a.Host, a.Port)
			ev := Evidence{File: route.Location.File, Line: route.LineOf(field), Object: route.Ref(), Field: field, Detail: "backend " + a.Shown}
			for _, parent := range parents {
				s := b.services[nsName{ns, a.Host}]
				if s == nil {
					b.addDangling(DanglingRef{From: parent, Target: a.Shown, Reason: fmt.Sprintf("no Service named %q in namespace %q", a.Host, ns), Evidence: ev})
					continue
				}
				b.flowToService(parent, s, a, ev, routeHints{defaultProtocol: protocol})
			}
		}
	}
}

// addIstioGateways adds Istio Gateways and the edges of VirtualServices
// bound to them. Mesh-internal VirtualServices reroute calls that are
// already edges, so they add none.
func (b *builder) addIstioGateways() {
	gateways := map[nsName]string{}
	for _, obj := range b.byKind[istioNetworking+"/Gateway"] {
		id := b.addGatewayNode(obj)
		gateways[nsName{obj.Namespace, obj.Name}] = id
		if sel := fields.StringMap(obj.Fields, "spec", "selector"); len(sel) > 0 {
			b.node(id).GatewayPods = Labels(sel)
		}
		var listeners []listener
		for i, s := range fields.List(obj.Fields, "spec", "servers") {
			sm := fields.AsMap(s)
			field := fmt.Sprintf("spec.servers[%d]", i)
			proto := strings.ToUpper(fields.String(sm, "port", "protocol"))
			li := listener{port: fields.Number(sm, "port", "number"), protocol: strings.ToLower(proto), encryption: EncryptionPlaintext, encryptionSource: "server protocol " + proto,
				evidence: Evidence{File: obj.Location.File, Line: obj.LineOf(field), Object: obj.Ref(), Field: field,
					Detail: fmt.Sprintf("server %s/%d hosts %s (served by the ingress gateway pods it selects)", proto, fields.Number(sm, "port", "number"), joinAny(fields.List(sm, "hosts")))}}
			switch {
			case fields.String(sm, "tls", "mode") != "" && fields.String(sm, "tls", "mode") != "PASSTHROUGH" && proto != "HTTP":
				li.encryption, li.encryptionSource = EncryptionTLS, "server tls mode "+fields.String(sm, "tls", "mode")
			case proto == "HTTPS" || proto == "TLS":
				li.encryption = EncryptionTLS
			case proto != "HTTP" && proto != "HTTP2" && proto != "GRPC":
				li.encryption, li.encryptionSource = EncryptionUnknown, ""
			}
			if proto == "HTTPS" {
				li.protocol = "http"
			}
			listeners = append(listeners, li)
		}
		b.exposeGateway(id, "IstioGateway", obj.Ref(), listeners)
	}
	for _, vs := range b.byKind[istioNetworking+"/VirtualService"] {
		var bound []string
		for i, g := range fields.List(vs.Fields, "spec", "gateways") {
			name, _ := g.(string)
			if name == "" || name == "mesh" {
				continue
			}
			ns, gw, found := strings.Cut(name, "/")
			if !found {
				ns, gw = vs.Namespace, name
			}
			if id, ok := gateways[nsName{ns, gw}]; ok {
				bound = append(bound, id)
				continue
			}
			field := fmt.Sprintf("spec.gateways[%d]", i)
			b.addDangling(DanglingRef{From: vs.Ref(), Target: "Gateway " + ns + "/" + gw, Reason: "no such Istio Gateway in the scanned manifests",
				Evidence: Evidence{File: vs.Location.File, Line: vs.LineOf(field), Object: vs.Ref(), Field: field}})
		}
		if len(bound) == 0 {
			continue
		}
		for _, section := range []struct{ name, protocol string }{{"http", "http"}, {"tcp", "tcp"}, {"tls", "tls"}} {
			for i, r := range fields.List(vs.Fields, "spec", section.name) {
				for j, dest := range fields.List(fields.AsMap(r), "route") {
					dm := fields.AsMap(fields.AsMap(dest)["destination"])
					field := fmt.Sprintf("spec.%s[%d].route[%d].destination", section.name, i, j)
					b.addIstioRoute(vs, bound, dm, field, section.protocol)
				}
			}
		}
	}
}

func (b *builder) addIstioRoute(vs *discover.Object, gateways []string, dest map[string]any, field, protocol string) {
	host := strings.ToLower(fields.String(dest, "host"))
	a := address{Host: host, Port: fields.Number(dest, "port", "number"), Encryption: EncryptionUnknown}
	a.Shown = hostPortString(host, a.Port)
	ev := Evidence{File: vs.Location.File, Line: vs.LineOf(field), Object: vs.Ref(), Field: field, Detail: "route to " + a.Shown}
	target := b.resolveHost(vs.Namespace, host)
	for _, gw := range gateways {
		switch {
		case target.ignore:
		case target.svc != nil:
			b.flowToService(gw, target.svc, a, ev, routeHints{defaultProtocol: protocol})
		case target.external != "":
			b.flowToExternal(gw, target.external, a, routeHints{}, ev)
		default:
			b.addDangling(DanglingRef{From: gw, Target: a.Shown, Reason: target.reason, Evidence: ev})
		}
	}
}

func joinAny(items []any) string {
	var parts []string
	for _, it := range items {
		if s, ok := it.(string); ok {
			parts = append(parts, s)
		}
	}
	return strings.Join(parts, ",")
}

func sortedKeysOf[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sortStrings(keys)
	return keys
}
