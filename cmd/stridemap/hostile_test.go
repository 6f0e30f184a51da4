package main

import (
	"encoding/json"
	"fmt"
	"html"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"
)

// hostileDir is the committed part of the hostile-input corpus; what
// cannot be committed (a huge name, a file name holding an escape
// sequence) hostileInput writes next to it in a temporary directory.
const hostileDir = "../../testdata/hostile"

// Values the corpus carries, as a scan must keep them in JSON and SARIF.
const (
	hostileNamespace  = "shop\x1b]0;owned\a"
	hostileDeployment = "web\x1b]0;retitled\a\x1b[2J"
	hostileLabel      = "web\u2066x\u2069"
	hostileFileName   = "evil\x1b]0;file\a\x1b[2J\u202e\xff.yaml"
)

// hugeName is a 70,000-character object name: tables cut it, JSON keeps it.
var hugeName = "huge" + strings.Repeat("n", 70000-len("huge"))

// hostileInput copies the corpus to a temporary directory and adds a
// Deployment with a 70,000-character name in a file whose name holds an
// escape sequence, a bidi override and a byte that is not UTF-8, and a
// broken file with such a name, so that a problem line quotes it.
func hostileInput(t *testing.T) (dir, broken string) {
	t.Helper()
	dir = t.TempDir()
	corpus, err := os.ReadFile(filepath.Join(hostileDir, "app.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	write := func(name, text string) string {
		path := filepath.Join(dir, name)
		if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
			t.Skipf("the file system refuses the name %q: %v", name, err)
		}
		return path
	}
	write("app.yaml", string(corpus))
	write(hostileFileName, fmt.Sprintf(`apiVersion: apps/v1
kind: Deployment
metadata: {name: %s, namespace: "shop\e]0;owned\a"}
spec:
  selector: {matchLabels: {app: huge}}
  template:
    metadata: {labels: {app: huge}}
    spec:
      containers:
        - {name: main, image: "busybox\e[2J:1", env: [{name: TARGET, value: "http://web\e[5m:80"}]}
`, hugeName))
	broken = write("broken\x1b]0;problem\a\u202e.yaml", "apiVersion: v1\nkind: [unclosed\n")
	return dir, broken
}

// TestHostileInputNeverReachesATerminal runs the hostile corpus through
// every output: human-readable ones must hold no control byte (other than
// line feed and tab), no C1 control, no bidi or other format character and
// no invalid UTF-8, as raw bytes or as an HTML character reference; JSON
// and SARIF must hold the exact values.
func TestHostileInputNeverReachesATerminal(t *testing.T) {
	useRenderer(t)
	dir, broken := hostileInput(t)
	c := newCLI(t)

	scan := c.run("", "scan", "-f", dir)
	if scan.code != exitPartial {
		t.Fatalf("scan of the hostile corpus: exit %d, want %d (one file is broken)\nstdout: %s\nstderr: %s", scan.code, exitPartial, scan.stdout, scan.stderr)
	}
	assertShowable(t, "scan stdout", scan.stdout)
	assertShowable(t, "scan stderr", scan.stderr)
	if !strings.Contains(scan.stderr, `broken\x1b]0;problem\a\u202e.yaml`) {
		t.Errorf("the problem line should name the broken file, escaped:\n%s", scan.stderr)
	}
	assertDeceptiveFinding(t, c)

	// A second scan without the broken file gives diff something to show.
	if err := os.Remove(broken); err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(filepath.Join(dir, hostileFileName)); err != nil {
		t.Fatal(err)
	}
	c.mustRun("scan", "-f", dir)

	human := map[string][]string{
		"findings":          {"findings", "1"},
		"findings --detail": {"findings", "1", "--detail"},
		"graph table":       {"graph", "1", "--format", "table"},
		"graph dot":         {"graph", "1", "--format", "dot"},
		"graph svg":         {"graph", "1", "--format", "svg"},
		"report md":         {"report", "1", "--format", "md"},
		"report html":       {"report", "1", "--format", "html"},
		"scans":             {"scans"},
		"diff table":        {"diff", "1", "2", "--format", "table"},
		"diff md":           {"diff", "1", "2", "--format", "md"},
		"questions":         {"questions"},
	}
	for name, args := range human {
		t.Run(name, func(t *testing.T) {
			r := c.run("", args...)
			if r.code != 0 && r.code != exitFindings {
				t.Fatalf("stridemap %s: exit %d\n%s", strings.Join(args, " "), r.code, r.stderr)
			}
			assertShowable(t, name+" stdout", r.stdout)
			assertShowable(t, name+" stderr", r.stderr)
			if len(r.stdout) < 100 {
				t.Errorf("%s printed almost nothing:\n%s", name, r.stdout)
			}
		})
	}

	deployment := hostileNamespace + "/" + hostileDeployment
	exact := map[string]struct {
		args []string
		want []string
	}{
		"graph json":   {[]string{"graph", "1", "--format", "json"}, []string{deployment, hostileLabel, hugeName}},
		"report json":  {[]string{"report", "1", "--format", "json"}, []string{deployment, hugeName}},
		"report sarif": {[]string{"report", "1", "--format", "sarif"}, []string{deployment, hugeName}},
		"diff json":    {[]string{"diff", "1", "2", "--format", "json"}, []string{hostileNamespace + "/" + hugeName}},
	}
	for name, tc := range exact {
		args := tc.args
		t.Run(name, func(t *testing.T) {
			r := c.run("", args...)
			if r.code != 0 && r.code != exitFindings {
				t.Fatalf("stridemap %s: exit %d\n%s", strings.Join(args, " "), r.code, r.stderr)
			}
			assertShowable(t, name+" stderr", r.stderr)
			var doc any
			if err := json.Unmarshal([]byte(r.stdout), &doc); err != nil {
				t.Fatalf("%s is not JSON: %v", name, err)
			}
			text := strings.Join(jsonStrings(doc, nil), "\n")
			for _, want := range tc.want {
				if !strings.Contains(text, want) {
					t.Errorf("%s lacks the exact value %.60q", name, want)
				}
			}
		})
	}
}

