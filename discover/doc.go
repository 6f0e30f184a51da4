// Package discover holds what every collector produces: an Inventory of
// Kubernetes objects, each remembering where it came from, plus the problems
// met while reading. Collectors live in sub-packages (manifests/, later
// cluster/ and flows/); they only read sources and never decide what is a
// threat.
package discover
