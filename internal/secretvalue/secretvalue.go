// Package secretvalue decides, from the shape of a value alone, whether a
// value that a credential-like name holds can be a secret. Every check that
// looks at a possible secret value lives here, so the manifests decoder,
// the model and the detectors agree; none of them keeps or prints the value.
package secretvalue

import (
	"bytes"
	"encoding/pem"
	"net/url"
	"path"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// Shape names what a value looks like when it cannot be a credential, so a
// reviewer can be told why a variable named like a token was not flagged.
type Shape string

const (
	// Secret: nothing rules the value out; with a credential-like name it
	// is taken for a credential.
	Secret      Shape = ""
	Empty       Shape = "empty"
	Number      Shape = "number"
	Duration    Shape = "duration"
	Boolean     Shape = "boolean"
	Reference   Shape = "reference" // $(VAR), ${VAR}, {{ template }}, <fill-in>, vault:path
	FilePath    Shape = "file path" // /var/run/secrets/token
	PlainURL    Shape = "URL without credentials"
	Placeholder Shape = "placeholder" // null, none, nil
	Setting     Shape = "setting"     // a word of the authentication vocabulary: jwt, opaque, bearer, RS256
)

// Of says what a literal value is when it cannot be a credential, or
// Secret when it may be one. A URL that embeds a password is a Secret.
func Of(value string) Shape {
	v := strings.TrimSpace(value)
	switch {
	case v == "":
		return Empty
	case isBoolean(v):
		return Boolean
	case isNumber(v):
		return Number
	case isDuration(v):
		return Duration
	case isReference(v):
		return Reference
	case strings.EqualFold(v, "null") || strings.EqualFold(v, "none") || strings.EqualFold(v, "nil"):
		return Placeholder
	case isFilePath(v):
		return FilePath
	case settingWords[strings.ToLower(v)]:
		return Setting
	}
	if plainURL(v) {
		return PlainURL
	}
	return Secret
}

// HasURLPassword reports whether a value embeds a password in a URL's user
// information ("postgres://app:hunter2@db/app"), anywhere in it.
func HasURLPassword(value string) bool {
	for _, field := range strings.Fields(value) {
		i := strings.Index(field, "://")
		if i < 0 {
			continue
		}
		rest := field[i+3:]
		if end := strings.IndexAny(rest, "/?#"); end >= 0 {
			rest = rest[:end]
		}
		if at := strings.LastIndex(rest, "@"); at >= 0 && strings.Contains(rest[:at], ":") {
			return true
		}
	}
	return false
}

// settingWords are values that settings named like credentials take
// (STRATEGIES_ACCESS_TOKEN=jwt, TOKEN_SIGNING_ALG=RS256,
// API_KEY_LOCATION=header): words of the vocabulary, never secrets.
var settingWords = map[string]bool{
	"jwt": true, "opaque": true, "bearer": true, "basic": true, "digest": true, "header": true, "cookie": true, "query": true,
	"hs256": true, "hs384": true, "hs512": true, "rs256": true, "rs384": true, "rs512": true, "es256": true, "es384": true,
	"es512": true, "ps256": true, "eddsa": true, "bcrypt": true, "argon2": true, "argon2id": true, "pbkdf2": true, "scrypt": true,
	"sha256": true, "sha512": true, "plain": true, "s256": true,
}

func isBoolean(v string) bool {
	switch strings.ToLower(v) {
	case "true", "false", "yes", "no", "on", "off", "enabled", "disabled":
		return true
	}
	return false
}

// isNumber accepts integers and decimals as configuration writes them
// ("3600", "-1", "0.5", "1e6"), not hexadecimal, which key material is.
func isNumber(v string) bool {
	if strings.HasPrefix(v, "0x") || strings.HasPrefix(v, "0X") {
		return false
	}
	_, err := strconv.ParseFloat(v, 64)
	return err == nil && !strings.ContainsAny(v, "nN") // not NaN, Inf
}

// isDuration accepts Go durations ("30s", "1h30m") and a number with one
// day or week unit ("7d", "2w"), as TTL settings are written.
func isDuration(v string) bool {
	if _, err := time.ParseDuration(v); err == nil {
		return true
	}
	if n := len(v); n >= 2 && (v[n-1] == 'd' || v[n-1] == 'w') {
		_, err := strconv.ParseUint(v[:n-1], 10, 32)
		return err == nil
	}
	return false
}

func isReference(v string) bool {
	switch {
	case strings.HasPrefix(v, "${") && strings.HasSuffix(v, "}"),
		strings.HasPrefix(v, "$(") && strings.HasSuffix(v, ")"),
		strings.HasPrefix(v, "{{") && strings.HasSuffix(v, "}}"),
		strings.HasPrefix(v, "<") && strings.HasSuffix(v, ">"),
		strings.HasPrefix(v, "vault:"),
		strings.HasPrefix(v, "$__") && strings.HasSuffix(v, "}"): // Grafana's $__file{…}, $__env{…}
		return true
	}
	return len(v) > 1 && v[0] == '$' && isIdentifier(v[1:]) // $VAR, expanded from the environment
}

func isIdentifier(s string) bool {
	for i, r := range s {
		if !(r == '_' || 'a' <= r && r <= 'z' || 'A' <= r && r <= 'Z' || i > 0 && '0' <= r && r <= '9') {
			return false
		}
	}
	return s != ""
}

// isFilePath accepts an absolute path or one relative to the working
// directory, made of path characters only: a secret read from a file.
func isFilePath(v string) bool {
	if !strings.HasPrefix(v, "/") && !strings.HasPrefix(v, "./") && !strings.HasPrefix(v, "~/") {
		return false
	}
	for _, r := range v {
		if !(r == '/' || r == '.' || r == '-' || r == '_' || r == '~' || r == '@' || r == ':' ||
			'a' <= r && r <= 'z' || 'A' <= r && r <= 'Z' || '0' <= r && r <= '9') {
			return false
		}
	}
	return !strings.Contains(v, "//")
}

// plainURL reports whether v is a URL that carries no credentials: no
// user information, no query parameter named like one.
func plainURL(v string) bool {
	if !strings.Contains(v, "://") || strings.ContainsAny(v, " \t\n") {
		return false
	}
	u, err := url.Parse(v)
	if err != nil || u.Scheme == "" || u.Host == "" || u.User != nil {
		return false
	}
	for name := range u.Query() {
		switch strings.ToLower(name) {
		case "password", "pass", "pwd", "token", "secret", "key", "apikey", "api_key", "access_token", "sig", "signature", "x-amz-signature":
			return false
		}
	}
	return true
}

// publicKeySuffixes end the names of Secret keys that by convention hold
// public material: certificates and public keys, not what they pair with.
var publicKeySuffixes = []string{".pub", ".crt", ".cer", ".cert", ".der", "ca.pem", "cert.pem", "publickey", "public-key", "public_key", "pubkey"}

// IsPublicMaterial reports whether one entry of a Secret holds only
// public material: PEM certificates, public keys or CRLs, or an OpenSSH
// public key, whatever the key's name; and under a key named as such
// material is (ca.crt, id_rsa.pub), also nothing at all or DER (binary
// ASN.1), as certificates are stored. A private key, or any other text,
// is not, whatever the name.
func IsPublicMaterial(key string, value []byte) bool {
	v := bytes.TrimSpace(value)
	if bytes.Contains(v, []byte("PRIVATE KEY")) {
		return false
	}
	if bytes.HasPrefix(v, []byte("-----BEGIN ")) {
		return onlyPublicPEM(v)
	}
	for _, prefix := range []string{"ssh-rsa ", "ssh-ed25519 ", "ecdsa-sha2-", "sk-ssh-ed25519@openssh.com "} {
		if bytes.HasPrefix(v, []byte(prefix)) && !bytes.ContainsAny(v, "\n") {
			return true
		}
	}
	lower := strings.ToLower(key)
	for _, suffix := range publicKeySuffixes {
		if strings.HasSuffix(lower, suffix) {
			return len(v) == 0 || (len(v) > 2 && v[0] == 0x30 && v[1] >= 0x80) // DER: a SEQUENCE with a long length
		}
	}
	return false
}

// onlyPublicPEM reports whether every block of a PEM text is a
// certificate, a public key or a CRL, and there is at least one.
func onlyPublicPEM(v []byte) bool {
	blocks := 0
	for len(v) > 0 {
		block, rest := pem.Decode(v)
		if block == nil {
			break
		}
		switch block.Type {
		case "CERTIFICATE", "TRUSTED CERTIFICATE", "PUBLIC KEY", "RSA PUBLIC KEY", "X509 CRL", "CERTIFICATE REQUEST", "NEW CERTIFICATE REQUEST":
			blocks++
		default:
			return false
		}
		v = rest
	}
	return blocks > 0 && len(bytes.TrimSpace(v)) == 0
}

// configFileExtensions end the names of config files: a Secret's key that
// holds a whole one (grafana.ini, datasources.yaml), a path on a command
// line ("redis-server /data/conf/redis.conf").
var configFileExtensions = []string{".ini", ".yaml", ".yml", ".json", ".conf", ".cnf", ".cfg", ".toml", ".properties"}

// IsConfigFileName reports whether a file name or path names a config file
// by its extension.
func IsConfigFileName(name string) bool {
	return slices.Contains(configFileExtensions, strings.ToLower(path.Ext(name)))
}

// credentialHints are fragments whose presence anywhere in a config file,
// in any case, may mean it holds a credential: a key named like one, a
// URL with user information, a certificate or key.
var credentialHints = []string{"pass", "pwd", "secret", "token", "key", "cred", "auth", "private", "cert",
	"sasl", "jaas", "bearer", "session", "salt", "cookie", "sign", "@"}

// maxPlainConfigBytes bounds the files IsPlainConfig reads.
const maxPlainConfigBytes = 64 << 10

// IsPlainConfig reports whether one entry of a Secret is a config file,
// by its key's extension, whose text mentions nothing a credential could
// be: no key, URL or block named or shaped like one. Real installs put
// whole config files in Secrets for convenience (kube-prometheus's
// grafana.ini holds only a time zone); they are not secrets in the
// manifests. The check is deliberately blunt: a single "auth" or "@"
// anywhere keeps the value secret.
func IsPlainConfig(key string, value []byte) bool {
	if !IsConfigFileName(key) || len(value) > maxPlainConfigBytes || !utf8.Valid(value) || bytes.IndexByte(value, 0) >= 0 {
		return false
	}
	lower := bytes.ToLower(value)
	for _, hint := range credentialHints {
		if bytes.Contains(lower, []byte(hint)) {
			return false
		}
	}
	return len(bytes.TrimSpace(value)) > 0
}
