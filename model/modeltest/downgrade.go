package modeltest

import (
	"bytes"
	"crypto/sha256"
	"database/sql"
	"encoding/json"
	"strconv"
	"strings"
	"testing"

	"github.com/stridemap/stridemap/model"
)

// UndoControlGroups rewrites a store's controls tables in the layout
// before migration 0009, one row per control with its id, type, target and
// the control as JSON, as an older stridemap left them, for tests that
// open such a store. Each row's key is a hash of its columns but not the
// one SaveScan computed then: migrations from that layout do not read it.
// It leaves user_version alone: callers set the version they rewind to.
func UndoControlGroups(t testing.TB, db *sql.DB) {
	t.Helper()
	type group struct {
		Target   string `json:"target"`
		Controls []struct {
			ID       *string          `json:"id"`
			Type     string           `json:"type"`
			Evidence []model.Evidence `json:"evidence"`
		} `json:"controls"`
	}
	places := groupedRows[group](t, db, "controls")
	exec := execer(t, db)
	exec(`CREATE TABLE old_controls_content (content_id INTEGER PRIMARY KEY, hash BLOB NOT NULL UNIQUE,
		id TEXT NOT NULL, type TEXT NOT NULL, target TEXT NOT NULL, data TEXT NOT NULL) STRICT`)
	exec(`CREATE TABLE old_controls (scan_id INTEGER NOT NULL REFERENCES scans (id) ON DELETE CASCADE, ord INTEGER NOT NULL,
		content INTEGER NOT NULL, PRIMARY KEY (scan_id, ord)) STRICT, WITHOUT ROWID`)
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	ord := map[int64]int{}
	for _, p := range places {
		for _, c := range p.group.Controls {
			control := model.Control{ID: c.Type + "@" + p.group.Target, Type: c.Type, Target: p.group.Target, Evidence: c.Evidence}
			if c.ID != nil {
				control.ID = *c.ID
			}
			buf.Reset()
			if err := enc.Encode(control); err != nil {
				t.Fatal(err)
			}
			data := string(bytes.TrimSuffix(buf.Bytes(), []byte("\n")))
			sum := sha256.Sum256([]byte(strings.Join([]string{control.ID, control.Type, control.Target, data}, "\x00")))
			exec(`INSERT INTO old_controls_content (hash, id, type, target, data) VALUES (?, ?, ?, ?, ?)
				ON CONFLICT (hash) DO NOTHING`, sum[:16], control.ID, control.Type, control.Target, data)
			exec(`INSERT INTO old_controls (scan_id, ord, content) SELECT ?, ?, content_id FROM old_controls_content WHERE hash = ?`,
				p.scan, ord[p.scan], sum[:16])
			ord[p.scan]++
		}
	}
	exec(`DROP TABLE controls`)
	exec(`DROP TABLE controls_content`)
	exec(`ALTER TABLE old_controls RENAME TO controls`)
	exec(`ALTER TABLE old_controls_content RENAME TO controls_content`)
}

// UndoObjectGroups rewrites a store's objects tables in the layout before
// migration 0010, one row per object with its columns, as an older
// stridemap left them; keyed as UndoControlGroups keys its rows. It
// leaves user_version alone.
func UndoObjectGroups(t testing.TB, db *sql.DB) {
	t.Helper()
	type group struct {
		File      string `json:"file"`
		Namespace string `json:"namespace"`
		Objects   []struct {
			APIVersion string `json:"apiVersion"`
			Kind       string `json:"kind"`
			Name       string `json:"name"`
			Line       int    `json:"line"`
		} `json:"objects"`
	}
	places := groupedRows[group](t, db, "objects")
	exec := execer(t, db)
	exec(`CREATE TABLE old_objects_content (content_id INTEGER PRIMARY KEY, hash BLOB NOT NULL UNIQUE,
		api_version TEXT NOT NULL, kind TEXT NOT NULL, namespace TEXT NOT NULL, name TEXT NOT NULL, file TEXT NOT NULL, line INTEGER NOT NULL) STRICT`)
	exec(`CREATE TABLE old_objects (scan_id INTEGER NOT NULL REFERENCES scans (id) ON DELETE CASCADE, ord INTEGER NOT NULL,
		content INTEGER NOT NULL, PRIMARY KEY (scan_id, ord)) STRICT, WITHOUT ROWID`)
	ord := map[int64]int{}
	for _, p := range places {
		for _, o := range p.group.Objects {
			sum := sha256.Sum256([]byte(strings.Join([]string{o.APIVersion, o.Kind, p.group.Namespace, o.Name, p.group.File, strconv.Itoa(o.Line)}, "\x00")))
			exec(`INSERT INTO old_objects_content (hash, api_version, kind, namespace, name, file, line) VALUES (?, ?, ?, ?, ?, ?, ?)
				ON CONFLICT (hash) DO NOTHING`, sum[:16], o.APIVersion, o.Kind, p.group.Namespace, o.Name, p.group.File, o.Line)
			exec(`INSERT INTO old_objects (scan_id, ord, content) SELECT ?, ?, content_id FROM old_objects_content WHERE hash = ?`,
				p.scan, ord[p.scan], sum[:16])
			ord[p.scan]++
		}
	}
	exec(`DROP TABLE objects`)
	exec(`DROP TABLE objects_content`)
	exec(`ALTER TABLE old_objects RENAME TO objects`)
	exec(`ALTER TABLE old_objects_content RENAME TO objects_content`)
}

