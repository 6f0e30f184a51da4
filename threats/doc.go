// Package threats (with catalog, the fourth step of the pipeline, see
// docs/architecture.md) evaluates the threat catalog over an architecture graph
// and produces Findings: each names the rule, the element, the evidence,
// the missing control and the mitigation, with a severity raised by the
// element's context (reachable from the internet, crossing a trust
// boundary, touching classified data). Finding IDs are stable and readable,
// "rule-id@element-id", so triage and drift can follow a finding across
// scans. The engine reads only the graph, so a stored scan can be evaluated
// again with another catalog.
package threats
