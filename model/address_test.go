package model

import (
	"reflect"
	"testing"
)

func TestAddressesIn(t *testing.T) {
	type want struct {
		scheme, host string
		port         int32
		bare         bool
		enc          Encryption
	}
	tests := []struct {
		name  string
		value string
		want  []want
		shown []string
	}{
		{"bare service", "cart", []want{{"", "cart", 0, true, EncryptionUnknown}}, []string{"cart"}},
		{"service and port", "cartservice:7070", []want{{"", "cartservice", 7070, false, EncryptionUnknown}}, nil},
		{"service.namespace", "orders-db.shop-data:5432", []want{{"", "orders-db.shop-data", 5432, false, EncryptionUnknown}}, nil},
		{"cluster FQDN", "cart.shop.svc.cluster.local:8080", []want{{"", "cart.shop.svc.cluster.local", 8080, false, EncryptionUnknown}}, nil},
		{"http URL", "http://cart.shop.svc.cluster.local:8080/api", []want{{"http", "cart.shop.svc.cluster.local", 8080, false, EncryptionPlaintext}}, nil},
		{"https URL without port", "https://api.example.com/v1", []want{{"https", "api.example.com", 0, false, EncryptionTLS}}, nil},
		{"postgres with password is redacted", "postgres://app:s3cr3t@orders-db:5432/orders?sslmode=disable",
			[]want{{"postgres", "orders-db", 5432, false, EncryptionPlaintext}}, []string{"postgres://orders-db:5432"}},
		{"sslmode require", "postgresql://db/x?sslmode=require", []want{{"postgresql", "db", 0, false, EncryptionTLS}}, nil},
		{"mongodb replica set", "mongodb://a:27017,b:27017/db?replicaSet=rs0",
			[]want{{"mongodb", "a", 27017, false, EncryptionUnknown}, {"mongodb", "b", 27017, false, EncryptionUnknown}}, nil},
		{"jdbc", "jdbc:postgresql://orders-db.shop-data:5432/reports", []want{{"postgresql", "orders-db.shop-data", 5432, false, EncryptionUnknown}}, nil},
		{"JVM flag", "-Xmx1g -Dspring.datasource.url=jdbc:mysql://db:3306/x -Dfoo=true",
			[]want{{"mysql", "db", 3306, false, EncryptionUnknown}}, nil},
		{"flag with host:port", "--inventory-endpoint=inventory:9090", []want{{"", "inventory", 9090, false, EncryptionUnknown}}, nil},
		{"broker list", "kafka-0:9092,kafka-1:9092", []want{{"", "kafka-0", 9092, false, EncryptionUnknown}, {"", "kafka-1", 9092, false, EncryptionUnknown}}, nil},
		{"rediss", "rediss://cache:6380/0", []want{{"rediss", "cache", 6380, false, EncryptionTLS}}, nil},
		{"IPv6 literal", "[fd00::1]:80", []want{{"", "fd00::1", 80, false, EncryptionUnknown}}, nil},
		{"config line", "proxy_pass http://web:8080;", []want{{"http", "web", 8080, false, EncryptionPlaintext}}, nil},
		{"number is not a host", "8080", nil, nil},
		{"time is not an address", "10:30", nil, nil},
		{"image ref is not an address", "nginx:1.25", nil, nil},
		{"file URL", "file:/dev/urandom", nil, nil},
		{"unexpanded variable", "http://${HOST}:80", nil, nil},
		{"path", "/var/log", nil, nil},
		{"empty", "", nil, nil},
		{"port out of range", "svc:70000", nil, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := addressesIn(tc.value)
			var simple []want
			var shown []string
			for _, a := range got {
				simple = append(simple, want{a.Scheme, a.Host, a.Port, a.Bare, a.Encryption})
				shown = append(shown, a.Shown)
			}
			if !reflect.DeepEqual(simple, tc.want) {
				t.Errorf("addressesIn(%q) = %+v, want %+v", tc.value, simple, tc.want)
			}
			if tc.shown != nil && !reflect.DeepEqual(shown, tc.shown) {
				t.Errorf("shown = %q, want %q", shown, tc.shown)
			}
		})
	}
}

func TestIsAddressName(t *testing.T) {
	for name, want := range map[string]bool{
		"DB_HOST": true, "CART_SERVICE_ADDR": true, "MONGO_DB_URL": true, "--redis-addr": true, "spring.datasource.url": true,
		"KAFKA_BROKERS": true, "MODE": false, "LOG_LEVEL": false, "PORT": false, "JAVA_OPTS": false, "": false,
	} {
		if got := isAddressName(name); got != want {
			t.Errorf("isAddressName(%q) = %v, want %v", name, got, want)
		}
	}
}

