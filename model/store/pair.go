package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"

	"github.com/stridemap/stridemap/discover"
	"github.com/stridemap/stridemap/model"
)

// GraphPair loads the graphs of scans a and b, to compare them. The store
// keeps each distinct element once however many scans hold it, and two
// scans of one target share nearly all of them: those are read and decoded
// once, and b's copies share their slices and maps with a's. Treat both
// graphs as read-only.
func (s *Store) GraphPair(ctx context.Context, a, b int64) (*model.Graph, *model.Graph, error) {
	var ga, gb *model.Graph
	err := s.read(ctx, func(tx *sql.Tx) error {
		var err error
		if ga, err = emptyGraph(ctx, s, tx, a); err != nil {
			return err
		}
		if gb, err = emptyGraph(ctx, s, tx, b); err != nil {
			return err
		}
		var controlsA, controlsB []controlGroup
		for _, err := range []error{
			readPair(ctx, tx, "nodes", a, b, &ga.Nodes, &gb.Nodes),
			readPair(ctx, tx, "edges", a, b, &ga.Edges, &gb.Edges),
			readPair(ctx, tx, "boundaries", a, b, &ga.Boundaries, &gb.Boundaries),
			readPair(ctx, tx, "controls", a, b, &controlsA, &controlsB),
			readPair(ctx, tx, "dangling", a, b, &ga.Dangling, &gb.Dangling),
			readPair(ctx, tx, "gaps", a, b, &ga.Gaps, &gb.Gaps),
		} {
			if err != nil {
				return err
			}
		}
		ga.Controls = appendControls(ga.Controls, controlsA)
		gb.Controls = appendControls(gb.Controls, controlsB)
		return nil
	})
	if err != nil {
		return nil, nil, s.readErr(fmt.Sprintf("read the graphs of scans %d and %d", a, b), err)
	}
	return ga, gb, nil
}

// emptyGraph is the graph of scan id before its elements are read: the
// slices sized from the scan's counts and never nil, Gaps nil when it had
// none, as Graph returns them.
func emptyGraph(ctx context.Context, s *Store, tx *sql.Tx, id int64) (*model.Graph, error) {
	info, err := s.scanRow(ctx, tx, id)
	if err != nil {
		return nil, err
	}
	c := info.Counts
	g := &model.Graph{
		Nodes:      make([]model.Node, 0, c.Nodes),
		Edges:      make([]model.Edge, 0, c.Edges),
		Boundaries: make([]model.Boundary, 0, c.Boundaries),
		Controls:   make([]model.Control, 0, c.Controls),
		Dangling:   make([]model.DanglingRef, 0, c.Dangling),
	}
	if c.Gaps > 0 {
		g.Gaps = make([]discover.Gap, 0, c.Gaps)
	}
	return g, nil
}

// readPair appends the rows of scans a and b in one of the element tables
// to *outA and *outB. Rows of b that a holds too come without their data
// and are copied from a's.
func readPair[T any](ctx context.Context, tx *sql.Tx, table string, a, b int64, outA, outB *[]T) error {
	decode := func(out *[]T, data []byte) error {
		*out = append(*out, *new(T))
		if err := json.Unmarshal(data, &(*out)[len(*out)-1]); err != nil {
			return fmt.Errorf("%s row %d: %w", table, len(*out)-1, err)
		}
		return nil
	}
	at := map[int64]int{} // content ID → its index in *outA
	err := eachContent(ctx, tx, `SELECT m.content, c.data FROM `+inScan(table), []any{a}, func(content int64, data []byte) error {
		at[content] = len(*outA)
		return decode(outA, data)
	})
	if err != nil {
		return err
	}
	return eachContent(ctx, tx, sharedWith(table), []any{a, b}, func(content int64, data []byte) error {
		if data != nil {
			return decode(outB, data)
		}
		i, ok := at[content]
		if !ok {
			return fmt.Errorf("%s: scan %d shares row %d with scan %d, which does not hold it", table, b, content, a)
		}
		*outB = append(*outB, (*outA)[i])
		return nil
	})
}

// sharedWith is the query that reads one scan's rows of table in order,
// each row's content ID and data, the data NULL where another scan holds
// the same content. Its parameters are the other scan and the scan read.
func sharedWith(table string) string {
	return `SELECT m.content, CASE WHEN m.content IN (SELECT content FROM ` + table + ` WHERE scan_id = ?) THEN NULL ELSE c.data END FROM ` + inScan(table)
}

// eachContent runs query and calls fn with each row's content ID and data
// (nil for NULL). The bytes are only valid during the call.
func eachContent(ctx context.Context, tx *sql.Tx, query string, args []any, fn func(int64, []byte) error) error {
	rows, err := tx.QueryContext(ctx, query, args...)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		var content int64
		var data sql.RawBytes
		if err := rows.Scan(&content, &data); err != nil {
			return err
		}
		if err := fn(content, data); err != nil {
			return err
		}
	}
	return rows.Err()
}

// FindingsPair loads the findings of scans a and b, to compare them: a
// finding both scans hold is read once and b's record is a's (its Data
// shared). Each record's Content says which stored row holds it, so
// callers can decode a shared one once.
func (s *Store) FindingsPair(ctx context.Context, a, b int64) ([]Finding, []Finding, error) {
	fa, fb := []Finding{}, []Finding{}
	err := s.read(ctx, func(tx *sql.Tx) error {
		if _, err := s.scanRow(ctx, tx, a); err != nil {
			return err
		}
		if _, err := s.scanRow(ctx, tx, b); err != nil {
			return err
		}
		at := map[int64][2]int{} // where each row's findings are in fa
		err := eachFindingGroup(ctx, tx, findingsOf, []any{a}, func(content int64, g *findingGroup) error {
			from := len(fa)
			fa = appendFindings(fa, content, g)
			at[content] = [2]int{from, len(fa)}
			return nil
		})
		if err != nil {
			return err
		}
		err = eachFindingGroup(ctx, tx, sharedFindings, []any{a, b}, func(content int64, g *findingGroup) error {
			if g != nil {
				fb = appendFindings(fb, content, g)
				return nil
			}
			span, ok := at[content]
			if !ok {
				return fmt.Errorf("findings: scan %d shares row %d with scan %d, which does not hold it", b, content, a)
			}
			fb = append(fb, fa[span[0]:span[1]]...)
			return nil
		})
		sortFindings(fa)
		sortFindings(fb)
		return err
	})
	if err != nil {
		return nil, nil, s.readErr(fmt.Sprintf("read findings of scans %d and %d", a, b), err)
	}
	return fa, fb, nil
}

// sharedFindings reads scan b's rows of findings, with the data of those
// scan a holds too NULL (parameters a, b).
var sharedFindings = sharedWith("findings")

// findingsOf reads the rows of findings of one scan.
var findingsOf = `SELECT m.content, c.data FROM ` + inScan("findings")

// eachFindingGroup runs query, which reads content IDs and data of rows
// of findings, and calls fn with each row decoded; g is nil where the
// data is NULL.
func eachFindingGroup(ctx context.Context, tx *sql.Tx, query string, args []any, fn func(content int64, g *findingGroup) error) error {
	return eachContent(ctx, tx, query, args, func(content int64, data []byte) error {
		if data == nil {
			return fn(content, nil)
		}
		g, err := decodeFindingGroup(data)
		if err != nil {
			return fmt.Errorf("findings row %d: %w", content, err)
		}
		return fn(content, &g)
	})
}
