-- 0006: each element is stored once, however many scans hold it.
--
-- A re-scan of an unchanged system produced the same rows as the scan
-- before; with history kept, the store grew by a whole scan each time. Now
-- every element table T is split in two: T_content holds each distinct row
-- once (the columns T had, minus scan_id and ord), keyed by hash, a
-- 128-bit content key over those columns; T itself only says which
-- content row sits at which position of which scan. Content rows no scan
-- refers to are deleted by "scans prune", not by a foreign key: checking
-- one on every delete would need an index on T (content) that costs more
-- per scan than it saves.
--
-- Existing rows move over with stridemap_content_key, the same function
-- SaveScan computes in Go, so scans saved later share content with them.
-- Duplicate element IDs within a scan, which UNIQUE (scan_id, id) refused,
-- are refused by SaveScan before it writes.
--
-- scans.kept marks a scan "scans keep" pinned: prune never removes it.

CREATE TABLE objects_content (
    content_id  INTEGER PRIMARY KEY,
    hash        BLOB    NOT NULL UNIQUE,
    api_version TEXT NOT NULL,
    kind        TEXT NOT NULL,
    namespace   TEXT NOT NULL,
    name        TEXT NOT NULL,
    file        TEXT NOT NULL,
    line        INTEGER NOT NULL
) STRICT;
INSERT INTO objects_content (hash, api_version, kind, namespace, name, file, line)
    SELECT stridemap_content_key(api_version, kind, namespace, name, file, line), api_version, kind, namespace, name, file, line FROM objects WHERE true ORDER BY scan_id, ord
    ON CONFLICT (hash) DO NOTHING;
CREATE TABLE objects_in_scan (
    scan_id INTEGER NOT NULL REFERENCES scans (id) ON DELETE CASCADE,
    ord     INTEGER NOT NULL,
    content INTEGER NOT NULL, -- objects_content (content_id)
    PRIMARY KEY (scan_id, ord)
) STRICT, WITHOUT ROWID;
INSERT INTO objects_in_scan (scan_id, ord, content)
    SELECT t.scan_id, t.ord, c.content_id FROM objects t JOIN objects_content c ON c.hash = stridemap_content_key(t.api_version, t.kind, t.namespace, t.name, t.file, t.line);
DROP TABLE objects;
ALTER TABLE objects_in_scan RENAME TO objects;

CREATE TABLE problems_content (
    content_id  INTEGER PRIMARY KEY,
    hash        BLOB    NOT NULL UNIQUE,
    severity    TEXT NOT NULL,
    code        TEXT NOT NULL,
    file        TEXT NOT NULL,
    line        INTEGER NOT NULL,
    object      TEXT NOT NULL,
    data        TEXT NOT NULL
) STRICT;
INSERT INTO problems_content (hash, severity, code, file, line, object, data)
    SELECT stridemap_content_key(severity, code, file, line, object, data), severity, code, file, line, object, data FROM problems WHERE true ORDER BY scan_id, ord
    ON CONFLICT (hash) DO NOTHING;
CREATE TABLE problems_in_scan (
    scan_id INTEGER NOT NULL REFERENCES scans (id) ON DELETE CASCADE,
    ord     INTEGER NOT NULL,
    content INTEGER NOT NULL, -- problems_content (content_id)
    PRIMARY KEY (scan_id, ord)
) STRICT, WITHOUT ROWID;
INSERT INTO problems_in_scan (scan_id, ord, content)
    SELECT t.scan_id, t.ord, c.content_id FROM problems t JOIN problems_content c ON c.hash = stridemap_content_key(t.severity, t.code, t.file, t.line, t.object, t.data);
DROP TABLE problems;
ALTER TABLE problems_in_scan RENAME TO problems;

CREATE TABLE nodes_content (
    content_id  INTEGER PRIMARY KEY,
    hash        BLOB    NOT NULL UNIQUE,
    id          TEXT NOT NULL,
    type        TEXT NOT NULL,
    namespace   TEXT NOT NULL,
    name        TEXT NOT NULL,
    kind        TEXT NOT NULL,
    data        TEXT NOT NULL
) STRICT;
INSERT INTO nodes_content (hash, id, type, namespace, name, kind, data)
    SELECT stridemap_content_key(id, type, namespace, name, kind, data), id, type, namespace, name, kind, data FROM nodes WHERE true ORDER BY scan_id, ord
    ON CONFLICT (hash) DO NOTHING;
