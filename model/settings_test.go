package model

import (
	"strconv"
	"strings"
	"testing"
)

// TestParseConfigFile: each format yields its settings at the file's own
// lines, and a credential's value is never kept.
func TestParseConfigFile(t *testing.T) {
	at := Evidence{File: "cm.yaml", Line: 10}
	for _, tc := range []struct {
		name, content string
		want          []string // "key=value@line"
	}{
		{"grafana.ini", "[auth.anonymous]\nenabled = true\n; comment\n[security]\nadmin_password = hunter2\n",
			[]string{"auth.anonymous.enabled=true@12", "security.admin_password=@15"}},
		{"redis.conf", "protected-mode no\nrequirepass s3cret\nuser app on >pw ~* +@all\n",
			[]string{"protected-mode=no@11", "requirepass=@12", "user=app on >(redacted) ~* +@all@13"}},
		{"mongod.conf", "security:\n  authorization: enabled\n",
			[]string{"security.authorization=enabled@12"}},
		{"opensearch.yml", "plugins.security.disabled: true\nnode:\n  roles: [data, ingest]\n",
			[]string{"plugins.security.disabled=true@11", "node.roles=data@13", "node.roles=ingest@13"}},
		{"server.properties", "listeners=PLAINTEXT://:9092\nsasl.jaas.config=x required password=\"p\";\n",
			[]string{"listeners=PLAINTEXT://:9092@11", "sasl.jaas.config=@12"}},
		{"dashboard.json", `{"a": 1}`, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var got []string
			for _, s := range parseConfigFile(tc.name, tc.content, at) {
				got = append(got, s.Key+"="+s.Value+"@"+strconv.Itoa(s.Evidence.Line))
				if s.Value != "" && (strings.Contains(s.Value, "hunter2") || strings.Contains(s.Value, "s3cret") || strings.Contains(s.Value, ">pw")) {
					t.Errorf("%s keeps a credential: %q", s.Key, s.Value)
				}
			}
			if strings.Join(got, "\n") != strings.Join(tc.want, "\n") {
				t.Errorf("got\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(tc.want, "\n"))
			}
		})
	}
}
