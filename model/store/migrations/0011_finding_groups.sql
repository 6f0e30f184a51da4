-- 0011: the findings of one element are one row.
--
-- An element has several findings, and each row costs far more to write
-- than its bytes: findings were the largest table by rows, and the
-- slowest part of saving a scan. Now a row of findings holds all the
-- findings of one element (and namespace) as JSON {"element": E,
-- "namespace": N, "findings": [{"rule", "stride", "severity", "data"},
-- ...]}, in the order they were saved; a finding's "id" is written only
-- when it is not RULE@ELEMENT. The element and namespace are kept as
-- columns too. A scan's rows are in the order their elements first
-- appear, and findings are read back in ID order.
--
-- Existing rows are grouped the same way and keyed with
-- stridemap_content_key as SaveScan keys them, so a later scan shares the
-- groups it has in common with them.

-- Each finding of each scan, as its entry in its element's group.
CREATE TEMP TABLE finding_entries AS
    SELECT m.scan_id, m.ord, c.element, c.namespace,
        CASE WHEN c.id = c.rule_id || '@' || c.element
            THEN json_object('rule', c.rule_id, 'stride', c.stride, 'severity', c.severity, 'data', json(c.data))
            ELSE json_object('id', c.id, 'rule', c.rule_id, 'stride', c.stride, 'severity', c.severity, 'data', json(c.data))
        END AS entry
    FROM findings m JOIN findings_content c ON c.content_id = m.content;

-- Go's encoder escapes U+2028 and U+2029, which SQLite writes as they are.
CREATE TEMP TABLE finding_groups AS
    SELECT scan_id, min(ord) AS first, element, namespace,
        replace(replace(json_object('element', element, 'namespace', namespace, 'findings', json_group_array(json(entry) ORDER BY ord)),
            char(8232), '\u2028'), char(8233), '\u2029') AS data
    FROM finding_entries GROUP BY scan_id, element, namespace;

CREATE TABLE findings_grouped_content (
    content_id  INTEGER PRIMARY KEY,
    hash        BLOB    NOT NULL UNIQUE,
    element     TEXT NOT NULL,
    namespace   TEXT NOT NULL,
    data        TEXT NOT NULL
) STRICT;
INSERT INTO findings_grouped_content (hash, element, namespace, data)
    SELECT stridemap_content_key(element, namespace, data), element, namespace, data FROM finding_groups WHERE true ORDER BY scan_id, first
    ON CONFLICT (hash) DO NOTHING;
CREATE TABLE findings_grouped (
    scan_id INTEGER NOT NULL REFERENCES scans (id) ON DELETE CASCADE,
    ord     INTEGER NOT NULL,
    content INTEGER NOT NULL, -- findings_content (content_id)
    PRIMARY KEY (scan_id, ord)
) STRICT, WITHOUT ROWID;
INSERT INTO findings_grouped (scan_id, ord, content)
    SELECT g.scan_id, row_number() OVER (PARTITION BY g.scan_id ORDER BY g.first) - 1, c.content_id
    FROM finding_groups g JOIN findings_grouped_content c ON c.hash = stridemap_content_key(g.element, g.namespace, g.data);

DROP TABLE findings;
DROP TABLE findings_content;
ALTER TABLE findings_grouped RENAME TO findings;
ALTER TABLE findings_grouped_content RENAME TO findings_content;
DROP TABLE temp.finding_entries;
DROP TABLE temp.finding_groups;
