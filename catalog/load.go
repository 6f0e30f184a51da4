package catalog

import (
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/stridemap/stridemap/internal/yamlerr"
)

//go:embed rules/*.yaml
var builtin embed.FS

// Catalog is a loaded, compiled set of rules in ID order.
type Catalog struct {
	Rules []*Rule
	byID  map[string]*Rule
}

// Rule returns the rule with id, or nil.
func (c *Catalog) Rule(id string) *Rule { return c.byID[id] }

// Problem is one error in a catalog file, located precisely enough to fix.
type Problem struct {
	File    string
	Line    int
	RuleID  string
	Message string
}

func (p Problem) String() string {
	where := p.File
	if p.Line > 0 {
		where = fmt.Sprintf("%s:%d", p.File, p.Line)
	}
	if p.RuleID != "" {
		return where + ": rule " + p.RuleID + ": " + p.Message
	}
	return where + ": " + p.Message
}

// LoadError lists every problem found while loading, not only the first,
// so a catalog author can fix them in one go.
type LoadError struct{ Problems []Problem }

func (e *LoadError) Error() string {
	var lines []string
	for _, p := range e.Problems {
		lines = append(lines, p.String())
	}
	return fmt.Sprintf("%d catalog problem(s):\n%s", len(e.Problems), strings.Join(lines, "\n"))
}

// Load reads the built-in rules and then each user catalog directory in
// order. A user rule with a new ID adds a rule; one with a built-in ID
// overrides the fields it sets; "disabled: true" removes the rule.
func Load(userDirs ...string) (*Catalog, error) {
	envs, err := newEnvs()
	if err != nil {
		return nil, fmt.Errorf("catalog: CEL environment: %w", err)
	}
	l := &loader{envs: envs, rules: map[string]*Rule{}}
	files, err := fs.Glob(builtin, "rules/*.yaml")
	if err != nil {
		return nil, err
	}
	for _, f := range files {
		data, err := builtin.ReadFile(f)
		if err != nil {
			return nil, err
		}
		l.file("builtin:"+f, data, false)
	}
	for _, dir := range userDirs {
		l.dir(dir)
	}
	return l.finish()
}

type loader struct {
	envs     *envs
	rules    map[string]*Rule
	problems []Problem
}

func (l *loader) problem(file string, line int, id, format string, args ...any) {
	l.problems = append(l.problems, Problem{File: file, Line: line, RuleID: id, Message: fmt.Sprintf(format, args...)})
}

// lastLine is the number of data's last line, counted as YAML counts
// them: \r\n, \n and a lone \r each end one.
func lastLine(data []byte) int {
	n := 1
	for i, c := range data {
		if c == '\n' || (c == '\r' && (i+1 == len(data) || data[i+1] != '\n')) {
			n++
		}
	}
	return n
}

// dir reads every .yaml/.yml file of a user catalog directory.
func (l *loader) dir(dir string) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		l.problem(dir, 0, "", "cannot read catalog directory: %v", err)
		return
	}
	found := false
	for _, e := range entries {
		ext := strings.ToLower(path.Ext(e.Name()))
		if e.IsDir() || (ext != ".yaml" && ext != ".yml") {
			continue
		}
		found = true
		file := filepath.Join(dir, e.Name())
		data, err := os.ReadFile(file)
		if err != nil {
			l.problem(file, 0, "", "cannot read: %v", err)
			continue
		}
		l.file(file, data, true)
	}
	if !found {
		l.problem(dir, 0, "", "no .yaml or .yml files in the catalog directory")
	}
}

var ruleID = regexp.MustCompile(`^[a-z][a-z0-9]*(-[a-z0-9]+)*$`)

// file reads one YAML file holding a list of rules.
func (l *loader) file(file string, data []byte, user bool) {
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		l.problem(file, yamlLine(err), "", "invalid YAML: %v", yamlerr.OneLine(err))
		return
	}
	if len(doc.Content) == 0 {
		return
	}
	list := doc.Content[0]
	if list.Kind != yaml.SequenceNode {
		// An empty document ("---") is placed after its end.
		l.problem(file, min(list.Line, lastLine(data)), "", "a catalog file is a YAML list of rules (each item starting with \"- id: …\")")
		return
	}
	for _, item := range list.Content {
		var r Rule
		if err := item.Decode(&r); err != nil {
			l.problem(file, item.Line, "", "%v", yamlerr.OneLine(err))
			continue
		}
		r.Source = fmt.Sprintf("%s:%d", file, item.Line)
		if !ruleID.MatchString(r.ID) {
			l.problem(file, item.Line, "", "id %q: an id is lower-case words joined by '-' (like container-privileged)", r.ID)
			continue
		}
		existing := l.rules[r.ID]
		switch {
		case existing != nil && !user:
			l.problem(file, item.Line, r.ID, "defined twice; the first is at %s", existing.Source)
			continue
		case existing != nil:
			r = merge(*existing, r, item)
		}
		l.rules[r.ID] = &r
	}
}

