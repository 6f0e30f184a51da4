package model

import (
	"fmt"
	"net"
	"slices"
	"sort"
	"strings"

	corev1 "k8s.io/api/core/v1"

	"github.com/stridemap/stridemap/discover"
	"github.com/stridemap/stridemap/internal/fields"
	"github.com/stridemap/stridemap/internal/parallel"
)

// reference is a value in a workload's configuration that may name a peer,
// with where it was found.
type reference struct {
	value    string
	nameHint string // env var, ConfigMap key or flag name the value was assigned to
	field    string // field path in the object the value was read from
	obj      *discover.Object
	detail   string // how it was found: "env CART_ADDR", "ConfigMap shop/app key DB_URL"
	// configFile marks text of a mounted config file: only URLs and
	// host:port that resolve to a Service count there, since config files
	// are full of host-like words and documentation links.
	configFile bool
	// declaredProtocol is what a sibling variable declares about the
	// protocol (OTEL_EXPORTER_OTLP_PROTOCOL), read into a protocol name.
	declaredProtocol string
}

// addDeclaredFlows turns every address named in a workload's env, args,
// command and referenced ConfigMaps into an edge, an external entity or a
// dangling reference.
func (b *builder) addDeclaredFlows() {
	// Finding and parsing the values is independent per workload and is
	// most of the work; resolving them adds edges, so it runs in order.
	type found struct {
		ref  reference
		addr address
	}
	parallel.MapInOrder(len(b.workloads), func(i int) []found {
		var out []found
		for _, ref := range b.referencesOf(b.workloads[i].Template) {
			for _, a := range addressesIn(ref.value) {
				out = append(out, found{ref, a})
			}
		}
		return out
	}, func(i int, found []found) {
		for _, f := range found {
			b.resolveReference(b.workloads[i], f.ref, f.addr)
		}
	})
}

// referencesOf lists the values of one pod template that may name peers.
func (b *builder) referencesOf(t PodTemplate) []reference {
	var refs []reference
	ns := t.Object.Namespace
	for _, cr := range t.Containers() {
		c := cr.Container
		env := map[string]string{}
		first := len(refs)
		for i, e := range c.Env {
			field := fmt.Sprintf("%s.env[%d]", cr.Path, i)
			switch {
			case e.ValueFrom == nil:
				env[e.Name] = e.Value
				if IsSensitiveName(e.Name) {
					continue // a credential's value is never parsed, so it can never be shown
				}
				if isOriginListName(e.Name) {
					continue // CORS origins name who may call, not whom this calls
				}
				refs = append(refs, reference{value: expandVars(e.Value, env), nameHint: e.Name, field: field + ".value", obj: t.Object, detail: "env " + e.Name})
			case e.ValueFrom.ConfigMapKeyRef != nil:
				sel := e.ValueFrom.ConfigMapKeyRef
				cm := b.configMaps[nsName{ns, sel.Name}]
				if cm == nil || IsSensitiveName(sel.Key) || IsSensitiveName(e.Name) {
					continue
				}
				refs = append(refs, reference{
					value: cm.Data[sel.Key], nameHint: e.Name, field: field + ".valueFrom.configMapKeyRef", obj: t.Object,
					detail: fmt.Sprintf("env %s from ConfigMap %s/%s key %s", e.Name, ns, sel.Name, sel.Key),
				})
			}
		}
		for i, ef := range c.EnvFrom {
			if ef.ConfigMapRef == nil {
				continue
			}
			cm := b.configMaps[nsName{ns, ef.ConfigMapRef.Name}]
			if cm == nil {
				continue
			}
			for _, key := range sortedKeys(cm.Data) {
				if IsSensitiveName(key) {
					continue
				}
				refs = append(refs, reference{
					value: cm.Data[key], nameHint: key, field: fmt.Sprintf("%s.envFrom[%d].configMapRef", cr.Path, i), obj: t.Object,
					detail: fmt.Sprintf("envFrom ConfigMap %s/%s key %s", ns, ef.ConfigMapRef.Name, key),
				})
			}
		}
		relateVariables(refs[first:])
		for _, part := range []struct {
			name string
			args []string
		}{{"command", c.Command}, {"args", c.Args}} {
			for i, arg := range part.args {
				hint := ""
				if i > 0 && strings.HasPrefix(part.args[i-1], "-") && !strings.Contains(part.args[i-1], "=") {
					hint = part.args[i-1] // ["--redis-host", "redis"]
				}
				refs = append(refs, reference{
					value: expandVars(arg, env), nameHint: hint, field: fmt.Sprintf("%s.%s[%d]", cr.Path, part.name, i), obj: t.Object,
					detail: part.name,
				})
			}
		}
		refs = append(refs, b.mountedConfigFiles(t, cr)...)
		refs = append(refs, b.sidecarLoadedConfigs(t, cr)...)
	}
	return refs
}

