package controls

import (
	"fmt"
	"regexp"
	"slices"
	"strings"

	autoscalingv2 "k8s.io/api/autoscaling/v2"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"

	"github.com/stridemap/stridemap/discover"
	"github.com/stridemap/stridemap/internal/fields"
	"github.com/stridemap/stridemap/model"
)

// Control types for accountability (can we tell afterwards what happened,
// and who did it) and availability, attached to workloads, gateways and
// namespace boundaries. The threat catalog asks for them by name.
const (
	// MetricsScraping: something is asked to scrape the workload's
	// metrics (prometheus.io/scrape, ServiceMonitor, PodMonitor …).
	MetricsScraping = "metrics-scraping"
	// TraceExport: the workload is configured to send traces.
	TraceExport = "trace-export"
	// AccessLogging: a gateway (or proxy) records every request.
	AccessLogging = "access-logging"
	// DataStoreAuditLog: a data store records who read and changed
	// what (pgaudit, MongoDB auditLog, the MariaDB audit plugin …).
	DataStoreAuditLog = "datastore-audit-log"
	// Backup: a backup job or schedule covers a data store.
	Backup = "backup"
	// Autoscaling: a HorizontalPodAutoscaler (or KEDA ScaledObject)
	// scales the workload.
	Autoscaling = "autoscaling"
	// MultipleReplicas: the workload runs at least two pods, by
	// spec.replicas or an autoscaler's minimum.
	MultipleReplicas = "multiple-replicas"
	// ResourceRequests: every container reserves CPU and memory.
	ResourceRequests = "resource-requests"
	// EmptyDirSizeLimit: every emptyDir volume is bounded.
	EmptyDirSizeLimit = "emptydir-size-limit"
	// BoundedJobRuns: a CronJob's runs cannot pile up.
	BoundedJobRuns = "bounded-job-runs"
	// APIAuditLogging: a kube-apiserver in the manifests writes an
	// audit log (policy file and a log path or webhook).
	APIAuditLogging = "api-audit-logging"

	// Namespace boundary controls.
	LimitRange              = "limit-range"
	DefaultResourceLimits   = "default-resource-limits"
	DefaultResourceRequests = "default-resource-requests"
	ResourceQuota           = "resource-quota"
)

// telemetryRootNamespace is where mesh-wide Istio Telemetry lives unless
// meshConfig.rootNamespace says otherwise.
const telemetryRootNamespace = "istio-system"

// addObservabilityControls detects metrics scraping, tracing, access logs,
// data store audit logs and backups, and the availability controls next
// to them: replicas, autoscaling, requests and namespace limits.
func addObservabilityControls(ix *model.Index) {
	configMaps := configMapObjects(ix)
	tele := istioTelemetry(ix, configMaps)
	addMetricsScraping(ix)
	addTraceExport(ix, tele)
	addAccessLogging(ix, tele, configMaps)
	addDataStoreAuditLogs(ix, configMaps)
	addBackups(ix)
	addScalingControls(ix)
	addPodBounds(ix)
	addNamespaceLimits(ix)
	addAPIServerAudit(ix)
}

func fieldEvidence(obj *discover.Object, field, detail string) model.Evidence {
	return model.Evidence{File: obj.Location.File, Line: obj.LineOf(field), Object: obj.Ref(), Field: field, Detail: detail}
}

// templateMetadata is the field path of a pod template's metadata.
func templateMetadata(t model.PodTemplate) string {
	return strings.TrimSuffix(t.SpecPath, "spec") + "metadata"
}

func configMapObjects(ix *model.Index) map[nsName]*discover.Object {
	out := map[nsName]*discover.Object{}
	for _, obj := range ix.TypedObjects() {
		if _, ok := obj.Typed.(*corev1.ConfigMap); ok {
			out[nsName{obj.Namespace, obj.Name}] = obj
		}
	}
	return out
}

// selectorFrom reads an unstructured label selector; a missing or empty
// one selects everything, as it does for the monitoring and backup
// resources that use it.
func selectorFrom(m map[string]any) labels.Selector {
	sel := &metav1.LabelSelector{MatchLabels: fields.StringMap(m, "matchLabels")}
	for _, e := range fields.List(m, "matchExpressions") {
		em := fields.AsMap(e)
		req := metav1.LabelSelectorRequirement{Key: fields.String(em, "key"), Operator: metav1.LabelSelectorOperator(fields.String(em, "operator"))}
		for _, v := range fields.List(em, "values") {
			if s, ok := v.(string); ok {
				req.Values = append(req.Values, s)
			}
		}
		sel.MatchExpressions = append(sel.MatchExpressions, req)
	}
	s, err := metav1.LabelSelectorAsSelector(sel)
	if err != nil {
		return labels.Nothing()
	}
	return s
}

// --- Metrics ---------------------------------------------------------------

const (
	scrapeAnnotation  = "prometheus.io/scrape"
	istioMergeMetrics = "prometheus.istio.io/merge-metrics"
)

// Scrape configuration resources: those that select Services, and those
// that select pods. Both carry spec.selector and spec.namespaceSelector.
var (
	serviceScrapeKinds = []string{"monitoring.coreos.com/ServiceMonitor", "operator.victoriametrics.com/VMServiceScrape"}
	podScrapeKinds     = []string{"monitoring.coreos.com/PodMonitor", "operator.victoriametrics.com/VMPodScrape",
		"monitoring.googleapis.com/PodMonitoring", "monitoring.googleapis.com/ClusterPodMonitoring"}
)

