package model

import (
	"crypto/sha256"
	"encoding/hex"
	"maps"
	"strings"
)

// RedactedPrefix starts the value kept in place of a label or annotation
// value that looks like a credential. What follows is a fingerprint: the
// first 12 hex digits of SHA-256 over the key and the value, enough to
// tell that a value changed between scans, never the value itself.
const RedactedPrefix = "redacted:sha256:"

// IsRedacted reports whether a label or annotation value was replaced by
// its fingerprint.
func IsRedacted(value string) bool { return strings.HasPrefix(value, RedactedPrefix) }

// screened is value, or its fingerprint when it looks like a credential
// by the same test as a container's environment: the key names a secret
// and the value could be one, or the value embeds a password (a URL's, a
// connection string's).
func screened(key, value string) string {
	if !IsLiteralSecret(key, value) {
		return value
	}
	sum := sha256.Sum256([]byte(key + "\x00" + value))
	return RedactedPrefix + hex.EncodeToString(sum[:6])
}

// screenedLabels gives labels with credential-like values fingerprinted,
// so the graph, the store and exports never hold them. Selectors are
// matched on the objects before this, so nothing else changes. Labels
// with nothing to screen, nearly all, are the object's own map rather than
// a copy: the graph outlives the decoded objects, and nothing writes to
// either (at 313,000 objects the copies were 78 MB).
func screenedLabels(in map[string]string) Labels {
	if len(in) == 0 {
		return nil
	}
	var out Labels
	for k, v := range in {
		s := screened(k, v)
		if s == v && out == nil {
			continue
		}
		if out == nil {
			out = maps.Clone(in)
		}
		out[k] = s
	}
	if out == nil {
		return Labels(in)
	}
	return out
}
