package model

import (
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
)

// TestResolveProtocolOrder gives the resolver two clues at a time that
// disagree: the stronger must decide, and the source must say which.
func TestResolveProtocolOrder(t *testing.T) {
	grpc := "grpc"
	port := func(name string, number int32, appProtocol *string) *corev1.ServicePort {
		return &corev1.ServicePort{Name: name, Port: number, AppProtocol: appProtocol, TargetPort: intstr.FromInt32(number)}
	}
	store := &Node{DataStore: &DataStoreInfo{Engine: "postgres"}}
	redis := &Node{DataStore: &DataStoreInfo{Engine: "redis"}}
	redisPod := &IndexedWorkload{Template: PodTemplate{SpecPath: "spec.template.spec", Spec: &corev1.PodSpec{Containers: []corev1.Container{
		{Name: "redis", Image: "redis:7.4", Ports: []corev1.ContainerPort{{Name: "redis", ContainerPort: 16379}}},
		{Name: "exporter", Image: "oliver006/redis_exporter:v1.62.0", Ports: []corev1.ContainerPort{{ContainerPort: 19121}}},
	}}}}
	tests := []struct {
		name         string
		clues        protocolClues
		want, source string
	}{
		{"specific scheme beats appProtocol", protocolClues{scheme: "redis", servicePort: port("tcp", 6379, &grpc)}, "redis", "url-scheme"},
		{"OTLP protocol variable beats appProtocol", protocolClues{scheme: "http", declared: "http", servicePort: port("otlp", 4317, &grpc)}, "http", "otlp-protocol"},
		{"appProtocol beats port name", protocolClues{servicePort: port("http", 8080, &grpc)}, "grpc", "app-protocol"},
		{"port name beats OTLP port", protocolClues{varName: "OTEL_EXPORTER_OTLP_ENDPOINT", scheme: "http", servicePort: port("http-otlp", 4317, nil)}, "http", "port-name"},
		{"OTLP port beats http scheme", protocolClues{varName: "OTEL_EXPORTER_OTLP_ENDPOINT", scheme: "http", port: 4317}, "grpc", "otlp-port"},
		{"OTLP/HTTP port", protocolClues{varName: "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", scheme: "https", port: 4318}, "http", "otlp-port"},
		{"OTLP port only in an OTLP variable", protocolClues{varName: "COLLECTOR_URL", scheme: "http", port: 4317}, "http", "url-scheme"},
		{"grpc in the name beats http scheme", protocolClues{varName: "CURRENCY_GRPC_ADDR", scheme: "http", servicePort: port("tcp-service", 8080, nil)}, "grpc", "variable-name"},
		{"grpc word, not a substring", protocolClues{varName: "GRPCURL_HOME", port: 8080}, "http", "well-known-port"},
		{"http scheme beats the port", protocolClues{scheme: "http", port: 5432}, "http", "url-scheme"},
		{"tcp scheme says nothing", protocolClues{scheme: "tcp", servicePort: port("redis", 6379, nil)}, "redis", "port-name"},
		{"well-known port beats the image", protocolClues{port: 8080, targetNode: store}, "http", "well-known-port"},
		{"image last", protocolClues{port: 15432, targetNode: store}, "postgres", "image"},
		{"image on the engine container's port", protocolClues{port: 16379, target: redisPod, targetNode: redis}, "redis", "image"},
		{"image says nothing of a sidecar's port", protocolClues{port: 19121, target: redisPod, targetNode: redis}, "tcp", ""},
		{"image on a port no container declares", protocolClues{port: 16380, target: redisPod, targetNode: redis}, "redis", "image"},
		{"image names the engine's wire protocol", protocolClues{port: 15673, targetNode: &Node{DataStore: &DataStoreInfo{Engine: "rabbitmq"}}}, "amqp", "image"},
		{"image of an engine with several protocols says nothing", protocolClues{port: 9440, targetNode: &Node{DataStore: &DataStoreInfo{Engine: "clickhouse"}}}, "tcp", ""},
		{"a store's side port beats its image", protocolClues{port: 15672, targetNode: &Node{DataStore: &DataStoreInfo{Engine: "rabbitmq"}}}, "http", "well-known-port"},
		{"Jaeger's query port", protocolClues{servicePort: port("", 16686, nil)}, "http", "well-known-port"},
		{"Jaeger's gRPC collector port", protocolClues{servicePort: port("tcp2", 14250, nil)}, "grpc", "well-known-port"},
		{"tls scheme when nothing else", protocolClues{scheme: "tls", port: 15000}, "tls", "url-scheme"},
		{"nothing", protocolClues{port: 15000}, "tcp", ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, source := resolveProtocol(tc.clues)
			if got != tc.want || source != tc.source {
				t.Errorf("resolveProtocol = %s from %q, want %s from %q", got, source, tc.want, tc.source)
			}
		})
	}
}

