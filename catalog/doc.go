// Package catalog (with threats, the fourth step of the pipeline, see
// docs/architecture.md) holds the STRIDE threat catalog as data: rules written in
// YAML, each with a CEL condition over the architecture graph, the control
// whose absence it reports, and how to fix it. The built-in rules are
// embedded (rules/*.yaml); user catalogs add, override or disable rules
// without recompiling. Every condition is compiled and type-checked against
// the model's Go types when the catalog loads, so a typo is a load error
// with its file and line, never a silent miss at scan time.
//
// A condition sees, depending on what the rule applies to:
//
//	node                  model.Node      process, datastore, external, gateway
//	edge, from, to        model.Edge, model.Node (both ends)   flow
//	boundary              model.Boundary  boundary, cluster
//	ctx                   catalog.Context facts about the element in its graph
//
// Field names are the JSON names of docs/graph-json.md, e.g.
// node.workload.containers.exists(c, c.security.privileged).
package catalog
