package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/stridemap/stridemap/discover"
	"github.com/stridemap/stridemap/model"
)

const scanColumns = `id, started_at, finished_at, tool_version, partial,
	n_objects, n_nodes, n_edges, n_boundaries, n_controls, n_dangling, n_problems, n_errors, n_exposed,
	nodes_by_type, n_findings, findings_by_severity, catalog, n_gaps, n_not_assessed, kept, target`

// Scans lists every scan, newest first. An empty store gives an empty list,
// not ErrNoScans: listing nothing is not a failure.
func (s *Store) Scans(ctx context.Context) ([]ScanInfo, error) {
	var out []ScanInfo
	err := s.read(ctx, func(tx *sql.Tx) error {
		rows, err := tx.QueryContext(ctx, `SELECT `+scanColumns+` FROM scans ORDER BY id DESC`)
		if err != nil {
			return err
		}
		defer rows.Close()
		index := make(map[int64]int)
		for rows.Next() {
			info, err := scanInfo(rows)
			if err != nil {
				return err
			}
			index[info.ID] = len(out)
			out = append(out, info)
		}
		if err := rows.Err(); err != nil {
			return err
		}

		rows, err = tx.QueryContext(ctx, `SELECT scan_id, data FROM sources ORDER BY scan_id, ord`)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var id int64
			var data sql.RawBytes
			if err := rows.Scan(&id, &data); err != nil {
				return err
			}
			i, ok := index[id]
			if !ok {
				continue // a scan saved after the first query; not in this list
			}
			var src discover.Source
			if err := json.Unmarshal(data, &src); err != nil {
				return fmt.Errorf("scan %d source: %w", id, err)
			}
			out[i].Sources = append(out[i].Sources, src)
		}
		return rows.Err()
	})
	if err != nil {
		return nil, s.readErr("list scans", err)
	}
	if out == nil {
		out = []ScanInfo{}
	}
	for i := range out {
		if out[i].Sources == nil {
			out[i].Sources = []discover.Source{}
		}
		out[i].deriveTarget()
	}
	return out, nil
}

// Scan describes one scan. It returns an error wrapping ErrScanNotFound if
// there is no scan id.
func (s *Store) Scan(ctx context.Context, id int64) (ScanInfo, error) {
	var info ScanInfo
	err := s.read(ctx, func(tx *sql.Tx) error {
		var err error
		if info, err = s.scanRow(ctx, tx, id); err != nil {
			return err
		}
		info.Sources = []discover.Source{}
		return eachRow(ctx, tx, `SELECT data FROM sources WHERE scan_id = ? ORDER BY ord`, id, func(data []byte) error {
			var src discover.Source
			if err := json.Unmarshal(data, &src); err != nil {
				return fmt.Errorf("source: %w", err)
			}
			info.Sources = append(info.Sources, src)
			return nil
		})
	})
	info.deriveTarget()
	if err != nil {
		return ScanInfo{}, s.readErr(fmt.Sprintf("read scan %d", id), err)
	}
	return info, nil
}

// LatestScanID is the ID of the newest scan. It returns an error wrapping
// ErrNoScans, with a hint to run one, if the store is empty.
func (s *Store) LatestScanID(ctx context.Context) (int64, error) {
	var id sql.NullInt64
	if err := s.r.QueryRowContext(ctx, `SELECT max(id) FROM scans`).Scan(&id); err != nil {
		return 0, s.readErr("find the latest scan", err)
	}
	if !id.Valid {
		return 0, fmt.Errorf("%w %s yet; run `stridemap scan -f DIR` first", ErrNoScans, s.path)
	}
	return id.Int64, nil
}

