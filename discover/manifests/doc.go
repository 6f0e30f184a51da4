// Package manifests reads Kubernetes manifests — YAML or JSON files,
// directories of them, standard input and kustomize directories — into a
// discover.Inventory.
//
// Every object remembers where it was written: the file and the line its
// document starts on, and the line of each of its fields (see
// discover.Object.LineOf), so findings can cite file:line evidence. For
// kustomize directories that is the file kustomize read the object from,
// not the rendered output.
//
// Each document is parsed on its own, so one bad document does not hide the
// ones after it. Most manifests are written in a small, plain part of YAML,
// which a reader of its own parses line by line several times faster than
// go-yaml (simpleyaml.go); every other document goes to go-yaml. Both give
// the same yaml.Node tree, which a fuzz target holds.
//
// Core kinds are decoded into k8s.io/api types; kinds of other API groups
// (CRDs such as Istio, Gateway API or Cilium policies) and the rarer
// built-in kinds stay unstructured. A kind that a built-in API group does
// not have is most likely a typo and is reported rather than kept.
//
// Secret values never leave this package: data and stringData are reduced
// to their key names while the YAML is walked, and the
// kubectl.kubernetes.io/last-applied-configuration annotation, which may
// embed a whole Secret, is dropped from every object. Problems name files,
// lines, kinds, names and keys, never values.
//
// Input is untrusted: malformed YAML, alias bombs, deep nesting, huge files
// and symlink loops become Problems with stable codes (the Code* constants),
// and reading goes on with the next document or file.
package manifests
