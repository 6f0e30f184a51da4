-- 0009: the controls of one element are one row.
--
-- An element has several controls (a workload seven or eight), and each
-- row costs far more to write than its bytes: controls were the largest
-- table by rows, and the slowest part of saving a scan. Now a row of
-- controls holds a run of consecutive controls with the same target, which
-- in a built graph is all of one element's controls (Graph.Controls is
-- sorted by target), as JSON {"target": T, "controls": [{"type", "evidence"},
-- ...]}; a control's "id" is written only when it is not TYPE@TARGET. The
-- target is kept as a column too.
--
-- Existing rows are grouped the same way, run by run in their order, and
-- keyed with stridemap_content_key as SaveScan keys them, so a later scan
-- shares the groups it has in common with them.

-- Each control of each scan, with run: equal for consecutive controls of
-- one target (ord and the control's rank within its target both grow by
-- one along a run).
CREATE TEMP TABLE control_runs AS
    SELECT m.scan_id, m.ord, c.target,
        m.ord - row_number() OVER (PARTITION BY m.scan_id, c.target ORDER BY m.ord) AS run,
        CASE WHEN c.id = c.type || '@' || c.target
            THEN json_object('type', c.type, 'evidence', json_extract(c.data, '$.evidence'))
            ELSE json_object('id', c.id, 'type', c.type, 'evidence', json_extract(c.data, '$.evidence'))
        END AS entry
    FROM controls m JOIN controls_content c ON c.content_id = m.content;

-- Go's encoder escapes U+2028 and U+2029, which SQLite writes as they are.
CREATE TEMP TABLE control_groups AS
    SELECT scan_id, min(ord) AS first, target,
        replace(replace(json_object('target', target, 'controls', json_group_array(json(entry) ORDER BY ord)),
            char(8232), '\u2028'), char(8233), '\u2029') AS data
    FROM control_runs GROUP BY scan_id, target, run;

CREATE TABLE controls_grouped_content (
    content_id  INTEGER PRIMARY KEY,
    hash        BLOB    NOT NULL UNIQUE,
    target      TEXT NOT NULL,
    data        TEXT NOT NULL
) STRICT;
INSERT INTO controls_grouped_content (hash, target, data)
    SELECT stridemap_content_key(target, data), target, data FROM control_groups WHERE true ORDER BY scan_id, first
    ON CONFLICT (hash) DO NOTHING;
CREATE TABLE controls_grouped (
    scan_id INTEGER NOT NULL REFERENCES scans (id) ON DELETE CASCADE,
    ord     INTEGER NOT NULL,
    content INTEGER NOT NULL, -- controls_content (content_id)
    PRIMARY KEY (scan_id, ord)
) STRICT, WITHOUT ROWID;
INSERT INTO controls_grouped (scan_id, ord, content)
    SELECT g.scan_id, row_number() OVER (PARTITION BY g.scan_id ORDER BY g.first) - 1, c.content_id
    FROM control_groups g JOIN controls_grouped_content c ON c.hash = stridemap_content_key(g.target, g.data);

DROP TABLE controls;
DROP TABLE controls_content;
ALTER TABLE controls_grouped RENAME TO controls;
ALTER TABLE controls_grouped_content RENAME TO controls_content;
DROP TABLE temp.control_runs;
DROP TABLE temp.control_groups;
