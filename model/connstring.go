package model

import (
	"strings"

	"github.com/stridemap/stridemap/internal/fields"
)

// connString is what a key=value connection string (ADO.NET, Npgsql,
// JDBC properties: "Host=db;Port=5432;Username=app;Password=…") says about
// the peer. It never holds the password: only whether there is one.
type connString struct {
	addresses   []address
	hasPassword bool
}

// connStringHostKeys are the keys drivers read the server from; the port
// is "Port" or follows the host ("db:5432", SQL Server's "db,1433").
var connStringHostKeys = map[string]bool{
	"host": true, "hostname": true, "host name": true, "server": true, "data source": true, "datasource": true,
	"address": true, "addr": true, "network address": true, "servers": true,
}

// connStringPasswordKeys hold a password in the drivers that read them.
var connStringPasswordKeys = map[string]bool{"password": true, "pwd": true, "pass": true, "passwd": true}

// parseConnectionString reads value as a one-line "key=value;key=value"
// connection string. ok is false for anything else, so configuration
// files and flags that merely contain ';' and '=' are left to addressesIn.
func parseConnectionString(value string) (connString, bool) {
	value = strings.TrimSpace(value)
	if strings.ContainsAny(value, "\n\r") || !strings.Contains(value, ";") {
		return connString{}, false
	}
	pairs := map[string]string{}
	var hostKey string
	for _, part := range strings.Split(value, ";") {
		if strings.TrimSpace(part) == "" {
			continue
		}
		key, v, ok := strings.Cut(part, "=")
		key = strings.ToLower(strings.TrimSpace(key))
		if !ok || !isConnStringKey(key) {
			return connString{}, false
		}
		pairs[key] = strings.Trim(strings.TrimSpace(v), `"'`)
		if connStringHostKeys[key] && hostKey == "" {
			hostKey = strings.TrimSpace(part[:strings.Index(part, "=")])
		}
	}
	var cs connString
	for key, v := range pairs {
		if connStringPasswordKeys[key] && v != "" && !isReference(v) {
			cs.hasPassword = true
		}
	}
	if hostKey == "" {
		return cs, len(pairs) >= 2
	}
	port, portGiven := int32(0), false
	if p, ok := pairs["port"]; ok {
		port, portGiven = fields.ParsePort(p)
	}
	enc, reason := connStringEncryption(pairs)
	for _, h := range splitConnStringHosts(pairs[strings.ToLower(hostKey)]) {
		host, hostPort, ok := splitHostPort(h)
		if !ok || !validHost(host) {
			continue
		}
		if hostPort == 0 && portGiven {
			hostPort = port
		}
		cs.addresses = append(cs.addresses, address{Host: host, Port: hostPort, Shown: hostPortString(host, hostPort),
			Encryption: enc, EncryptionReason: reason, Key: hostKey})
	}
	return cs, true
}

// isConnStringKey accepts the keys drivers use: words with spaces, dots,
// underscores ("User ID", "Trust Server Certificate", "ssl.mode").
func isConnStringKey(key string) bool {
	if key == "" || len(key) > 64 {
		return false
	}
	for _, r := range key {
		if !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == ' ' || r == '_' || r == '.' || r == '-') {
			return false
		}
	}
	return true
}

// isReference reports whether a value points at a secret instead of
// holding one: $(VAR), ${VAR}, {{ template }}, <fill-in>.
func isReference(v string) bool {
	return strings.HasPrefix(v, "$") || strings.HasPrefix(v, "{{") || strings.HasPrefix(v, "<") || strings.HasPrefix(v, "%")
}

// splitConnStringHosts lists the hosts of a server value: "tcp:db,1433"
// (SQL Server: one host, port after the comma), "db1:5432,db2" (Npgsql:
// several hosts), "db\SQLEXPRESS" (a named instance on db).
func splitConnStringHosts(v string) []string {
	v = strings.TrimSpace(v)
	// Not through strings.ToLower: it lengthens invalid UTF-8.
	if len(v) >= 4 && strings.EqualFold(v[:4], "tcp:") {
		v = v[4:]
	}
	if i := strings.Index(v, `\`); i >= 0 {
		j := strings.IndexAny(v[i:], ",:")
		if j < 0 {
			v = v[:i]
		} else {
			v = v[:i] + v[i+j:]
		}
	}
	host, port, ok := strings.Cut(v, ",")
	if ok && allDigits(strings.TrimSpace(port)) {
		return []string{strings.TrimSpace(host) + ":" + strings.TrimSpace(port)}
	}
	var out []string
	for _, h := range strings.Split(v, ",") {
		if h = strings.TrimSpace(h); h != "" {
			out = append(out, h)
		}
	}
	return out
}

func allDigits(s string) bool {
	if s == "" {
		return false
	}
	for _, r := range s {
		if r < '0' || r > '9' {
			return false
		}
	}
	return true
}

// connStringEncryption reads what the drivers' TLS keys say: Npgsql's and
// libpq's "SSL Mode", SQL Server's "Encrypt", "Ssl"/"UseSSL" elsewhere.
func connStringEncryption(pairs map[string]string) (Encryption, string) {
	for _, key := range []string{"sslmode", "ssl mode", "ssl-mode"} {
		v, ok := pairs[key]
		if !ok {
			continue
		}
		switch strings.ToLower(strings.ReplaceAll(v, "-", "")) {
		case "require", "verifyca", "verifyfull", "required", "verify_ca", "verify_identity":
			return EncryptionTLS, "connection string " + key + "=" + v
		case "disable", "disabled", "none", "allow", "prefer", "preferred":
			return EncryptionPlaintext, "connection string " + key + "=" + v
		}
	}
	for _, key := range []string{"encrypt", "ssl", "usessl", "use ssl", "tls"} {
		v, ok := pairs[key]
		if !ok {
			continue
		}
		switch strings.ToLower(v) {
		case "true", "yes", "1", "mandatory", "strict":
			return EncryptionTLS, "connection string " + key + "=" + v
		case "false", "no", "0", "optional":
			return EncryptionPlaintext, "connection string " + key + "=" + v
		}
	}
	return EncryptionUnknown, ""
}