// Graph loads the graph of scan id, elements in the order they were saved.
// Its five element slices are never nil, so an empty graph encodes as []
// not null; Gaps is nil when the scan had none.
func (s *Store) Graph(ctx context.Context, id int64) (*model.Graph, error) {
	var g *model.Graph
	err := s.read(ctx, func(tx *sql.Tx) error {
		info, err := s.scanRow(ctx, tx, id)
		if err != nil {
			return err
		}
		c := info.Counts
		g = &model.Graph{
			Nodes:      make([]model.Node, 0, c.Nodes),
			Edges:      make([]model.Edge, 0, c.Edges),
			Boundaries: make([]model.Boundary, 0, c.Boundaries),
			Controls:   make([]model.Control, 0, c.Controls),
			Dangling:   make([]model.DanglingRef, 0, c.Dangling),
		}
		if err := readAll(ctx, tx, "nodes", id, &g.Nodes); err != nil {
			return err
		}
		if err := readAll(ctx, tx, "edges", id, &g.Edges); err != nil {
			return err
		}
		if err := readAll(ctx, tx, "boundaries", id, &g.Boundaries); err != nil {
			return err
		}
		var controls []controlGroup
		if err := readAll(ctx, tx, "controls", id, &controls); err != nil {
			return err
		}
		g.Controls = appendControls(g.Controls, controls)
		if err := readAll(ctx, tx, "dangling", id, &g.Dangling); err != nil {
			return err
		}
		if c.Gaps > 0 {
			g.Gaps = make([]discover.Gap, 0, c.Gaps)
			return readAll(ctx, tx, "gaps", id, &g.Gaps)
		}
		return nil
	})
	if err != nil {
		return nil, s.readErr(fmt.Sprintf("read the graph of scan %d", id), err)
	}
	return g, nil
}

// Problems lists what went wrong while reading the sources of scan id, in
// the order the collectors reported it. Never nil.
func (s *Store) Problems(ctx context.Context, id int64) ([]discover.Problem, error) {
	return scanRows[discover.Problem](ctx, s, id, "problems", "the problems")
}

// Objects lists the inventory index of scan id: each object's name and
// where it was read, in inventory order. Never nil.
func (s *Store) Objects(ctx context.Context, id int64) ([]ObjectRef, error) {
	var out []ObjectRef
	err := s.read(ctx, func(tx *sql.Tx) error {
		info, err := s.scanRow(ctx, tx, id)
		if err != nil {
			return err
		}
		var groups []objectGroup
		if err := readAll(ctx, tx, "objects", id, &groups); err != nil {
			return err
		}
		out = appendObjects(make([]ObjectRef, 0, info.Counts.Objects), groups)
		return nil
	})
	if err != nil {
		return nil, s.readErr(fmt.Sprintf("read the objects of scan %d", id), err)
	}
	return out, nil
}

// read runs fn in a read-only transaction on the reader pool, so the
// queries of one call see one snapshot even while a scan is being saved.
func (s *Store) read(ctx context.Context, fn func(tx *sql.Tx) error) error {
	tx, err := s.r.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return err
	}
	defer tx.Rollback() // nothing to commit
	return fn(tx)
}

// readErr wraps a read failure with what was being read and the store's
// path; sentinel errors pass through already explained.
func (s *Store) readErr(what string, err error) error {
	switch code := sqliteCode(err); {
	case errors.Is(err, ErrScanNotFound):
		return err
	case damaged(err):
		return fmt.Errorf("%s from %s: %w: %w; see what is wrong with stridemap store check --db %s, and copy every scan that can still be read with stridemap store recover --db %s -o NEW.db",
			what, s.path, ErrDamaged, err, s.path, s.path)
	case code == sqliteBusy || code == sqliteLocked:
		return fmt.Errorf("%s from %s: %w; another stridemap is writing to it: try again when it has finished", what, s.path, err)
	}
	return fmt.Errorf("%s from %s: %w", what, s.path, err)
}

// scanRow reads the scans row of id, or returns an error wrapping
// ErrScanNotFound that says which scans do exist.
func (s *Store) scanRow(ctx context.Context, tx *sql.Tx, id int64) (ScanInfo, error) {
	info, err := scanInfo(tx.QueryRowContext(ctx, `SELECT `+scanColumns+` FROM scans WHERE id = ?`, id))
	if !errors.Is(err, sql.ErrNoRows) {
		return info, err
	}
	var latest sql.NullInt64
	if err := tx.QueryRowContext(ctx, `SELECT max(id) FROM scans`).Scan(&latest); err != nil {
		return ScanInfo{}, err
	}
	if !latest.Valid {
		return ScanInfo{}, fmt.Errorf("%w: no scan %d in %s, which has no scans yet; run `stridemap scan -f DIR` first", ErrScanNotFound, id, s.path)
	}
	return ScanInfo{}, fmt.Errorf("%w: no scan %d in %s; the latest is %d, `stridemap scans` lists them all", ErrScanNotFound, id, s.path, latest.Int64)
}

