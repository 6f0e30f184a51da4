package model

import (
	"slices"
	"strconv"
	"strings"

	corev1 "k8s.io/api/core/v1"
)

// schemeProtocol is what a URL scheme tells about the protocol spoken.
type schemeProtocol struct {
	protocol    string
	tls         bool
	defaultPort int32
}

// schemeProtocols maps URL schemes to protocols. Connection-string schemes
// are included because that is how most services name their databases.
var schemeProtocols = map[string]schemeProtocol{
	"http":        {"http", false, 80},
	"https":       {"http", true, 443},
	"ws":          {"http", false, 80},
	"wss":         {"http", true, 443},
	"grpc":        {"grpc", false, 0},
	"grpcs":       {"grpc", true, 0},
	"h2c":         {"http2", false, 0},
	"postgres":    {"postgres", false, 5432},
	"postgresql":  {"postgres", false, 5432},
	"mysql":       {"mysql", false, 3306},
	"mariadb":     {"mysql", false, 3306},
	"sqlserver":   {"mssql", false, 1433},
	"mongodb":     {"mongodb", false, 27017},
	"mongodb+srv": {"mongodb", true, 27017},
	"redis":       {"redis", false, 6379},
	"rediss":      {"redis", true, 6379},
	"memcached":   {"memcached", false, 11211},
	"amqp":        {"amqp", false, 5672},
	"amqps":       {"amqp", true, 5671},
	"kafka":       {"kafka", false, 9092},
	"nats":        {"nats", false, 4222},
	"tls":         {"tls", true, 0},
	"tcp":         {"tcp", false, 0},
	"ldap":        {"ldap", false, 389},
	"ldaps":       {"ldap", true, 636},
	"smtp":        {"smtp", false, 25},
	"smtps":       {"smtp", true, 465},
	"ftp":         {"ftp", false, 21},
	"cassandra":   {"cassandra", false, 9042},
	"zookeeper":   {"zookeeper", false, 2181},
	"etcd":        {"grpc", false, 2379},
	"thrift":      {"thrift", false, 0},
	"jaeger":      {"http", false, 0},
}

// wellKnownPorts are IANA and de-facto ports; used only when nothing better
// (a port name, appProtocol or URL scheme) says what is spoken.
var wellKnownPorts = map[int32]string{
	80: "http", 443: "https", 8080: "http", 8443: "https", 53: "dns",
	5432: "postgres", 3306: "mysql", 1433: "mssql", 1521: "oracle", 27017: "mongodb",
	6379: "redis", 11211: "memcached", 5672: "amqp", 5671: "amqps", 9092: "kafka",
	4222: "nats", 9200: "http", 9042: "cassandra", 2379: "grpc", 2181: "zookeeper",
	8500: "http", 5984: "http", 8086: "http", 26257: "postgres", 7687: "bolt",
	9000: "tcp", 25: "smtp", 465: "smtp", 389: "ldap", 636: "ldap",
	otlpGRPCPort: "grpc", otlpHTTPPort: "http", 50051: "grpc",
	// Defaults of tracing back ends and of data stores' side ports, which
	// an image clue would otherwise call by the store's main protocol:
	// Jaeger's query UI, collector (HTTP, gRPC) and Zipkin's API; Redis
	// Sentinel (RESP); RabbitMQ's management UI.
	16686: "http", 14268: "http", 14250: "grpc", 9411: "http", 26379: "redis", 15672: "http",
}

// engineProtocols names what a data store engine speaks on the wire, for
// the engines whose name is not already the protocol's; "" where the
// engine speaks several (ClickHouse: native and HTTP), so the image
// decides nothing.
var engineProtocols = map[string]string{
	"rabbitmq": "amqp", "elasticsearch": "http", "etcd": "grpc", "minio": "http", "consul": "http",
	"couchdb": "http", "influxdb": "http", "cockroachdb": "postgres", "neo4j": "bolt", "clickhouse": "",
}

// engineProtocol is the wire protocol of a data store engine.
func engineProtocol(engine string) string {
	if p, ok := engineProtocols[engine]; ok {
		return p
	}
	return engine
}

// The ports OpenTelemetry assigns to OTLP over gRPC and over HTTP.
const (
	otlpGRPCPort = 4317
	otlpHTTPPort = 4318
)

