package controls_test

import (
	"strings"
	"testing"

	"github.com/stridemap/stridemap/controls"
	"github.com/stridemap/stridemap/model"
	"github.com/stridemap/stridemap/model/modeltest"
)

// controlCase is one detection: the manifests, and whether the control
// lands on the target with evidence mentioning detail.
type controlCase struct {
	name   string
	docs   []string
	target string
	want   bool
	detail string
}

func runControlCases(t *testing.T, kind string, tests []controlCase) {
	t.Helper()
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			checkControl(t, build(t, tc.docs...), kind, tc.target, tc.want, tc.detail)
		})
	}
}

func lines(l ...string) []string { return l }

const (
	web = "workload:shop/web"
	db  = "workload:shop/db"
)

func TestMetricsScraping(t *testing.T) {
	webPod := podWorkload("Deployment", "shop", "web", "example/web:1.0", nil, nil, nil)
	webSvc := `apiVersion: v1
kind: Service
metadata:
  name: web
  namespace: shop
  labels: {team: shop}
spec:
  selector: {app: web}
  ports: [{port: 80, name: http}]`
	runControlCases(t, controls.MetricsScraping, []controlCase{
		{"pod annotation", []string{podWorkload("Deployment", "shop", "web", "example/web:1.0", lines(`annotations: {prometheus.io/scrape: "true"}`), nil, nil)},
			web, true, "prometheus.io/scrape: true on the pod template"},
		{"pod annotation false", []string{podWorkload("Deployment", "shop", "web", "example/web:1.0", lines(`annotations: {prometheus.io/scrape: "false"}`), nil, nil)},
			web, false, ""},
		{"a look-alike annotation is not the convention", []string{podWorkload("Deployment", "shop", "web", "example/web:1.0", lines(`annotations: {prometheus.io.scrape: "true"}`), nil, nil)},
			web, false, ""},
		{"Istio sidecar merges metrics", []string{podWorkload("Deployment", "shop", "web", "example/web:1.0", lines(`annotations: {sidecar.istio.io/inject: "true"}`), nil, nil)},
			web, true, "Istio sidecar injection"},
		{"Istio metrics merging switched off", []string{podWorkload("Deployment", "shop", "web", "example/web:1.0",
			lines(`annotations: {sidecar.istio.io/inject: "true", prometheus.istio.io/merge-metrics: "false"}`), nil, nil)},
			web, false, ""},
		{"Service annotation", []string{webPod, "apiVersion: v1\nkind: Service\nmetadata:\n  name: web\n  namespace: shop\n  annotations: {prometheus.io/scrape: 'true'}\nspec:\n  selector: {app: web}\n  ports: [{port: 80}]"},
			web, true, "Service shop/web"},
		{"ServiceMonitor selects the Service", []string{webPod, webSvc,
			"apiVersion: monitoring.coreos.com/v1\nkind: ServiceMonitor\nmetadata: {name: shop, namespace: shop}\nspec:\n  selector: {matchLabels: {team: shop}}\n  endpoints: [{port: http}]"},
			web, true, "ServiceMonitor selects Service shop/web"},
		{"ServiceMonitor in another namespace needs a namespaceSelector", []string{webPod, webSvc,
			"apiVersion: monitoring.coreos.com/v1\nkind: ServiceMonitor\nmetadata: {name: shop, namespace: monitoring}\nspec:\n  selector: {matchLabels: {team: shop}}\n  endpoints: [{port: http}]"},
			web, false, ""},
		{"ServiceMonitor with matchNames", []string{webPod, webSvc,
			"apiVersion: monitoring.coreos.com/v1\nkind: ServiceMonitor\nmetadata: {name: shop, namespace: monitoring}\nspec:\n  namespaceSelector: {matchNames: [shop]}\n  selector: {matchLabels: {team: shop}}\n  endpoints: [{port: http}]"},
			web, true, "ServiceMonitor"},
		{"ServiceMonitor that selects other Services", []string{webPod, webSvc,
			"apiVersion: monitoring.coreos.com/v1\nkind: ServiceMonitor\nmetadata: {name: shop, namespace: shop}\nspec:\n  selector: {matchExpressions: [{key: team, operator: In, values: [billing]}]}\n  endpoints: [{port: http}]"},
			web, false, ""},
		{"PodMonitor selects the pods", []string{webPod,
			"apiVersion: monitoring.coreos.com/v1\nkind: PodMonitor\nmetadata: {name: web, namespace: shop}\nspec:\n  selector: {matchLabels: {app: web}}\n  podMetricsEndpoints: [{port: metrics}]"},
			web, true, "PodMonitor selects the pods of Deployment shop/web"},
		{"PodMonitor in another namespace needs a namespaceSelector", []string{webPod,
			"apiVersion: monitoring.coreos.com/v1\nkind: PodMonitor\nmetadata: {name: web, namespace: monitoring}\nspec:\n  selector: {matchLabels: {app: web}}\n  podMetricsEndpoints: [{port: metrics}]"},
			web, false, ""},
		{"PodMonitor with namespaceSelector any", []string{webPod,
			"apiVersion: monitoring.coreos.com/v1\nkind: PodMonitor\nmetadata: {name: web, namespace: monitoring}\nspec:\n  namespaceSelector: {any: true}\n  selector: {matchLabels: {app: web}}\n  podMetricsEndpoints: [{port: metrics}]"},
			web, true, "PodMonitor selects the pods of Deployment shop/web"},
		{"ServiceMonitor among Services of other namespaces", []string{webPod, webSvc,
			strings.ReplaceAll(webSvc, "namespace: shop", "namespace: aaa"), strings.ReplaceAll(webSvc, "namespace: shop", "namespace: zzz"),
			"apiVersion: monitoring.coreos.com/v1\nkind: ServiceMonitor\nmetadata: {name: shop, namespace: shop}\nspec:\n  selector: {matchLabels: {team: shop}}\n  endpoints: [{port: http}]"},
			web, true, "ServiceMonitor selects Service shop/web"},
	})
}