// TestRelateVariables joins hosts and ports given apart, whatever the
// separator or the source, and leaves alone what is not a pair.
func TestRelateVariables(t *testing.T) {
	refs := []reference{
		{nameHint: "FLAGD_HOST", value: "flagd", detail: "env FLAGD_HOST"},
		{nameHint: "FLAGD_PORT", value: "8013", detail: "env FLAGD_PORT"},
		{nameHint: "db.host", value: "Postgres", detail: "ConfigMap key db.host"},
		{nameHint: "db.port", value: " 5432 ", detail: "ConfigMap key db.port"},
		{nameHint: "REDIS_MASTER_SERVICE_HOST", value: "redis-master", detail: "env REDIS_MASTER_SERVICE_HOST"},
		{nameHint: "REDIS_MASTER_SERVICE_PORT", value: "6379", detail: "env REDIS_MASTER_SERVICE_PORT"},
		{nameHint: "VALKEY_ADDR", value: "valkey:6379", detail: "env VALKEY_ADDR"},
		{nameHint: "VALKEY_PORT", value: "6380", detail: "env VALKEY_PORT"},
		{nameHint: "MAIL_SERVER", value: "smtp", detail: "env MAIL_SERVER"},
		{nameHint: "MAIL_PORT", value: "not-a-port", detail: "env MAIL_PORT"},
		{nameHint: "OTEL_EXPORTER_OTLP_METRICS_ENDPOINT", value: "http://collector:4318"},
		{nameHint: "OTEL_EXPORTER_OTLP_METRICS_PROTOCOL", value: "grpc"},
		{nameHint: "OTEL_EXPORTER_OTLP_ENDPOINT", value: "http://collector:4317"},
		{nameHint: "OTEL_EXPORTER_OTLP_PROTOCOL", value: "http/protobuf"},
	}
	relateVariables(refs)
	for _, tc := range []struct {
		i                       int
		value, detail, protocol string
	}{
		{0, "flagd:8013", "env FLAGD_HOST and env FLAGD_PORT", ""},
		{2, "postgres:5432", "ConfigMap key db.host and ConfigMap key db.port", ""},
		{4, "redis-master:6379", "env REDIS_MASTER_SERVICE_HOST and env REDIS_MASTER_SERVICE_PORT", ""},
		{6, "valkey:6379", "env VALKEY_ADDR", ""},
		{8, "smtp", "env MAIL_SERVER", ""},
		{10, "http://collector:4318", "", "grpc"},
		{12, "http://collector:4317", "", "http"},
	} {
		r := refs[tc.i]
		if r.value != tc.value || r.detail != tc.detail || r.declaredProtocol != tc.protocol {
			t.Errorf("%s = %q (%q, protocol %q), want %q (%q, protocol %q)", r.nameHint, r.value, r.detail, r.declaredProtocol, tc.value, tc.detail, tc.protocol)
		}
	}
}

func TestNamesItself(t *testing.T) {
	for name, want := range map[string]bool{
		"OTEL_SERVICE_NAME": true, "OTEL_RESOURCE_ATTRIBUTES": true, "DD_SERVICE": true, "JAEGER_SERVICE_NAME": true,
		"service.name": true, "SERVICE_NAME": true, "spring.application.name": true, "NEW_RELIC_APP_NAME": true,
		"SHIPPING_SERVICE_NAME": false, "OTEL_EXPORTER_OTLP_ENDPOINT": false, "DB_HOST": false, "JAEGER_AGENT_HOST": false,
	} {
		if got := namesItself(name); got != want {
			t.Errorf("namesItself(%q) = %v, want %v", name, got, want)
		}
	}
}