// hostVariableWords end the names of variables that hold a host whose
// port may be in a sibling: FLAGD_HOST and FLAGD_PORT, REDIS_ADDR and
// REDIS_PORT, CART_SERVICE_HOST and CART_SERVICE_PORT, db.host and db.port.
var hostVariableWords = map[string]bool{"host": true, "hostname": true, "addr": true, "address": true, "server": true}

// relateVariables reads what one container's variables say together: a
// host and a port given separately are joined into one address, named by
// both; an OTLP endpoint takes the protocol OTEL_EXPORTER_OTLP_PROTOCOL
// declares. Variables are matched by their words, so "DB_HOST",
// "db.host" and "db-host" pair with "DB_PORT", "db.port" and "db-port".
func relateVariables(refs []reference) {
	byName := make(map[string]int, len(refs))
	for i, r := range refs {
		byName[strings.Join(nameWords(r.nameHint), "_")] = i
	}
	for i := range refs {
		r := &refs[i]
		words := nameWords(r.nameHint)
		if name := otlpProtocolVariable(r.nameHint); name != "" {
			for _, sibling := range []string{name, "OTEL_EXPORTER_OTLP_PROTOCOL"} {
				if j, ok := byName[strings.ToLower(sibling)]; ok {
					if p := otlpDeclaredProtocol(refs[j].value); p != "" {
						r.declaredProtocol = p
						break
					}
				}
			}
		}
		if len(words) < 2 || !hostVariableWords[words[len(words)-1]] {
			continue
		}
		j, ok := byName[strings.Join(append(slices.Clone(words[:len(words)-1]), "port"), "_")]
		if !ok {
			continue
		}
		port, ok := fields.ParsePort(strings.TrimSpace(refs[j].value))
		host := strings.TrimSpace(r.value)
		if a, isHost := parseHostPort(host); !ok || !isHost || a.Port != 0 {
			continue // no port, or the host value names its own
		}
		r.value = hostPortString(strings.ToLower(host), port)
		r.detail += " and " + refs[j].detail
	}
}

// mountedConfigFiles returns the data of ConfigMaps the container mounts as
// files (nginx.conf with proxy_pass, application.yaml with a JDBC URL).
func (b *builder) mountedConfigFiles(t PodTemplate, cr ContainerRef) []reference {
	var refs []reference
	for _, m := range cr.Container.VolumeMounts {
		for vi, v := range t.Spec.Volumes {
			if v.Name != m.Name || v.ConfigMap == nil {
				continue
			}
			cm := b.configMaps[nsName{t.Object.Namespace, v.ConfigMap.Name}]
			if cm == nil {
				continue
			}
			for _, key := range sortedKeys(cm.Data) {
				refs = append(refs, reference{
					value: cm.Data[key], field: fmt.Sprintf("%s.volumes[%d].configMap", t.SpecPath, vi), obj: t.Object,
					detail:     fmt.Sprintf("file %s/%s from ConfigMap %s/%s", m.MountPath, key, t.Object.Namespace, v.ConfigMap.Name),
					configFile: true,
				})
			}
		}
	}
	return refs
}

// expandVars replaces $(VAR) with the value of an earlier literal env var,
// as the kubelet does for env values, command and args.
func expandVars(s string, env map[string]string) string {
	if !strings.Contains(s, "$(") {
		return s
	}
	var out strings.Builder
	for {
		i := strings.Index(s, "$(")
		if i < 0 {
			break
		}
		j := strings.Index(s[i:], ")")
		if j < 0 {
			break
		}
		out.WriteString(s[:i])
		if v, ok := env[s[i+2:i+j]]; ok {
			out.WriteString(v)
		} else {
			out.WriteString(s[i : i+j+1])
		}
		s = s[i+j+1:]
	}
	out.WriteString(s)
	return out.String()
}

func sortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// resolveReference decides what one address found in a workload's
// configuration points at.
func (b *builder) resolveReference(w *IndexedWorkload, ref reference, a address) {
	if a.Bare && (ref.configFile || !(isAddressName(ref.nameHint) || isAddressName(a.Key))) {
		return // a lone word is an address only where its name says so
	}
	if namesItself(ref.nameHint) || namesItself(a.Key) {
		return // OTEL_SERVICE_NAME, service.name=…: the workload's own name
	}
	ev := Evidence{
		File: ref.obj.Location.File, Line: ref.obj.LineOf(ref.field), Object: ref.obj.Ref(), Field: ref.field,
		Detail: ref.detail + " → " + a.Shown,
	}
	ns := ref.obj.Namespace
	target := b.resolveHost(ns, a.Host)
	hints := routeHints{weak: ref.configFile, varName: ref.nameHint, declaredProtocol: ref.declaredProtocol}
	if hints.varName == "" {
		hints.varName = a.Key
	}
	switch {
	case target.ignore:
		return
	case target.svc != nil:
		b.flowToService(w.ID, target.svc, a, ev, hints)
	case target.external != "":
		if ref.configFile || a.Bare && namesService(ref.nameHint) {
			return
		}
		b.flowToExternal(w.ID, target.external, a, hints, ev)
	case a.Bare && namesService(ref.nameHint):
		// FOO_SERVICE_NAME names a peer when a Service has that name; else
		// it is most likely the workload's own name in telemetry.
	case ref.configFile && a.Scheme == "":
		// host:port in free text that names no Service: too weak to report.
	default:
		b.addDangling(DanglingRef{From: w.ID, Target: a.Shown, Reason: target.reason, Evidence: ev, Namespace: target.wantNamespace})
	}
}

// hostTarget is what a host name resolves to.
type hostTarget struct {
	svc      *IndexedService
	external string // host outside the cluster
	ignore   bool   // loopback: the workload talking to itself
	reason   string // why nothing was found
	// wantNamespace is the namespace that, given to the objects that
	// name none (-n), would make the reference resolve.
	wantNamespace string
}

// resolveHost follows cluster DNS: "svc", "svc.ns", "svc.ns.svc",
// "svc.ns.svc.cluster.local", "pod.svc.ns.svc.cluster.local" resolve to a
// Service; other dotted names are hosts outside the cluster.
func (b *builder) resolveHost(ns, host string) hostTarget {
	if ip := net.ParseIP(host); ip != nil {
		switch {
		case ip.IsLoopback() || ip.IsUnspecified():
			return hostTarget{ignore: true}
		case b.serviceIPs[host] != nil:
			return hostTarget{svc: b.serviceIPs[host]}
		case ip.IsPrivate() || ip.IsLinkLocalUnicast():
			return hostTarget{reason: "private IP address that is no Service's clusterIP in the manifests"}
		}
		return hostTarget{external: host}
	}
	if host == "localhost" || strings.HasSuffix(host, ".localhost") {
		return hostTarget{ignore: true}
	}
	labels := strings.Split(host, ".")
	for i := 2; i < len(labels); i++ {
		if labels[i] == "svc" { // NAME.NS.svc[.cluster-domain]
			return b.lookupService(ns, labels[i-1], labels[i-2])
		}
	}
	switch {
	case len(labels) == 1:
		return b.lookupService(ns, ns, labels[0])
	case b.namespaces[labels[len(labels)-1]]:
		// svc.ns, or pod.svc.ns for a headless Service.
		return b.lookupService(ns, labels[len(labels)-1], labels[len(labels)-2])
	case len(labels) == 2 && !publicSuffixes[labels[1]]:
		t := hostTarget{reason: fmt.Sprintf("looks like Service %q in namespace %q, which is not in the scanned manifests", labels[0], labels[1])}
		t.wantNamespace = b.namespaceToGive(ns, labels[1], labels[0])
		return t
	}
	return hostTarget{external: host}
}

