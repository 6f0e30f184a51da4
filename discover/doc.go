// Package discover is the first step of the pipeline (docs/architecture.md):
// it holds what every collector produces, an Inventory of Kubernetes
// objects, each remembering where it came from, plus the problems met while
// reading. Collectors live in sub-packages: manifests/ (files, directories,
// stdin, kustomize), cluster/ (the live API), flows/ (the eBPF observer),
// flowlog/ (observer and Hubble logs) and flows/resolve/ (which pod each end
// of a flow was). They only read sources and never decide what is a threat.
package discover
