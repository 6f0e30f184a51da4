package model

import (
	"strconv"
	"strings"
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
}

// portNameProtocols maps the leading word of a port name (Istio's naming
// convention "<protocol>[-<suffix>]") and appProtocol values to protocols.
var portNameProtocols = map[string]string{
	"http": "http", "http2": "http2", "https": "https", "grpc": "grpc", "grpc-web": "grpc-web",
	"h2c": "http2", "kubernetes.io/h2c": "http2", "kubernetes.io/ws": "http", "kubernetes.io/wss": "https",
	"tls": "tls", "tcp": "tcp", "udp": "udp", "mongo": "mongodb", "mongodb": "mongodb",
	"mysql": "mysql", "redis": "redis", "postgres": "postgres", "postgresql": "postgres",
	"amqp": "amqp", "kafka": "kafka", "nats": "nats", "memcached": "memcached", "memcache": "memcached",
	"thrift": "thrift", "dns": "dns", "cassandra": "cassandra", "zookeeper": "zookeeper", "metrics": "http",
}

// protocolFromName reads a port name or appProtocol: "grpc", "http-web",
// "tcp-postgres" (Istio's tcp prefix with a more telling suffix).
func protocolFromName(name string) string {
	name = strings.ToLower(name)
	if p, ok := portNameProtocols[name]; ok {
		return p
	}
	first, rest, _ := strings.Cut(name, "-")
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
