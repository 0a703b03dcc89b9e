-- casesync state, version 1: crosswalk, base snapshots, cursors, change
-- capture, outbox, conflicts, cycles and the audit trail.
-- Applied by `casesync migrate` inside one transaction.

CREATE SCHEMA IF NOT EXISTS casesync;

-- Identity crosswalk: the provider's key for a record and the council's id.
CREATE TABLE casesync.crosswalk (
    entity      text NOT NULL,
    local_key   text NOT NULL,
    remote_id   text NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (entity, local_key),
    UNIQUE (entity, remote_id)
);

-- The last agreed values of each record, for three-way merges.
CREATE TABLE casesync.base (
    entity          text NOT NULL,
    local_key       text NOT NULL,
    vals            jsonb NOT NULL,
    hash            text NOT NULL,
    remote_version  text,
    updated_at      timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (entity, local_key)
);

-- Named positions in the council's change feeds ("remote:person", ...).
CREATE TABLE casesync.cursors (
    name        text PRIMARY KEY,
    value       text NOT NULL,
    updated_at  timestamptz NOT NULL DEFAULT now()
);

-- Local changes captured by triggers: key, operation, transaction, columns.
-- Rows are consumed (deleted) in the transaction that settles them, so a
-- change committed late by a long transaction is never skipped.
CREATE TABLE casesync.change_log (
    id          bigserial PRIMARY KEY,
    entity      text NOT NULL,
    table_name  text NOT NULL,
    local_key   text NOT NULL,
    op          char(1) NOT NULL CHECK (op IN ('I', 'U', 'D')),
    txid        xid8 NOT NULL DEFAULT pg_current_xact_id(),
    columns     text[],
    captured_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX change_log_entity_key ON casesync.change_log (entity, local_key);

CREATE TABLE casesync.outbox (
    id               bigserial PRIMARY KEY,
    entity           text NOT NULL,
    local_key        text NOT NULL,
    idempotency_key  text NOT NULL UNIQUE,
    body             text NOT NULL,
    attempts         integer NOT NULL DEFAULT 0,
    status           text NOT NULL DEFAULT 'pending'
                     CHECK (status IN ('pending', 'sent', 'failed')),
    created_at       timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE casesync.conflicts (
    id           bigserial PRIMARY KEY,
    entity       text NOT NULL,
    local_key    text NOT NULL,
    remote_id    text,
    fields       jsonb NOT NULL,
    status       text NOT NULL DEFAULT 'open'
                 CHECK (status IN ('open', 'resolved')),
    opened_at    timestamptz NOT NULL DEFAULT now(),
    resolved_at  timestamptz,
    resolved_by  text,
    reason       text
);

CREATE TABLE casesync.cycles (
    id           bigserial PRIMARY KEY,
    instance     text NOT NULL,
    started_at   timestamptz NOT NULL DEFAULT now(),
    finished_at  timestamptz,
    status       text NOT NULL DEFAULT 'running'
                 CHECK (status IN ('running', 'ok', 'failed')),
    pulled       integer NOT NULL DEFAULT 0,
    pushed       integer NOT NULL DEFAULT 0,
    created_local   integer NOT NULL DEFAULT 0,
    created_remote  integer NOT NULL DEFAULT 0,
    conflicts    integer NOT NULL DEFAULT 0,
    rejected     integer NOT NULL DEFAULT 0,
    errors       integer NOT NULL DEFAULT 0
);

-- One row per change applied or pushed, written in the same transaction.
-- Chaining and signatures come with the audit issue; rows are append-only.
CREATE TABLE casesync.audit (
    seq          bigserial PRIMARY KEY,
    at           timestamptz NOT NULL DEFAULT now(),
    cycle_id     bigint REFERENCES casesync.cycles (id),
    actor        text NOT NULL,
    action       text NOT NULL,
    entity       text NOT NULL,
    local_key    text,
    remote_id    text,
    changes      jsonb NOT NULL DEFAULT '{}'::jsonb,
    source       text NOT NULL CHECK (source IN ('provider', 'council', 'person')),
    version      text,
    outcome      text NOT NULL
);
CREATE INDEX audit_record ON casesync.audit (entity, local_key);

-- Capture trigger: records key, operation, transaction and changed columns.
-- What the daemon itself applies (casesync.origin = 'remote') is not
-- captured, so it does not echo back to the council.
CREATE FUNCTION casesync.capture() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    k    text;
    cols text[];
BEGIN
    IF current_setting('casesync.origin', true) = 'remote' THEN
        RETURN NULL;
    END IF;
    IF TG_OP = 'DELETE' THEN
        k := to_jsonb(OLD) ->> TG_ARGV[1];
    ELSE
        k := to_jsonb(NEW) ->> TG_ARGV[1];
    END IF;
    IF TG_OP = 'UPDATE' THEN
        SELECT array_agg(n.key ORDER BY n.key) INTO cols
          FROM jsonb_each(to_jsonb(NEW)) AS n
         WHERE n.value IS DISTINCT FROM (to_jsonb(OLD) -> n.key);
        IF cols IS NULL THEN
            RETURN NULL;
        END IF;
    END IF;
    INSERT INTO casesync.change_log (entity, table_name, local_key, op, columns)
    VALUES (TG_ARGV[0], TG_TABLE_SCHEMA || '.' || TG_TABLE_NAME, k,
            left(TG_OP, 1), cols);
    PERFORM pg_notify('casesync_changes', TG_ARGV[0]);
    RETURN NULL;
END $$;

-- Installs the capture trigger on one mapped table. Called with parameters
-- by `casesync migrate`; identifiers are quoted here by format().
CREATE FUNCTION casesync.install_capture(tbl regclass, entity text,
                                         keycol text) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
    EXECUTE format('DROP TRIGGER IF EXISTS casesync_capture ON %s', tbl);
    EXECUTE format('CREATE TRIGGER casesync_capture AFTER INSERT OR UPDATE '
                   'OR DELETE ON %s FOR EACH ROW EXECUTE FUNCTION '
                   'casesync.capture(%L, %L)', tbl, entity, keycol);
END $$;
