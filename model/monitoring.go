package model

import (
	"fmt"
	"strconv"
	"strings"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"

	"github.com/stridemap/stridemap/discover"
	"github.com/stridemap/stridemap/internal/fields"
)

// Annotations of the stock Prometheus Kubernetes scrape configs.
const (
	scrapeAnnotation       = "prometheus.io/scrape"
	scrapePortAnnotation   = "prometheus.io/port"
	scrapeSchemeAnnotation = "prometheus.io/scheme"
	// How a Prometheus configuration that honours the annotation names it
	// in its relabelling rules: on pods (role pod) or on Services (role
	// endpoints, endpointslice or service). A job honours one or the other.
	podScrapeMeta     = "__meta_kubernetes_pod_annotation_prometheus_io_scrape"
	serviceScrapeMeta = "__meta_kubernetes_service_annotation_prometheus_io_scrape"
)

// scrape is one target a scraper collects metrics from.
type scrape struct {
	to       *IndexedWorkload
	port     int32
	https    bool
	mutual   bool   // a client certificate is configured
	why      string // for the encryption source
	evidence Evidence
}

// addMonitoringFlows adds the flows that scrape configuration declares:
// Prometheus (operator-run, selecting ServiceMonitors and PodMonitors) and
// any Prometheus whose configuration honours prometheus.io/scrape, to the
// pods it scrapes, and an operator-run Prometheus to its Alertmanagers.
func (b *builder) addMonitoringFlows() {
	prometheuses := b.operatedPrometheuses()
	for _, p := range prometheuses {
		for _, sm := range b.byKind[monitoringGroup+"/ServiceMonitor"] {
			if b.selectsMonitor(p, sm, "serviceMonitor") {
				b.addScrapes(p.w, b.serviceMonitorTargets(sm))
			}
		}
		for _, pm := range b.byKind[monitoringGroup+"/PodMonitor"] {
			if b.selectsMonitor(p, pm, "podMonitor") {
				b.addScrapes(p.w, b.podMonitorTargets(pm))
			}
		}
		b.addAlertmanagerFlows(p)
	}
	podTargets, serviceTargets := b.podAnnotationTargets(), b.serviceAnnotationTargets()
	if len(podTargets)+len(serviceTargets) == 0 {
		return
	}
	for _, w := range b.workloads {
		for _, h := range b.honouredScrapeAnnotations(w) {
			targets := podTargets
			if h.onServices {
				targets = serviceTargets
			}
			for _, s := range targets {
				s.evidence = Evidence{File: s.evidence.File, Line: s.evidence.Line, Object: s.evidence.Object, Field: s.evidence.Field,
					Detail: s.evidence.Detail + "; " + h.evidence.Detail}
				b.addScrapes(w, []scrape{s})
			}
		}
	}
}

// operatedPrometheus is a Prometheus custom resource and its workload.
type operatedPrometheus struct {
	w   *IndexedWorkload
	obj *discover.Object
}

func (b *builder) operatedPrometheuses() []operatedPrometheus {
	var out []operatedPrometheus
	for _, w := range b.workloads {
		if obj := w.Template.Object; obj.Kind == "Prometheus" && obj.Group() == monitoringGroup {
			out = append(out, operatedPrometheus{w, obj})
		}
	}
	return out
}

// selectsMonitor follows the operator: an absent spec.<kind>Selector
// selects no monitor, an empty one every monitor; an absent namespace
// selector means the Prometheus's own namespace, an empty one every
// namespace, and any other picks namespaces by their labels.
func (b *builder) selectsMonitor(p operatedPrometheus, monitor *discover.Object, kind string) bool {
	spec := fields.Map(p.obj.Fields, "spec")
	sel, set := spec[kind+"Selector"].(map[string]any)
	if !set || !labelSelector(sel).Matches(labels.Set(LabelsOf(monitor))) {
		return false
	}
	nsSel, set := spec[kind+"NamespaceSelector"].(map[string]any)
	if !set {
		return monitor.Namespace == p.obj.Namespace
	}
	return labelSelector(nsSel).Matches(b.namespaceLabels(monitor.Namespace))
}

// namespaceLabels are the labels a namespace selector sees: those of the
// Namespace object when it was read, and kubernetes.io/metadata.name,
// which the API server sets on every namespace. A namespace whose object
// was not read is known by that name label alone, so a selector on other
// labels does not pick it: the scan cannot tell that it would.
func (b *builder) namespaceLabels(ns string) labels.Set {
	set := labels.Set{corev1.LabelMetadataName: ns}
	if obj := b.namespaceObjects[ns]; obj != nil {
		for k, v := range LabelsOf(obj) {
			set[k] = v
		}
	}
	return set
}