func TestParseImage(t *testing.T) {
	tests := []struct {
		ref  string
		want Image
	}{
		{"redis", Image{Ref: "redis", Repository: "redis"}},
		{"redis:7.2-alpine", Image{Ref: "redis:7.2-alpine", Repository: "redis", Tag: "7.2-alpine"}},
		{"ghcr.io/org/app:1.0", Image{Ref: "ghcr.io/org/app:1.0", Registry: "ghcr.io", Repository: "org/app", Tag: "1.0"}},
		{"localhost:5000/app@sha256:abc", Image{Ref: "localhost:5000/app@sha256:abc", Registry: "localhost:5000", Repository: "app", Digest: "sha256:abc"}},
		{"bitnami/redis:7@sha256:def", Image{Ref: "bitnami/redis:7@sha256:def", Repository: "bitnami/redis", Tag: "7", Digest: "sha256:def"}},
	}
	for _, tc := range tests {
		if got := ParseImage(tc.ref); got != tc.want {
			t.Errorf("ParseImage(%q) = %+v, want %+v", tc.ref, got, tc.want)
		}
	}
}

func TestEngineFromImage(t *testing.T) {
	for ref, want := range map[string]string{
		"postgres:16.4": "postgres", "bitnami/postgresql:15": "postgres", "mariadb:11": "mysql", "mongo:4.4.6": "mongodb",
		"redis:7.2-alpine": "redis", "bitnami/redis-cluster:7": "redis", "valkey/valkey:8": "redis", "rabbitmq:3.13-management": "rabbitmq",
		"confluentinc/cp-kafka:7.6": "kafka", "docker.elastic.co/elasticsearch/elasticsearch:8.1": "elasticsearch",
		"mcr.microsoft.com/mssql/server:2022-latest": "mssql", "hashicorp/consul:1.18": "consul",
		// tools that sit next to a store are not stores
		"oliver006/redis_exporter:v1": "", "bitnami/redis-exporter:1": "", "mongo-express:1": "", "provectuslabs/kafka-ui:latest": "",
		"nginx:1.25": "", "ghcr.io/org/orders-service:1.0": "", "deathstarbench/hotel-reservation:latest": "",
	} {
		if got := EngineFromImage(ParseImage(ref)); got != want {
			t.Errorf("EngineFromImage(%q) = %q, want %q", ref, got, want)
		}
	}
}

func TestProtocolFromName(t *testing.T) {
	for name, want := range map[string]string{
		"http": "http", "grpc": "grpc", "http-metrics": "http", "tcp-postgres": "postgres", "tcp-redis": "redis",
		"tls": "tls", "https": "https", "mongo": "mongodb", "kubernetes.io/h2c": "http2", "tcp": "tcp", "web": "", "": "",
	} {
		if got := protocolFromName(name); got != want {
			t.Errorf("protocolFromName(%q) = %q, want %q", name, got, want)
		}
	}
}

func TestExpandVars(t *testing.T) {
	env := map[string]string{"HOST": "cart", "PORT": "7070"}
	if got := expandVars("--cart=$(HOST):$(PORT) $(MISSING)", env); got != "--cart=cart:7070 $(MISSING)" {
		t.Errorf("expandVars = %q", got)
	}
}

func TestIsSensitiveName(t *testing.T) {
	for name, want := range map[string]bool{
		"MYSQL_ROOT_PASSWORD": true, "DB_PASS": true, "PAYMENT_API_KEY": true, "apiKey": true, "GITHUB_TOKEN": true,
		"CLIENT_SECRET": true, "K8S_GOAT_VAULT_KEY": true, "AWS_SECRET_ACCESS_KEY": true, "signing.key": true,
		"AUTH_ADDR": false, "TOKEN_URL": false, "OIDC_TOKEN_ENDPOINT": false, "AUTHOR": false, "PASSENGER_COUNT": false,
		"KEYCLOAK_HOST": false, "MONKEY": false, "PORT": false,
	} {
		if got := IsSensitiveName(name); got != want {
			t.Errorf("IsSensitiveName(%q) = %v, want %v", name, got, want)
		}
	}
}

func TestHasPassword(t *testing.T) {
	for value, want := range map[string]bool{
		"postgres://app:hunter2@db/app": true, "amqp://guest:guest@mq:5672": true,
		"postgres://app@db/app": false, "http://cart:8080": false, "user:pass": false,
	} {
		if got := HasPassword(value); got != want {
			t.Errorf("HasPassword(%q) = %v, want %v", value, got, want)
		}
	}
}
