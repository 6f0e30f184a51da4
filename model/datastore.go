package model

import (
	"fmt"
	"path"
	"strings"
)

// engineImages maps image names (the last path component of the
// repository) to data store engines.
var engineImages = map[string]string{
	"postgres": "postgres", "postgresql": "postgres", "postgis": "postgres", "timescaledb": "postgres",
	"mysql": "mysql", "mariadb": "mysql", "percona": "mysql", "percona-server": "mysql",
	"mongo": "mongodb", "mongodb": "mongodb", "mongodb-community-server": "mongodb",
	"redis": "redis", "redis-stack-server": "redis", "valkey": "redis", "keydb": "redis",
	"memcached": "memcached", "rabbitmq": "rabbitmq",
	"kafka": "kafka", "cp-kafka": "kafka", "redpanda": "kafka",
	"nats": "nats", "nats-streaming": "nats",
	"elasticsearch": "elasticsearch", "opensearch": "elasticsearch",
	"cassandra": "cassandra", "scylla": "cassandra",
	"etcd": "etcd", "minio": "minio", "consul": "consul",
	"zookeeper": "zookeeper", "cp-zookeeper": "zookeeper", "couchdb": "couchdb", "influxdb": "influxdb",
	"clickhouse-server": "clickhouse", "clickhouse": "clickhouse", "cockroach": "cockroachdb",
	"neo4j": "neo4j", "mssql-server": "mssql", "server": "", // "mcr.microsoft.com/mssql/server" is handled below
}

// notAStore marks image name suffixes of tools that sit next to a data
// store without being one: "redis-exporter", "mongo-express", "kafka-ui".
var notAStore = []string{"exporter", "express", "ui", "operator", "commander", "insight", "admin", "proxy", "client", "cli", "connect", "rest", "manager", "dashboard", "web", "init", "backup", "metrics"}

// enginePorts are the ports data stores listen on; a workload that listens
// on one is a data store when its image says nothing.
var enginePorts = map[int32]string{
	5432: "postgres", 3306: "mysql", 27017: "mongodb", 6379: "redis", 11211: "memcached",
	5672: "rabbitmq", 9092: "kafka", 4222: "nats", 9200: "elasticsearch", 9042: "cassandra",
	2379: "etcd", 2181: "zookeeper",
	26257: "cockroachdb", 7687: "neo4j", 1433: "mssql", 1521: "oracle",
}

// EngineFromImage recognises a data store by its image.
func EngineFromImage(img Image) string {
	repo := strings.ToLower(img.Repository)
	if repo == "mssql/server" {
		return "mssql"
	}
	name := path.Base(repo)
	if engine := engineImages[name]; engine != "" {
		return engine
	}
	// "bitnami/redis-cluster", "mongo-4.4": engine name followed by a qualifier.
	for prefix, engine := range engineImages {
		if engine == "" || !strings.HasPrefix(name, prefix+"-") {
			continue
		}
		qualifier := strings.TrimPrefix(name, prefix+"-")
		if !isToolQualifier(qualifier) {
			return engine
		}
	}
	return ""
}

func isToolQualifier(q string) bool {
	for _, word := range strings.Split(q, "-") {
		for _, tool := range notAStore {
			if word == tool {
				return true
			}
		}
	}
	return false
}

// recogniseDataStore decides whether a workload is a data store: declared by
// annotation, by image, then by the ports its containers listen on.
func recogniseDataStore(t PodTemplate) *DataStoreInfo {
	objRef := t.Object.Ref()
	if engine := annotation(t.Object, annotationDataStore); engine != "" {
		return &DataStoreInfo{Engine: engine, Evidence: Evidence{
			File: t.Object.Location.File, Line: t.Object.LineOf("metadata.annotations[" + annotationDataStore + "]"),
			Object: objRef, Field: "metadata.annotations", Detail: annotationDataStore + ": " + engine,
		}}
	}
	for _, cr := range t.Containers() {
		if cr.Init {
			continue
		}
		if engine := EngineFromImage(ParseImage(cr.Container.Image)); engine != "" {
			return &DataStoreInfo{Engine: engine, Evidence: Evidence{
				File: t.Object.Location.File, Line: t.Object.LineOf(cr.Path + ".image"), Object: objRef,
				Field: cr.Path + ".image", Detail: "image " + cr.Container.Image,
			}}
		}
	}
	for _, cr := range t.Containers() {
		if cr.Init {
			continue
		}
		for i, p := range cr.Container.Ports {
			if engine, ok := enginePorts[p.ContainerPort]; ok {
				field := fmt.Sprintf("%s.ports[%d]", cr.Path, i)
				return &DataStoreInfo{Engine: engine, Evidence: Evidence{
					File: t.Object.Location.File, Line: t.Object.LineOf(field), Object: objRef, Field: field,
					Detail: fmt.Sprintf("listens on port %d (%s)", p.ContainerPort, engine),
				}}
			}
		}
	}
	return nil
}