func TestTraceExport(t *testing.T) {
	meshTracing := "apiVersion: telemetry.istio.io/v1\nkind: Telemetry\nmetadata: {name: mesh-default, namespace: istio-system}\nspec:\n  tracing:\n  - providers: [{name: otel}]\n    randomSamplingPercentage: 10"
	sidecar := lines(`annotations: {sidecar.istio.io/inject: "true"}`)
	runControlCases(t, controls.TraceExport, []controlCase{
		{"OTLP endpoint", []string{modeltest.Deployment("shop", "web", modeltest.Env("OTEL_EXPORTER_OTLP_ENDPOINT", "http://otel-collector.obs:4317"))},
			web, true, "sets OTEL_EXPORTER_OTLP_ENDPOINT"},
		{"a metrics-only endpoint is no trace export", []string{modeltest.Deployment("shop", "web", modeltest.Env("OTEL_EXPORTER_OTLP_METRICS_ENDPOINT", "http://otel-collector.obs:4317"))},
			web, false, ""},
		{"exporter set to none", []string{modeltest.Deployment("shop", "web", modeltest.Env("OTEL_EXPORTER_OTLP_ENDPOINT", "http://c:4317", "OTEL_TRACES_EXPORTER", "none"))},
			web, false, ""},
		{"Zipkin address switched off by a JVM flag", []string{modeltest.Deployment("shop", "web", modeltest.Env("ZIPKIN", "zipkin.jaeger.svc.cluster.local", "JAVA_OPTS", "-Xmx128m -Dspring.zipkin.enabled=false"))},
			web, false, ""},
		{"Jaeger agent host", []string{modeltest.Deployment("shop", "web", modeltest.Env("JAEGER_AGENT_HOST", "jaeger-agent"))},
			web, true, "JAEGER_AGENT_HOST"},
		{"mounted Jaeger configuration", []string{podWorkload("Deployment", "shop", "web", "example/web:1.0", nil,
			lines("volumes: [{name: jaeger-conf-yaml, configMap: {name: jaeger-config-yaml}}]"),
			lines("volumeMounts: [{name: jaeger-conf-yaml, mountPath: /app/config/jaeger-config.yml, subPath: jaeger-config.yml}]"))},
			web, true, "mounts tracer configuration /app/config/jaeger-config.yml"},
		{"a hotel is not otel", []string{podWorkload("Deployment", "shop", "web", "example/web:1.0", nil,
			lines("volumes: [{name: hotel-data, emptyDir: {}}]"), lines("volumeMounts: [{name: hotel-data, mountPath: /hotel}]"))},
			web, false, ""},
		{"OpenTelemetry operator injection", []string{podWorkload("Deployment", "shop", "web", "example/web:1.0",
			lines(`annotations: {instrumentation.opentelemetry.io/inject-java: "true"}`), nil, nil)},
			web, true, "inject-java"},
		{"Istio sidecar with mesh-wide tracing", []string{podWorkload("Deployment", "shop", "web", "example/web:1.0", sidecar, nil, nil), meshTracing},
			web, true, "Telemetry istio-system/mesh-default"},
		{"mesh-wide tracing does not reach pods outside the mesh", []string{modeltest.Deployment("shop", "web"), meshTracing},
			web, false, ""},
		{"tracing switched off for the namespace", []string{podWorkload("Deployment", "shop", "web", "example/web:1.0", sidecar, nil, nil), meshTracing,
			"apiVersion: telemetry.istio.io/v1\nkind: Telemetry\nmetadata: {name: quiet, namespace: shop}\nspec:\n  tracing:\n  - disableSpanReporting: true"},
			web, false, ""},
		{"a Telemetry without a provider uses empty defaults", []string{podWorkload("Deployment", "shop", "web", "example/web:1.0", sidecar, nil, nil),
			"apiVersion: telemetry.istio.io/v1\nkind: Telemetry\nmetadata: {name: mesh-default, namespace: istio-system}\nspec:\n  tracing:\n  - randomSamplingPercentage: 10"},
			web, false, ""},
	})
}