// labelSelector reads an unstructured label selector; an empty one
// selects everything, a malformed one nothing.
func labelSelector(m map[string]any) labels.Selector {
	var sel metav1.LabelSelector
	decodeInto(m, &sel)
	s, err := metav1.LabelSelectorAsSelector(&sel)
	if err != nil {
		return labels.Nothing()
	}
	return s
}

// monitorCovers reports whether a monitor's spec.namespaceSelector covers
// namespace ns: its own namespace by default, the names listed, or any.
func monitorCovers(monitor *discover.Object, ns string) bool {
	nsSel := fields.Map(monitor.Fields, "spec", "namespaceSelector")
	if all, _ := nsSel["any"].(bool); all {
		return true
	}
	if names := fields.List(nsSel, "matchNames"); len(names) > 0 {
		for _, n := range names {
			if n == ns {
				return true
			}
		}
		return false
	}
	return ns == monitor.Namespace
}

// monitorsOwnNamespace reports whether a monitor has no namespaceSelector,
// so covers only its own namespace (monitorCovers): only that namespace's
// Services or workloads need trying, where each Service may have its own.
func monitorsOwnNamespace(monitor *discover.Object) bool {
	return len(fields.Map(monitor.Fields, "spec", "namespaceSelector")) == 0
}

// serviceMonitorTargets lists the pods a ServiceMonitor's endpoints
// scrape: the backends of the Services it selects, at the pod port the
// named Service port targets.
func (b *builder) serviceMonitorTargets(sm *discover.Object) []scrape {
	sel := labelSelector(fields.Map(sm.Fields, "spec", "selector"))
	candidates := b.servicesSorted
	if monitorsOwnNamespace(sm) {
		candidates = b.serviceCandidates(sm.Namespace, fields.StringMap(sm.Fields, "spec", "selector", "matchLabels"))
	}
	var out []scrape
	for _, s := range candidates {
		if !monitorCovers(sm, s.Object.Namespace) || !sel.Matches(labels.Set(s.Service.Labels)) {
			continue
		}
		for i, ep := range fields.List(sm.Fields, "spec", "endpoints") {
			m := fields.AsMap(ep)
			field := fmt.Sprintf("spec.endpoints[%d]", i)
			for _, w := range s.Backends {
				port := monitorPort(w, s.Service, m)
				if port == 0 {
					continue
				}
				sc := scrapeTLS(m, fmt.Sprintf("%s %s/%s endpoint %d", sm.Kind, sm.Namespace, sm.Name, i))
				sc.to, sc.port = w, port
				sc.evidence = Evidence{File: sm.Location.File, Line: sm.LineOf(field), Object: sm.Ref(), Field: field,
					Detail: fmt.Sprintf("%s selects %s, which selects %s", sm.Kind, s.Ref(), w.Template.Object.Ref())}
				out = append(out, sc)
			}
		}
	}
	return out
}

// podMonitorTargets lists the pods a PodMonitor's podMetricsEndpoints
// scrape.
func (b *builder) podMonitorTargets(pm *discover.Object) []scrape {
	sel := labelSelector(fields.Map(pm.Fields, "spec", "selector"))
	candidates := b.workloads
	if monitorsOwnNamespace(pm) {
		candidates = b.selectionCandidates(pm.Namespace, fields.StringMap(pm.Fields, "spec", "selector", "matchLabels"))
	}
	var out []scrape
	for _, w := range candidates {
		if !monitorCovers(pm, w.Template.Object.Namespace) || !sel.Matches(labels.Set(w.Template.Labels)) {
			continue
		}
		for i, ep := range fields.List(pm.Fields, "spec", "podMetricsEndpoints") {
			m := fields.AsMap(ep)
			port := monitorPort(w, nil, m)
			if port == 0 {
				continue
			}
			field := fmt.Sprintf("spec.podMetricsEndpoints[%d]", i)
			sc := scrapeTLS(m, fmt.Sprintf("%s %s/%s endpoint %d", pm.Kind, pm.Namespace, pm.Name, i))
			sc.to, sc.port = w, port
			sc.evidence = Evidence{File: pm.Location.File, Line: pm.LineOf(field), Object: pm.Ref(), Field: field,
				Detail: fmt.Sprintf("%s selects the pods of %s", pm.Kind, w.Template.Object.Ref())}
			out = append(out, sc)
		}
	}
	return out
}