CREATE TABLE nodes_in_scan (
    scan_id INTEGER NOT NULL REFERENCES scans (id) ON DELETE CASCADE,
    ord     INTEGER NOT NULL,
    content INTEGER NOT NULL, -- nodes_content (content_id)
    PRIMARY KEY (scan_id, ord)
) STRICT, WITHOUT ROWID;
INSERT INTO nodes_in_scan (scan_id, ord, content)
    SELECT t.scan_id, t.ord, c.content_id FROM nodes t JOIN nodes_content c ON c.hash = stridemap_content_key(t.id, t.type, t.namespace, t.name, t.kind, t.data);
DROP TABLE nodes;
ALTER TABLE nodes_in_scan RENAME TO nodes;

CREATE TABLE edges_content (
    content_id  INTEGER PRIMARY KEY,
    hash        BLOB    NOT NULL UNIQUE,
    id          TEXT NOT NULL,
    from_id     TEXT NOT NULL,
    to_id       TEXT NOT NULL,
    port        INTEGER NOT NULL,
    protocol    TEXT NOT NULL,
    encryption  TEXT NOT NULL,
    declared    INTEGER NOT NULL CHECK (declared IN (0, 1)),
    observed    INTEGER NOT NULL CHECK (observed IN (0, 1)),
    data        TEXT NOT NULL
) STRICT;
INSERT INTO edges_content (hash, id, from_id, to_id, port, protocol, encryption, declared, observed, data)
    SELECT stridemap_content_key(id, from_id, to_id, port, protocol, encryption, declared, observed, data), id, from_id, to_id, port, protocol, encryption, declared, observed, data FROM edges WHERE true ORDER BY scan_id, ord
    ON CONFLICT (hash) DO NOTHING;
CREATE TABLE edges_in_scan (
    scan_id INTEGER NOT NULL REFERENCES scans (id) ON DELETE CASCADE,
    ord     INTEGER NOT NULL,
    content INTEGER NOT NULL, -- edges_content (content_id)
    PRIMARY KEY (scan_id, ord)
) STRICT, WITHOUT ROWID;
INSERT INTO edges_in_scan (scan_id, ord, content)
    SELECT t.scan_id, t.ord, c.content_id FROM edges t JOIN edges_content c ON c.hash = stridemap_content_key(t.id, t.from_id, t.to_id, t.port, t.protocol, t.encryption, t.declared, t.observed, t.data);
DROP TABLE edges;
ALTER TABLE edges_in_scan RENAME TO edges;

CREATE TABLE boundaries_content (
    content_id  INTEGER PRIMARY KEY,
    hash        BLOB    NOT NULL UNIQUE,
    id          TEXT NOT NULL,
    type        TEXT NOT NULL,
    name        TEXT NOT NULL,
    parent      TEXT NOT NULL,
    data        TEXT NOT NULL
) STRICT;
INSERT INTO boundaries_content (hash, id, type, name, parent, data)
    SELECT stridemap_content_key(id, type, name, parent, data), id, type, name, parent, data FROM boundaries WHERE true ORDER BY scan_id, ord
    ON CONFLICT (hash) DO NOTHING;
CREATE TABLE boundaries_in_scan (
    scan_id INTEGER NOT NULL REFERENCES scans (id) ON DELETE CASCADE,
    ord     INTEGER NOT NULL,
    content INTEGER NOT NULL, -- boundaries_content (content_id)
    PRIMARY KEY (scan_id, ord)
) STRICT, WITHOUT ROWID;
INSERT INTO boundaries_in_scan (scan_id, ord, content)
    SELECT t.scan_id, t.ord, c.content_id FROM boundaries t JOIN boundaries_content c ON c.hash = stridemap_content_key(t.id, t.type, t.name, t.parent, t.data);
DROP TABLE boundaries;
ALTER TABLE boundaries_in_scan RENAME TO boundaries;