func ingress(annotations, class string) string {
	doc := "apiVersion: networking.k8s.io/v1\nkind: Ingress\nmetadata:\n  name: web\n  namespace: shop\n"
	if annotations != "" {
		doc += "  annotations: " + annotations + "\n"
	}
	doc += "spec:\n"
	if class != "" {
		doc += "  ingressClassName: " + class + "\n"
	}
	return doc + "  rules:\n  - host: shop.example.com\n    http:\n      paths:\n      - {path: /, pathType: Prefix, backend: {service: {name: web, port: {number: 80}}}}"
}

func TestAccessLogging(t *testing.T) {
	backend := []string{modeltest.Deployment("shop", "web"), modeltest.Service("shop", "web")}
	with := func(docs ...string) []string { return append(append([]string{}, backend...), docs...) }
	istioGateway := "apiVersion: networking.istio.io/v1\nkind: Gateway\nmetadata: {name: web, namespace: shop}\nspec:\n  selector: {istio: ingressgateway}\n  servers:\n  - port: {number: 80, name: http, protocol: HTTP}\n    hosts: ['*']"
	meshLogs := "apiVersion: telemetry.istio.io/v1\nkind: Telemetry\nmetadata: {name: mesh-default, namespace: istio-system}\nspec:\n  accessLogging:\n  - providers: [{name: envoy}]"
	gatewayAPI := "apiVersion: gateway.networking.k8s.io/v1\nkind: Gateway\nmetadata: {name: edge, namespace: shop}\nspec:\n  gatewayClassName: istio\n  listeners: [{name: http, port: 80, protocol: HTTP}]"
	runControlCases(t, controls.AccessLogging, []controlCase{
		{"ingress-nginx class logs by default", with(ingress("", "nginx")), "gateway:shop/web", true, "logs every request by default"},
		{"annotation turns the log off", with(ingress(`{nginx.ingress.kubernetes.io/enable-access-log: "false"}`, "nginx")), "gateway:shop/web", false, ""},
		{"snippet turns the log off", with(ingress(`{nginx.ingress.kubernetes.io/configuration-snippet: "access_log off;"}`, "nginx")), "gateway:shop/web", false, ""},
		{"controller ConfigMap turns every log off", with(ingress("", "nginx"),
			"apiVersion: v1\nkind: ConfigMap\nmetadata: {name: ingress-nginx-controller, namespace: ingress-nginx}\ndata: {disable-access-log: \"true\"}"),
			"gateway:shop/web", false, ""},
		{"legacy class annotation", with(ingress(`{kubernetes.io/ingress.class: nginx}`, "")), "gateway:shop/web", true, "class nginx"},
		{"no class but nginx annotations", with(ingress(`{nginx.ingress.kubernetes.io/rewrite-target: /}`, "")), "gateway:shop/web", true, "NGINX ingress"},
		{"default IngressClass served by ingress-nginx", with(ingress("", ""),
			"apiVersion: networking.k8s.io/v1\nkind: IngressClass\nmetadata:\n  name: public\n  annotations: {ingressclass.kubernetes.io/is-default-class: \"true\"}\nspec: {controller: k8s.io/ingress-nginx}"),
			"gateway:shop/web", true, "default class public"},
		{"another controller's class", with(ingress("", "traefik")), "gateway:shop/web", false, ""},
		{"an unknown controller", with(ingress("", "")), "gateway:shop/web", false, ""},
		{"plain nginx is no ingress controller", []string{podWorkload("Deployment", "ingress-nginx", "controller", "nginx:1.27", nil, nil, nil)},
			"workload:ingress-nginx/controller", false, ""},
		{"the controller image", []string{podWorkload("Deployment", "ingress-nginx", "controller", "registry.k8s.io/ingress-nginx/controller:v1.11.2", nil, nil, nil)},
			"workload:ingress-nginx/controller", true, "NGINX ingress controller"},
		{"Istio Gateway with mesh-wide access logs", with(istioGateway, meshLogs), "gateway:shop/web", true, "Telemetry istio-system/mesh-default"},
		{"Istio Gateway without Telemetry", with(istioGateway), "gateway:shop/web", false, ""},
		{"Istio Gateway with a Telemetry for its pods", with(istioGateway,
			"apiVersion: telemetry.istio.io/v1\nkind: Telemetry\nmetadata: {name: gw, namespace: istio-system}\nspec:\n  selector: {matchLabels: {istio: ingressgateway}}\n  accessLogging: [{providers: [{name: envoy}]}]"),
			"gateway:shop/web", true, "Telemetry istio-system/gw"},
		{"mesh config accessLogFile", with(istioGateway,
			"apiVersion: v1\nkind: ConfigMap\nmetadata: {name: istio, namespace: istio-system}\ndata:\n  mesh: |-\n    accessLogFile: /dev/stdout\n    enableTracing: true"),
			"gateway:shop/web", true, "ConfigMap istio-system/istio"},
		{"mesh config with an empty accessLogFile", with(istioGateway,
			"apiVersion: v1\nkind: ConfigMap\nmetadata: {name: istio, namespace: istio-system}\ndata:\n  mesh: |-\n    accessLogFile: \"\""),
			"gateway:shop/web", false, ""},
		{"Gateway API Gateway targeted by a Telemetry", with(gatewayAPI,
			"apiVersion: telemetry.istio.io/v1\nkind: Telemetry\nmetadata: {name: edge, namespace: shop}\nspec:\n  targetRefs: [{group: gateway.networking.k8s.io, kind: Gateway, name: edge}]\n  accessLogging: [{providers: [{name: envoy}]}]"),
			"gateway:shop/edge", true, "Telemetry shop/edge"},
		{"Gateway API Gateway of another class", with(strings.Replace(gatewayAPI, "istio", "eg", 1), meshLogs), "gateway:shop/edge", false, ""},
	})
}

