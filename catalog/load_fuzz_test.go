package catalog

import (
	"bytes"
	"errors"
	"regexp"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"
)

// loadUserFile loads one user catalog file on its own, without the
// built-in rules (compiling those for every input would leave no time to
// fuzz).
func loadUserFile(e *envs, name string, data []byte) (*Catalog, error) {
	l := &loader{envs: e, rules: map[string]*Rule{}}
	l.file(name, data, true)
	return l.finish()
}

// userRule compiles the rule id of a user catalog file, given as YAML, on
// its own, for a test to evaluate.
func userRule(t *testing.T, id, yaml string) *Rule {
	t.Helper()
	e, err := newEnvs()
	if err != nil {
		t.Fatal(err)
	}
	c, err := loadUserFile(e, "user.yaml", []byte(yaml))
	if err != nil {
		t.Fatal(err)
	}
	r := c.Rule(id)
	if r == nil {
		t.Fatalf("the catalog has no rule %s", id)
	}
	return r
}

// FuzzLoadFile: any bytes read as a user catalog file give rules or a
// LoadError whose every problem names the file, a line within it and, if
// any, a valid rule ID, on one line (a CEL diagnostic, which points at the
// expression, may follow). The rules loaded, written back as YAML, load
// again as the same rules.
func FuzzLoadFile(f *testing.F) {
	files, err := builtin.ReadDir("rules")
	if err != nil {
		f.Fatal(err)
	}
	for _, e := range files {
		data, err := builtin.ReadFile("rules/" + e.Name())
		if err != nil {
			f.Fatal(err)
		}
		// The first rule of each file: whole files are slow to mutate.
		rules := strings.SplitN(string(data), "\n- id:", 3)
		if len(rules) > 1 {
			f.Add([]byte("- id:" + rules[1]))
		}
	}
	f.Add([]byte("- id: x\n  title: t\n  stride: T\n  appliesTo: [process]\n  condition: node.name ==\n  missingControl: m\n  likelihood: low\n  impact: high\n  description: d\n  mitigation: m\n"))
	f.Add([]byte("- id: \"Bad\\nID\"\n- id: x\n  colour: red\n  likelihood: [1]\n- id: x\n  disabled: true\n"))
	f.Add([]byte("id: not-a-list\n"))
	f.Add([]byte("- [\n"))
	e, err := newEnvs()
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		const name = "user.yaml"
		c, err := loadUserFile(e, name, data)
		// YAML breaks lines at \r\n, \n and a lone \r alike.
		lines := len(regexp.MustCompile(`\r\n|\r|\n`).FindAllIndex(data, -1)) + 1
		if err != nil {
			var le *LoadError
			if c != nil || !errors.As(err, &le) || len(le.Problems) == 0 {
				t.Fatalf("catalog %v, error %v", c, err)
			}
			for _, p := range le.Problems {
				first, rest, _ := strings.Cut(p.String(), "\n")
				switch {
				case p.File != name || p.Line < 0 || p.Line > lines || !strings.HasPrefix(first, name):
					t.Fatalf("problem not located in the file: %+v", p)
				case p.RuleID != "" && !ruleID.MatchString(p.RuleID):
					t.Fatalf("problem names the invalid rule ID %q", p.RuleID)
				case rest != "" && !strings.Contains(p.Message, "does not compile:\n"):
					t.Fatalf("problem spans lines: %q", p.String())
				}
			}
			return
		}
		for _, r := range c.Rules {
			if !strings.HasPrefix(r.Source, name+":") || c.Rule(r.ID) != r || validate(r) != nil {
				t.Fatalf("rule %+v", r)
			}
		}
		out, err := writeRules(c.Rules)
		if err != nil {
			t.Fatalf("rules loaded, but not written: %v", err)
		}
		again, err := loadUserFile(e, name, out)
		if err != nil {
			t.Fatalf("the rules as written do not load: %v\n%s", err, out)
		}
		if twice, _ := writeRules(again.Rules); !bytes.Equal(out, twice) {
			t.Fatalf("round trip changed the rules:\n%s\n%s", out, twice)
		}
	})
}

// writeRules writes rules as YAML indented by two: at yaml.v3's default of
// four, a string that starts with a line break in a list item is written as
// a block scalar whose indentation indicator is wrong, which it cannot read
// back, and the round trip is about the loader, not the encoder.
func writeRules(rules []*Rule) ([]byte, error) {
	var b bytes.Buffer
	enc := yaml.NewEncoder(&b)
	enc.SetIndent(2)
	if err := enc.Encode(rules); err != nil {
		return nil, err
	}
	if err := enc.Close(); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}
