package model

import (
	"fmt"
	"strconv"
	"strings"

	corev1 "k8s.io/api/core/v1"

	"github.com/stridemap/stridemap/discover"
)

// Linkerd annotations the builder reads.
const (
	linkerdInject            = "linkerd.io/inject"
	linkerdSkipOutboundPorts = "config.linkerd.io/skip-outbound-ports"
	linkerdSkipInboundPorts  = "config.linkerd.io/skip-inbound-ports"
)

// linkerdInjection is why a workload's pods get a Linkerd proxy, or nil.
type linkerdInjection struct {
	evidence Evidence
	// skipOut and skipIn are ports whose traffic bypasses the proxy.
	skipOut, skipIn string
}

// applyLinkerdEncryption marks edges between two Linkerd-meshed workloads
// mTLS: Linkerd's proxies encrypt and mutually authenticate all TCP
// traffic between meshed pods, without any policy, unless the port is
// skipped. A pod is meshed when linkerd.io/inject is enabled (or ingress)
// on its template, or on its namespace and not disabled on the template.
// Runs after target ports are known, since skipped inbound ports are
// container ports.
func (b *builder) applyLinkerdEncryption() {
	namespaces := map[string]*discover.Object{}
	for _, obj := range b.typed {
		if _, ok := obj.Typed.(*corev1.Namespace); ok {
			namespaces[obj.Name] = obj
		}
	}
	meshed := map[string]*linkerdInjection{}
	for _, w := range b.workloads {
		inj := linkerdInjectionOf(w, namespaces[w.Template.Object.Namespace])
		if running := w.Template.Object.Running; len(running) > 0 {
			inj = runningLinkerd(w, inj) // what the injector did wins over what was asked
		}
		if inj != nil {
			meshed[w.ID] = inj
			if n := b.node(w.ID); n != nil && n.Workload != nil && n.Workload.MeshSidecar == "" {
				n.Workload.MeshSidecar = "linkerd"
			}
		}
	}
	if len(meshed) == 0 {
		return
	}
	for i := range b.graph.Edges {
		e := &b.graph.Edges[i]
		from, to := meshed[e.From], meshed[e.To]
		if from == nil || to == nil || e.Port == 0 {
			continue
		}
		inbound := e.Port
		if e.TargetPort != 0 {
			inbound = e.TargetPort
		}
		if portListed(from.skipOut, e.Port) || portListed(to.skipIn, inbound) {
			continue
		}
		e.Encryption = EncryptionMTLS
		e.EncryptionSource = fmt.Sprintf("Linkerd proxies on both ends: %s (%s) and %s (%s)",
			from.evidence.Detail, from.evidence.Location(), to.evidence.Detail, to.evidence.Location())
	}
}

// linkerdInjectionOf decides whether Linkerd injects w's pods, as its
// proxy injector does: the template's annotation wins over the namespace's.
func linkerdInjectionOf(w *IndexedWorkload, ns *discover.Object) *linkerdInjection {
	t := w.Template
	obj := t.Object
	inj := &linkerdInjection{skipOut: t.Annotations[linkerdSkipOutboundPorts], skipIn: t.Annotations[linkerdSkipInboundPorts]}
	if mode, set := t.Annotations[linkerdInject]; set {
		if mode != "enabled" && mode != "ingress" {
			return nil
		}
		field := discover.PathKey(strings.TrimSuffix(t.SpecPath, "spec")+"metadata.annotations", linkerdInject)
		inj.evidence = Evidence{File: obj.Location.File, Line: obj.LineOf(field), Object: obj.Ref(), Field: field, Detail: obj.Ref() + " linkerd.io/inject: " + mode}
		return inj
	}
	if ns == nil {
		return nil
	}
	if mode := AnnotationsOf(ns)[linkerdInject]; mode == "enabled" || mode == "ingress" {
		field := discover.PathKey("metadata.annotations", linkerdInject)
		inj.evidence = Evidence{File: ns.Location.File, Line: ns.LineOf(field), Object: ns.Ref(), Field: field, Detail: ns.Ref() + " linkerd.io/inject: " + mode}
		return inj
	}
	return nil
}

// runningLinkerd is the injection of a workload whose running pods were
// read: meshed exactly when they run linkerd-proxy.
func runningLinkerd(w *IndexedWorkload, declared *linkerdInjection) *linkerdInjection {
	for _, c := range w.Template.Object.Running {
		if meshProxies[c.Name] != "linkerd" {
			continue
		}
		if declared != nil {
			return declared
		}
		obj := w.Template.Object
		return &linkerdInjection{
			evidence: Evidence{File: obj.Location.File, Line: obj.Location.Line, Object: obj.Ref(), Detail: obj.Ref() + " pods run linkerd-proxy"},
			skipOut:  w.Template.Annotations[linkerdSkipOutboundPorts], skipIn: w.Template.Annotations[linkerdSkipInboundPorts],
		}
	}
	return nil
}

// portListed reports whether port is in a Linkerd port list such as
// "25,587,4000-5000".
func portListed(list string, port int32) bool {
	for item := range strings.SplitSeq(list, ",") {
		lo, hi, isRange := strings.Cut(strings.TrimSpace(item), "-")
		if !isRange {
			hi = lo
		}
		l, err1 := strconv.Atoi(lo)
		h, err2 := strconv.Atoi(hi)
		if err1 == nil && err2 == nil && int(port) >= l && int(port) <= h {
			return true
		}
	}
	return false
}