func TestDataStoreAuditLog(t *testing.T) {
	postgres := func(container ...string) string {
		return podWorkload("StatefulSet", "shop", "db", "postgres:16", nil, nil, container)
	}
	mongoConfig := "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: mongod, namespace: shop}\ndata:\n  mongod.conf: |\n    auditLog:\n      destination: file\n      path: /data/db/audit.json"
	runControlCases(t, controls.DataStoreAuditLog, []controlCase{
		{"pgaudit preloaded by argument", []string{postgres(`args: ["-c", "shared_preload_libraries=pgaudit", "-c", "pgaudit.log=write,ddl"]`)},
			db, true, "postgres audit log: container main runs with pgaudit"},
		{"plain postgres", []string{postgres(`args: ["-c", "max_connections=200"]`)}, db, false, ""},
		{"pgaudit named in a Bitnami variable", []string{postgres(modeltest.Env("POSTGRESQL_SHARED_PRELOAD_LIBRARIES", "pgaudit"))},
			db, true, "POSTGRESQL_SHARED_PRELOAD_LIBRARIES"},
		{"MongoDB auditLog in a mounted config", []string{mongoConfig, podWorkload("StatefulSet", "shop", "db", "mongo:7", nil,
			lines("volumes: [{name: conf, configMap: {name: mongod}}]"), lines(`args: ["--config", "/etc/mongod/mongod.conf"]`, "volumeMounts: [{name: conf, mountPath: /etc/mongod}]"))},
			db, true, "key mongod.conf auditLog:"},
		{"an unmounted config says nothing", []string{mongoConfig, podWorkload("StatefulSet", "shop", "db", "mongo:7", nil, nil, nil)}, db, false, ""},
		{"MariaDB audit plugin", []string{podWorkload("StatefulSet", "shop", "db", "mariadb:11", nil, nil, lines(`args: ["--plugin-load-add=server_audit", "--server_audit_logging=ON"]`))},
			db, true, "server_audit"},
		{"Redis has no audit log to find", []string{podWorkload("StatefulSet", "shop", "db", "redis:7", nil, nil, lines(`args: ["--appendonly", "yes"]`))}, db, false, ""},
	})
}

