package secretvalue

import (
	"strings"
	"testing"
)

func TestOf(t *testing.T) {
	for _, tc := range []struct {
		value string
		want  Shape
	}{
		{"3600", Number},
		{"-1", Number},
		{"0.25", Number},
		{"", Empty},
		{"   ", Empty},
		{"30s", Duration},
		{"1h30m", Duration},
		{"7d", Duration},
		{"true", Boolean},
		{"False", Boolean},
		{"enabled", Boolean},
		{"$(DB_PASSWORD)", Reference},
		{"${API_TOKEN}", Reference},
		{"{{ .Values.token }}", Reference},
		{"<your-api-key>", Reference},
		{"vault:secret/data/app#token", Reference},
		{"$__file{/etc/secrets/client_secret}", Reference},
		{"$PROMETHEUS_PASSWORD", Reference},
		{"$3cr3t!", Secret},
		{"null", Placeholder},
		{"jwt", Setting},
		{"RS256", Setting},
		{"/var/run/secrets/tokens/vault-token", FilePath},
		{"./keys/signing.pem", FilePath},
		{"https://auth.example.com/oauth2/token", PlainURL},
		{"http://keycloak:8080/realms/shop", PlainURL},
		// What may be a credential.
		{"s3cr3t-Passw0rd", Secret},
		{"0x1f2e3d4c5b6a", Secret},
		{"ghp_16C7e42F292c6912E7710c838347Ae178B4a", Secret},
		{"postgres://app:hunter2@db:5432/app", Secret},
		{"https://hooks.example.com/x?token=abc123", Secret},
		{"/not a path", Secret},
		{"NaN", Secret},
		{"12d34", Secret},
	} {
		t.Run(tc.value, func(t *testing.T) {
			if got := Of(tc.value); got != tc.want {
				t.Errorf("Of(%q) = %q, want %q", tc.value, got, tc.want)
			}
		})
	}
}

const (
	certPEM = "-----BEGIN CERTIFICATE-----\nMIIBszCCAVmgAwIBAgIUQ3Jv\n-----END CERTIFICATE-----\n"
	pubPEM  = "-----BEGIN PUBLIC KEY-----\nMFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAE\n-----END PUBLIC KEY-----\n"
	keyPEM  = "-----BEGIN EC PRIVATE KEY-----\nMHcCAQEEIBx\n-----END EC PRIVATE KEY-----\n"
)

func TestIsPublicMaterial(t *testing.T) {
	for _, tc := range []struct {
		name, key, value string
		want             bool
	}{
		{"certificate", "ca.crt", certPEM, true},
		{"chain under any name", "bundle", certPEM + certPEM, true},
		{"public key", "jwt-verify", pubPEM, true},
		{"ssh public key", "id_ed25519.pub", "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGx user@host", true},
		{"empty certificate", "tls.crt", "", true},
		{"DER certificate", "ca.der", "\x30\x82\x01\x0a\x02", true},
		{"private key", "tls.key", keyPEM, false},
		{"certificate and key", "tls.pem", certPEM + keyPEM, false},
		{"password under a certificate's name", "ca.crt", "hunter2", false},
		{"password", "password", "hunter2", false},
		{"empty password", "password", "", false},
		{"unknown PEM block", "x", "-----BEGIN OPENSSH PRIVATE KEY-----\nb3Blbn\n-----END OPENSSH PRIVATE KEY-----\n", false},
		{"text after the certificate", "ca.crt", certPEM + "password=x", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := IsPublicMaterial(tc.key, []byte(tc.value)); got != tc.want {
				t.Errorf("IsPublicMaterial(%q, …) = %v, want %v", tc.key, got, tc.want)
			}
		})
	}
}

// TestIsPlainConfig: a config file in a Secret is plain only when nothing
// in it could name or hold a credential.
func TestIsPlainConfig(t *testing.T) {
	for _, tc := range []struct {
		name, key, value string
		want             bool
	}{
		{"grafana.ini with a time zone", "grafana.ini", "[date_formats]\ndefault_timezone = UTC\n", true},
		{"datasource without credentials", "datasources.yaml", `{"datasources": [{"name": "prometheus", "url": "http://prometheus-k8s.monitoring.svc:9090"}]}`, true},
		{"admin password", "grafana.ini", "[security]\nadmin_password = hunter2\n", false},
		{"basic auth in a datasource", "datasources.yaml", "datasources:\n- basicAuth: true\n  basicAuthPassword: x\n", false},
		{"URL with user information", "app.yaml", "db: postgres://app:x@db/app\n", false},
		{"token in upper case", "app.properties", "API_TOKEN=x\n", false},
		{"not a config file's name", "config", "timezone = UTC\n", false},
		{"empty", "app.yaml", " \n", false},
		{"binary", "app.conf", "timezone\x00UTC", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := IsPlainConfig(tc.key, []byte(tc.value)); got != tc.want {
				t.Errorf("IsPlainConfig(%q, %q) = %v, want %v", tc.key, tc.value, got, tc.want)
			}
		})
	}
}

// FuzzOf holds the properties the findings rely on: a URL with a password
// is never ruled out, a shape that rules a value out still does with
// surrounding spaces, and nothing holding a private key is public.
func FuzzOf(f *testing.F) {
	for _, seed := range []string{"3600", "30s", "true", "${X}", "/etc/token", "https://a.example/x", "hunter2", "redis://:pw@redis:6379", certPEM, keyPEM, ""} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, value string) {
		shape := Of(value)
		if HasURLPassword(value) && !strings.ContainsAny(strings.TrimSpace(value), " \t\n") && shape != Secret && shape != Reference {
			t.Errorf("Of(%q) = %q, but it embeds a password", value, shape)
		}
		if again := Of(" " + value + "\n"); again != shape {
			t.Errorf("Of(%q) = %q, with spaces around it %q", value, shape, again)
		}
		if shape == Empty && strings.TrimSpace(value) != "" {
			t.Errorf("Of(%q) = empty", value)
		}
		for _, key := range []string{"ca.crt", "tls.key", "password"} {
			if strings.Contains(value, "PRIVATE KEY") && IsPublicMaterial(key, []byte(value)) {
				t.Errorf("IsPublicMaterial(%q, %q) holds a private key", key, value)
			}
			if IsPlainConfig(key+".yaml", []byte(value)) && (HasURLPassword(value) || strings.Contains(strings.ToLower(value), "password")) {
				t.Errorf("IsPlainConfig(%q, %q) is plain, but it holds a password", key+".yaml", value)
			}
			// A private key next to public material makes the entry secret.
			if IsPublicMaterial(key, []byte(value+"\n"+keyPEM)) {
				t.Errorf("IsPublicMaterial(%q, %q + a private key) is public", key, value)
			}
		}
	})
}