func TestParseConnectionString(t *testing.T) {
	tests := []struct {
		value    string
		shown    []string
		enc      Encryption
		password bool
	}{
		{"Host=db;Port=5432;Username=u;Password=p", []string{"db:5432"}, EncryptionUnknown, true},
		{"Server=tcp:mssql,1433;Database=Orders;User ID=app;Pwd=x;Encrypt=True", []string{"mssql:1433"}, EncryptionTLS, true},
		{`Data Source=sql01\SQLEXPRESS;Initial Catalog=shop;Integrated Security=SSPI`, []string{"sql01"}, EncryptionUnknown, false},
		{"Host=db1:5433,db2;Port=5432;SSL Mode=Require;Password=$(DB_PASSWORD)", []string{"db1:5433", "db2:5432"}, EncryptionTLS, false},
		{"server=mysql;port=3306;database=x;uid=root;password=;sslmode=none", []string{"mysql:3306"}, EncryptionPlaintext, false},
		{"Database=x;Password=hunter2", nil, EncryptionUnknown, true},
	}
	for _, tc := range tests {
		cs, ok := parseConnectionString(tc.value)
		if !ok {
			t.Errorf("%q: not read as a connection string", tc.value)
			continue
		}
		var shown []string
		for _, a := range cs.addresses {
			shown = append(shown, a.Shown)
			if a.Encryption != tc.enc {
				t.Errorf("%q: encryption %s, want %s", tc.value, a.Encryption, tc.enc)
			}
		}
		if strings.Join(shown, " ") != strings.Join(tc.shown, " ") || cs.hasPassword != tc.password {
			t.Errorf("%q = %v (password %v), want %v (password %v)", tc.value, shown, cs.hasPassword, tc.shown, tc.password)
		}
	}
	for _, notOne := range []string{"proxy_pass http://api;", "a=b", "key=value; other text here", "Host=db\nPort=5432;"} {
		if _, ok := parseConnectionString(notOne); ok {
			t.Errorf("%q read as a connection string", notOne)
		}
	}
}

// FuzzParseConnectionString: any input parses without panicking and no
// password reaches what is shown; a string built from a host, a port and a
// password gives back that host and port.
func FuzzParseConnectionString(f *testing.F) {
	f.Add("orders-db", uint16(5432), "hunter2", "Host=a;Port=1;Password=b;SSL Mode=Require")
	f.Add("mssql", uint16(1433), "p;w", `Server=tcp:x,1433;Pwd=y`)
	f.Add("db.shop", uint16(0), "", "Data Source=h;User ID=u")
	f.Fuzz(func(t *testing.T, host string, port uint16, password, raw string) {
		parseConnectionString(raw) // must not panic
		HasPassword(raw)
		if !validHost(host) || strings.ContainsAny(password, ";\n\r\"'") || port == 0 {
			return
		}
		canary := "pw-" + password + "-canary"
		written := host
		if strings.Contains(host, ":") {
			written = "[" + host + "]" // an IPv6 address, as drivers want it
		}
		value := "Host=" + written + ";Port=" + itoa(int32(port)) + ";Username=app;Password=" + canary
		cs, ok := parseConnectionString(value)
		if !ok || len(cs.addresses) != 1 || !cs.hasPassword {
			t.Fatalf("%q = %+v, %v", value, cs, ok)
		}
		a := cs.addresses[0]
		if a.Host != strings.TrimSuffix(strings.ToLower(host), ".") || a.Port != int32(port) {
			t.Errorf("%q gave %s:%d", value, a.Host, a.Port)
		}
		for _, field := range []string{a.Host, a.Shown, a.Key, a.Scheme, a.EncryptionReason} {
			if strings.Contains(field, canary) {
				t.Errorf("%q shows its password in %q", value, field)
			}
		}
	})
}
