-- 0003: triage decisions and answers to review questions.
--
-- Both belong to the project, not to one scan: a decision made on a finding
-- applies to that finding ID in every later scan, and an answer stays until
-- it is changed. Each table is an append-only history; the current state of
-- a finding or question is its latest row.

CREATE TABLE triage (
    seq        INTEGER PRIMARY KEY AUTOINCREMENT,
    finding_id TEXT NOT NULL,
    status     TEXT NOT NULL CHECK (status IN ('open', 'accepted', 'mitigated', 'false-positive')),
    reason     TEXT NOT NULL,
    who        TEXT NOT NULL,
    at         TEXT NOT NULL  -- RFC 3339, UTC
) STRICT;

CREATE INDEX triage_finding ON triage (finding_id, seq);

CREATE TABLE answers (
    seq         INTEGER PRIMARY KEY AUTOINCREMENT,
    question_id TEXT NOT NULL,
    answer      TEXT NOT NULL,
    note        TEXT NOT NULL,
    who         TEXT NOT NULL,
    at          TEXT NOT NULL
) STRICT;

CREATE INDEX answers_question ON answers (question_id, seq);
