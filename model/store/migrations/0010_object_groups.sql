-- 0010: the objects of one file and namespace are one row.
--
-- The inventory index had a row per object, the most rows of any table
-- after findings, for a few names each. Now a row holds a run of
-- consecutive objects read from one file in one namespace, as JSON
-- {"file": F, "namespace": N, "objects": [{"apiVersion", "kind", "name",
-- "line"}, ...]}, with the file and namespace as columns too. An object
-- read from an API server has a file of its own, so a live scan still has
-- a row per object.
--
-- Existing rows are grouped the same way, run by run in their order, and
-- keyed with stridemap_content_key as SaveScan keys them, so a later scan
-- shares the groups it has in common with them.

-- Each object of each scan, with run: equal for consecutive objects of one
-- file and namespace (see 0009).
CREATE TEMP TABLE object_runs AS
    SELECT m.scan_id, m.ord, c.file, c.namespace,
        m.ord - row_number() OVER (PARTITION BY m.scan_id, c.file, c.namespace ORDER BY m.ord) AS run,
        json_object('apiVersion', c.api_version, 'kind', c.kind, 'name', c.name, 'line', c.line) AS entry
    FROM objects m JOIN objects_content c ON c.content_id = m.content;

-- Go's encoder escapes U+2028 and U+2029, which SQLite writes as they are.
CREATE TEMP TABLE object_groups AS
    SELECT scan_id, min(ord) AS first, file, namespace,
        replace(replace(json_object('file', file, 'namespace', namespace, 'objects', json_group_array(json(entry) ORDER BY ord)),
            char(8232), '\u2028'), char(8233), '\u2029') AS data
    FROM object_runs GROUP BY scan_id, file, namespace, run;

CREATE TABLE objects_grouped_content (
    content_id  INTEGER PRIMARY KEY,
    hash        BLOB    NOT NULL UNIQUE,
    file        TEXT NOT NULL,
    namespace   TEXT NOT NULL,
    data        TEXT NOT NULL
) STRICT;
INSERT INTO objects_grouped_content (hash, file, namespace, data)
    SELECT stridemap_content_key(file, namespace, data), file, namespace, data FROM object_groups WHERE true ORDER BY scan_id, first
    ON CONFLICT (hash) DO NOTHING;
CREATE TABLE objects_grouped (
    scan_id INTEGER NOT NULL REFERENCES scans (id) ON DELETE CASCADE,
    ord     INTEGER NOT NULL,
    content INTEGER NOT NULL, -- objects_content (content_id)
    PRIMARY KEY (scan_id, ord)
) STRICT, WITHOUT ROWID;
INSERT INTO objects_grouped (scan_id, ord, content)
    SELECT g.scan_id, row_number() OVER (PARTITION BY g.scan_id ORDER BY g.first) - 1, c.content_id
    FROM object_groups g JOIN objects_grouped_content c ON c.hash = stridemap_content_key(g.file, g.namespace, g.data);

DROP TABLE objects;
DROP TABLE objects_content;
ALTER TABLE objects_grouped RENAME TO objects;
ALTER TABLE objects_grouped_content RENAME TO objects_content;
DROP TABLE temp.object_runs;
DROP TABLE temp.object_groups;
