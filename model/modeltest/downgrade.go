package modeltest

import (
	"bytes"
	"crypto/sha256"
	"database/sql"
	"encoding/json"
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
	type place struct {
		scan  int64
		group group
	}
	rows, err := db.Query(`SELECT m.scan_id, c.data FROM controls m JOIN controls_content c ON c.content_id = m.content ORDER BY m.scan_id, m.ord`)
	if err != nil {
		t.Fatal(err)
	}
	var places []place
	for rows.Next() {
		var p place
		var data []byte
		if err := rows.Scan(&p.scan, &data); err != nil {
			t.Fatal(err)
		}
		if err := json.Unmarshal(data, &p.group); err != nil {
			t.Fatalf("controls row %s: %v", data, err)
		}
		places = append(places, p)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	rows.Close()

	exec := func(query string, args ...any) {
		t.Helper()
		if _, err := db.Exec(query, args...); err != nil {
			t.Fatalf("%s: %v", query, err)
		}
	}
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
