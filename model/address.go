package model

import (
	"net"
	"net/url"
	"strconv"
	"strings"

	"github.com/stridemap/stridemap/internal/fields"
)

// address is a network address found in a configuration value: a URL, a
// connection string, host:port, or a bare host name.
type address struct {
	Scheme string // lower case, "" when none ("jdbc:postgresql://" gives "postgresql")
	Host   string // lower case, no trailing dot
	Port   int32  // 0 when the value names none
	// Shown is the address as it may be displayed: user information and
	// query strings are removed, because connection strings carry passwords.
	Shown string
	// Encryption is what the value itself says about TLS ("https://",
	// "sslmode=require"), with the reason.
	Encryption       Encryption
	EncryptionReason string
	// Bare is true for a host with neither scheme nor port: such a token is
	// only an address when the variable's name says it holds one.
	Bare bool
	// Key is the flag or property name the value was assigned to
	// ("--redis-host" in "--redis-host=redis"), "" when none.
	Key string
}

// isHostLabel says label is one DNS label as Kubernetes allows it in
// Service names, [a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?, without a regular
// expression: every value of every workload's environment is tested.
func isHostLabel(label string) bool {
	if label == "" || len(label) > 63 || label[0] == '-' || label[len(label)-1] == '-' {
		return false
	}
	for i := 0; i < len(label); i++ {
		if c := label[i]; (c < 'a' || c > 'z') && (c < '0' || c > '9') && c != '-' {
			return false
		}
	}
	return true
}

// nonNetworkSchemes are URL schemes that never name a network peer.
var nonNetworkSchemes = map[string]bool{
	"file": true, "data": true, "mailto": true, "urn": true, "unix": true, "classpath": true, "jar": true,
}

// addressesIn finds the network addresses in one configuration value. A
// value may hold several: "kafka-0:9092,kafka-1:9092", JVM flags such as
// "-Dspring.datasource.url=jdbc:mysql://db:3306/x -Xmx1g", or a config file.
func addressesIn(value string) []address {
	if cs, ok := parseConnectionString(value); ok {
		return cs.addresses
	}
	var out []address
	for field := range strings.FieldsFuncSeq(value, func(r rune) bool {
		return r == ' ' || r == '\t' || r == '\n' || r == '\r' || r == ';' || r == '"' || r == '\'' || r == '`'
	}) {
		if strings.Contains(field, "://") {
			if a, ok := parseURLish(field); ok {
				out = append(out, a...)
			}
			continue
		}
		for token := range strings.SplitSeq(field, ",") {
			key := ""
			if before, after, ok := strings.Cut(token, "="); ok {
				key, token = before, after // --flag=host:port, -Dkey=host:port
			}
			if a, ok := parseHostPort(strings.Trim(token, "(){}<>")); ok {
				a.Key = key
				out = append(out, a)
			}
		}
	}
	return out
}

// parseURLish parses scheme://[user@]host[:port][,host[:port]…][/path][?query]
// starting wherever a scheme begins inside field (after "--flag=" or "jdbc:").
func parseURLish(field string) ([]address, bool) {
	i := strings.Index(field, "://")
	start := i
	for start > 0 && isSchemeChar(field[start-1]) {
		start--
	}
	scheme := strings.ToLower(field[start:i])
	if scheme == "" || nonNetworkSchemes[scheme] {
		return nil, false
	}
	rest := field[i+3:]
	authority := rest
	if j := strings.IndexAny(rest, "/?#"); j >= 0 {
		authority = rest[:j]
	}
	var query url.Values
	if j := strings.Index(rest, "?"); j >= 0 {
		q := rest[j+1:]
		if k := strings.Index(q, "#"); k >= 0 {
			q = q[:k]
		}
		query, _ = url.ParseQuery(q)
	}
	if at := strings.LastIndex(authority, "@"); at >= 0 {
		authority = authority[at+1:]
	}
	enc, reason := schemeEncryption(scheme, query)
	var out []address
	for hp := range strings.SplitSeq(authority, ",") { // mongodb://a:27017,b:27017/db
		if strings.Contains(hp, "$") {
			continue // unexpanded ${VAR}
		}
		host, port, ok := splitHostPort(hp)
		if !ok || !validHost(host) {
			continue
		}
		shown := scheme + "://" + hostPortString(host, port)
		out = append(out, address{Scheme: scheme, Host: host, Port: port, Shown: shown, Encryption: enc, EncryptionReason: reason})
	}
	return out, len(out) > 0
}

func isSchemeChar(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '+' || c == '-' || c == '.'
}

// parseHostPort accepts "host:port" and a bare "host".
func parseHostPort(token string) (address, bool) {
	if token == "" || strings.Contains(token, "$") || strings.Contains(token, "/") {
		return address{}, false
	}
	host, port, ok := splitHostPort(token)
	if !ok || !validHost(host) {
		return address{}, false
	}
	if port == 0 && strings.Contains(token, ":") && !strings.HasPrefix(token, "[") {
		return address{}, false // "a:b" where b is not a port: not an address
	}
	if port == 0 && notHosts[host] {
		return address{}, false
	}
	return address{Host: host, Port: port, Shown: hostPortString(host, port), Bare: port == 0, Encryption: EncryptionUnknown}, true
}

// notHosts are words that fill configuration values but never name a host.
var notHosts = map[string]bool{
	"true": true, "false": true, "yes": true, "no": true, "on": true, "off": true, "null": true, "none": true,
	"enabled": true, "disabled": true, "debug": true, "info": true, "warn": true, "error": true, "default": true,
}

