package store

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"

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
	Objects               []ObjectRef // the inventory's index: names and locations only, never content
	Problems              []discover.Problem
	Graph                 *model.Graph // nil is saved as an empty graph
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
}

// ScanInfo describes a saved scan without its graph.
type ScanInfo struct {
	ID                    int64
	StartedAt, FinishedAt time.Time // UTC
	ToolVersion           string
	Sources               []discover.Source
	Partial               bool // some input could not be used: see Problems
	Counts                Counts
}

// countsOf computes the Counts of a scan about to be saved.
func countsOf(rec *ScanRecord, g *model.Graph) Counts {
	c := Counts{
		Objects:     len(rec.Objects),
		Nodes:       len(g.Nodes),
		Edges:       len(g.Edges),
		Boundaries:  len(g.Boundaries),
		Controls:    len(g.Controls),
		Dangling:    len(g.Dangling),
		Problems:    len(rec.Problems),
		NodesByType: make(map[model.NodeType]int),
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
	g := rec.Graph
	if g == nil {
		g = &model.Graph{}
	}
	c := countsOf(&rec, g)
	byType, err := json.Marshal(c.NodesByType)
	if err != nil {
		return 0, s.saveErr(err)
	}

	tx, err := s.w.BeginTx(ctx, nil)
	if err != nil {
		return 0, s.saveErr(err)
	}
	defer tx.Rollback() // a no-op after Commit

	res, err := tx.ExecContext(ctx, `INSERT INTO scans (
		started_at, finished_at, tool_version, partial,
		n_objects, n_nodes, n_edges, n_boundaries, n_controls, n_dangling, n_problems, n_errors, n_exposed,
		nodes_by_type) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		formatTime(rec.StartedAt), formatTime(rec.FinishedAt), rec.ToolVersion, c.Errors > 0,
		c.Objects, c.Nodes, c.Edges, c.Boundaries, c.Controls, c.Dangling, c.Problems, c.Errors, c.Exposed,
		string(byType))
	if err != nil {
		return 0, s.saveErr(err)
	}
	id, err := res.LastInsertId()
	if err != nil {
		return 0, s.saveErr(err)
	}

	w := &writer{ctx: ctx, tx: tx, scan: id, hook: s.hook}
	w.enc = json.NewEncoder(&w.buf)
	w.enc.SetEscapeHTML(false)

	w.table("sources", "source", `INSERT INTO sources (scan_id, ord, kind, path, sha256, data) VALUES (?, ?, ?, ?, ?, ?)`,
		len(rec.Sources), func(i int) (string, []any, error) {
			src := &rec.Sources[i]
			data, err := w.json(src)
			return src.Path, []any{string(src.Kind), src.Path, src.SHA256, data}, err
		})
	w.table("objects", "object", `INSERT INTO objects (scan_id, ord, api_version, kind, namespace, name, file, line) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
		len(rec.Objects), func(i int) (string, []any, error) {
			o := &rec.Objects[i]
			return o.Kind + " " + o.Namespace + "/" + o.Name,
				[]any{o.APIVersion, o.Kind, o.Namespace, o.Name, o.Location.File, o.Location.Line}, nil
		})
	w.table("problems", "problem", `INSERT INTO problems (scan_id, ord, severity, code, file, line, object, data) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
		len(rec.Problems), func(i int) (string, []any, error) {
			p := &rec.Problems[i]
			data, err := w.json(p)
			return p.Location.String(), []any{string(p.Severity), p.Code, p.Location.File, p.Location.Line, p.Object, data}, err
		})
	w.table("nodes", "node", `INSERT INTO nodes (scan_id, ord, id, type, namespace, name, kind, data) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
		len(g.Nodes), func(i int) (string, []any, error) {
			n := &g.Nodes[i]
			data, err := w.json(n)
			return n.ID, []any{n.ID, string(n.Type), n.Namespace, n.Name, n.Kind, data}, err
		})
	w.table("edges", "edge", `INSERT INTO edges (scan_id, ord, id, from_id, to_id, port, protocol, encryption, declared, observed, data) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		len(g.Edges), func(i int) (string, []any, error) {
			e := &g.Edges[i]
			data, err := w.json(e)
			return e.ID, []any{e.ID, e.From, e.To, e.Port, e.Protocol, string(e.Encryption), e.Declared, e.Observed, data}, err
		})
	w.table("boundaries", "boundary", `INSERT INTO boundaries (scan_id, ord, id, type, name, parent, data) VALUES (?, ?, ?, ?, ?, ?, ?)`,
		len(g.Boundaries), func(i int) (string, []any, error) {
			b := &g.Boundaries[i]
			data, err := w.json(b)
			return b.ID, []any{b.ID, string(b.Type), b.Name, b.Parent, data}, err
		})
	w.table("controls", "control", `INSERT INTO controls (scan_id, ord, id, type, target, data) VALUES (?, ?, ?, ?, ?, ?)`,
		len(g.Controls), func(i int) (string, []any, error) {
			ct := &g.Controls[i]
			data, err := w.json(ct)
			return ct.ID, []any{ct.ID, ct.Type, ct.Target, data}, err
		})
	w.table("dangling", "dangling reference", `INSERT INTO dangling (scan_id, ord, from_id, target, reason, data) VALUES (?, ?, ?, ?, ?, ?)`,
		len(g.Dangling), func(i int) (string, []any, error) {
			d := &g.Dangling[i]
			data, err := w.json(d)
			return d.From + " -> " + d.Target, []any{d.From, d.Target, d.Reason, data}, err
		})
	if w.err != nil {
		return 0, s.saveErr(w.err)
	}
	if err := tx.Commit(); err != nil {
		return 0, s.saveErr(err)
	}
	return id, nil
}

func (s *Store) saveErr(err error) error {
	return fmt.Errorf("save scan to %s: %w; nothing was saved", s.path, err)
}

// checkEvery is how many rows are inserted between checks of the caller's
// context. Rows are executed with a context that cannot be cancelled: the
// driver starts a watcher goroutine per statement for a cancellable one,
// which costs more than the insert itself.
const checkEvery = 512

// writer inserts the rows of one scan into one table after another inside
// the scan's transaction. The first error stops it; later calls do nothing.
type writer struct {
	ctx  context.Context
	tx   *sql.Tx
	scan int64
	hook func(table string)
	buf  bytes.Buffer
	enc  *json.Encoder
	err  error
}

// table prepares query once and executes it for n rows. row returns the
// element's name for error messages and the column values after scan_id
// and ord.
func (w *writer) table(table, what, query string, n int, row func(i int) (string, []any, error)) {
	if w.err != nil {
		return
	}
	if err := w.ctx.Err(); err != nil {
		w.err = err
		return
	}
	stmt, err := w.tx.PrepareContext(w.ctx, query)
	if err != nil {
		w.err = fmt.Errorf("prepare insert into %s: %w", table, err)
		return
	}
	defer stmt.Close()
	exec := context.WithoutCancel(w.ctx)
	args := make([]any, 0, 12)
	for i := range n {
		if i%checkEvery == checkEvery-1 {
			if err := w.ctx.Err(); err != nil {
				w.err = err
				return
			}
		}
		name, cols, err := row(i)
		if err != nil {
			w.err = fmt.Errorf("%s %q: %w", what, name, err)
			return
		}
		args = append(append(args[:0], w.scan, i), cols...)
		if _, err := stmt.ExecContext(exec, args...); err != nil {
			var se *sqlite.Error
			if errors.As(err, &se) && se.Code() == sqlite3.SQLITE_CONSTRAINT_UNIQUE {
				w.err = fmt.Errorf("duplicate %s ID %q (a bug in the graph builder; please report it): %w", what, name, err)
			} else {
				w.err = fmt.Errorf("%s %q: %w", what, name, err)
			}
			return
		}
	}
	if w.hook != nil {
		w.hook(table)
	}
	if err := w.ctx.Err(); err != nil {
		w.err = err
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