// addMetricsScraping marks the workloads whose metrics something is
// configured to collect. The prometheus.io/scrape annotation is the
// convention of the stock Prometheus Kubernetes scrape configs, honoured
// on pods and on the Services in front of them.
func addMetricsScraping(ix *model.Index) {
	for _, w := range ix.Workloads() {
		t := w.Template
		switch {
		case strings.EqualFold(t.Annotations[scrapeAnnotation], "true"):
			field := discover.PathKey(templateMetadata(t)+".annotations", scrapeAnnotation)
			ix.AddControl(MetricsScraping, w.ID, fieldEvidence(t.Object, field, scrapeAnnotation+": true on the pod template"))
		case ix.Node(w.ID).Workload.MeshSidecar == "istio" && !strings.EqualFold(t.Annotations[istioMergeMetrics], "false"):
			// Istio's injector writes prometheus.io/scrape on the pod to
			// serve merged Envoy and application metrics (on by default).
			ix.AddControl(MetricsScraping, w.ID, fieldEvidence(t.Object, templateMetadata(t),
				"Istio sidecar injection adds "+scrapeAnnotation+" (metrics merging)"))
		}
	}
	for _, s := range ix.Services() {
		if strings.EqualFold(s.Service.Annotations[scrapeAnnotation], "true") {
			ev := fieldEvidence(s.Object, discover.PathKey("metadata.annotations", scrapeAnnotation), scrapeAnnotation+": true on "+s.Ref())
			for _, w := range s.Backends {
				ix.AddControl(MetricsScraping, w.ID, ev)
			}
		}
	}
	for _, kind := range serviceScrapeKinds {
		for _, obj := range ix.Unstructured(kind) {
			sel := selectorFrom(fields.Map(obj.Fields, "spec", "selector"))
			candidates := ix.Services()
			if ownNamespaceOnly(obj) {
				candidates = ix.ServiceCandidates(obj.Namespace, fields.StringMap(obj.Fields, "spec", "selector", "matchLabels"))
			}
			for _, s := range candidates {
				if !scrapeNamespace(obj, s.Object.Namespace) || !sel.Matches(labels.Set(s.Service.Labels)) {
					continue
				}
				ev := fieldEvidence(obj, "spec.selector", obj.Kind+" selects "+s.Ref())
				for _, w := range s.Backends {
					ix.AddControl(MetricsScraping, w.ID, ev)
				}
			}
		}
	}
	for _, kind := range podScrapeKinds {
		for _, obj := range ix.Unstructured(kind) {
			sel := selectorFrom(fields.Map(obj.Fields, "spec", "selector"))
			candidates := ix.Workloads()
			if ownNamespaceOnly(obj) {
				candidates = ix.SelectionCandidates(obj.Namespace, fields.StringMap(obj.Fields, "spec", "selector", "matchLabels"))
			}
			for _, w := range candidates {
				if scrapeNamespace(obj, w.Template.Object.Namespace) && sel.Matches(labels.Set(w.Template.Labels)) {
					ix.AddControl(MetricsScraping, w.ID, fieldEvidence(obj, "spec.selector", obj.Kind+" selects the pods of "+w.Template.Object.Ref()))
				}
			}
		}
	}
}

// ownNamespaceOnly reports whether a scrape resource covers only its own
// namespace (no namespaceSelector), so only that namespace's Services and
// workloads need trying: a ServiceMonitor per Service is common.
func ownNamespaceOnly(obj *discover.Object) bool {
	return obj.Namespace != "" && len(fields.Map(obj.Fields, "spec", "namespaceSelector")) == 0
}

// scrapeNamespace reports whether a scrape resource covers namespace ns:
// its own namespace by default, the names listed, or any namespace.
// Cluster-scoped ones (ClusterPodMonitoring) cover every namespace.
func scrapeNamespace(obj *discover.Object, ns string) bool {
	if obj.Namespace == "" {
		return true
	}
	nsSel := fields.Map(obj.Fields, "spec", "namespaceSelector")
	if all, _ := nsSel["any"].(bool); all {
		return true
	}
	if names := fields.List(nsSel, "matchNames"); len(names) > 0 {
		return slices.Contains(names, any(ns))
	}
	return obj.Namespace == ns
}

// --- Istio telemetry ---------------------------------------------------------

// telemetry is an Istio Telemetry resource, or the mesh config, reduced to
// what it says about access logs and traces and whom it covers.
type telemetry struct {
	obj       *discover.Object
	meshWide  bool            // root namespace without selector: the whole mesh
	selector  labels.Selector // nil: the whole namespace
	gateways  []string        // Gateway API Gateways named in spec.targetRefs
	accessLog telemetryUse
	tracing   telemetryUse
}

// telemetryUse is one Telemetry section: enabled with a provider, or
// explicitly disabled, with the field that says so.
type telemetryUse struct {
	enabled, disabled bool
	field             string
}

// istioTelemetry reads Telemetry resources and the mesh config's
// accessLogFile. An entry counts as enabled only when it names a provider:
// without one Istio falls back to meshConfig default providers, which are
// empty in the default installation profile.
func istioTelemetry(ix *model.Index, configMaps map[nsName]*discover.Object) []telemetry {
	var out []telemetry
	for _, kind := range []string{"telemetry.istio.io/Telemetry"} {
		for _, obj := range ix.Unstructured(kind) {
			t := telemetry{obj: obj}
			if m := fields.Map(obj.Fields, "spec", "selector"); len(m) > 0 {
				t.selector = selectorFrom(m)
			}
			for _, ref := range fields.List(obj.Fields, "spec", "targetRefs") {
				if rm := fields.AsMap(ref); fields.String(rm, "kind") == "Gateway" {
					t.gateways = append(t.gateways, fields.String(rm, "name"))
				}
			}
			t.meshWide = obj.Namespace == telemetryRootNamespace && t.selector == nil && len(t.gateways) == 0
			t.accessLog = telemetrySection(obj, "accessLogging", "disabled")
			t.tracing = telemetrySection(obj, "tracing", "disableSpanReporting")
			out = append(out, t)
		}
	}
	for _, key := range sortedNsNames(configMaps) {
		if key.ns != telemetryRootNamespace || (key.name != "istio" && !strings.HasPrefix(key.name, "istio-")) {
			continue
		}
		obj := configMaps[key]
		cm := obj.Typed.(*corev1.ConfigMap)
		if file := meshConfigValue(cm.Data["mesh"], "accessLogFile"); file != "" {
			out = append(out, telemetry{obj: obj, meshWide: true, accessLog: telemetryUse{enabled: true, field: "data.mesh"}})
		}
	}
	return out
}

func telemetrySection(obj *discover.Object, section, offKey string) telemetryUse {
	var use telemetryUse
	for i, e := range fields.List(obj.Fields, "spec", section) {
		em := fields.AsMap(e)
		field := fmt.Sprintf("spec.%s[%d]", section, i)
		if off, _ := em[offKey].(bool); off {
			use.disabled, use.field = true, field
			return use
		}
		if len(fields.List(em, "providers")) > 0 && !use.enabled {
			use.enabled, use.field = true, field
		}
	}
	return use
}