// merge applies a user entry over an existing rule: the fields the entry
// sets win, the rest are kept.
func merge(base, over Rule, item *yaml.Node) Rule {
	set := map[string]bool{}
	for i := 0; i+1 < len(item.Content); i += 2 {
		set[item.Content[i].Value] = true
	}
	out := base
	out.Source = over.Source
	pick := func(key string, apply func()) {
		if set[key] {
			apply()
		}
	}
	pick("title", func() { out.Title = over.Title })
	pick("stride", func() { out.Stride = over.Stride })
	pick("appliesTo", func() { out.AppliesTo = over.AppliesTo })
	pick("condition", func() { out.Condition = over.Condition })
	pick("evidence", func() { out.Evidence = over.Evidence })
	pick("missingControl", func() { out.MissingControl = over.MissingControl })
	pick("likelihood", func() { out.Likelihood = over.Likelihood })
	pick("impact", func() { out.Impact = over.Impact })
	pick("description", func() { out.Description = over.Description })
	pick("mitigation", func() { out.Mitigation = over.Mitigation })
	pick("references", func() { out.References = over.References })
	pick("needs", func() { out.Needs = over.Needs })
	pick("disabled", func() { out.Disabled = over.Disabled })
	return out
}

// finish validates and compiles every rule that is not disabled.
func (l *loader) finish() (*Catalog, error) {
	ids := make([]string, 0, len(l.rules))
	for id := range l.rules {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	c := &Catalog{byID: map[string]*Rule{}}
	for _, id := range ids {
		r := l.rules[id]
		if r.Disabled {
			continue
		}
		if st, err := ParseStride(string(r.Stride)); err == nil {
			r.Stride = st // a letter ("T") stands for its category
		}
		if msgs := validate(r); len(msgs) > 0 {
			for _, m := range msgs {
				l.sourceProblem(r, m)
			}
			continue
		}
		if err := l.envs.compile(r, !strings.HasPrefix(r.Source, "builtin:")); err != nil {
			l.sourceProblem(r, err.Error())
			continue
		}
		c.Rules = append(c.Rules, r)
		c.byID[id] = r
	}
	if len(l.problems) > 0 {
		return nil, &LoadError{Problems: l.problems}
	}
	return c, nil
}

func (l *loader) sourceProblem(r *Rule, msg string) {
	file, line := r.Source, 0
	if i := strings.LastIndex(r.Source, ":"); i > 0 {
		if _, err := fmt.Sscanf(r.Source[i+1:], "%d", &line); err == nil {
			file = r.Source[:i]
		}
	}
	l.problem(file, line, r.ID, "%s", msg)
}

// validate checks the fields every rule needs.
func validate(r *Rule) []string {
	var msgs []string
	need := func(ok bool, format string, args ...any) {
		if !ok {
			msgs = append(msgs, fmt.Sprintf(format, args...))
		}
	}
	need(r.Title != "", "title is missing")
	need(slices.Contains(Strides, r.Stride), "stride %q is not one of %s", r.Stride, strings.Join(strideNames(), ", "))
	need(len(r.AppliesTo) > 0, "appliesTo is missing")
	for _, t := range r.AppliesTo {
		need(slices.Contains(targets, t), "appliesTo %q is not one of process, datastore, external, gateway, flow, boundary, cluster", t)
	}
	need(r.Condition != "", "condition is missing")
	need(r.MissingControl != "", "missingControl is missing")
	need(r.Likelihood.Score() > 0, "likelihood %q is not low, medium or high", r.Likelihood)
	need(r.Impact.Score() > 0, "impact %q is not low, medium or high", r.Impact)
	need(r.Description != "", "description is missing")
	need(r.Mitigation != "", "mitigation is missing")
	for _, k := range r.Needs {
		group, kind, ok := strings.Cut(k, "/")
		need(ok && kind != "" && !strings.Contains(kind, "/") && !strings.ContainsAny(group, " \t"),
			"needs %q is not group/Kind (\"/LimitRange\" for the core group, \"networking.k8s.io/NetworkPolicy\")", k)
	}
	return msgs
}

func yamlLine(err error) int {
	var te *yaml.TypeError
	if errors.As(err, &te) {
		return 0
	}
	var line int
	if _, scanErr := fmt.Sscanf(lineOf(err.Error()), "%d", &line); scanErr == nil {
		return line
	}
	return 0
}

// lineOf extracts the number after "line " in a yaml error message.
func lineOf(msg string) string {
	if i := strings.Index(msg, "line "); i >= 0 {
		return msg[i+5:]
	}
	return ""
}
