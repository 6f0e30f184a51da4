// Package pipeline is the one way a scan is made and stored:
//
//	sources → inventory → graph → controls → observed flows → overlay → findings → store
//
// Scan reads manifests (discover/manifests), builds the graph (model),
// detects controls (controls), merges flows seen on the wire (discover/
// flowlog, discover/flows/resolve), applies the overlay, evaluates the
// threat catalog (threats) and stores the result (model/store). Merge
// does the second half again for a stored scan: flows observed later are
// merged into it and the result stored as a new scan. Both merge
// observations the same way (Observations).
//
// The pipeline prints nothing: progress, problems and warnings go to the
// Reporter the caller passes, debug logging to its slog.Logger, and what
// was stored comes back as a Result for the caller to show.
package pipeline