// meshConfigValue finds "key: value" on a line of Istio's mesh config text
// and returns the value unquoted; "" when absent or empty.
func meshConfigValue(mesh, key string) string {
	for _, line := range strings.Split(mesh, "\n") {
		k, v, ok := strings.Cut(strings.TrimSpace(line), ":")
		if ok && k == key {
			return strings.Trim(strings.TrimSpace(v), `"'`)
		}
	}
	return ""
}

// coversPods reports whether a Telemetry applies to mesh pods with these
// labels in namespace ns.
func (t telemetry) coversPods(ns string, podLabels map[string]string) bool {
	switch {
	case t.meshWide:
		return true
	case t.obj.Namespace != ns || len(t.gateways) > 0:
		return false
	case t.selector == nil:
		return true
	}
	return t.selector.Matches(labels.Set(podLabels))
}

// verdict applies the Telemetry resources that cover something: any
// explicit disable wins (a narrower resource overrides a wider one, and we
// do not rank them), otherwise the first enabling one is the evidence.
func verdict(covering []telemetry, section func(telemetry) telemetryUse) (model.Evidence, bool) {
	var found *model.Evidence
	for _, t := range covering {
		use := section(t)
		if use.disabled {
			return model.Evidence{}, false
		}
		if use.enabled && found == nil {
			ev := fieldEvidence(t.obj, use.field, t.obj.Ref()+" enables it")
			found = &ev
		}
	}
	if found == nil {
		return model.Evidence{}, false
	}
	return *found, true
}

func accessLogOf(t telemetry) telemetryUse { return t.accessLog }
func tracingOf(t telemetry) telemetryUse   { return t.tracing }

// --- Tracing -------------------------------------------------------------------

// traceEnv names environment variables that point a tracer at a back end.
// OTEL_EXPORTER_OTLP_METRICS_ENDPOINT and the like are left out: they
// export metrics or logs, not traces.
var traceEnv = []string{
	"OTEL_EXPORTER_OTLP_ENDPOINT", "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "OTEL_EXPORTER_JAEGER_ENDPOINT",
	"OTEL_EXPORTER_JAEGER_AGENT_HOST", "OTEL_EXPORTER_ZIPKIN_ENDPOINT",
	"JAEGER_AGENT_HOST", "JAEGER_ENDPOINT", "JAEGER_COLLECTOR_ENDPOINT",
}

// traceOff are settings, in env values and arguments, that switch tracing
// off even when an endpoint is configured (sock-shop passes ZIPKIN with
// -Dspring.zipkin.enabled=false).
var traceOff = []string{"zipkin.enabled=false", "tracing.enabled=false", "otel.sdk.disabled=true", "otel.traces.exporter=none"}

// traceWords mark a mounted tracer configuration by volume name or path.
var traceWords = []string{"jaeger", "zipkin", "otel", "opentelemetry"}

const otelInjectPrefix = "instrumentation.opentelemetry.io/inject-"

// addTraceExport marks workloads configured to send traces: an exporter
// endpoint in the environment, OpenTelemetry operator injection, a mounted
// tracer configuration, or an Istio sidecar covered by a Telemetry that
// enables tracing.
func addTraceExport(ix *model.Index, tele []telemetry) {
	for _, w := range ix.Workloads() {
		t := w.Template
		if tracingSwitchedOff(t) {
			continue
		}
		var evidence []model.Evidence
		for key, v := range sortedAnnotations(t.Annotations) {
			if strings.HasPrefix(key, otelInjectPrefix) && !strings.EqualFold(v, "false") {
				field := discover.PathKey(templateMetadata(t)+".annotations", key)
				evidence = append(evidence, fieldEvidence(t.Object, field, key+": "+v))
			}
		}
		for _, cr := range t.Containers() {
			for i, e := range cr.Container.Env {
				if isTraceEnv(e.Name) {
					evidence = append(evidence, fieldEvidence(t.Object, fmt.Sprintf("%s.env[%d]", cr.Path, i), "container "+cr.Container.Name+" sets "+e.Name))
				}
			}
			for i, m := range cr.Container.VolumeMounts {
				if hasWord(m.Name, traceWords) || hasWord(m.MountPath, traceWords) {
					evidence = append(evidence, fieldEvidence(t.Object, fmt.Sprintf("%s.volumeMounts[%d]", cr.Path, i), "container "+cr.Container.Name+" mounts tracer configuration "+m.MountPath))
				}
			}
		}
		if n := ix.Node(w.ID); n != nil && n.Workload.MeshSidecar == "istio" {
			var covering []telemetry
			for _, tl := range tele {
				if tl.coversPods(t.Object.Namespace, t.Labels) {
					covering = append(covering, tl)
				}
			}
			if ev, ok := verdict(covering, tracingOf); ok {
				ev.Detail = "Istio sidecar traces requests: " + ev.Detail
				evidence = append(evidence, ev)
			}
		}
		if len(evidence) > 0 {
			ix.AddControl(TraceExport, w.ID, evidence...)
		}
	}
}

func isTraceEnv(name string) bool {
	upper := strings.ToUpper(name)
	return slices.Contains(traceEnv, upper) || (strings.Contains(upper, "ZIPKIN") && !strings.HasPrefix(upper, "COLLECTOR_ZIPKIN"))
}

// tracingSwitchedOff reports whether any container disables tracing in its
// environment or arguments.
func tracingSwitchedOff(t model.PodTemplate) bool {
	for _, cr := range t.Containers() {
		for _, e := range cr.Container.Env {
			name := strings.ToUpper(e.Name)
			value := strings.ToLower(e.Value)
			if (name == "OTEL_SDK_DISABLED" && value == "true") || (name == "OTEL_TRACES_EXPORTER" && value == "none") || containsAny(value, traceOff) {
				return true
			}
		}
		for _, a := range slices.Concat(cr.Container.Command, cr.Container.Args) {
			if containsAny(strings.ToLower(a), traceOff) {
				return true
			}
		}
	}
	return false
}

func containsAny(s string, subs []string) bool {
	for _, sub := range subs {
		if strings.Contains(s, sub) {
			return true
		}
	}
	return false
}

