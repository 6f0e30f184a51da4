package model

import (
	"fmt"
	"strings"

	"k8s.io/apimachinery/pkg/labels"

	"github.com/stridemap/stridemap/internal/fields"
)

const istioSecurity = "security.istio.io"

// applyMeshEncryption sets the encryption of in-cluster edges from Istio
// policy: a DestinationRule's client TLS mode for its host, and a STRICT
// PeerAuthentication for the workloads it covers. A mesh verdict wins over
// what the application's URL says, because the sidecar wraps the traffic.
//
// Each policy's verdict is gathered by the Service or workload it covers,
// a later policy replacing an earlier one's, and the edges are then read
// once: a DestinationRule or PeerAuthentication per service would
// otherwise read every edge once per policy.
func (b *builder) applyMeshEncryption() {
	type verdict struct {
		enc    Encryption
		source string
	}
	byVia := map[string]verdict{} // by the Service an edge goes through
	for _, dr := range b.byKind[istioNetworking+"/DestinationRule"] {
		host := strings.ToLower(fields.String(dr.Fields, "spec", "host"))
		mode := fields.String(dr.Fields, "spec", "trafficPolicy", "tls", "mode")
		enc, ok := map[string]Encryption{"ISTIO_MUTUAL": EncryptionMTLS, "MUTUAL": EncryptionMTLS, "SIMPLE": EncryptionTLS, "DISABLE": EncryptionPlaintext}[mode]
		if !ok || host == "" {
			continue
		}
		source := fmt.Sprintf("DestinationRule %s/%s tls mode %s (%s:%d)", dr.Namespace, dr.Name, mode, dr.Location.File, dr.LineOf("spec.trafficPolicy.tls.mode"))
		for _, s := range b.servicesMatching(dr.Namespace, host) {
			byVia[s.Ref()] = verdict{enc, source}
		}
	}
	strict := map[string]string{} // the source of each covered workload's STRICT mTLS
	for _, pa := range b.byKind[istioSecurity+"/PeerAuthentication"] {
		if fields.String(pa.Fields, "spec", "mtls", "mode") != "STRICT" {
			continue
		}
		matchLabels := fields.StringMap(pa.Fields, "spec", "selector", "matchLabels")
		selector := labels.SelectorFromSet(matchLabels)
		meshWide := pa.Namespace == "istio-system" && len(matchLabels) == 0
		source := fmt.Sprintf("PeerAuthentication %s/%s mtls STRICT (%s:%d)", pa.Namespace, pa.Name, pa.Location.File, pa.LineOf("spec.mtls.mode"))
		candidates := b.workloads
		if !meshWide {
			candidates = b.selectionCandidates(pa.Namespace, matchLabels)
		}
		for _, w := range candidates {
			if selector.Matches(labels.Set(w.Template.Labels)) {
				strict[w.ID] = source
			}
		}
	}
	if len(byVia) == 0 && len(strict) == 0 {
		return
	}
	for i := range b.graph.Edges {
		e := &b.graph.Edges[i]
		if e.From == InternetID {
			continue
		}
		if v, ok := byVia[e.Via]; ok {
			e.Encryption, e.EncryptionSource = v.enc, v.source
		}
		if source, ok := strict[e.To]; ok && !strings.HasPrefix(e.From, "external:") {
			e.Encryption, e.EncryptionSource = EncryptionMTLS, source
		}
	}
}

// servicesMatching resolves an Istio host, which may be a short name
// relative to ns, a FQDN, or a wildcard such as "*.shop.svc.cluster.local"
// or "*.local".
func (b *builder) servicesMatching(ns, host string) []*IndexedService {
	if strings.HasPrefix(host, "*") {
		suffix := strings.TrimPrefix(host, "*")
		var out []*IndexedService
		for _, s := range b.servicesSorted {
			fqdn := s.Object.Name + "." + s.Object.Namespace + ".svc.cluster.local"
			if strings.HasSuffix(fqdn, suffix) {
				out = append(out, s)
			}
		}
		return out
	}
	if t := b.resolveHost(ns, host); t.svc != nil {
		return []*IndexedService{t.svc}
	}
	return nil
}