func cronJob(ns, name, image, schedule string, container ...string) string {
	return `apiVersion: batch/v1
kind: CronJob
metadata:
  name: ` + name + `
  namespace: ` + ns + `
spec:
  schedule: "` + schedule + `"
  jobTemplate:
    spec:
      template:
        spec:
          restartPolicy: OnFailure
          containers:
          - name: job
            image: ` + image + `
` + modeltest.Indent(strings.Join(container, "\n"), "            ")
}

func TestBackups(t *testing.T) {
	pg := podWorkload("StatefulSet", "shop", "db", "postgres:16", nil, nil, nil)
	cache := podWorkload("Deployment", "shop", "cache", "redis:7", nil, nil, nil)
	schedule := func(spec string) string {
		return "apiVersion: velero.io/v1\nkind: Schedule\nmetadata: {name: nightly, namespace: velero}\nspec:\n  schedule: \"0 2 * * *\"\n  template:\n" + modeltest.Indent(spec, "    ")
	}
	runControlCases(t, controls.Backup, []controlCase{
		{"Velero schedule for the namespace", []string{pg, schedule("includedNamespaces: [shop]")}, db, true, "Velero Schedule nightly takes in namespace shop on schedule 0 2 * * *"},
		{"Velero schedule for every namespace", []string{pg, schedule("includedNamespaces: ['*']")}, db, true, "Velero Schedule"},
		{"Velero schedule for other namespaces", []string{pg, schedule("includedNamespaces: [billing]")}, db, false, ""},
		{"Velero schedule excluding the namespace", []string{pg, schedule("excludedNamespaces: [shop]")}, db, false, ""},
		{"Velero schedule that saves objects but no volume data", []string{pg, schedule("includedNamespaces: [shop]\nsnapshotVolumes: false")}, db, false, ""},
		{"Velero schedule with file-system backup", []string{pg, schedule("includedNamespaces: [shop]\nsnapshotVolumes: false\ndefaultVolumesToFsBackup: true")}, db, true, "Velero"},
		{"Velero label selector that misses the store", []string{pg, schedule("labelSelector: {matchLabels: {backup: \"yes\"}}")}, db, false, ""},
		{"pg_dump CronJob", []string{pg, cronJob("shop", "nightly", "postgres:16", "0 3 * * *", `command: ["sh", "-c", "pg_dump -h db app > /backup/app.sql"]`)},
			db, true, "backup CronJob CronJob shop/nightly (schedule 0 3 * * *): container job runs pg_dump"},
		{"pg_dump does not back up Redis", []string{cache, cronJob("shop", "nightly", "postgres:16", "0 3 * * *", `command: ["pg_dump", "-h", "db"]`)},
			"workload:shop/cache", false, ""},
		{"generic backup job in the namespace", []string{pg, cronJob("shop", "db-backup", "example/tools:1", "0 3 * * *")}, db, true, "CronJob named db-backup"},
		{"generic backup job in another namespace", []string{pg, cronJob("ops", "db-backup", "example/tools:1", "0 3 * * *")}, db, false, ""},
		{"a job with flows backs up only the stores it reaches", []string{pg, modeltest.Service("shop", "db", "{port: 5432, name: tcp-postgres}"),
			podWorkload("StatefulSet", "shop", "other", "postgres:16", nil, nil, nil),
			cronJob("shop", "nightly", "postgres:16", "0 3 * * *", `command: ["pg_dump", "-h", "db"]`, `env: [{name: PGHOST, value: db}]`)},
			"workload:shop/other", false, ""},
		{"and does cover the one it reaches", []string{pg, modeltest.Service("shop", "db", "{port: 5432, name: tcp-postgres}"),
			podWorkload("StatefulSet", "shop", "other", "postgres:16", nil, nil, nil),
			cronJob("shop", "nightly", "postgres:16", "0 3 * * *", `command: ["pg_dump", "-h", "db"]`, `env: [{name: PGHOST, value: db}]`)},
			db, true, "pg_dump"},
		{"a job that only sounds similar", []string{pg, cronJob("shop", "dumpster-report", "example/tools:1", "0 3 * * *")}, db, false, ""},
		{"backup sidecar", []string{podWorkload("StatefulSet", "shop", "db", "postgres:16", nil, nil, nil) + "\n      - name: walg\n        image: example/wal-g:3"},
			db, true, "backup sidecar"},
	})
}