// words splits s into lower-case runs of letters and digits, so "pg_dump"
// is "pg" "dump" and "hotel" is never "otel".
func wordsOf(s string) []string {
	return strings.FieldsFunc(strings.ToLower(s), func(r rune) bool {
		return (r < 'a' || r > 'z') && (r < '0' || r > '9')
	})
}

func hasWord(s string, want []string) bool {
	for _, w := range wordsOf(s) {
		if slices.Contains(want, w) {
			return true
		}
	}
	return false
}

// sortedAnnotations iterates a map in key order, so evidence comes out the
// same on every run.
func sortedAnnotations(m map[string]string) func(yield func(string, string) bool) {
	return func(yield func(string, string) bool) {
		for _, k := range sortedKeys(m) {
			if !yield(k, m[k]) {
				return
			}
		}
	}
}

// --- Access logs ---------------------------------------------------------------

// ingress-nginx (and NGINX Inc.'s controller) write an access log line
// for every request unless told not to; these settings turn it off.
const (
	nginxAccessLogAnnotation = "nginx.ingress.kubernetes.io/enable-access-log"
	ingressClassAnnotation   = "kubernetes.io/ingress.class"
	defaultClassAnnotation   = "ingressclass.kubernetes.io/is-default-class"
	nginxController          = "k8s.io/ingress-nginx"
)

var (
	// nginxGlobalOff are controller ConfigMap keys that disable access logs
	// for every Ingress: ingress-nginx's and NGINX Inc.'s.
	nginxGlobalOff = []string{"disable-access-log", "access-log-off"}
	// nginxSnippets may carry "access_log off;" for one Ingress.
	nginxSnippets = []string{"nginx.ingress.kubernetes.io/configuration-snippet", "nginx.ingress.kubernetes.io/server-snippet"}
	// nginxControllerImages run ingress-nginx or NGINX Inc.'s controller.
	nginxControllerImages = []string{"ingress-nginx/controller", "nginx-ingress-controller", "nginx/nginx-ingress"}
)

// addAccessLogging marks gateways, and proxies that receive traffic, whose
// requests are logged:
//   - an Ingress served by an NGINX controller, because those log every
//     request by default (we assume the default unless the Ingress's
//     annotations or a controller ConfigMap in the scan turn it off);
//   - an ingress-nginx controller workload, on the same assumption;
//   - an Istio Gateway, a Gateway API Gateway of class istio, or an
//     Istio sidecar, covered by a Telemetry (or mesh config) that enables
//     access logging. Istio's default profile logs nothing.
//
// Other controllers (Traefik, Contour, Kong, Envoy Gateway) are not
// recognised: their gateways show no access logging.
func addAccessLogging(ix *model.Index, tele []telemetry, configMaps map[nsName]*discover.Object) {
	globalOff := nginxAccessLogsOff(configMaps)
	nginxClasses, defaultNginx := nginxIngressClasses(ix)
	for _, obj := range ix.TypedObjects() {
		ing, ok := obj.Typed.(*networkingv1.Ingress)
		if !ok || globalOff {
			continue
		}
		field, class := "spec.ingressClassName", ""
		if ing.Spec.IngressClassName != nil {
			class = *ing.Spec.IngressClassName
		} else if c := ing.Annotations[ingressClassAnnotation]; c != "" {
			field, class = discover.PathKey("metadata.annotations", ingressClassAnnotation), c
		}
		nginx := nginxClasses[class] || strings.Contains(strings.ToLower(class), "nginx") || (class == "" && defaultNginx != "")
		if class == "" && defaultNginx == "" {
			// No class at all: only NGINX honours nginx.ingress.kubernetes.io annotations.
			for _, key := range sortedKeys(ing.Annotations) {
				if strings.HasPrefix(key, "nginx.ingress.kubernetes.io/") {
					nginx, field = true, discover.PathKey("metadata.annotations", key)
					break
				}
			}
		}
		if !nginx || ingressDisablesAccessLog(ing.Annotations) {
			continue
		}
		detail := "NGINX ingress (class " + class + ") logs every request by default"
		if class == "" {
			detail = "NGINX ingress logs every request by default"
			if defaultNginx != "" {
				detail = "NGINX ingress (default class " + defaultNginx + ") logs every request by default"
			}
		}
		ix.AddControl(AccessLogging, ix.GatewayNodeID(obj), fieldEvidence(obj, field, detail))
	}
	for _, w := range ix.Workloads() {
		t := w.Template
		for _, cr := range t.Containers() {
			if !cr.Init && !globalOff && imageMatches(strings.ToLower(model.ParseImage(cr.Container.Image).Repository), nginxControllerImages) {
				ix.AddControl(AccessLogging, w.ID, fieldEvidence(t.Object, cr.Path+".image", "NGINX ingress controller "+cr.Container.Image+" logs every request by default"))
			}
		}
		if n := ix.Node(w.ID); n == nil || (n.Workload.MeshSidecar != "istio" && !isIstioProxy(t)) {
			continue
		}
		var covering []telemetry
		for _, tl := range tele {
			if tl.coversPods(t.Object.Namespace, t.Labels) {
				covering = append(covering, tl)
			}
		}
		if ev, ok := verdict(covering, accessLogOf); ok {
			ev.Detail = "Istio proxy logs requests: " + ev.Detail
			ix.AddControl(AccessLogging, w.ID, ev)
		}
	}
	for _, obj := range ix.Unstructured(istioNetworking + "/Gateway") {
		podLabels := fields.StringMap(obj.Fields, "spec", "selector")
		var covering []telemetry
		for _, tl := range tele {
			if tl.meshWide || (tl.selector != nil && len(podLabels) > 0 && tl.selector.Matches(labels.Set(podLabels))) {
				covering = append(covering, tl)
			}
		}
		if ev, ok := verdict(covering, accessLogOf); ok {
			ix.AddControl(AccessLogging, ix.GatewayNodeID(obj), ev)
		}
	}
	for _, obj := range ix.Unstructured(gatewayAPIGroup + "/Gateway") {
		if fields.String(obj.Fields, "spec", "gatewayClassName") != "istio" {
			continue
		}
		// Istio runs the Gateway's proxy in the Gateway's namespace with this label.
		podLabels := map[string]string{"gateway.networking.k8s.io/gateway-name": obj.Name}
		var covering []telemetry
		for _, tl := range tele {
			if tl.coversPods(obj.Namespace, podLabels) || (tl.obj.Namespace == obj.Namespace && slices.Contains(tl.gateways, obj.Name)) {
				covering = append(covering, tl)
			}
		}
		if ev, ok := verdict(covering, accessLogOf); ok {
			ix.AddControl(AccessLogging, ix.GatewayNodeID(obj), ev)
		}
	}
}

