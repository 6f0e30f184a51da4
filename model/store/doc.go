// Package store keeps the history of scans in one SQLite file
// (modernc.org/sqlite, no cgo), so any scan can be reviewed again and any
// two can be diffed.
//
// # Connections
//
// The file is in WAL mode, switched on only once Open has checked that the
// file is a stridemap store. All writes go through one connection in
// immediate transactions, so writers queue on busy_timeout instead of
// failing on a lock upgrade; reads use a pool of at most four query-only
// connections and, in WAL, see the last committed scan while another is
// being written. A scan is saved in a single transaction, with prepared
// multi-row INSERTs: a crash, a cancelled context or a bad element never
// leaves part of a scan behind.
//
// # Schema
//
// The schema is a sequence of numbered migrations embedded from
// migrations/NNNN_description.sql. Open applies the missing ones in order
// in one transaction and records the count in PRAGMA user_version; it
// refuses a file whose version is newer than this build knows, and a SQLite
// file whose PRAGMA application_id says it is not a stridemap store. A new
// feature (findings, triage, drift) adds a migration; released migrations
// never change.
//
// Table scans has one row per scan with its times, tool version and the
// Counts computed at save time. Every other table holds the elements of
// scans, one row per element, keyed by (scan_id, ord) and deleted with
// their scan (ON DELETE CASCADE):
//
//	sources     discover.Source    the inputs named on the command line
//	objects     ObjectRef          the inventory index (names and lines, no content): see below
//	problems    discover.Problem   what went wrong reading the sources
//	nodes       model.Node         unique on (scan_id, id)
//	edges       model.Edge         unique on (scan_id, id)
//	boundaries  model.Boundary     unique on (scan_id, id); members inside data
//	controls    model.Control      one row per element: see below
//	dangling    model.DanglingRef
//
// ord is the element's position in its slice, so a graph reads back in the
// order it was saved. Elements are stored twice over, on purpose: scalar
// columns copy the fields later queries filter and join on (a node's type,
// namespace and name; an edge's ends, port, protocol, encryption and
// whether it was declared or observed), and a data column holds the whole
// element as encoding/json writes the model struct. Reads decode data only,
// so a field added to the model is stored without a migration, and the
// graph read back equals the one saved (reflect.DeepEqual) with two
// normalisations: the Graph's five slices are never nil, and a slice or map
// field tagged omitempty that was empty comes back nil.
//
// Controls and objects are the exceptions to one row per element: a row
// costs more to write than their bytes do, so they are kept in groups.
// Since migration 0009 a controls row holds a run of consecutive controls
// with one target (a column) as a JSON array, which in a built graph is
// all of one element's controls; control IDs are checked unique before the
// scan is written. Since migration 0010 an objects row holds a run of
// consecutive objects read from one file in one namespace (columns), with
// their names and lines as JSON; an object read from an API server has a
// file of its own, so a live scan keeps a row per object. Since migration
// 0011 a findings row holds all the findings of one element (columns: the
// element and its namespace), each with its rule, STRIDE category,
// severity and the data the threats package encoded; findings read back
// in ID order, the order the catalog lists them in.
//
// Since migration 0006 each element table T holds only (scan_id, ord,
// content): the columns above live once in T_content, keyed by a 128-bit
// hash of them, so a re-scan that changed little adds little. Prune
// removes scans in one transaction (never the latest, a scan pinned with
// SetKept, or one a triage decision in force was made on), deletes the
// content no scan uses, and hands the pages back by incremental vacuum.
//
// Secret values are never stored: the inventory index has names only, and
// the model records where a value comes from, never the value.
package store
