// Package export (with tui, the views at the end of the pipeline, see
// docs/architecture.md) presents a stored scan for people and tools outside the
// terminal UI: the graph as versioned JSON (docs/graph-json.md) and as DOT
// text written by our own code, so its output is deterministic and can be
// golden-tested. It only reads what it is given; it never touches sources.
package export
