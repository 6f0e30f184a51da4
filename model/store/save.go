package store

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/stridemap/stridemap/discover"
	"github.com/stridemap/stridemap/model"
)

// ObjectRef names one object of a scan's inventory and where it was read.
// The store keeps only this index, never object content, so nothing a
// manifest holds (a Secret's data, a ConfigMap's values) reaches the file.
type ObjectRef struct {
	APIVersion string
	Kind       string
	Namespace  string
	Name       string
	Location   discover.Location
}

// ScanRecord is everything one scan produced, saved as one unit.
type ScanRecord struct {
	StartedAt, FinishedAt time.Time
	ToolVersion           string
	Sources               []discover.Source
	// Target is what the scan looked at; the zero Target is stored as
	// unknown.
	Target   discover.Target
	Objects  []ObjectRef // the inventory's index: names and locations only, never content
	Problems []discover.Problem
	Graph    *model.Graph // nil is saved as an empty graph
	Findings []Finding
	// EncodeFinding, when set, gives finding i's Data, which is then left
	// nil: the findings of a large scan are encoded as they are saved
	// rather than all held as JSON first. It is called from one goroutine,
	// and the bytes it returns need only stay valid until its next call.
	// They must be valid, compact JSON, as an encoder writes it: they are
	// stored as they are, where Data is checked and compacted.
	EncodeFinding func(i int) (json.RawMessage, error)
	Rules         []Rule // the text of the rules the findings refer to
	// NotAssessed are the rules the graph's gaps left open; never findings.
	NotAssessed []NotAssessed
	Catalog     string // which rules produced the findings, for the record
	// ContentHash, when set, is what the scan's content hashes to, so a
	// re-scan can tell it found the same (see Content).
	ContentHash string
}

// Rule is the text of one rule as the threats package encoded it, stored
// once per scan for all of the rule's findings.
type Rule struct {
	ID   string
	Data json.RawMessage
}

// Finding is one finding as the store keeps it: the columns that lists
// filter on, and the finding itself as JSON, which the threats package
// writes and reads. The store does not interpret it.
type Finding struct {
	ID        string // stable: rule@element
	RuleID    string
	Stride    string
	Severity  string
	Element   string
	Namespace string
	Data      json.RawMessage
	// Content identifies the stored row that holds the finding, with the
	// other findings of its element (see findingGroup): with the ID it
	// identifies the stored finding, shared by every scan that holds the
	// same row. Set by reads, ignored by SaveScan.
	Content int64
}

// Counts summarises a scan so lists and trends need not load its graph.
// They are computed once, when the scan is saved.
type Counts struct {
	Objects, Nodes, Edges, Boundaries, Controls, Dangling int

	Problems int // all problems
	Errors   int // problems with SeverityError; the scan is partial if any
	Exposed  int // edges from model.InternetID

	// NodesByType is never nil on a ScanInfo read from the store.
	NodesByType map[model.NodeType]int

	Findings int
	// FindingsBySeverity is never nil on a ScanInfo read from the store.
	FindingsBySeverity map[string]int

	Gaps        int // kinds (and namespaces) a live scan could not read
	NotAssessed int // rule verdicts those gaps left open
}

// ScanInfo describes a saved scan without its graph.
type ScanInfo struct {
	ID                    int64
	StartedAt, FinishedAt time.Time // UTC
	ToolVersion           string
	Sources               []discover.Source
	// Target is what the scan looked at: zero when unknown (stored before
	// targets were recorded, from relative paths).
	Target  discover.Target
	Partial bool // some input could not be used: see Problems
	Catalog string
	Counts  Counts
	Kept    bool // pinned by "scans keep": never pruned

	// untargeted marks a scan stored before targets were recorded: its
	// Target is derived from its sources once they are read.
	untargeted bool
}

// deriveTarget gives a scan stored before targets were recorded the
// target its sources tell, if they tell one.
func (info *ScanInfo) deriveTarget() {
	if info.untargeted {
		info.Target = discover.TargetOfSources(info.Sources)
	}
}