// UndoFindingGroups rewrites a store's findings tables in the layout
// before migration 0011, one row per finding with its columns and its
// data, as an older stridemap left them; keyed as UndoControlGroups keys
// its rows. Each scan's findings are in the order of its groups. It
// leaves user_version alone.
func UndoFindingGroups(t testing.TB, db *sql.DB) {
	t.Helper()
	type group struct {
		Element   string `json:"element"`
		Namespace string `json:"namespace"`
		Findings  []struct {
			ID       *string         `json:"id"`
			RuleID   string          `json:"rule"`
			Stride   string          `json:"stride"`
			Severity string          `json:"severity"`
			Data     json.RawMessage `json:"data"`
		} `json:"findings"`
	}
	places := groupedRows[group](t, db, "findings")
	exec := execer(t, db)
	exec(`CREATE TABLE old_findings_content (content_id INTEGER PRIMARY KEY, hash BLOB NOT NULL UNIQUE,
		id TEXT NOT NULL, rule_id TEXT NOT NULL, stride TEXT NOT NULL, severity TEXT NOT NULL, element TEXT NOT NULL,
		namespace TEXT NOT NULL, data TEXT NOT NULL) STRICT`)
	exec(`CREATE TABLE old_findings (scan_id INTEGER NOT NULL REFERENCES scans (id) ON DELETE CASCADE, ord INTEGER NOT NULL,
		content INTEGER NOT NULL, PRIMARY KEY (scan_id, ord)) STRICT, WITHOUT ROWID`)
	ord := map[int64]int{}
	for _, p := range places {
		for _, f := range p.group.Findings {
			id := f.RuleID + "@" + p.group.Element
			if f.ID != nil {
				id = *f.ID
			}
			sum := sha256.Sum256([]byte(strings.Join([]string{id, f.RuleID, f.Stride, f.Severity, p.group.Element, p.group.Namespace, string(f.Data)}, "\x00")))
			exec(`INSERT INTO old_findings_content (hash, id, rule_id, stride, severity, element, namespace, data) VALUES (?, ?, ?, ?, ?, ?, ?, ?)
				ON CONFLICT (hash) DO NOTHING`, sum[:16], id, f.RuleID, f.Stride, f.Severity, p.group.Element, p.group.Namespace, string(f.Data))
			exec(`INSERT INTO old_findings (scan_id, ord, content) SELECT ?, ?, content_id FROM old_findings_content WHERE hash = ?`,
				p.scan, ord[p.scan], sum[:16])
			ord[p.scan]++
		}
	}
	exec(`DROP TABLE findings`)
	exec(`DROP TABLE findings_content`)
	exec(`ALTER TABLE old_findings RENAME TO findings`)
	exec(`ALTER TABLE old_findings_content RENAME TO findings_content`)
}

// UndoRowGroups undoes migrations 0011, 0010 and 0009
// (UndoFindingGroups, UndoObjectGroups and UndoControlGroups), for a test
// that rewinds a store to schema 8 or earlier.
func UndoRowGroups(t testing.TB, db *sql.DB) {
	t.Helper()
	UndoFindingGroups(t, db)
	UndoObjectGroups(t, db)
	UndoControlGroups(t, db)
}

// groupRow is one row of a grouped table: its scan and its group.
type groupRow[G any] struct {
	scan  int64
	group G
}

// groupedRows reads every row of a grouped table (controls, objects,
// findings), by scan and in order.
func groupedRows[G any](t testing.TB, db *sql.DB, table string) []groupRow[G] {
	t.Helper()
	rows, err := db.Query(`SELECT m.scan_id, c.data FROM ` + table + ` m JOIN ` + table + `_content c ON c.content_id = m.content ORDER BY m.scan_id, m.ord`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var out []groupRow[G]
	for rows.Next() {
		var r groupRow[G]
		var data []byte
		if err := rows.Scan(&r.scan, &data); err != nil {
			t.Fatal(err)
		}
		if err := json.Unmarshal(data, &r.group); err != nil {
			t.Fatalf("%s row %s: %v", table, data, err)
		}
		out = append(out, r)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// execer runs statements on db, failing the test on the first error.
func execer(t testing.TB, db *sql.DB) func(query string, args ...any) {
	return func(query string, args ...any) {
		t.Helper()
		if _, err := db.Exec(query, args...); err != nil {
			t.Fatalf("%s: %v", query, err)
		}
	}
}
