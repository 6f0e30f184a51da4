package model

import (
	"strings"
	"testing"
)

func TestScreened(t *testing.T) {
	for _, tc := range []struct {
		key, value string
		redacted   bool
	}{
		{"example.com/api-key", "c2VjcmV0LXZhbHVl", true},
		{"example.com/dsn", "postgres://app:hunter2@db/app", true},
		{"auth-token", "eyJhbGciOiJIUzI1NiJ9", true},
		{"example.com/token-ttl", "3600", false},
		{"example.com/password-file", "/etc/app/password", false},
		{"app", "web", false},
		{"example.com/api-key", "${API_KEY}", false},
	} {
		got := screened(tc.key, tc.value)
		if IsRedacted(got) != tc.redacted {
			t.Errorf("screened(%q, %q) = %q; redacted %v, want %v", tc.key, tc.value, got, IsRedacted(got), tc.redacted)
		}
		if tc.redacted && strings.Contains(got, tc.value) {
			t.Errorf("screened(%q, …) = %q holds the value", tc.key, got)
		}
	}
	a, b := screened("k-token", "value-one-1"), screened("k-token", "value-two-2")
	if a == b || a != screened("k-token", "value-one-1") {
		t.Errorf("fingerprints %q and %q: want stable per value and different across values", a, b)
	}
}