// countsOf computes the Counts of a scan about to be saved.
func countsOf(rec *ScanRecord, g *model.Graph) Counts {
	c := Counts{
		Objects:            len(rec.Objects),
		Nodes:              len(g.Nodes),
		Edges:              len(g.Edges),
		Boundaries:         len(g.Boundaries),
		Controls:           len(g.Controls),
		Dangling:           len(g.Dangling),
		Problems:           len(rec.Problems),
		NodesByType:        make(map[model.NodeType]int),
		Findings:           len(rec.Findings),
		FindingsBySeverity: make(map[string]int),
		Gaps:               len(g.Gaps),
		NotAssessed:        len(rec.NotAssessed),
	}
	for _, f := range rec.Findings {
		c.FindingsBySeverity[f.Severity]++
	}
	for _, p := range rec.Problems {
		if p.Severity == discover.SeverityError {
			c.Errors++
		}
	}
	for i := range g.Edges {
		if g.Edges[i].From == model.InternetID {
			c.Exposed++
		}
	}
	for i := range g.Nodes {
		c.NodesByType[g.Nodes[i].Type]++
	}
	return c
}

// SaveScan writes the whole scan in one transaction, so a crash, a
// cancelled context or a bad element never leaves half a scan behind, and
// returns its ID. IDs increase (1, 2, 3…) and are never reused.
func (s *Store) SaveScan(ctx context.Context, rec ScanRecord) (int64, error) {
	return s.saveScan(ctx, rec, 0)
}