CREATE TABLE controls_content (
    content_id  INTEGER PRIMARY KEY,
    hash        BLOB    NOT NULL UNIQUE,
    id          TEXT NOT NULL,
    type        TEXT NOT NULL,
    target      TEXT NOT NULL,
    data        TEXT NOT NULL
) STRICT;
INSERT INTO controls_content (hash, id, type, target, data)
    SELECT stridemap_content_key(id, type, target, data), id, type, target, data FROM controls WHERE true ORDER BY scan_id, ord
    ON CONFLICT (hash) DO NOTHING;
CREATE TABLE controls_in_scan (
    scan_id INTEGER NOT NULL REFERENCES scans (id) ON DELETE CASCADE,
    ord     INTEGER NOT NULL,
    content INTEGER NOT NULL, -- controls_content (content_id)
    PRIMARY KEY (scan_id, ord)
) STRICT, WITHOUT ROWID;
INSERT INTO controls_in_scan (scan_id, ord, content)
    SELECT t.scan_id, t.ord, c.content_id FROM controls t JOIN controls_content c ON c.hash = stridemap_content_key(t.id, t.type, t.target, t.data);
DROP TABLE controls;
ALTER TABLE controls_in_scan RENAME TO controls;

CREATE TABLE dangling_content (
    content_id  INTEGER PRIMARY KEY,
    hash        BLOB    NOT NULL UNIQUE,
    from_id     TEXT NOT NULL,
    target      TEXT NOT NULL,
    reason      TEXT NOT NULL,
    data        TEXT NOT NULL
) STRICT;
INSERT INTO dangling_content (hash, from_id, target, reason, data)
    SELECT stridemap_content_key(from_id, target, reason, data), from_id, target, reason, data FROM dangling WHERE true ORDER BY scan_id, ord
    ON CONFLICT (hash) DO NOTHING;
CREATE TABLE dangling_in_scan (
    scan_id INTEGER NOT NULL REFERENCES scans (id) ON DELETE CASCADE,
    ord     INTEGER NOT NULL,
    content INTEGER NOT NULL, -- dangling_content (content_id)
    PRIMARY KEY (scan_id, ord)
) STRICT, WITHOUT ROWID;
INSERT INTO dangling_in_scan (scan_id, ord, content)
    SELECT t.scan_id, t.ord, c.content_id FROM dangling t JOIN dangling_content c ON c.hash = stridemap_content_key(t.from_id, t.target, t.reason, t.data);
DROP TABLE dangling;
ALTER TABLE dangling_in_scan RENAME TO dangling;

CREATE TABLE findings_content (
    content_id  INTEGER PRIMARY KEY,
    hash        BLOB    NOT NULL UNIQUE,
    id          TEXT NOT NULL,
    rule_id     TEXT NOT NULL,
    stride      TEXT NOT NULL,
    severity    TEXT NOT NULL,
    element     TEXT NOT NULL,
    namespace   TEXT NOT NULL,
    data        TEXT NOT NULL
) STRICT;
INSERT INTO findings_content (hash, id, rule_id, stride, severity, element, namespace, data)
    SELECT stridemap_content_key(id, rule_id, stride, severity, element, namespace, data), id, rule_id, stride, severity, element, namespace, data FROM findings WHERE true ORDER BY scan_id, ord
    ON CONFLICT (hash) DO NOTHING;
CREATE TABLE findings_in_scan (
    scan_id INTEGER NOT NULL REFERENCES scans (id) ON DELETE CASCADE,
    ord     INTEGER NOT NULL,
    content INTEGER NOT NULL, -- findings_content (content_id)
    PRIMARY KEY (scan_id, ord)
) STRICT, WITHOUT ROWID;
INSERT INTO findings_in_scan (scan_id, ord, content)
    SELECT t.scan_id, t.ord, c.content_id FROM findings t JOIN findings_content c ON c.hash = stridemap_content_key(t.id, t.rule_id, t.stride, t.severity, t.element, t.namespace, t.data);
DROP TABLE findings;
ALTER TABLE findings_in_scan RENAME TO findings;

