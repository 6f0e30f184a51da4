package manifests

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/stridemap/stridemap/discover"
)

// isKustomizationFile reports whether a file name is one kustomize reads
// as a kustomization (kustomization.yaml, kustomization.yml; "Kustomization"
// has no extension and is checked by the walker).
func isKustomizationFile(name string) bool {
	lower := strings.ToLower(name)
	return lower == "kustomization.yaml" || lower == "kustomization.yml"
}

// addJobs adds the files a directory walk found, except those a
// kustomization in the tree names as patches, transformer or generator
// configs or replacements: they are fragments kustomize applies to
// objects, not objects, and read as manifests they become phantom
// workloads. The resources of the tree are still read, as -f asks; each
// kustomization gets one warning saying what was skipped and that -k
// renders it.
func (w *walker) addJobs() {
	skipped := map[string]string{} // file → the kustomization naming it
	for _, k := range w.kustomizations {
		for _, f := range kustomizationFragments(k) {
			if _, taken := skipped[f]; !taken {
				skipped[f] = k
			}
		}
	}
	named := map[string][]string{}
	for _, j := range w.files {
		if k, skip := skipped[filepath.Clean(j.path)]; skip {
			named[k] = append(named[k], j.path)
			continue
		}
		w.c.addJob(w.s, w.idx, j)
	}
	for _, k := range w.kustomizations {
		msg := fmt.Sprintf("kustomization file skipped; render it with -k %s", filepath.Dir(k))
		if files := named[k]; len(files) > 0 {
			rel := make([]string, len(files))
			for i, f := range files {
				rel[i] = relativeTo(filepath.Dir(k), f)
			}
			msg = fmt.Sprintf("kustomization file skipped, and the patch and config files it names are not read as objects (%s); render it with -k %s",
				strings.Join(rel, ", "), filepath.Dir(k))
		}
		w.c.problem(w.s, discover.SeverityWarning, CodeKustomization, k, "%s", msg)
	}
}

func relativeTo(dir, path string) string {
	if rel, err := filepath.Rel(dir, path); err == nil {
		return rel
	}
	return path
}

// kustomizationFragments lists the files (cleaned paths) a kustomization
// names as patches, transformers, generators, validators, configurations
// or replacements. A kustomization that cannot be read names none: -k
// reports what is wrong with it.
func kustomizationFragments(file string) []string {
	data, err := os.ReadFile(file)
	if err != nil {
		return nil
	}
	var k map[string]any
	if yaml.Unmarshal(data, &k) != nil {
		return nil
	}
	dir := filepath.Dir(file)
	var out []string
	add := func(v any) {
		p, ok := v.(string)
		if !ok || p == "" || strings.ContainsAny(p, "\n:{") {
			return // an inline patch, not a file
		}
		out = append(out, filepath.Clean(filepath.Join(dir, p)))
	}
	for _, field := range []string{"patchesStrategicMerge", "patches", "patchesJson6902", "transformers", "generators", "validators", "configurations", "replacements"} {
		items, _ := k[field].([]any)
		for _, item := range items {
			if m, ok := item.(map[string]any); ok {
				add(m["path"])
				continue
			}
			add(item)
		}
	}
	slices.Sort(out)
	return slices.Compact(out)
}