// monitorPort resolves a monitor endpoint's port to a pod port: a
// ServiceMonitor's port names a Service port, whose targetPort is then
// found among the pod's ports; targetPort (and a PodMonitor's port or
// portNumber) name the pod port directly.
func monitorPort(w *IndexedWorkload, svc *corev1.Service, ep map[string]any) int32 {
	if n := fields.Number(ep, "portNumber"); n != 0 {
		return n
	}
	if tp, ok := ep["targetPort"]; ok {
		switch v := tp.(type) {
		case float64:
			return int32(v)
		case string:
			return podPortNamed(w, v)
		}
	}
	name := fields.String(ep, "port")
	if svc == nil {
		return podPortNamed(w, name)
	}
	for _, sp := range svc.Spec.Ports {
		if sp.Name != name {
			continue
		}
		switch {
		case sp.TargetPort.StrVal != "":
			return podPortNamed(w, sp.TargetPort.StrVal)
		case sp.TargetPort.IntVal != 0:
			return sp.TargetPort.IntVal
		}
		return sp.Port
	}
	return 0
}

// podPortNamed finds a named container port of the workload's pods.
func podPortNamed(w *IndexedWorkload, name string) int32 {
	if name == "" {
		return 0
	}
	for _, c := range w.Template.Spec.Containers {
		for _, p := range c.Ports {
			if p.Name == name {
				return p.ContainerPort
			}
		}
	}
	if n, err := strconv.Atoi(name); err == nil {
		return int32(n)
	}
	return 0
}

// scrapeTLS reads an endpoint's scheme and tlsConfig: Prometheus scrapes
// over plain HTTP unless the scheme is https; a client certificate in the
// TLS configuration makes it mutual.
func scrapeTLS(ep map[string]any, what string) scrape {
	scheme := strings.ToLower(fields.String(ep, "scheme"))
	if scheme != "https" {
		if scheme == "" {
			scheme = "http (the default)"
		}
		return scrape{why: what + " scheme " + scheme}
	}
	sc := scrape{https: true, why: what + " scheme https"}
	tls := fields.Map(ep, "tlsConfig")
	if tls["cert"] != nil || tls["certFile"] != nil {
		sc.mutual, sc.why = true, sc.why+" with a client certificate"
	}
	if skip, _ := tls["insecureSkipVerify"].(bool); skip {
		sc.why += " (insecureSkipVerify: the server certificate is not checked)"
	}
	return sc
}

// addScrapes adds an edge from a scraper to each of its targets.
func (b *builder) addScrapes(from *IndexedWorkload, targets []scrape) {
	for _, s := range targets {
		f := flow{from: from.ID, to: s.to.ID, port: s.port, protocol: "http", protocolSource: "scrape-config",
			encryption: EncryptionPlaintext, encryptionSource: s.why, via: s.evidence.Object, evidence: []Evidence{s.evidence}}
		switch {
		case s.mutual:
			f.encryption = EncryptionMTLS
		case s.https:
			f.encryption = EncryptionTLS
		}
		b.addFlow(f)
	}
}

// podAnnotationTargets lists the pods that ask to be scraped with
// prometheus.io/scrape: "true" on their template, at prometheus.io/port
// (else each declared TCP port of the pod).
func (b *builder) podAnnotationTargets() []scrape {
	var out []scrape
	for _, w := range b.workloads {
		t := w.Template
		if !strings.EqualFold(t.Annotations[scrapeAnnotation], "true") {
			continue
		}
		field := discover.PathKey(strings.TrimSuffix(t.SpecPath, "spec")+"metadata.annotations", scrapeAnnotation)
		ev := Evidence{File: t.Object.Location.File, Line: t.Object.LineOf(field), Object: t.Object.Ref(), Field: field,
			Detail: scrapeAnnotation + ": true on the pod template of " + t.Object.Ref()}
		for _, port := range annotatedPorts(t.Annotations, w, nil) {
			out = append(out, annotatedScrape(w, port, t.Annotations, ev))
		}
	}
	return out
}

// serviceAnnotationTargets lists the pods behind Services that carry
// prometheus.io/scrape: "true", at prometheus.io/port (else each Service
// port's target).
func (b *builder) serviceAnnotationTargets() []scrape {
	var out []scrape
	for _, s := range b.servicesSorted {
		if !strings.EqualFold(s.Service.Annotations[scrapeAnnotation], "true") {
			continue
		}
		field := discover.PathKey("metadata.annotations", scrapeAnnotation)
		ev := Evidence{File: s.Object.Location.File, Line: s.Object.LineOf(field), Object: s.Ref(), Field: field,
			Detail: scrapeAnnotation + ": true on " + s.Ref()}
		for _, w := range s.Backends {
			for _, port := range annotatedPorts(s.Service.Annotations, w, s.Service) {
				out = append(out, annotatedScrape(w, port, s.Service.Annotations, ev))
			}
		}
	}
	return out
}