func TestScalingControls(t *testing.T) {
	hpa := func(min string) string {
		return "apiVersion: autoscaling/v2\nkind: HorizontalPodAutoscaler\nmetadata: {name: web, namespace: shop}\nspec:\n  scaleTargetRef: {apiVersion: apps/v1, kind: Deployment, name: web}\n" + min + "  maxReplicas: 10"
	}
	one := modeltest.Deployment("shop", "web")
	runControlCases(t, controls.Autoscaling, []controlCase{
		{"HPA", []string{one, hpa("")}, web, true, "HorizontalPodAutoscaler shop/web scales Deployment web"},
		{"HPA for another workload", []string{one, strings.Replace(hpa(""), "name: web}", "name: api}", 1)}, web, false, ""},
		{"KEDA ScaledObject", []string{one, "apiVersion: keda.sh/v1alpha1\nkind: ScaledObject\nmetadata: {name: web, namespace: shop}\nspec:\n  scaleTargetRef: {name: web}\n  minReplicaCount: 2"},
			web, true, "ScaledObject"},
		{"autoscaling/v1 HPA, read unstructured", []string{one, strings.Replace(hpa("  minReplicas: 2\n"), "autoscaling/v2", "autoscaling/v1", 1)}, web, true, "HorizontalPodAutoscaler"},
		{"no autoscaler", []string{one}, web, false, ""},
	})
	runControlCases(t, controls.MultipleReplicas, []controlCase{
		{"replicas 3", []string{strings.Replace(one, "spec:\n  selector", "spec:\n  replicas: 3\n  selector", 1)}, web, true, "replicas: 3"},
		{"replicas 1", []string{strings.Replace(one, "spec:\n  selector", "spec:\n  replicas: 1\n  selector", 1)}, web, false, ""},
		{"replicas left out", []string{one}, web, false, ""},
		{"HPA minimum of 2", []string{one, hpa("  minReplicas: 2\n")}, web, true, "keeps at least 2 replicas"},
		{"HPA default minimum", []string{one, hpa("")}, web, false, ""},
	})
}