func isIstioProxy(t model.PodTemplate) bool {
	for _, c := range t.Spec.Containers {
		if imageMatches(strings.ToLower(model.ParseImage(c.Image).Repository), []string{"proxyv2"}) {
			return true
		}
	}
	return false
}

func ingressDisablesAccessLog(annots map[string]string) bool {
	if strings.EqualFold(annots[nginxAccessLogAnnotation], "false") {
		return true
	}
	for _, key := range nginxSnippets {
		if strings.Contains(strings.ReplaceAll(annots[key], " ", ""), "access_logoff") {
			return true
		}
	}
	return false
}

// nginxAccessLogsOff reports whether a ConfigMap in the scan turns off the
// NGINX controllers' access logs for every Ingress. Any ConfigMap counts:
// only NGINX controllers read these keys.
func nginxAccessLogsOff(configMaps map[nsName]*discover.Object) bool {
	for _, obj := range configMaps {
		cm := obj.Typed.(*corev1.ConfigMap)
		for _, key := range nginxGlobalOff {
			if strings.EqualFold(cm.Data[key], "true") {
				return true
			}
		}
	}
	return false
}

// nginxIngressClasses lists the IngressClasses served by ingress-nginx and
// the name of the default class when it is one of them.
func nginxIngressClasses(ix *model.Index) (map[string]bool, string) {
	classes, def := map[string]bool{}, ""
	for _, obj := range ix.TypedObjects() {
		ic, ok := obj.Typed.(*networkingv1.IngressClass)
		if !ok || ic.Spec.Controller != nginxController && ic.Spec.Controller != "nginx.org/ingress-controller" {
			continue
		}
		classes[obj.Name] = true
		if ic.Annotations[defaultClassAnnotation] == "true" {
			def = obj.Name
		}
	}
	return classes, def
}

// --- Data store audit logs -----------------------------------------------------

// auditMarkers recognise an audit trail per data store engine in
// arguments, environment and mounted configuration. Only engines with a
// real audit facility are listed; Redis, memcached and queues have none a
// manifest could switch on.
var auditMarkers = map[string]*regexp.Regexp{
	"postgres":      regexp.MustCompile(`(?i)\bpgaudit\b`),
	"mysql":         regexp.MustCompile(`(?i)\b(server_audit|audit_log)\b`),
	"mongodb":       regexp.MustCompile(`(?i)(\bauditLog\s*:|--auditDestination\b)`),
	"elasticsearch": regexp.MustCompile(`(?i)xpack\.security\.audit\.enabled["'\s:=]+true`),
}

// addDataStoreAuditLogs looks for an engine's audit facility in the data
// store's own pod: command and arguments, literal environment values, and
// the ConfigMaps it mounts or loads. It stays cautious: an audit sidecar or
// a setting baked into the image is not seen, so the rule that uses this
// control only runs on data stores that hold classified data.
func addDataStoreAuditLogs(ix *model.Index, configMaps map[nsName]*discover.Object) {
	for _, w := range ix.Workloads() {
		n := ix.Node(w.ID)
		if n == nil || n.DataStore == nil {
			continue
		}
		marker := auditMarkers[n.DataStore.Engine]
		if marker == nil {
			continue
		}
		if ev, ok := findInPod(w.Template, configMaps, marker); ok {
			ev.Detail = n.DataStore.Engine + " audit log: " + ev.Detail
			ix.AddControl(DataStoreAuditLog, w.ID, ev)
		}
	}
}

// findInPod returns where re first matches in a pod's containers or the
// ConfigMaps they use.
func findInPod(t model.PodTemplate, configMaps map[nsName]*discover.Object, re *regexp.Regexp) (model.Evidence, bool) {
	for _, cr := range t.Containers() {
		for _, arg := range commandLine(cr) {
			if m := re.FindString(arg.value); m != "" {
				return fieldEvidence(t.Object, arg.field, "container "+cr.Container.Name+" runs with "+m), true
			}
		}
		for i, e := range cr.Container.Env {
			if m := re.FindString(e.Name + "=" + e.Value); m != "" && !model.IsSensitiveName(e.Name) {
				return fieldEvidence(t.Object, fmt.Sprintf("%s.env[%d]", cr.Path, i), "container "+cr.Container.Name+" env "+e.Name+" "+m), true
			}
		}
	}
	var names []string
	for _, v := range t.Spec.Volumes {
		if v.ConfigMap != nil {
			names = append(names, v.ConfigMap.Name)
		}
	}
	for _, cr := range t.Containers() {
		for _, ef := range cr.Container.EnvFrom {
			if ef.ConfigMapRef != nil {
				names = append(names, ef.ConfigMapRef.Name)
			}
		}
	}
	for _, name := range names {
		obj := configMaps[nsName{t.Object.Namespace, name}]
		if obj == nil {
			continue
		}
		data := obj.Typed.(*corev1.ConfigMap).Data
		for _, key := range sortedKeys(data) {
			if m := re.FindString(data[key]); m != "" {
				return fieldEvidence(obj, discover.PathKey("data", key), "key "+key+" "+m), true
			}
		}
	}
	return model.Evidence{}, false
}

// --- Backups -------------------------------------------------------------------

// backupTools name dump and backup programs by the engine they serve.
var backupTools = map[string][]string{
	"postgres":      {"pg_dump", "pg_dumpall", "pg_basebackup", "pgbackrest", "wal-g", "barman"},
	"mysql":         {"mysqldump", "mariadb-dump", "mydumper", "xtrabackup", "mariabackup"},
	"mongodb":       {"mongodump"},
	"redis":         {"--rdb"},
	"etcd":          {"snapshot save"},
	"elasticsearch": {"_snapshot"},
}

// backupWords, as whole words of a job's name, image or arguments, mark a
// backup job that does not say which engine it serves.
var backupWords = []string{"backup", "backups", "dump", "snapshot", "snapshots"}