func annotatedScrape(w *IndexedWorkload, port int32, annots map[string]string, ev Evidence) scrape {
	what := "annotation on " + ev.Object
	sc := scrape{to: w, port: port, evidence: ev, why: what + ": " + scrapeSchemeAnnotation + " unset, http"}
	if strings.EqualFold(annots[scrapeSchemeAnnotation], "https") {
		sc.https, sc.why = true, what+": "+scrapeSchemeAnnotation+": https"
	} else if v := annots[scrapeSchemeAnnotation]; v != "" {
		sc.why = what + ": " + scrapeSchemeAnnotation + ": " + v
	}
	return sc
}

// annotatedPorts are the pod ports an annotated pod or Service is scraped
// on, as the stock scrape configs find them.
func annotatedPorts(annots map[string]string, w *IndexedWorkload, svc *corev1.Service) []int32 {
	if p, err := strconv.Atoi(annots[scrapePortAnnotation]); err == nil && p > 0 {
		return []int32{int32(p)}
	}
	var out []int32
	if svc != nil {
		for _, sp := range svc.Spec.Ports {
			switch {
			case sp.TargetPort.StrVal != "":
				if n := podPortNamed(w, sp.TargetPort.StrVal); n != 0 {
					out = append(out, n)
				}
			case sp.TargetPort.IntVal != 0:
				out = append(out, sp.TargetPort.IntVal)
			default:
				out = append(out, sp.Port)
			}
		}
		return out
	}
	for _, c := range w.Template.Spec.Containers {
		for _, p := range c.Ports {
			if p.Protocol == "" || p.Protocol == corev1.ProtocolTCP {
				out = append(out, p.ContainerPort)
			}
		}
	}
	return out
}

// honouredAnnotation is one kind of prometheus.io/scrape annotation a
// Prometheus keeps targets by, and the evidence that it does.
type honouredAnnotation struct {
	onServices bool // a Service's annotation, else a pod's
	evidence   Evidence
}

// honouredScrapeAnnotations lists which prometheus.io/scrape annotations
// (a pod's, a Service's) a workload's Prometheus configuration, mounted
// from a ConfigMap in the manifests, keeps targets by: its relabelling
// rules name each by its own meta label, so a configuration with only a
// pod-role job does not scrape annotated Services. A Prometheus whose
// configuration cannot be read is not assumed to honour either.
func (b *builder) honouredScrapeAnnotations(w *IndexedWorkload) []honouredAnnotation {
	t := w.Template
	var out []honouredAnnotation
	found := map[bool]bool{}
	for vi, v := range t.Spec.Volumes {
		if v.ConfigMap == nil {
			continue
		}
		cm := b.configMaps[nsName{t.Object.Namespace, v.ConfigMap.Name}]
		if cm == nil {
			continue
		}
		for _, key := range sortedKeys(cm.Data) {
			data := cm.Data[key]
			if !strings.Contains(data, "kubernetes_sd_configs") {
				continue
			}
			for _, kind := range []struct {
				onServices bool
				meta, what string
			}{{false, podScrapeMeta, "pods"}, {true, serviceScrapeMeta, "Services"}} {
				if found[kind.onServices] || !strings.Contains(data, kind.meta) {
					continue
				}
				found[kind.onServices] = true
				field := fmt.Sprintf("%s.volumes[%d].configMap", t.SpecPath, vi)
				out = append(out, honouredAnnotation{onServices: kind.onServices, evidence: Evidence{
					File: t.Object.Location.File, Line: t.Object.LineOf(field), Object: t.Object.Ref(), Field: field,
					Detail: fmt.Sprintf("its configuration (ConfigMap %s/%s key %s) keeps %s by %s", t.Object.Namespace, v.ConfigMap.Name, key, kind.what, scrapeAnnotation)}})
			}
		}
	}
	return out
}

