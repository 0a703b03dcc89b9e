-- casesync state, version 3: extract files. The quarantine of council
-- records that could not be taken in (a value outside its type or code
-- list, a record the store refused): only identifiers and a reason naming
-- fields, never values; the record itself stays where it came from. And
-- the register of inbox files taken.

CREATE TABLE casesync.quarantine (
    id              bigserial PRIMARY KEY,
    entity          text NOT NULL,
    remote_id       text,
    source          text NOT NULL,      -- file name and line, or the feed
    reason          text NOT NULL,
    cycle_id        bigint REFERENCES casesync.cycles (id),
    quarantined_at  timestamptz NOT NULL DEFAULT now(),
    released_at     timestamptz,
    released_by     text
);
CREATE INDEX quarantine_open ON casesync.quarantine (entity, remote_id)
    WHERE released_at IS NULL;

REVOKE ALL ON casesync.quarantine FROM PUBLIC;
GRANT SELECT, INSERT ON casesync.quarantine TO casesync_daemon;
GRANT USAGE ON SEQUENCE casesync.quarantine_id_seq TO casesync_daemon;
GRANT SELECT ON casesync.quarantine TO casesync_auditor;
GRANT SELECT, UPDATE (released_at, released_by) ON casesync.quarantine
    TO casesync_datalead;

-- Extract files taken from the inbox: each (name, content hash) once. The
-- row of an applied file commits with what it applied, so a crash between
-- the commit and moving the file cannot apply it twice.
CREATE TABLE casesync.inbox_files (
    name          text NOT NULL,
    sha256        text NOT NULL,
    status        text NOT NULL CHECK (status IN ('processed', 'rejected')),
    reason        text,
    records       integer,
    cycle_id      bigint REFERENCES casesync.cycles (id),
    taken_at      timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (name, sha256)
);
REVOKE ALL ON casesync.inbox_files FROM PUBLIC;
GRANT SELECT, INSERT ON casesync.inbox_files TO casesync_daemon;
GRANT SELECT ON casesync.inbox_files TO casesync_auditor, casesync_datalead;