// scanInfo reads the scanColumns of one row into a ScanInfo, without
// sources.
func scanInfo(row interface{ Scan(...any) error }) (ScanInfo, error) {
	var (
		info             ScanInfo
		started, finshed string
		byType           []byte
		bySeverity       []byte
		target           sql.NullString
		c                = &info.Counts
	)
	err := row.Scan(&info.ID, &started, &finshed, &info.ToolVersion, &info.Partial,
		&c.Objects, &c.Nodes, &c.Edges, &c.Boundaries, &c.Controls, &c.Dangling, &c.Problems, &c.Errors, &c.Exposed,
		&byType, &c.Findings, &bySeverity, &info.Catalog, &c.Gaps, &c.NotAssessed, &info.Kept, &target)
	if err != nil {
		return ScanInfo{}, err
	}
	if info.StartedAt, err = parseTime(started); err != nil {
		return ScanInfo{}, fmt.Errorf("scan %d start time: %w", info.ID, err)
	}
	if info.FinishedAt, err = parseTime(finshed); err != nil {
		return ScanInfo{}, fmt.Errorf("scan %d finish time: %w", info.ID, err)
	}
	info.untargeted = !target.Valid
	if info.Target, err = discover.ParseTarget(target.String); err != nil {
		return ScanInfo{}, fmt.Errorf("scan %d target: %w", info.ID, err)
	}
	c.NodesByType = make(map[model.NodeType]int)
	if err := json.Unmarshal(byType, &c.NodesByType); err != nil {
		return ScanInfo{}, fmt.Errorf("scan %d node counts: %w", info.ID, err)
	}
	c.FindingsBySeverity = make(map[string]int)
	if err := json.Unmarshal(bySeverity, &c.FindingsBySeverity); err != nil {
		return ScanInfo{}, fmt.Errorf("scan %d finding counts: %w", info.ID, err)
	}
	return info, nil
}

// Findings loads the findings of scan id in ID order, the order in which
// the threats package lists them.
func (s *Store) Findings(ctx context.Context, id int64) ([]Finding, error) {
	out := []Finding{}
	err := s.read(ctx, func(tx *sql.Tx) error {
		if _, err := s.scanRow(ctx, tx, id); err != nil {
			return err
		}
		err := eachFindingGroup(ctx, tx, findingsOf, []any{id}, func(content int64, g *findingGroup) error {
			out = appendFindings(out, content, g)
			return nil
		})
		sortFindings(out)
		return err
	})
	if err != nil {
		return nil, s.readErr(fmt.Sprintf("read findings of scan %d", id), err)
	}
	return out, nil
}

// Rules loads the rule texts saved with scan id.
func (s *Store) Rules(ctx context.Context, id int64) ([]Rule, error) {
	out := []Rule{}
	err := s.read(ctx, func(tx *sql.Tx) error {
		rows, err := tx.QueryContext(ctx, `SELECT c.rule_id, c.data FROM `+inScan("scan_rules"), id)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var r Rule
			var data []byte
			if err := rows.Scan(&r.ID, &data); err != nil {
				return err
			}
			r.Data = data
			out = append(out, r)
		}
		return rows.Err()
	})
	if err != nil {
		return nil, s.readErr(fmt.Sprintf("read rules of scan %d", id), err)
	}
	return out, nil
}

// readAll appends the elements of one scan's table to *out, decoding each
// row's data column. table is one of the schema's constant names.
func readAll[T any](ctx context.Context, tx *sql.Tx, table string, id int64, out *[]T) error {
	return eachRow(ctx, tx, `SELECT c.data FROM `+inScan(table), id, func(data []byte) error {
		*out = append(*out, *new(T))
		if err := json.Unmarshal(data, &(*out)[len(*out)-1]); err != nil {
			return fmt.Errorf("%s row %d: %w", table, len(*out)-1, err)
		}
		return nil
	})
}

// inScan is the FROM clause that reads one scan's rows of an element table
// (a constant name from the schema) in order, with their content as c; the
// scan ID is its only parameter.
func inScan(table string) string {
	return table + ` m JOIN ` + table + `_content c ON c.content_id = m.content WHERE m.scan_id = ? ORDER BY m.ord`
}

// eachRow runs query with the scan id and calls fn with each row's single
// column. The bytes are only valid during the call.
func eachRow(ctx context.Context, tx *sql.Tx, query string, id int64, fn func([]byte) error) error {
	rows, err := tx.QueryContext(ctx, query, id)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		var data sql.RawBytes
		if err := rows.Scan(&data); err != nil {
			return err
		}
		if err := fn(data); err != nil {
			return err
		}
	}
	return rows.Err()
}