// addAlertmanagerFlows adds the flows from an operator-run Prometheus to
// the Alertmanagers its spec.alerting names (a Service and a port).
func (b *builder) addAlertmanagerFlows(p operatedPrometheus) {
	for i, am := range fields.List(p.obj.Fields, "spec", "alerting", "alertmanagers") {
		m := fields.AsMap(am)
		ns := fields.String(m, "namespace")
		if ns == "" {
			ns = p.obj.Namespace
		}
		s := b.services[nsName{ns, fields.String(m, "name")}]
		if s == nil {
			continue
		}
		field := fmt.Sprintf("spec.alerting.alertmanagers[%d]", i)
		ev := Evidence{File: p.obj.Location.File, Line: p.obj.LineOf(field), Object: p.obj.Ref(), Field: field, Detail: "alerts to " + s.Ref()}
		portName := fmt.Sprint(m["port"])
		scheme := strings.ToLower(fields.String(m, "scheme"))
		for _, sp := range s.Service.Spec.Ports {
			if sp.Name != portName && strconv.Itoa(int(sp.Port)) != portName {
				continue
			}
			for _, w := range s.Backends {
				f := flow{from: p.w.ID, to: w.ID, port: sp.Port, protocol: "http", protocolSource: "alerting-config", via: s.Ref(),
					encryption: EncryptionPlaintext, encryptionSource: p.obj.Ref() + " alerting scheme http (the default)",
					evidence: []Evidence{ev, {File: s.Object.Location.File, Line: s.Object.LineOf("spec.selector"), Object: s.Ref(), Field: "spec.selector", Detail: "selects " + w.Template.Object.Ref()}}}
				if scheme == "https" {
					f.encryption, f.encryptionSource = EncryptionTLS, p.obj.Ref()+" alerting scheme https"
				}
				b.addFlow(f)
			}
		}
	}
}

// ConfigLoader is a sidecar that copies ConfigMaps (and, with Resource
// "secret" or "both", Secrets) into the pod by label, without a mount: the
// k8s-sidecar convention of the Grafana chart, configured by env LABEL,
// LABEL_VALUE, FOLDER, NAMESPACE and RESOURCE.
type ConfigLoader struct {
	Label, LabelValue, Folder, Namespace string
	// Resource is "configmap" (k8s-sidecar's default), "secret" or "both".
	Resource string
	// ResourceField is the field of the RESOURCE variable, "" without one.
	ResourceField string
}

// ConfigLoaderOf reads a container's loader settings from its literal
// environment; ok is false for a container that loads nothing by label.
func ConfigLoaderOf(cr ContainerRef) (l ConfigLoader, ok bool) {
	l.Resource = "configmap"
	for i, e := range cr.Container.Env {
		if e.ValueFrom != nil {
			continue
		}
		switch e.Name {
		case "LABEL":
			l.Label = e.Value
		case "LABEL_VALUE":
			l.LabelValue = e.Value
		case "FOLDER":
			l.Folder = e.Value
		case "NAMESPACE":
			l.Namespace = e.Value
		case "RESOURCE":
			l.Resource, l.ResourceField = strings.ToLower(e.Value), fmt.Sprintf("%s.env[%d]", cr.Path, i)
		}
	}
	return l, l.Label != "" && l.Folder != ""
}

// Selects reports whether the loader picks an object with these labels.
func (l ConfigLoader) Selects(objLabels map[string]string) bool {
	value, has := objLabels[l.Label]
	return has && (l.LabelValue == "" || value == l.LabelValue)
}

// LoadsSecrets reports whether the loader copies Secrets too.
func (l ConfigLoader) LoadsSecrets() bool { return l.Resource == "secret" || l.Resource == "both" }

// sidecarLoadedConfigs returns the data of ConfigMaps that a ConfigLoader
// copies into the pod: Grafana datasources labelled grafana_datasource: "1"
// are read so. They count as mounted config files.
func (b *builder) sidecarLoadedConfigs(t PodTemplate, cr ContainerRef) []reference {
	l, ok := ConfigLoaderOf(cr)
	if !ok || l.Resource == "secret" {
		return nil
	}
	namespaces := []string{t.Object.Namespace}
	if ns := l.Namespace; ns != "" {
		namespaces = strings.Split(ns, ",")
		if strings.EqualFold(ns, "ALL") {
			namespaces = b.sortedConfigMapNamespaces()
		}
	}
	var refs []reference
	for _, ns := range namespaces {
		for _, cm := range b.configMapObjectsIn[strings.TrimSpace(ns)] {
			if !l.Selects(LabelsOf(cm)) {
				continue
			}
			data := cm.Typed.(*corev1.ConfigMap).Data
			for _, key := range sortedKeys(data) {
				refs = append(refs, reference{
					value: data[key], field: discover.PathKey("data", key), obj: cm,
					detail:     fmt.Sprintf("file %s/%s loaded by %s from ConfigMap %s/%s (label %s)", l.Folder, key, cr.Container.Name, cm.Namespace, cm.Name, l.Label),
					configFile: true,
				})
			}
		}
	}
	return refs
}

func (b *builder) sortedConfigMapNamespaces() []string {
	out := make([]string, 0, len(b.configMapObjectsIn))
	for ns := range b.configMapObjectsIn {
		out = append(out, ns)
	}
	sortStrings(out)
	return out
}