// assertDeceptiveFinding: the hostile Deployment is a finding in itself,
// with evidence that names the field and shows it escaped.
func assertDeceptiveFinding(t *testing.T, c *cli) {
	t.Helper()
	var findings []struct {
		RuleID, Element string
		Evidence        []struct{ Field, Detail string }
	}
	out := c.mustRun("findings", "1", "--format", "json", "--rule", "deceptive-characters-in-name").stdout
	if err := json.Unmarshal([]byte(out), &findings); err != nil {
		t.Fatal(err)
	}
	fields := map[string]string{}
	for _, f := range findings {
		if f.Element != "workload:"+hostileNamespace+"/"+hostileDeployment {
			continue
		}
		for _, ev := range f.Evidence {
			fields[ev.Field] = ev.Detail
		}
	}
	for field, detail := range map[string]string{
		"metadata.name":                      `the name holds control or invisible characters: web\x1b]0;retitled\a\x1b[2J`,
		"metadata.labels.app":                `label app holds control or invisible characters: web\u2066x\u2069`,
		"metadata.annotations[note\x1b[31m]": `annotation key holds control or invisible characters: note\x1b[31m`,
	} {
		if got := fields[field]; got != detail {
			t.Errorf("deceptive-characters-in-name evidence for %s = %q, want %q (all: %q)", field, got, detail, fields)
		}
	}
}

// charRef is an HTML or XML numeric character reference.
var charRef = regexp.MustCompile(`&#(x[0-9a-fA-F]+|[0-9]+);`)

// assertShowable fails when out holds what a terminal (or a browser
// showing an HTML report) would act on or hide rather than show.
func assertShowable(t *testing.T, name, out string) {
	t.Helper()
	line := 1
	for i := 0; i < len(out); {
		r, n := utf8.DecodeRuneInString(out[i:])
		if r == utf8.RuneError && n == 1 {
			t.Errorf("%s line %d holds the byte %#x, not UTF-8: %.120q", name, line, out[i], lineAt(out, i))
			return
		}
		if r == '\n' {
			line++
		} else if unsafeRune(r) {
			t.Errorf("%s line %d holds %U: %.120q", name, line, r, lineAt(out, i))
			return
		}
		i += n
	}
	for _, m := range charRef.FindAllString(out, -1) {
		if r := []rune(html.UnescapeString(m)); len(r) == 1 && unsafeRune(r[0]) {
			t.Errorf("%s holds the character reference %s (%U)", name, m, r[0])
			return
		}
	}
}

// unsafeRune: a control other than tab and line feed (C0, DEL, C1), or a
// format character (bidi controls, zero-width characters).
func unsafeRune(r rune) bool {
	return r != '\n' && r != '\t' && (unicode.IsControl(r) || unicode.Is(unicode.Cf, r))
}

func lineAt(s string, i int) string {
	start := strings.LastIndexByte(s[:i], '\n') + 1
	end := strings.IndexByte(s[i:], '\n')
	if end < 0 {
		return s[start:]
	}
	return s[start : i+end]
}

// jsonStrings gathers every string (keys too) a decoded JSON value holds.
func jsonStrings(v any, into []string) []string {
	switch v := v.(type) {
	case string:
		into = append(into, v)
	case []any:
		for _, e := range v {
			into = jsonStrings(e, into)
		}
	case map[string]any:
		for k, e := range v {
			into = jsonStrings(e, append(into, k))
		}
	}
	return into
}