// addBackups attaches a backup control to data stores covered by
//   - a Velero Schedule or Backup whose namespaces and label selector take
//     in the store and whose settings back up volume data, not only the
//     objects;
//   - a CronJob that runs a dump or backup tool: an engine's own tool
//     covers stores of that engine, and a job with declared flows covers
//     only the stores it connects to; a generic "backup" job with no flows
//     covers the stores of its namespace;
//   - a backup sidecar in the data store's own pod.
//
// Backups taken outside the cluster (cloud volume snapshots, a managed
// service) are invisible here.
func addBackups(ix *model.Index) {
	var stores []*model.IndexedWorkload
	for _, w := range ix.Workloads() {
		if n := ix.Node(w.ID); n != nil && n.DataStore != nil {
			stores = append(stores, w)
		}
	}
	if len(stores) == 0 {
		return
	}
	addVeleroBackups(ix, stores)
	callees := map[string]map[string]bool{} // node ID → the nodes it has flows to
	for _, e := range ix.Edges() {
		if callees[e.From] == nil {
			callees[e.From] = map[string]bool{}
		}
		callees[e.From][e.To] = true
	}
	for _, w := range ix.Workloads() {
		if _, ok := w.Template.Object.Typed.(*batchv1.CronJob); ok {
			addBackupJob(ix, w, stores, callees[w.ID])
		}
	}
	for _, w := range stores {
		for _, cr := range w.Template.Containers() {
			if cr.Init || model.EngineFromImage(model.ParseImage(cr.Container.Image)) != "" {
				continue // the store itself
			}
			if engine, ev, ok := backupMention(w.Template, cr); ok && (engine == "" || engine == ix.Node(w.ID).DataStore.Engine) {
				ev.Detail = "backup sidecar: " + ev.Detail
				ix.AddControl(Backup, w.ID, ev)
			}
		}
	}
}

func addVeleroBackups(ix *model.Index, stores []*model.IndexedWorkload) {
	for _, kind := range []string{"Schedule", "Backup"} {
		for _, obj := range ix.Unstructured("velero.io/" + kind) {
			spec, prefix := fields.Map(obj.Fields, "spec"), "spec"
			if kind == "Schedule" {
				spec, prefix = fields.Map(obj.Fields, "spec", "template"), "spec.template"
			}
			for _, w := range stores {
				if !veleroCovers(spec, w) {
					continue
				}
				detail := "Velero " + kind + " " + obj.Name + " takes in namespace " + w.Template.Object.Namespace
				if kind == "Schedule" {
					detail += " on schedule " + fields.String(obj.Fields, "spec", "schedule")
				} else {
					detail += " (a one-off backup)"
				}
				ix.AddControl(Backup, w.ID, fieldEvidence(obj, prefix, detail))
			}
		}
	}
}

// veleroCovers reports whether a Velero backup spec includes a workload's
// namespace, matches its labels, and saves its volume data: by snapshot
// (the default), by file-system backup for all volumes, or because the pod
// opts its volumes in with backup.velero.io/backup-volumes.
func veleroCovers(spec map[string]any, w *model.IndexedWorkload) bool {
	ns := w.Template.Object.Namespace
	included := fields.List(spec, "includedNamespaces")
	if len(included) > 0 && !slices.Contains(included, any("*")) && !slices.Contains(included, any(ns)) {
		return false
	}
	if slices.Contains(fields.List(spec, "excludedNamespaces"), any(ns)) {
		return false
	}
	if sel := fields.Map(spec, "labelSelector"); len(sel) > 0 {
		s := selectorFrom(sel)
		if !s.Matches(labels.Set(w.Template.Labels)) && !s.Matches(labels.Set(model.LabelsOf(w.Template.Object))) {
			return false
		}
	}
	snapshots, set := spec["snapshotVolumes"].(bool)
	fsBackup, _ := spec["defaultVolumesToFsBackup"].(bool)
	return !set || snapshots || fsBackup || w.Template.Annotations["backup.velero.io/backup-volumes"] != ""
}

// addBackupJob attaches backup controls for one CronJob that looks like a
// backup job; called holds the nodes the job has flows to.
func addBackupJob(ix *model.Index, job *model.IndexedWorkload, stores []*model.IndexedWorkload, called map[string]bool) {
	var engine string
	var ev model.Evidence
	found := false
	if hasWord(job.Template.Object.Name, backupWords) {
		ev, found = fieldEvidence(job.Template.Object, "metadata.name", "CronJob named "+job.Template.Object.Name), true
	}
	for _, cr := range job.Template.Containers() {
		if e, cev, ok := backupMention(job.Template, cr); ok {
			if !found || (engine == "" && e != "") {
				engine, ev, found = e, cev, true
			}
		}
	}
	if !found {
		return
	}
	ev.Detail = "backup CronJob " + job.Template.Object.Ref() + " (schedule " + job.Template.Schedule + "): " + ev.Detail
	// A job with flows to data stores backs up those; one without (its
	// target named in code or in a file we do not read) its namespace's.
	callsStore := slices.ContainsFunc(stores, func(w *model.IndexedWorkload) bool { return called[w.ID] })
	for _, w := range stores {
		covered := w != job &&
			(engine == "" || ix.Node(w.ID).DataStore.Engine == engine) &&
			(called[w.ID] || (!callsStore && w.Template.Object.Namespace == job.Template.Object.Namespace))
		if covered {
			ix.AddControl(Backup, w.ID, ev)
		}
	}
}

// backupMention looks for a backup tool or word in a container's image,
// command and arguments; engine is "" for a generic mention.
func backupMention(t model.PodTemplate, cr model.ContainerRef) (engine string, ev model.Evidence, ok bool) {
	texts := append([]commandArg{{cr.Path + ".image", cr.Container.Image}, {cr.Path + ".name", cr.Container.Name}}, commandLine(cr)...)
	for _, tx := range texts {
		lower := strings.ToLower(tx.value)
		for _, e := range sortedKeys(backupTools) {
			for _, tool := range backupTools[e] {
				if strings.Contains(lower, tool) {
					return e, fieldEvidence(t.Object, tx.field, "container "+cr.Container.Name+" runs "+tool), true
				}
			}
		}
	}
	for _, tx := range texts {
		if hasWord(tx.value, backupWords) {
			return "", fieldEvidence(t.Object, tx.field, "container "+cr.Container.Name+" mentions a backup"), true
		}
	}
	return "", model.Evidence{}, false
}