CREATE TABLE scan_rules_content (
    content_id  INTEGER PRIMARY KEY,
    hash        BLOB    NOT NULL UNIQUE,
    rule_id     TEXT NOT NULL,
    data        TEXT NOT NULL
) STRICT;
INSERT INTO scan_rules_content (hash, rule_id, data)
    SELECT stridemap_content_key(rule_id, data), rule_id, data FROM scan_rules WHERE true ORDER BY scan_id, ord
    ON CONFLICT (hash) DO NOTHING;
CREATE TABLE scan_rules_in_scan (
    scan_id INTEGER NOT NULL REFERENCES scans (id) ON DELETE CASCADE,
    ord     INTEGER NOT NULL,
    content INTEGER NOT NULL, -- scan_rules_content (content_id)
    PRIMARY KEY (scan_id, ord)
) STRICT, WITHOUT ROWID;
INSERT INTO scan_rules_in_scan (scan_id, ord, content)
    SELECT t.scan_id, t.ord, c.content_id FROM scan_rules t JOIN scan_rules_content c ON c.hash = stridemap_content_key(t.rule_id, t.data);
DROP TABLE scan_rules;
ALTER TABLE scan_rules_in_scan RENAME TO scan_rules;

CREATE TABLE gaps_content (
    content_id  INTEGER PRIMARY KEY,
    hash        BLOB    NOT NULL UNIQUE,
    api_group   TEXT NOT NULL,
    kind        TEXT NOT NULL,
    namespace   TEXT NOT NULL,
    reason      TEXT NOT NULL,
    data        TEXT NOT NULL
) STRICT;
INSERT INTO gaps_content (hash, api_group, kind, namespace, reason, data)
    SELECT stridemap_content_key(api_group, kind, namespace, reason, data), api_group, kind, namespace, reason, data FROM gaps WHERE true ORDER BY scan_id, ord
    ON CONFLICT (hash) DO NOTHING;
CREATE TABLE gaps_in_scan (
    scan_id INTEGER NOT NULL REFERENCES scans (id) ON DELETE CASCADE,
    ord     INTEGER NOT NULL,
    content INTEGER NOT NULL, -- gaps_content (content_id)
    PRIMARY KEY (scan_id, ord)
) STRICT, WITHOUT ROWID;
INSERT INTO gaps_in_scan (scan_id, ord, content)
    SELECT t.scan_id, t.ord, c.content_id FROM gaps t JOIN gaps_content c ON c.hash = stridemap_content_key(t.api_group, t.kind, t.namespace, t.reason, t.data);
DROP TABLE gaps;
ALTER TABLE gaps_in_scan RENAME TO gaps;

CREATE TABLE not_assessed_content (
    content_id  INTEGER PRIMARY KEY,
    hash        BLOB    NOT NULL UNIQUE,
    rule_id     TEXT NOT NULL,
    element     TEXT NOT NULL,
    namespace   TEXT NOT NULL,
    data        TEXT NOT NULL
) STRICT;
INSERT INTO not_assessed_content (hash, rule_id, element, namespace, data)
    SELECT stridemap_content_key(rule_id, element, namespace, data), rule_id, element, namespace, data FROM not_assessed WHERE true ORDER BY scan_id, ord
    ON CONFLICT (hash) DO NOTHING;
CREATE TABLE not_assessed_in_scan (
    scan_id INTEGER NOT NULL REFERENCES scans (id) ON DELETE CASCADE,
    ord     INTEGER NOT NULL,
    content INTEGER NOT NULL, -- not_assessed_content (content_id)
    PRIMARY KEY (scan_id, ord)
) STRICT, WITHOUT ROWID;
INSERT INTO not_assessed_in_scan (scan_id, ord, content)
    SELECT t.scan_id, t.ord, c.content_id FROM not_assessed t JOIN not_assessed_content c ON c.hash = stridemap_content_key(t.rule_id, t.element, t.namespace, t.data);
DROP TABLE not_assessed;
ALTER TABLE not_assessed_in_scan RENAME TO not_assessed;

ALTER TABLE scans ADD COLUMN kept INTEGER NOT NULL DEFAULT 0 CHECK (kept IN (0, 1));
