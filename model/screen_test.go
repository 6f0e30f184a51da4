package model

import (
	"fmt"
	"reflect"
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

// TestScreenedLabels checks that labels with a credential-like value are a
// new map with it fingerprinted, the object's own untouched, and labels
// with none are the object's map itself, not a copy.
func TestScreenedLabels(t *testing.T) {
	plain := map[string]string{"app": "web", "tier": "front", "version": "v2"}
	if got := screenedLabels(plain); reflect.ValueOf(got).UnsafePointer() != reflect.ValueOf(plain).UnsafePointer() {
		t.Error("labels with nothing to screen were copied")
	}
	for i := range 20 { // the secret at every place of the map's order
		withSecret := map[string]string{"app": "web", "tier": "front", "version": "v2", "auth-token": "eyJhbGciOiJIUzI1NiJ9"}
		withSecret[fmt.Sprint("extra-", i)] = "x"
		got := screenedLabels(withSecret)
		if !IsRedacted(got["auth-token"]) || withSecret["auth-token"] != "eyJhbGciOiJIUzI1NiJ9" {
			t.Fatalf("screened %v from %v: want the token fingerprinted in a copy", got, withSecret)
		}
		for k, v := range withSecret {
			if k != "auth-token" && got[k] != v {
				t.Fatalf("label %s: %q, want %q", k, got[k], v)
			}
		}
		if len(got) != len(withSecret) {
			t.Fatalf("%d labels, want %d", len(got), len(withSecret))
		}
	}
	if screenedLabels(map[string]string{}) != nil || screenedLabels(nil) != nil {
		t.Error("no labels: want nil")
	}
}