// lookupService finds Service name in namespace ns, named by a workload in
// namespace from.
func (b *builder) lookupService(from, ns, name string) hostTarget {
	if s := b.services[nsName{ns, name}]; s != nil {
		return hostTarget{svc: s}
	}
	if !b.namespaces[ns] {
		return hostTarget{reason: fmt.Sprintf("no Service %s/%s: namespace %q is not in the scanned manifests", ns, name, ns),
			wantNamespace: b.namespaceToGive(from, ns, name)}
	}
	return hostTarget{reason: fmt.Sprintf("no Service named %q in namespace %q", name, ns)}
}

// namespaceToGive returns ns when a reference from namespace from to
// Service name in ns (a namespace no object is in) would resolve had the
// objects without a namespace been given ns: the Service is there, in the
// referrer's namespace, and its manifest names no namespace.
func (b *builder) namespaceToGive(from, ns, name string) string {
	s := b.services[nsName{from, name}]
	if s == nil || !NamespaceImplied(s.Object) {
		return ""
	}
	return ns
}

// publicSuffixes are top-level domains common enough that "name.TLD" is a
// host on the internet rather than "service.namespace".
var publicSuffixes = map[string]bool{
	"com": true, "net": true, "org": true, "io": true, "dev": true, "app": true, "ai": true, "co": true,
	"cloud": true, "example": true, "test": true, "local": true, "internal": true, "info": true, "biz": true,
	"us": true, "uk": true, "de": true, "eu": true, "fr": true, "jp": true, "cn": true, "in": true, "me": true,
	"tech": true, "xyz": true, "gov": true, "edu": true, "corp": true, "lan": true, "home": true,
}

// routeHints carry what the caller knows about a flow beyond the address:
// a gateway route speaks HTTP unless the port says otherwise, an Ingress
// controller proxies in plaintext unless told to use TLS.
type routeHints struct {
	weak bool // from free text: an unknown port is not worth a dangling report
	// varName and declaredProtocol are the protocolClues the reference
	// gives: the variable's name and a sibling declaring the protocol.
	varName, declaredProtocol string
	defaultProtocol           string
	encryption                Encryption
	encryptionSource          string
}

// flowToService adds an edge to each workload behind a Service.
func (b *builder) flowToService(from string, s *IndexedService, a address, ev Evidence, hints routeHints) {
	if s.Service.Spec.Type == corev1.ServiceTypeExternalName {
		host := strings.TrimSuffix(strings.ToLower(s.Service.Spec.ExternalName), ".")
		ev2 := Evidence{File: s.Object.Location.File, Line: s.Object.LineOf("spec.externalName"), Object: s.Ref(), Field: "spec.externalName", Detail: "ExternalName " + host}
		a.Host = host
		b.flowToExternal(from, b.externalNode(host), a, hints, ev, ev2)
		return
	}
	ports, reason := servicePortsFor(s.Service, a)
	if reason != "" {
		if !hints.weak {
			b.addDangling(DanglingRef{From: from, Target: a.Shown, Reason: reason, Evidence: ev})
		}
		return
	}
	if len(s.Backends) == 0 {
		why := fmt.Sprintf("%s selects no workload in the scanned manifests", s.Ref())
		if len(s.Service.Spec.Selector) == 0 {
			why = fmt.Sprintf("%s has no selector; its endpoints are not in the manifests", s.Ref())
		}
		b.addDangling(DanglingRef{From: from, Target: a.Shown, Reason: why, Evidence: ev})
		return
	}
	selEv := Evidence{File: s.Object.Location.File, Line: s.Object.LineOf("spec.selector"), Object: s.Ref(), Field: "spec.selector"}
	for _, w := range s.Backends {
		for _, p := range ports {
			f := flow{from: from, to: w.ID, via: s.Ref()}
			f.port = a.Port
			if p != nil {
				f.port = p.Port
			}
			f.protocol, f.protocolSource = resolveProtocol(protocolClues{
				scheme: a.Scheme, varName: hints.varName, declared: hints.declaredProtocol, port: a.Port,
				servicePort: p, target: w, targetNode: b.node(w.ID),
			})
			if f.protocolSource == "" && hints.defaultProtocol != "" {
				f.protocol, f.protocolSource = hints.defaultProtocol, "route"
			}
			f.encryption, f.encryptionSource = encryptionOf(a, p, f.protocol)
			if f.encryption == EncryptionUnknown && hints.encryption != "" {
				f.encryption, f.encryptionSource = hints.encryption, hints.encryptionSource
			}
			se := selEv
			se.Detail = "selects " + w.Template.Object.Ref()
			f.evidence = []Evidence{ev, se}
			b.addFlow(f)
		}
	}
}