// saveScan saves rec under the given ID, or the next when id is 0:
// Recover keeps the IDs scans had, which users and baselines refer to.
func (s *Store) saveScan(ctx context.Context, rec ScanRecord, id int64) (int64, error) {
	g := rec.Graph
	if g == nil {
		g = &model.Graph{}
	}
	c := countsOf(&rec, g)
	byType, err := json.Marshal(c.NodesByType)
	if err != nil {
		return 0, s.saveErr(err)
	}
	bySeverity, err := json.Marshal(c.FindingsBySeverity)
	if err != nil {
		return 0, s.saveErr(err)
	}

	// The JSON columns of the largest tables are encoded on another core
	// while the transaction inserts rows (see aheadEncoder).
	nodesJSON := encodeJSON(len(g.Nodes), func(i int) any { return &g.Nodes[i] })
	defer nodesJSON.close()
	edgesJSON := encodeJSON(len(g.Edges), func(i int) any { return &g.Edges[i] })
	defer edgesJSON.close()
	// Controls are saved in groups (see controlGroup), so their IDs are
	// checked here rather than by the writer.
	if err := uniqueIDs("control", len(g.Controls), func(i int) string { return g.Controls[i].ID }); err != nil {
		return 0, s.saveErr(err)
	}
	controlRuns := controlRuns(g.Controls)
	controlsJSON := encodeJSON(len(controlRuns)-1, func(i int) any {
		group := groupControls(g.Controls[controlRuns[i]:controlRuns[i+1]])
		return &group
	})
	defer controlsJSON.close()
	// Findings are saved in groups too (see findingGroup).
	if err := uniqueIDs("finding", len(rec.Findings), func(i int) string { return rec.Findings[i].ID }); err != nil {
		return 0, s.saveErr(err)
	}
	findingGroups := findingGroups(rec.Findings)
	findingData, checked := rec.EncodeFinding, true
	if findingData == nil {
		findingData, checked = func(i int) (json.RawMessage, error) { return rec.Findings[i].Data, nil }, false
	}
	var groupEncoder findingGroupEncoder
	findingsJSON := encodeAhead(len(findingGroups), func(i int) (string, error) {
		return groupEncoder.encode(rec.Findings, findingGroups[i], findingData, checked)
	})
	defer findingsJSON.close()

	db, err := s.writer(ctx)
	if err != nil {
		return 0, err
	}
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return 0, s.saveErr(err)
	}
	defer tx.Rollback() // a no-op after Commit

	var given any // NULL: SQLite picks the next ID
	if id != 0 {
		given = id
	}
	res, err := tx.ExecContext(ctx, `INSERT INTO scans (id,
		started_at, finished_at, tool_version, partial,
		n_objects, n_nodes, n_edges, n_boundaries, n_controls, n_dangling, n_problems, n_errors, n_exposed,
		nodes_by_type, n_findings, findings_by_severity, catalog, n_gaps, n_not_assessed, target) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		given, formatTime(rec.StartedAt), formatTime(rec.FinishedAt), rec.ToolVersion, c.Errors > 0,
		c.Objects, c.Nodes, c.Edges, c.Boundaries, c.Controls, c.Dangling, c.Problems, c.Errors, c.Exposed,
		string(byType), c.Findings, string(bySeverity), rec.Catalog, c.Gaps, c.NotAssessed, rec.Target.Key())
	if err != nil {
		return 0, s.saveErr(err)
	}
	id, err = res.LastInsertId()
	if err != nil {
		return 0, s.saveErr(err)
	}

	w := &writer{ctx: ctx, tx: tx, scan: id, hook: s.hook}
	w.enc = json.NewEncoder(&w.buf)
	w.enc.SetEscapeHTML(false)

	w.sources(rec.Sources)
	objectRuns := objectRuns(rec.Objects)
	w.table(elements{table: "objects", what: "objects of", cols: []string{"file", "namespace", "data"}, n: len(objectRuns) - 1,
		values: func(i int, args []any) ([]any, error) {
			group := groupObjects(rec.Objects[objectRuns[i]:objectRuns[i+1]])
			data, err := w.json(&group)
			return append(args, group.File, group.Namespace, data), err
		},
		name: func(i int) string { return objectsName(&rec.Objects[objectRuns[i]]) }})
	w.table(elements{table: "problems", what: "problem", cols: []string{"severity", "code", "file", "line", "object", "data"}, n: len(rec.Problems),
		values: func(i int, args []any) ([]any, error) {
			p := &rec.Problems[i]
			data, err := w.json(p)
			return append(args, string(p.Severity), p.Code, p.Location.File, p.Location.Line, p.Object, data), err
		},
		name: func(i int) string { return rec.Problems[i].String() }})
	w.table(elements{table: "nodes", what: "node", cols: []string{"id", "type", "namespace", "name", "kind", "data"}, n: len(g.Nodes),
		values: func(i int, args []any) ([]any, error) {
			n := &g.Nodes[i]
			data, err := nodesJSON.get(i)
			return append(args, n.ID, string(n.Type), n.Namespace, n.Name, n.Kind, data), err
		},
		name: func(i int) string { return g.Nodes[i].ID }, id: func(i int) string { return g.Nodes[i].ID }, release: nodesJSON.release})
	w.table(elements{table: "edges", what: "edge", cols: []string{"id", "from_id", "to_id", "port", "protocol", "encryption", "declared", "observed", "data"}, n: len(g.Edges),
		values: func(i int, args []any) ([]any, error) {
			e := &g.Edges[i]
			data, err := edgesJSON.get(i)
			return append(args, e.ID, e.From, e.To, e.Port, e.Protocol, string(e.Encryption), e.Declared, e.Observed, data), err
		},
		name: func(i int) string { return g.Edges[i].ID }, id: func(i int) string { return g.Edges[i].ID }, release: edgesJSON.release})
	w.table(elements{table: "boundaries", what: "boundary", cols: []string{"id", "type", "name", "parent", "data"}, n: len(g.Boundaries),
		values: func(i int, args []any) ([]any, error) {
			b := &g.Boundaries[i]
			data, err := w.json(b)
			return append(args, b.ID, string(b.Type), b.Name, b.Parent, data), err
		},
		name: func(i int) string { return g.Boundaries[i].ID }, id: func(i int) string { return g.Boundaries[i].ID }})
	w.table(elements{table: "controls", what: "controls of", cols: []string{"target", "data"}, n: len(controlRuns) - 1,
		values: func(i int, args []any) ([]any, error) {
			data, err := controlsJSON.get(i)
			return append(args, g.Controls[controlRuns[i]].Target, data), err
		},
		name: func(i int) string { return g.Controls[controlRuns[i]].Target }, release: controlsJSON.release})
	w.table(elements{table: "dangling", what: "dangling reference", cols: []string{"from_id", "target", "reason", "data"}, n: len(g.Dangling),
		values: func(i int, args []any) ([]any, error) {
			d := &g.Dangling[i]
			data, err := w.json(d)
			return append(args, d.From, d.Target, d.Reason, data), err
		},
		name: func(i int) string { d := &g.Dangling[i]; return d.From + " -> " + d.Target }})
	w.table(elements{table: "findings", what: "findings of", cols: []string{"element", "namespace", "data"}, n: len(findingGroups),
		values: func(i int, args []any) ([]any, error) {
			f := &rec.Findings[findingGroups[i][0]]
			data, err := findingsJSON.get(i)
			return append(args, f.Element, f.Namespace, data), err
		},
		name: func(i int) string { return rec.Findings[findingGroups[i][0]].Element }, release: findingsJSON.release})
	w.table(elements{table: "scan_rules", what: "rule", cols: []string{"rule_id", "data"}, n: len(rec.Rules),
		values: func(i int, args []any) ([]any, error) {
			return append(args, rec.Rules[i].ID, string(rec.Rules[i].Data)), nil
		},
		name: func(i int) string { return rec.Rules[i].ID }, id: func(i int) string { return rec.Rules[i].ID }})
	w.table(elements{table: "gaps", what: "gap", cols: []string{"api_group", "kind", "namespace", "reason", "data"}, n: len(g.Gaps),
		values: func(i int, args []any) ([]any, error) {
			gap := &g.Gaps[i]
			data, err := w.json(gap)
			return append(args, gap.Group, gap.Kind, gap.Namespace, gap.Reason, data), err
		},
		name: func(i int) string { return g.Gaps[i].String() }})
	w.table(elements{table: "not_assessed", what: "rule not assessed", cols: []string{"rule_id", "element", "namespace", "data"}, n: len(rec.NotAssessed),
		values: func(i int, args []any) ([]any, error) {
			n := &rec.NotAssessed[i]
			data, err := w.json(n)
			return append(args, n.RuleID, n.Element, n.Namespace, data), err
		},
		name: func(i int) string { return rec.NotAssessed[i].ID() }, id: func(i int) string { return rec.NotAssessed[i].ID() }})
	if w.err != nil {
		return 0, s.saveErr(w.err)
	}
	if rec.ContentHash != "" {
		if _, err := tx.ExecContext(ctx, `INSERT INTO scan_content (scan_id, hash, confirmed_at) VALUES (?, ?, ?)`,
			id, rec.ContentHash, formatTime(rec.FinishedAt)); err != nil {
			return 0, s.saveErr(err)
		}
	}
	if err := tx.Commit(); err != nil {
		return 0, s.saveErr(err)
	}
	return id, nil
}

func (s *Store) saveErr(err error) error {
	return fmt.Errorf("save scan to %s: %w; nothing was saved", s.path, err)
}

// batchRows is how many rows one INSERT statement writes. Executing a
// statement through database/sql costs more than SQLite's work for a small
// row, so rows go in batches; 64 rows of at most 10 columns stay far below
// SQLite's limit on bound parameters.
const batchRows = 64

// writer inserts the rows of one scan into one table after another inside
// the scan's transaction. The first error stops it; later calls do nothing.
type writer struct {
	ctx  context.Context
	tx   *sql.Tx
	scan int64
	hook func(table string)
	buf  bytes.Buffer
	enc  *json.Encoder
	hash contentHasher
	err  error
}

// elements describes the rows of one element table for writer.table.
type elements struct {
	table, what string
	cols        []string // the content columns, as in migration 0006's table_content
	n           int
	// values appends row i's column values to args.
	values func(i int, args []any) ([]any, error)
	// name names row i in an error message, and is only called then.
	name func(i int) string
	// id, if set, is row i's element ID, which must be unique in the scan.
	id func(i int) string
	// release, if set, is told that rows [0, upTo) are inserted: their
	// encoded columns are not read again.
	release func(upTo int)
}

// table saves n rows: each distinct row's columns once in table_content,
// keyed by a hash of them (a row an earlier scan saved is not written
// again), and the row's place in this scan in table. Both go in batches of
// prepared multi-row statements; the tail after the last full batch, or a
// failed batch again to tell which row was at fault, goes row by row.
//
// Statements run with a context that cannot be cancelled, and the caller's
// context is checked between batches instead: for a cancellable context the
// driver starts a watcher goroutine per statement.
func (w *writer) table(e elements) {
	if w.err != nil || e.n == 0 {
		return
	}
	if e.id != nil {
		if w.err = uniqueIDs(e.what, e.n, e.id); w.err != nil {
			return
		}
	}
	stmts := make(map[int]*[2]*sql.Stmt, 2)
	prepare := func(rows int) (*[2]*sql.Stmt, error) {
		if st, ok := stmts[rows]; ok {
			return st, nil
		}
		st := new([2]*sql.Stmt)
		var err error
		if st[0], err = w.tx.PrepareContext(w.ctx, contentSQL(e.table, e.cols, rows)); err != nil {
			return nil, fmt.Errorf("prepare insert into %s_content: %w", e.table, err)
		}
		if st[1], err = w.tx.PrepareContext(w.ctx, placeSQL(e.table, rows)); err != nil {
			st[0].Close()
			return nil, fmt.Errorf("prepare insert into %s: %w", e.table, err)
		}
		stmts[rows] = st
		return st, nil
	}
	defer func() {
		for _, st := range stmts {
			st[0].Close()
			st[1].Close()
		}
	}()

	exec := context.WithoutCancel(w.ctx)
	content := make([]any, 0, batchRows*(1+len(e.cols)))
	places := make([]any, 0, 1+batchRows*2)
	row := make([]any, 0, len(e.cols))
	// insert saves rows [from, to) with one pair of statements.
	insert := func(from, to int) error {
		st, err := prepare(to - from)
		if err != nil {
			return err
		}
		content, places = content[:0], append(places[:0], w.scan)
		for i := from; i < to; i++ {
			if row, err = e.values(i, row[:0]); err != nil {
				return fmt.Errorf("%s %q: %w", e.what, e.name(i), err)
			}
			key, err := contentKey(&w.hash, row)
			if err != nil {
				return fmt.Errorf("%s %q: %w", e.what, e.name(i), err)
			}
			content = append(append(content, key), row...)
			places = append(places, i, key)
		}
		if _, err := st[0].ExecContext(exec, content...); err != nil {
			return err
		}
		res, err := st[1].ExecContext(exec, places...)
		if err != nil {
			return err
		}
		if n, err := res.RowsAffected(); err != nil || n != int64(to-from) {
			return fmt.Errorf("insert into %s: %d of %d rows found their content (%v)", e.table, n, to-from, err)
		}
		if e.release != nil {
			e.release(to)
		}
		return nil
	}
	// each inserts rows [from, to) one at a time. A failed statement
	// undoes only itself, so retrying it is sound.
	each := func(from, to int) error {
		for i := from; i < to; i++ {
			if err := insert(i, i+1); err != nil {
				return fmt.Errorf("%s %q: %w", e.what, e.name(i), err)
			}
		}
		return nil
	}

	from := 0
	for ; from+batchRows <= e.n; from += batchRows {
		if err := w.ctx.Err(); err != nil {
			w.err = err
			return
		}
		if err := insert(from, from+batchRows); err != nil {
			if w.err = each(from, from+batchRows); w.err == nil {
				w.err = fmt.Errorf("insert into %s: %w", e.table, err)
			}
			return
		}
	}
	if w.err = each(from, e.n); w.err != nil {
		return
	}
	if w.hook != nil {
		w.hook(e.table)
	}
	w.err = w.ctx.Err()
}

// uniqueIDs fails on the first of n IDs that repeats an earlier one. IDs
// in increasing order, as the catalog lists findings and the graph its
// nodes and edges, are unique without a set of them: at 500 copies of
// Online Boutique these sets took 4 MB a scan, made while the scan's
// findings and graph are held, where its memory peaks. Controls, listed by
// element, still need theirs.
func uniqueIDs(what string, n int, id func(i int) string) error {
	increasing := true
	for i := 1; i < n && increasing; i++ {
		increasing = id(i-1) < id(i)
	}
	if increasing {
		return nil
	}
	seen := make(map[string]struct{}, n)
	for i := range n {
		key := id(i)
		if _, dup := seen[key]; dup {
			return fmt.Errorf("duplicate %s ID %q (a bug in the graph builder; please report it)", what, key)
		}
		seen[key] = struct{}{}
	}
	return nil
}

// sources inserts the scan's few sources, which are not shared between
// scans: Scans lists them for every scan at once.
func (w *writer) sources(srcs []discover.Source) {
	if w.err != nil || len(srcs) == 0 {
		return
	}
	for i := range srcs {
		src := &srcs[i]
		data, err := w.json(src)
		if err == nil {
			_, err = w.tx.ExecContext(context.WithoutCancel(w.ctx), `INSERT INTO sources (scan_id, ord, kind, path, sha256, data) VALUES (?, ?, ?, ?, ?, ?)`,
				w.scan, i, string(src.Kind), src.Path, src.SHA256, data)
		}
		if err != nil {
			w.err = fmt.Errorf("source %q: %w", src.Path, err)
			return
		}
	}
	if w.hook != nil {
		w.hook("sources")
	}
	w.err = w.ctx.Err()
}

// contentSQL inserts rows rows into table_content, skipping those already
// there: "INSERT INTO t_content (hash, cols…) VALUES (?, …), … ON CONFLICT
// (hash) DO NOTHING".
func contentSQL(table string, cols []string, rows int) string {
	var b strings.Builder
	fmt.Fprintf(&b, "INSERT INTO %s_content (hash, %s) VALUES ", table, strings.Join(cols, ", "))
	writeRows(&b, len(cols)+1, rows)
	b.WriteString(" ON CONFLICT (hash) DO NOTHING")
	return b.String()
}

// placeSQL records where rows rows sit in a scan: the scan ID, then (ord,
// hash) pairs, each hash turned into its content row's ID.
func placeSQL(table string, rows int) string {
	var b strings.Builder
	fmt.Fprintf(&b, "INSERT INTO %s (scan_id, ord, content) SELECT ?1, p.column1, c.content_id FROM (VALUES ", table)
	writeRows(&b, 2, rows)
	fmt.Fprintf(&b, ") p JOIN %s_content c ON c.hash = p.column2", table)
	return b.String()
}

// writeRows writes rows groups of cols placeholders: "(?, ?), (?, ?)".
func writeRows(b *strings.Builder, cols, rows int) {
	row := "(?" + strings.Repeat(", ?", cols-1) + ")"
	for i := range rows {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(row)
	}
}

// json encodes v as the data column. Returned as a string because the
// column is STRICT TEXT, which rejects a []byte (a BLOB).
func (w *writer) json(v any) (string, error) {
	w.buf.Reset()
	if err := w.enc.Encode(v); err != nil {
		return "", err
	}
	return string(bytes.TrimSuffix(w.buf.Bytes(), []byte{'\n'})), nil
}

// timeFormat stores times as sortable, readable UTC text.
const timeFormat = "2006-01-02T15:04:05.000000000Z07:00"

func formatTime(t time.Time) string {
	return t.UTC().Format(timeFormat)
}

func parseTime(s string) (time.Time, error) {
	return time.Parse(timeFormat, s)
}
