package model

import (
	"path"
	"slices"
	"sort"
	"strings"

	"github.com/stridemap/stridemap/discover"
)

// DataAnnotation declares the classes of data a workload holds or handles:
// "stridemap.io/data: pii,payment".
const DataAnnotation = "stridemap.io/data"

// nameHints are words in element names that cautiously suggest a class of
// data. Short words must be whole words of the name ("auth-db"); longer
// ones may start one ("paymentservice"), the longest hint deciding
// ("accounting" is bookkeeping, not a user account). A guess is marked
// "heuristic" so a reviewer can confirm it with the annotation or an
// overlay.
var nameHints = map[string]string{
	"user": "pii", "users": "pii", "customer": "pii", "customers": "pii", "account": "pii", "accounts": "pii",
	"profile": "pii", "member": "pii", "contact": "pii", "patient": "phi", "payment": "payment", "payments": "payment",
	"card": "payment", "stripe": "payment", "paypal": "payment",
	"accounting": "financial", "ledger": "financial", "billing": "financial", "invoice": "financial", "finance": "financial",
	"auth": "credentials", "identity": "credentials", "keycloak": "credentials", "vault": "credentials",
	"session": "credentials", "login": "credentials", "iam": "credentials",
}

// classifyData records the data classes each node declares by annotation,
// and guesses from names where nothing is declared.
func (b *builder) classifyData() {
	for _, w := range b.workloads {
		n := b.node(w.ID)
		obj := w.Template.Object
		if v := annotation(obj, DataAnnotation); v != "" {
			field := "metadata.annotations[" + DataAnnotation + "]"
			ev := Evidence{File: obj.Location.File, Line: obj.LineOf(field), Object: obj.Ref(), Field: field}
			for _, class := range strings.Split(v, ",") {
				if class = strings.ToLower(strings.TrimSpace(class)); class != "" {
					n.Data = append(n.Data, DataClass{Class: class, Source: "annotation", Evidence: ev})
				}
			}
			continue
		}
		for _, class := range guessData(n.Name) {
			n.Data = append(n.Data, DataClass{Class: class, Source: "heuristic", Evidence: Evidence{
				File: obj.Location.File, Line: obj.Location.Line, Object: obj.Ref(), Detail: "name " + n.Name + " suggests " + class + " data",
			}})
		}
	}
}

func guessData(name string) []string {
	var out []string
	for _, word := range strings.FieldsFunc(strings.ToLower(name), func(r rune) bool { return r == '-' || r == '_' || r == '.' }) {
		best := ""
		for hint := range nameHints {
			if (word == hint || (len(hint) >= 5 && strings.HasPrefix(word, hint))) && len(hint) > len(best) {
				best = hint
			}
		}
		if best != "" {
			out = append(out, nameHints[best])
		}
	}
	sort.Strings(out)
	return slices.Compact(out)
}

// auxiliaryImages are the images (last path component of the repository)
// of services that other services send telemetry, feature-flag or
// configuration requests to: what flows to them is not the business data
// the callers hold.
var auxiliaryImages = map[string]string{
	"opentelemetry-collector": "telemetry", "opentelemetry-collector-contrib": "telemetry", "opentelemetry-collector-k8s": "telemetry",
	"otelcol": "telemetry", "otelcol-contrib": "telemetry", "all-in-one": "telemetry", "jaeger": "telemetry",
	"jaeger-collector": "telemetry", "zipkin": "telemetry", "tempo": "telemetry", "prometheus": "telemetry",
	"pushgateway": "telemetry", "loki": "telemetry", "fluentd": "telemetry", "fluent-bit": "telemetry",
	"vector": "telemetry", "statsd-exporter": "telemetry", "grafana": "telemetry", "alloy": "telemetry",
	"flagd": "feature flags", "unleash-server": "feature flags", "unleash": "feature flags", "flipt": "feature flags",
	"growthbook": "feature flags", "unleash-proxy": "feature flags", "config-server": "configuration",
}

// auxiliaryProtocols are protocols whose requests carry telemetry.
var auxiliaryProtocols = map[string]bool{"otlp": true, "otlp-grpc": true, "otlp-http": true, "zipkin": true, "jaeger": true, "statsd": true}

// Auxiliary says what a node serves when it is a telemetry, feature-flag
// or configuration service ("telemetry", "feature flags",
// "configuration"), recognised by its images; "" for anything else.
func Auxiliary(n *Node) string {
	if n.Workload == nil {
		return ""
	}
	for _, c := range n.Workload.Containers {
		if c.Init {
			continue
		}
		if role := auxiliaryImages[path.Base(strings.ToLower(c.Image.Repository))]; role != "" {
			return role
		}
	}
	return ""
}

// CarriesData reports whether a flow carries the data its ends hold:
// not telemetry, feature-flag or configuration traffic, judged by the
// protocol and by what either end serves.
func CarriesData(e *Edge, from, to *Node) bool {
	return !auxiliaryProtocols[e.Protocol] && Auxiliary(to) == "" && Auxiliary(from) == ""
}

// ApplyOverlay adds what an overlay file declares to the graph: data
// classes, and data stores the manifests do not reveal. It returns one
// warning per entry that matches no node, since that is usually a typo.
func ApplyOverlay(g *Graph, o *discover.Overlay) []string {
	var warnings []string
	for _, e := range o.Elements {
		ev := Evidence{File: o.File, Line: e.Line, Detail: "overlay " + e.Match}
		matched := false
		for i := range g.Nodes {
			n := &g.Nodes[i]
			if !e.Matches(n.ID) {
				continue
			}
			matched = true
			if len(e.Data) > 0 {
				// Declared classes replace guesses.
				n.Data = slices.DeleteFunc(n.Data, func(d DataClass) bool { return d.Source == "heuristic" })
				for _, class := range e.Data {
					n.Data = append(n.Data, DataClass{Class: class, Source: "overlay", Evidence: ev})
				}
			}
			if e.DataStore != "" && n.Workload != nil {
				n.Type, n.DataStore = DataStore, &DataStoreInfo{Engine: e.DataStore, Evidence: ev}
			}
		}
		if !matched {
			warnings = append(warnings, discover.Location{File: o.File, Line: e.Line}.String()+": overlay entry "+e.Match+" matches no element of the graph")
		}
	}
	return warnings
}