// --- Scaling and replicas ------------------------------------------------------

// addScalingControls records autoscalers and workloads that run more than
// one pod. An autoscaler's minimum counts for replicas: manifests of
// autoscaled workloads usually leave spec.replicas out.
func addScalingControls(ix *model.Index) {
	byTarget := map[string]*model.IndexedWorkload{} // "ns/Kind/name"
	for _, w := range ix.Workloads() {
		obj := w.Template.Object
		byTarget[obj.Namespace+"/"+obj.Kind+"/"+obj.Name] = w
		if r := w.Template.Replicas; r != nil && *r >= 2 {
			ix.AddControl(MultipleReplicas, w.ID, fieldEvidence(obj, "spec.replicas", fmt.Sprintf("replicas: %d", *r)))
		}
	}
	scaled := func(obj *discover.Object, kind, name string, minReplicas int32, minField, what string) {
		w := byTarget[obj.Namespace+"/"+kind+"/"+name]
		if w == nil {
			return
		}
		ix.AddControl(Autoscaling, w.ID, fieldEvidence(obj, "spec.scaleTargetRef", what+" scales "+kind+" "+name))
		if minReplicas >= 2 {
			ix.AddControl(MultipleReplicas, w.ID, fieldEvidence(obj, minField, fmt.Sprintf("%s keeps at least %d replicas", what, minReplicas)))
		}
	}
	for _, obj := range ix.TypedObjects() {
		switch h := obj.Typed.(type) {
		case *autoscalingv2.HorizontalPodAutoscaler:
			scaled(obj, h.Spec.ScaleTargetRef.Kind, h.Spec.ScaleTargetRef.Name, ptrOr(h.Spec.MinReplicas, 1), "spec.minReplicas", obj.Ref())
		}
	}
	// autoscaling/v1 and the removed v2beta versions arrive unstructured.
	for _, obj := range ix.Unstructured("autoscaling/HorizontalPodAutoscaler") {
		minReplicas := fields.Number(obj.Fields, "spec", "minReplicas")
		if minReplicas == 0 {
			minReplicas = 1
		}
		scaled(obj, fields.String(obj.Fields, "spec", "scaleTargetRef", "kind"), fields.String(obj.Fields, "spec", "scaleTargetRef", "name"), minReplicas, "spec.minReplicas", obj.Ref())
	}
	for _, obj := range ix.Unstructured("keda.sh/ScaledObject") {
		kind := fields.String(obj.Fields, "spec", "scaleTargetRef", "kind")
		if kind == "" {
			kind = "Deployment"
		}
		scaled(obj, kind, fields.String(obj.Fields, "spec", "scaleTargetRef", "name"), fields.Number(obj.Fields, "spec", "minReplicaCount"), "spec.minReplicaCount", obj.Ref())
	}
}

func ptrOr(p *int32, def int32) int32 {
	if p == nil {
		return def
	}
	return *p
}

// --- Pod bounds ----------------------------------------------------------------

// addPodBounds records, per workload, the bounds the pod spec itself sets
// on what it may take from its node and how its runs overlap: requests,
// emptyDir sizes and CronJob concurrency.
func addPodBounds(ix *model.Index) {
	for _, w := range ix.Workloads() {
		t := w.Template
		addRequests(ix, w)
		addEmptyDirBounds(ix, w)
		if cj, ok := t.Object.Typed.(*batchv1.CronJob); ok {
			switch {
			case cj.Spec.ConcurrencyPolicy == batchv1.ForbidConcurrent || cj.Spec.ConcurrencyPolicy == batchv1.ReplaceConcurrent:
				ix.AddControl(BoundedJobRuns, w.ID, fieldEvidence(t.Object, "spec.concurrencyPolicy", "concurrencyPolicy: "+string(cj.Spec.ConcurrencyPolicy)))
			case cj.Spec.JobTemplate.Spec.ActiveDeadlineSeconds != nil:
				ix.AddControl(BoundedJobRuns, w.ID, fieldEvidence(t.Object, "spec.jobTemplate.spec.activeDeadlineSeconds",
					fmt.Sprintf("every run ends after %ds", *cj.Spec.JobTemplate.Spec.ActiveDeadlineSeconds)))
			}
		}
	}
}

// addRequests records that every container reserves CPU and memory. A
// limit without a request counts, because Kubernetes then sets the request
// to the limit. Init containers are left out: they run one at a time
// before the pod starts and do not hold their reservation afterwards.
func addRequests(ix *model.Index, w *model.IndexedWorkload) {
	var evidence []model.Evidence
	for _, cr := range w.Template.Containers() {
		if cr.Init {
			continue
		}
		req, lim := cr.Container.Resources.Requests, cr.Container.Resources.Limits
		cpu := hasResource(req, corev1.ResourceCPU) || hasResource(lim, corev1.ResourceCPU)
		memory := hasResource(req, corev1.ResourceMemory) || hasResource(lim, corev1.ResourceMemory)
		if !cpu || !memory {
			return
		}
		field := cr.Path + ".resources.requests"
		if !hasResource(req, corev1.ResourceCPU) || !hasResource(req, corev1.ResourceMemory) {
			field = cr.Path + ".resources.limits"
		}
		evidence = append(evidence, fieldEvidence(w.Template.Object, field, "container "+cr.Container.Name))
	}
	if len(evidence) > 0 {
		ix.AddControl(ResourceRequests, w.ID, evidence...)
	}
}

func hasResource(list corev1.ResourceList, name corev1.ResourceName) bool {
	_, ok := list[name]
	return ok
}