// servicePortsFor picks the Service ports an address dials. A nil entry
// means "the port is not known" (the address names none and the Service
// exposes several).
func servicePortsFor(svc *corev1.Service, a address) ([]*corev1.ServicePort, string) {
	ports := svc.Spec.Ports
	if a.Port != 0 {
		for i := range ports {
			if ports[i].Port == a.Port {
				return []*corev1.ServicePort{&ports[i]}, ""
			}
		}
		if len(ports) == 0 && svc.Spec.ClusterIP == corev1.ClusterIPNone {
			return []*corev1.ServicePort{nil}, "" // headless without ports: any port reaches the pods
		}
		var have []string
		for _, p := range ports {
			have = append(have, itoa(p.Port))
		}
		return nil, fmt.Sprintf("Service %s/%s has no port %d (it exposes %s)", svc.Namespace, svc.Name, a.Port, strings.Join(have, ", "))
	}
	if sp, ok := schemeProtocols[a.Scheme]; ok && sp.defaultPort != 0 {
		for i := range ports {
			if ports[i].Port == sp.defaultPort {
				return []*corev1.ServicePort{&ports[i]}, ""
			}
		}
	}
	if len(ports) == 1 {
		return []*corev1.ServicePort{&ports[0]}, ""
	}
	return []*corev1.ServicePort{nil}, ""
}

// containerPortName finds the name of the container port a Service port
// targets, since Istio-style names ("grpc", "http-metrics") say the protocol.
func containerPortName(t PodTemplate, p *corev1.ServicePort) string {
	if p.TargetPort.StrVal != "" {
		return p.TargetPort.StrVal
	}
	want := p.TargetPort.IntVal
	if want == 0 {
		want = p.Port
	}
	for _, c := range t.Spec.Containers {
		for _, cp := range c.Ports {
			if cp.ContainerPort == want {
				return cp.Name
			}
		}
	}
	return ""
}

// encryptionOf decides what is known about TLS on a flow from the address
// and the port. A service mesh verdict is applied later and wins.
func encryptionOf(a address, p *corev1.ServicePort, protocol string) (Encryption, string) {
	if a.Encryption != EncryptionUnknown && a.Encryption != "" {
		return a.Encryption, a.EncryptionReason
	}
	if p != nil {
		if p.AppProtocol != nil {
			if enc, ok := encryptionOfProtocol(protocolFromName(*p.AppProtocol)); ok {
				return enc, "appProtocol " + *p.AppProtocol
			}
		}
		if enc, ok := encryptionOfProtocol(protocolFromName(p.Name)); ok {
			return enc, "port name " + p.Name
		}
		if p.Port == 443 || p.Port == 8443 {
			return EncryptionTLS, fmt.Sprintf("port %d convention", p.Port)
		}
	}
	if a.Port == 443 {
		return EncryptionTLS, "port 443 convention"
	}
	return EncryptionUnknown, ""
}

// flowToExternal adds an edge to a host outside the cluster.
func (b *builder) flowToExternal(from, to string, a address, hints routeHints, evidence ...Evidence) {
	if !strings.HasPrefix(to, "external:") {
		to = b.externalNode(to)
	}
	port := a.Port
	sp, known := schemeProtocols[a.Scheme]
	if port == 0 && known {
		port = sp.defaultPort
	}
	f := flow{from: from, to: to, port: port, evidence: evidence}
	f.protocol, f.protocolSource = resolveProtocol(protocolClues{scheme: a.Scheme, varName: hints.varName, declared: hints.declaredProtocol, port: port})
	f.encryption, f.encryptionSource = encryptionOf(a, nil, f.protocol)
	b.addFlow(f)
}

// isOriginListName recognises variables that list the web origins allowed
// to call a service (CORS_ALLOWED_ORIGINS, ALLOWED_ORIGINS): their URLs are
// callers' pages, not peers.
func isOriginListName(name string) bool {
	return strings.Contains(strings.ToUpper(name), "ORIGIN")
}