// portNameProtocols maps the leading word of a port name (Istio's naming
// convention "<protocol>[-<suffix>]") and appProtocol values to protocols.
var portNameProtocols = map[string]string{
	"http": "http", "http2": "http2", "https": "https", "grpc": "grpc", "grpc-web": "grpc-web",
	"h2c": "http2", "kubernetes.io/h2c": "http2", "kubernetes.io/ws": "http", "kubernetes.io/wss": "https",
	"tls": "tls", "tcp": "tcp", "udp": "udp", "mongo": "mongodb", "mongodb": "mongodb",
	"mysql": "mysql", "mssql": "mssql", "sqlserver": "mssql", "redis": "redis", "postgres": "postgres", "postgresql": "postgres",
	"amqp": "amqp", "kafka": "kafka", "nats": "nats", "memcached": "memcached", "memcache": "memcached",
	"thrift": "thrift", "dns": "dns", "cassandra": "cassandra", "zookeeper": "zookeeper", "metrics": "http",
	// OTLP's default transport is gRPC: the collector's ports are named
	// "otlp" (or "otlp-grpc") and "otlp-http".
	"otlp": "grpc", "otlp-grpc": "grpc", "otlp-http": "http",
}

// protocolFromName reads a port name or appProtocol: "grpc", "http-web",
// "tcp-postgres" (Istio's tcp prefix with a more telling suffix).
func protocolFromName(name string) string {
	name = strings.ToLower(name)
	if p, ok := portNameProtocols[name]; ok {
		return p
	}
	first, rest, _ := strings.Cut(name, "-")
	if first == "otlp" {
		second, _, _ := strings.Cut(rest, "-")
		if p, ok := portNameProtocols["otlp-"+second]; ok {
			return p // "otlp-http-collector"
		}
	}
	if first == "tcp" || first == "tls" {
		if p, ok := portNameProtocols[rest]; ok && rest != "" {
			return p
		}
	}
	if p, ok := portNameProtocols[first]; ok {
		return p
	}
	return ""
}

// encryptionOfProtocol says what a protocol name implies about TLS.
func encryptionOfProtocol(protocol string) (Encryption, bool) {
	switch protocol {
	case "https", "tls", "amqps":
		return EncryptionTLS, true
	}
	return EncryptionUnknown, false
}

// normaliseProtocol folds "https" into "http" + TLS, which is how edges carry it.
func normaliseProtocol(protocol string) string {
	switch protocol {
	case "https":
		return "http"
	case "amqps":
		return "amqp"
	}
	return protocol
}

func itoa(n int32) string { return strconv.Itoa(int(n)) }

// Protocol sources, in the order resolveProtocol weighs them: the first
// that says anything decides, and Edge.ProtocolSource records which.
//
//  1. "url-scheme"      a scheme that names one protocol (postgres://, redis://,
//     grpc://): the client library was chosen by it.
//  2. "otlp-protocol"   the workload's OTEL_EXPORTER_OTLP[_SIGNAL]_PROTOCOL
//     (grpc, http/protobuf, http/json) next to an OTLP endpoint.
//  3. "app-protocol"    the Service port's appProtocol.
//  4. "port-name"       the Service port's name, then the container port's
//     (Istio's "<protocol>[-<suffix>]" convention).
//  5. "otlp-port"       an OTLP variable (…OTLP…ENDPOINT) dialling 4317 (gRPC)
//     or 4318 (HTTP): OpenTelemetry's SDKs take http:// for both, so the
//     port says more than the scheme.
//  6. "variable-name"   a variable, key or flag whose name has the word grpc
//     (PRODUCT_CATALOG_GRPC_ADDR, --grpc-addr).
//  7. "url-scheme"      a generic scheme: http(s):// and ws(s):// say http,
//     but .NET and OTLP clients use them for gRPC too, hence below 3–6.
//  8. "well-known-port" the port number (IANA and de-facto ports).
//  9. "image"           the wire protocol of the data store engine the
//     target's image shows (RabbitMQ speaks amqp, Elasticsearch http).
//  10. "url-scheme"     tls:// as a last resort: it says how, not what.
//
// Protocols are named for what is on the wire (grpc, http, http2, postgres,
// redis, …; tcp when unknown): OTLP is gRPC or HTTP, and the "otlp-…"
// sources say that it is OTLP.

// protocolClues is everything that may say what a flow speaks.
type protocolClues struct {
	scheme string
	// varName is the variable, ConfigMap key or flag the address was
	// assigned to; declared is what a sibling variable declares
	// (OTEL_EXPORTER_OTLP_PROTOCOL), already read into a protocol.
	varName, declared string
	port              int32 // the port dialled
	servicePort       *corev1.ServicePort
	target            *IndexedWorkload
	targetNode        *Node
}

// genericSchemes name a transport many protocols ride on, not the protocol.
var genericSchemes = map[string]bool{"http": true, "https": true, "ws": true, "wss": true, "tcp": true, "tls": true}