// addEmptyDirBounds records that every emptyDir volume of a pod is
// bounded: by its own sizeLimit, or by the containers' limits the kubelet
// enforces on it (ephemeral-storage for disk, memory for medium Memory).
// Pods without emptyDir volumes get no control; the rule does not ask.
func addEmptyDirBounds(ix *model.Index, w *model.IndexedWorkload) {
	t := w.Template
	var evidence []model.Evidence
	for i, v := range t.Spec.Volumes {
		if v.EmptyDir == nil {
			continue
		}
		field := fmt.Sprintf("%s.volumes[%d].emptyDir", t.SpecPath, i)
		limit := corev1.ResourceEphemeralStorage
		if v.EmptyDir.Medium == corev1.StorageMediumMemory {
			limit = corev1.ResourceMemory
		}
		switch {
		case v.EmptyDir.SizeLimit != nil:
			evidence = append(evidence, fieldEvidence(t.Object, field+".sizeLimit", "emptyDir "+v.Name+" sizeLimit "+v.EmptyDir.SizeLimit.String()))
		case allContainersLimit(t, limit):
			evidence = append(evidence, fieldEvidence(t.Object, field, "emptyDir "+v.Name+" counts against every container's "+string(limit)+" limit"))
		default:
			return
		}
	}
	if len(evidence) > 0 {
		ix.AddControl(EmptyDirSizeLimit, w.ID, evidence...)
	}
}

func allContainersLimit(t model.PodTemplate, name corev1.ResourceName) bool {
	for _, c := range t.Spec.Containers {
		if !hasResource(c.Resources.Limits, name) {
			return false
		}
	}
	return len(t.Spec.Containers) > 0
}

// --- Namespaces ----------------------------------------------------------------

// quotaResources are the ResourceQuota keys that bound compute; a quota
// that only counts objects (count/secrets) does not.
var quotaResources = []string{"cpu", "memory", "requests.cpu", "requests.memory", "limits.cpu", "limits.memory", "pods"}

// addNamespaceLimits records LimitRanges and compute ResourceQuotas on
// namespace boundaries. A LimitRange that gives containers default CPU and
// memory limits (or requests) also earns the default-* controls, because
// the API server then fills in what a workload leaves out. The defaulting
// follows the API: a missing default limit is the max, a missing default
// request is the default limit, then the min. Both kinds arrive
// unstructured from the decoder.
func addNamespaceLimits(ix *model.Index) {
	for _, obj := range ix.Unstructured("/LimitRange") {
		boundary := model.NamespaceBoundaryID(obj.Namespace)
		for i, it := range fields.List(obj.Fields, "spec", "limits") {
			item := fields.AsMap(it)
			kind := fields.String(item, "type")
			if kind != "Container" && kind != "Pod" {
				continue
			}
			field := fmt.Sprintf("spec.limits[%d]", i)
			ix.AddControl(LimitRange, boundary, fieldEvidence(obj, field, obj.Ref()+" type "+kind))
			if kind != "Container" {
				continue
			}
			limits := firstOf(fields.Map(item, "default"), fields.Map(item, "max"))
			requests := firstOf(fields.Map(item, "defaultRequest"), fields.Map(item, "default"), fields.Map(item, "max"), fields.Map(item, "min"))
			if limits["cpu"] != "" && limits["memory"] != "" {
				ix.AddControl(DefaultResourceLimits, boundary, fieldEvidence(obj, field, "containers without limits get cpu "+limits["cpu"]+", memory "+limits["memory"]))
			}
			if requests["cpu"] != "" && requests["memory"] != "" {
				ix.AddControl(DefaultResourceRequests, boundary, fieldEvidence(obj, field, "containers without requests get cpu "+requests["cpu"]+", memory "+requests["memory"]))
			}
		}
	}
	for _, obj := range ix.Unstructured("/ResourceQuota") {
		hard := fields.Map(obj.Fields, "spec", "hard")
		var bounded []string
		for _, name := range quotaResources {
			if v, ok := hard[name]; ok {
				bounded = append(bounded, fmt.Sprintf("%s=%v", name, v))
			}
		}
		if len(bounded) > 0 {
			ix.AddControl(ResourceQuota, model.NamespaceBoundaryID(obj.Namespace), fieldEvidence(obj, "spec.hard", obj.Ref()+" caps "+strings.Join(bounded, ", ")))
		}
	}
}

// firstOf takes each resource quantity from the first map that has it; the
// later maps are the API's fallbacks. Quantities are kept as written.
func firstOf(maps ...map[string]any) map[string]string {
	out := map[string]string{}
	for _, m := range maps {
		for k, v := range m {
			if _, ok := out[k]; !ok {
				out[k] = fmt.Sprint(v)
			}
		}
	}
	return out
}

// --- API server audit ----------------------------------------------------------

// addAPIServerAudit checks kube-apiserver pods found among the manifests
// (a kubeadm control plane's static pods): the API server audits only with
// an audit policy file and somewhere to write, a log path or a webhook.
// Managed control planes are not in the manifests; whether they audit is a
// review question.
func addAPIServerAudit(ix *model.Index) {
	for _, w := range ix.Workloads() {
		for _, cr := range w.Template.Containers() {
			if !isAPIServer(cr.Container) {
				continue
			}
			var policy, sink *model.Evidence
			for _, arg := range commandLine(cr) {
				ev := fieldEvidence(w.Template.Object, arg.field, arg.value)
				switch {
				case strings.HasPrefix(arg.value, "--audit-policy-file"):
					policy = &ev
				case strings.HasPrefix(arg.value, "--audit-log-path"), strings.HasPrefix(arg.value, "--audit-webhook-config-file"):
					sink = &ev
				}
			}
			if policy != nil && sink != nil {
				ix.AddControl(APIAuditLogging, w.ID, *policy, *sink)
			}
		}
	}
}

// commandArg is one word of a container's command or arguments and the
// field it is at.
type commandArg struct{ field, value string }

func commandLine(cr model.ContainerRef) []commandArg {
	var out []commandArg
	for i, a := range cr.Container.Command {
		out = append(out, commandArg{fmt.Sprintf("%s.command[%d]", cr.Path, i), a})
	}
	for i, a := range cr.Container.Args {
		out = append(out, commandArg{fmt.Sprintf("%s.args[%d]", cr.Path, i), a})
	}
	return out
}

func isAPIServer(c *corev1.Container) bool {
	if imageMatches(strings.ToLower(model.ParseImage(c.Image).Repository), []string{"kube-apiserver"}) {
		return true
	}
	return len(c.Command) > 0 && strings.HasSuffix(c.Command[0], "kube-apiserver")
}

func sortedNsNames[V any](m map[nsName]V) []nsName {
	out := make([]nsName, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	slices.SortFunc(out, func(a, b nsName) int { return strings.Compare(a.String(), b.String()) })
	return out
}