func TestPodBounds(t *testing.T) {
	runControlCases(t, controls.ResourceRequests, []controlCase{
		{"requests", []string{modeltest.Deployment("shop", "web", "resources: {requests: {cpu: 100m, memory: 64Mi}}")}, web, true, "container main"},
		{"limits stand in for requests", []string{modeltest.Deployment("shop", "web", "resources: {limits: {cpu: 100m, memory: 64Mi}}")}, web, true, "container main"},
		{"CPU only", []string{modeltest.Deployment("shop", "web", "resources: {requests: {cpu: 100m}}")}, web, false, ""},
		{"none", []string{modeltest.Deployment("shop", "web")}, web, false, ""},
		{"an init container without requests does not count", []string{podWorkload("Deployment", "shop", "web", "example/web:1.0", nil,
			lines("initContainers: [{name: wait, image: busybox:1.36}]"), lines("resources: {requests: {cpu: 100m, memory: 64Mi}}"))}, web, true, "container main"},
	})
	runControlCases(t, controls.EmptyDirSizeLimit, []controlCase{
		{"sizeLimit", []string{podWorkload("Deployment", "shop", "web", "example/web:1.0", nil, lines("volumes: [{name: tmp, emptyDir: {sizeLimit: 100Mi}}]"), nil)},
			web, true, "emptyDir tmp sizeLimit 100Mi"},
		{"unbounded", []string{podWorkload("Deployment", "shop", "web", "example/web:1.0", nil, lines("volumes: [{name: tmp, emptyDir: {}}]"), nil)}, web, false, ""},
		{"ephemeral-storage limit", []string{podWorkload("Deployment", "shop", "web", "example/web:1.0", nil, lines("volumes: [{name: tmp, emptyDir: {}}]"),
			lines("resources: {limits: {ephemeral-storage: 1Gi}}"))}, web, true, "ephemeral-storage limit"},
		{"memory medium bounded by memory limits", []string{podWorkload("Deployment", "shop", "web", "example/web:1.0", nil, lines("volumes: [{name: tmp, emptyDir: {medium: Memory}}]"),
			lines("resources: {limits: {memory: 256Mi}}"))}, web, true, "memory limit"},
		{"one bounded, one not", []string{podWorkload("Deployment", "shop", "web", "example/web:1.0", nil,
			lines("volumes: [{name: a, emptyDir: {sizeLimit: 1Gi}}, {name: b, emptyDir: {}}]"), nil)}, web, false, ""},
	})
	runControlCases(t, controls.BoundedJobRuns, []controlCase{
		{"Forbid", []string{strings.Replace(cronJob("shop", "report", "example/report:1", "*/5 * * * *"), "  schedule:", "  concurrencyPolicy: Forbid\n  schedule:", 1)},
			"workload:shop/report", true, "concurrencyPolicy: Forbid"},
		{"deadline", []string{strings.Replace(cronJob("shop", "report", "example/report:1", "*/5 * * * *"), "    spec:\n      template", "    spec:\n      activeDeadlineSeconds: 600\n      template", 1)},
			"workload:shop/report", true, "every run ends after 600s"},
		{"defaults", []string{cronJob("shop", "report", "example/report:1", "*/5 * * * *")}, "workload:shop/report", false, ""},
	})
}