// splitHostPort splits host[:port]; ok is false for a malformed port.
func splitHostPort(s string) (string, int32, bool) {
	s = strings.ToLower(s)
	if strings.HasPrefix(s, "[") { // [::1]:80
		end := strings.Index(s, "]")
		if end < 0 {
			return "", 0, false
		}
		host, rest := s[1:end], s[end+1:]
		if rest == "" {
			return host, 0, true
		}
		if !strings.HasPrefix(rest, ":") {
			return "", 0, false
		}
		port, ok := fields.ParsePort(rest[1:])
		return host, port, ok
	}
	host, portText, hasPort := strings.Cut(s, ":")
	if !hasPort {
		return strings.TrimSuffix(host, "."), 0, true
	}
	port, ok := fields.ParsePort(portText)
	if !ok {
		return "", 0, false
	}
	return strings.TrimSuffix(host, "."), port, true
}

// validHost accepts DNS names with at least one letter (so "10" from "10:30"
// is not a host) and IP addresses.
func validHost(host string) bool {
	if net.ParseIP(host) != nil {
		return true
	}
	if host == "" || len(host) > 253 || !strings.ContainsAny(host, "abcdefghijklmnopqrstuvwxyz") {
		return false
	}
	for label := range strings.SplitSeq(host, ".") {
		if !isHostLabel(label) {
			return false
		}
	}
	return true
}

func hostPortString(host string, port int32) string {
	if strings.Contains(host, ":") {
		host = "[" + host + "]"
	}
	if port == 0 {
		return host
	}
	return host + ":" + strconv.Itoa(int(port))
}

// schemeEncryption reads what a URL says about encryption: the scheme
// itself (https, rediss, amqps) or a query parameter (sslmode, tls, ssl).
func schemeEncryption(scheme string, query url.Values) (Encryption, string) {
	switch query.Get("sslmode") {
	case "require", "verify-ca", "verify-full":
		return EncryptionTLS, "connection string sslmode=" + query.Get("sslmode")
	case "disable", "allow", "prefer":
		return EncryptionPlaintext, "connection string sslmode=" + query.Get("sslmode")
	}
	for _, key := range []string{"tls", "ssl", "useSSL"} {
		switch strings.ToLower(query.Get(key)) {
		case "true", "1":
			return EncryptionTLS, "connection string " + key + "=" + query.Get(key)
		case "false", "0":
			return EncryptionPlaintext, "connection string " + key + "=" + query.Get(key)
		}
	}
	if p, ok := schemeProtocols[scheme]; ok {
		if p.tls {
			return EncryptionTLS, "URL scheme " + scheme + "://"
		}
		if scheme == "http" || scheme == "ws" {
			return EncryptionPlaintext, "URL scheme " + scheme + "://"
		}
	}
	return EncryptionUnknown, ""
}

// addressSuffixes end the names of variables and flags whose value is a
// network address; only then is a bare host name ("orders-db") taken as a
// reference.
var addressSuffixes = []string{"host", "hostname", "addr", "address", "url", "uri", "endpoint", "server", "servers", "broker",
	"brokers", "dsn", "upstream", "backend", "peers", "seeds", "nodes", "service_name", "svc"}

// nameSeparators turns the separators of variable and flag names into '_',
// so "redis-addr" and "orders.endpoint" compare as REDIS_ADDR would.
var nameSeparators = strings.NewReplacer("-", "_", ".", "_")

// isAddressName reports whether name (an env var or a "--flag") announces an
// address. "DB_HOST", "--redis-addr", "orders.endpoint" all do.
func isAddressName(name string) bool {
	name = nameSeparators.Replace(strings.ToLower(strings.TrimLeft(name, "-")))
	for _, suffix := range addressSuffixes {
		if strings.HasSuffix(name, suffix) {
			return true
		}
	}
	return false
}

// telemetryPrefixes start the names of variables that configure an agent
// or SDK of tracing, metrics or error reporting, where DD_SERVICE or
// JAEGER_SERVICE_NAME is the name the workload reports itself as.
var telemetryPrefixes = map[string]bool{
	"otel": true, "opentelemetry": true, "jaeger": true, "zipkin": true, "dd": true, "datadog": true, "elastic": true,
	"newrelic": true, "new": true, "sentry": true, "apm": true, "tracing": true, "tracer": true, "lightstep": true,
	"honeycomb": true, "signalfx": true, "splunk": true, "instana": true, "pyroscope": true,
}

// ownNames end the names that say what a workload is called rather than
// whom it calls: OTEL_SERVICE_NAME, SERVICE_NAME, spring.application.name.
var ownNames = []string{"service_name", "service", "app_name", "application_name", "resource_attributes", "service_namespace"}

// namesItself reports whether a variable, key or flag names the workload
// itself (its name in telemetry), so that its value is never a reference:
// OTEL_SERVICE_NAME, OTEL_RESOURCE_ATTRIBUTES, DD_SERVICE, service.name,
// SERVICE_NAME, spring.application.name.
func namesItself(name string) bool {
	words := nameWords(name)
	if len(words) == 0 {
		return false
	}
	joined := strings.Join(words, "_")
	switch joined {
	case "service_name", "app_name", "application_name", "spring_application_name", "resource_attributes":
		return true
	}
	if !telemetryPrefixes[words[0]] {
		return false
	}
	for _, own := range ownNames {
		if strings.HasSuffix(joined, "_"+own) {
			return true
		}
	}
	return false
}

// namesService reports whether a name is FOO_SERVICE_NAME or
// --service-name: a name a peer may be found by, or the workload's own
// name; its value counts only when a Service has that name.
func namesService(name string) bool {
	return strings.HasSuffix(strings.Join(nameWords(name), "_"), "service_name")
}