// resolveProtocol decides the protocol of a flow from its clues, strongest
// first (see the list above), and says which clue decided.
func resolveProtocol(c protocolClues) (string, string) {
	sp, schemeKnown := schemeProtocols[c.scheme]
	if schemeKnown && !genericSchemes[c.scheme] {
		return sp.protocol, "url-scheme"
	}
	if c.declared != "" {
		return c.declared, "otlp-protocol"
	}
	port := c.port
	if p := c.servicePort; p != nil {
		port = p.Port
		if p.AppProtocol != nil {
			if proto := protocolFromName(*p.AppProtocol); proto != "" {
				return normaliseProtocol(proto), "app-protocol"
			}
		}
		if proto := protocolFromName(p.Name); proto != "" && proto != "tcp" {
			return normaliseProtocol(proto), "port-name"
		}
		if c.target != nil {
			if name := containerPortName(c.target.Template, p); name != "" {
				if proto := protocolFromName(name); proto != "" && proto != "tcp" {
					return normaliseProtocol(proto), "port-name"
				}
			}
		}
	}
	words := nameWords(c.varName)
	if slices.Contains(words, "otlp") {
		switch port {
		case otlpGRPCPort:
			return "grpc", "otlp-port"
		case otlpHTTPPort:
			return "http", "otlp-port"
		}
	}
	if slices.Contains(words, "grpc") {
		return "grpc", "variable-name"
	}
	if schemeKnown && sp.protocol != "tcp" && sp.protocol != "tls" {
		return sp.protocol, "url-scheme"
	}
	if proto, ok := wellKnownPorts[port]; ok {
		return normaliseProtocol(proto), "well-known-port"
	}
	if p := c.servicePort; p != nil && p.TargetPort.IntVal != 0 {
		if proto, ok := wellKnownPorts[p.TargetPort.IntVal]; ok {
			return normaliseProtocol(proto), "well-known-port"
		}
	}
	if c.targetNode != nil && c.targetNode.DataStore != nil && (c.target == nil || !sidecarPort(c.target.Template, c.port, c.servicePort)) {
		if proto := engineProtocol(c.targetNode.DataStore.Engine); proto != "" {
			return proto, "image"
		}
	}
	if c.scheme == "tls" {
		return "tls", "url-scheme"
	}
	return "tcp", ""
}

// sidecarPort reports whether the pod port a flow reaches is declared by a
// container whose image names no data store engine (a metrics exporter
// beside Redis): the store's engine says nothing about that port. A port
// no container declares is not known to be a sidecar's.
func sidecarPort(t PodTemplate, port int32, sp *corev1.ServicePort) bool {
	name, number := "", port
	if sp != nil {
		name, number = sp.TargetPort.StrVal, sp.TargetPort.IntVal
		if name == "" && number == 0 {
			number = sp.Port
		}
	}
	for _, cr := range t.Containers() {
		if cr.Init {
			continue
		}
		for _, cp := range cr.Container.Ports {
			if (name != "" && cp.Name == name) || (name == "" && cp.ContainerPort == number) {
				return EngineFromImage(ParseImage(cr.Container.Image)) == ""
			}
		}
	}
	return false
}

// nameWords splits a variable, key or flag name into lower-case words:
// "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "--grpc-addr", "otlp.endpoint".
func nameWords(name string) []string {
	return strings.FieldsFunc(strings.ToLower(name), func(r rune) bool {
		return r == '_' || r == '-' || r == '.' || r == '/'
	})
}

// otlpDeclaredProtocol reads OTEL_EXPORTER_OTLP_PROTOCOL's value ("grpc",
// "http/protobuf", "http/json") as a protocol, "" when it is none of them.
func otlpDeclaredProtocol(value string) string {
	switch v := strings.ToLower(strings.TrimSpace(value)); {
	case v == "grpc":
		return "grpc"
	case strings.HasPrefix(v, "http/"):
		return "http"
	}
	return ""
}

// otlpProtocolVariable names the variable that declares the protocol of an
// OTLP endpoint variable: OTEL_EXPORTER_OTLP_TRACES_ENDPOINT's is
// OTEL_EXPORTER_OTLP_TRACES_PROTOCOL; "" for other names.
func otlpProtocolVariable(endpointVar string) string {
	upper := strings.ToUpper(endpointVar)
	if !strings.HasPrefix(upper, "OTEL_EXPORTER_OTLP_") || !strings.HasSuffix(upper, "_ENDPOINT") {
		return ""
	}
	return endpointVar[:len(endpointVar)-len("ENDPOINT")] + "PROTOCOL"
}