func TestNamespaceLimits(t *testing.T) {
	app := modeltest.Deployment("shop", "web")
	ns := model.NamespaceBoundaryID("shop")
	limitRange := func(item string) string {
		return "apiVersion: v1\nkind: LimitRange\nmetadata: {name: defaults, namespace: shop}\nspec:\n  limits:\n  - " + item
	}
	quota := func(hard string) string {
		return "apiVersion: v1\nkind: ResourceQuota\nmetadata: {name: quota, namespace: shop}\nspec:\n  hard: " + hard
	}
	full := limitRange("{type: Container, default: {cpu: 500m, memory: 256Mi}, defaultRequest: {cpu: 100m, memory: 64Mi}}")
	maxOnly := limitRange("{type: Container, max: {cpu: '2', memory: 1Gi}}")
	runControlCases(t, controls.LimitRange, []controlCase{
		{"LimitRange", []string{app, full}, ns, true, "LimitRange shop/defaults type Container"},
		{"LimitRange for claims only", []string{app, limitRange("{type: PersistentVolumeClaim, max: {storage: 10Gi}}")}, ns, false, ""},
		{"none", []string{app}, ns, false, ""},
	})
	runControlCases(t, controls.DefaultResourceLimits, []controlCase{
		{"defaults", []string{app, full}, ns, true, "containers without limits get cpu 500m, memory 256Mi"},
		{"max stands in for the default", []string{app, maxOnly}, ns, true, "cpu 2, memory 1Gi"},
		{"CPU only", []string{app, limitRange("{type: Container, default: {cpu: 500m}}")}, ns, false, ""},
	})
	runControlCases(t, controls.DefaultResourceRequests, []controlCase{
		{"defaults", []string{app, full}, ns, true, "containers without requests get cpu 100m, memory 64Mi"},
		{"max stands in for the request too", []string{app, maxOnly}, ns, true, "cpu 2, memory 1Gi"},
	})
	runControlCases(t, controls.ResourceQuota, []controlCase{
		{"compute quota", []string{app, quota("{limits.cpu: '8', limits.memory: 16Gi}")}, ns, true, "caps limits.cpu=8, limits.memory=16Gi"},
		{"object counts only", []string{app, quota("{count/secrets: '20'}")}, ns, false, ""},
	})
}

func TestAPIServerAudit(t *testing.T) {
	apiserver := func(args ...string) string {
		doc := "apiVersion: v1\nkind: Pod\nmetadata: {name: kube-apiserver, namespace: kube-system}\nspec:\n  containers:\n  - name: kube-apiserver\n    image: registry.k8s.io/kube-apiserver:v1.31.0\n    command:\n    - kube-apiserver\n"
		for _, a := range args {
			doc += "    - " + a + "\n"
		}
		return doc
	}
	target := "workload:kube-system/kube-apiserver"
	runControlCases(t, controls.APIAuditLogging, []controlCase{
		{"policy and log path", []string{apiserver("--audit-policy-file=/etc/kubernetes/audit-policy.yaml", "--audit-log-path=/var/log/kubernetes/audit.log")},
			target, true, "--audit-policy-file=/etc/kubernetes/audit-policy.yaml"},
		{"policy and webhook", []string{apiserver("--audit-policy-file=/etc/kubernetes/audit-policy.yaml", "--audit-webhook-config-file=/etc/kubernetes/audit-webhook.yaml")},
			target, true, "--audit-webhook-config-file"},
		{"a log path without a policy logs nothing", []string{apiserver("--audit-log-path=/var/log/kubernetes/audit.log")}, target, false, ""},
		{"no audit flags", []string{apiserver("--authorization-mode=Node,RBAC")}, target, false, ""},
	})
}
