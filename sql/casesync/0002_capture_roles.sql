-- casesync state, version 2: statement-level change capture, pending
-- changes per key, the capture registry, and least-privilege roles.
-- Applied by `casesync migrate` inside one transaction.
--
-- Version 1 captured one change_log row per written row, with a row-level
-- trigger that turned both row images into jsonb: 4-18 times the cost of
-- the write itself. Version 2 captures once per statement from the
-- statement's transition tables, comparing only the mapped columns, and
-- stores the keys of a statement as one array. The daemon then folds those
-- rows into change_pending, one row per key, away from the writer's path.

-- Version 1's triggers go with their function; `casesync migrate` installs
-- the new ones on every mapped table right after this migration.
DROP FUNCTION casesync.install_capture(regclass, text, text);
DROP FUNCTION casesync.capture() CASCADE;

-- change_log: one row per statement, operation and set of changed columns.
ALTER TABLE casesync.change_log ADD COLUMN keys text[];
UPDATE casesync.change_log SET keys = ARRAY[local_key];
ALTER TABLE casesync.change_log ALTER COLUMN keys SET NOT NULL;
ALTER TABLE casesync.change_log DROP COLUMN local_key;
ALTER TABLE casesync.change_log DROP CONSTRAINT change_log_op_check;
ALTER TABLE casesync.change_log ADD CONSTRAINT change_log_op_check
    CHECK (op IN ('I', 'U', 'D', 'T'));
ALTER TABLE casesync.change_log ADD COLUMN masks bigint[];
UPDATE casesync.change_log SET columns = NULL WHERE op <> 'U';
UPDATE casesync.change_log SET masks = ARRAY[(1::bigint << cardinality(columns)) - 1]
 WHERE op = 'U';
-- Arrays of keys are written once and read once: not worth compressing.
ALTER TABLE casesync.change_log ALTER COLUMN keys SET STORAGE EXTERNAL,
                                ALTER COLUMN masks SET STORAGE EXTERNAL;
COMMENT ON TABLE casesync.change_log IS
    'Local changes as captured: one row per statement, with the keys it '
    'wrote. For updates, columns lists the compared columns and masks[i] '
    'has bit j-1 set when keys[i] changed columns[j]; -1 marks a key that a '
    'key change inserted, -2 one it deleted. op T is a TRUNCATE. The daemon '
    'folds rows into change_pending.';

-- One row per local record with changes not yet settled. seq orders the
-- records (oldest change first) and tells a consumer whether a newer change
-- arrived after it read the row.
CREATE TABLE casesync.change_pending (
    entity      text NOT NULL,
    local_key   text NOT NULL,
    op          char(1) NOT NULL CHECK (op IN ('I', 'U', 'D')),
    columns     text[],
    first_seq   bigint NOT NULL,
    seq         bigint NOT NULL,
    first_txid  xid8 NOT NULL,
    first_at    timestamptz NOT NULL,
    PRIMARY KEY (entity, local_key)
);
CREATE INDEX change_pending_order ON casesync.change_pending (entity, first_seq);

-- Which tables carry capture, for which entity, key and columns. The daemon
-- refuses to start when its mappings want something else.
CREATE TABLE casesync.capture (
    tbl           regclass PRIMARY KEY,
    entity        text NOT NULL UNIQUE,
    key_column    text NOT NULL,
    columns       text[] NOT NULL,
    function_name text NOT NULL,
    installed_at  timestamptz NOT NULL DEFAULT now()
);

-- The names of the columns whose bits are set in mask.
CREATE FUNCTION casesync.mask_columns(mask bigint, cols text[])
RETURNS text[] LANGUAGE sql IMMUTABLE STRICT
SET search_path = pg_catalog, pg_temp AS $$
    SELECT coalesce(array_agg(cols[i] ORDER BY i), '{}')
      FROM generate_subscripts(cols, 1) AS i
     WHERE mask & (1::bigint << (i - 1)) <> 0
$$;

-- Installs capture on one mapped table: a trigger function generated for
-- the table (static SQL, so its plans are cached) and four statement-level
-- triggers. Identifiers are quoted by format(%I) and literals by %L; the
-- caller passes names as parameters. Also grants the daemon and the data
-- leads what they need on the table, and nothing more.
CREATE FUNCTION casesync.install_capture(tbl regclass, entity text,
                                         keycol text, cols text[])
RETURNS text
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $install$
DECLARE
    fn      text := 'capture_' || substr(md5(tbl::text), 1, 16);
    nspname text;
    col     text;
    cmp     text[] := '{}';
    mask    text := '0';
    seq     text;
    body    text;
BEGIN
    SELECT n.nspname INTO nspname
      FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
     WHERE c.oid = tbl;
    FOREACH col IN ARRAY array_prepend(keycol, cols) LOOP
        IF NOT EXISTS (SELECT 1 FROM pg_attribute
                        WHERE attrelid = tbl AND attname = col
                          AND attnum > 0 AND NOT attisdropped) THEN
            RAISE EXCEPTION 'column % of % does not exist', col, tbl
                USING ERRCODE = 'undefined_column';
        END IF;
    END LOOP;
    -- The compared columns: mapped ones, without the key, each once; one
    -- bit each in a bigint.
    SELECT coalesce(array_agg(DISTINCT x ORDER BY x), '{}') INTO cmp
      FROM unnest(cols) AS x WHERE x <> keycol;
    IF cardinality(cmp) > 62 THEN
        RAISE EXCEPTION 'table % maps % columns; change capture compares at '
            'most 62 per table', tbl, cardinality(cmp)
            USING ERRCODE = 'program_limit_exceeded';
    END IF;
    FOR i IN 1 .. cardinality(cmp) LOOP
        mask := mask || format(
            ' | CASE WHEN n.%1$I IS DISTINCT FROM o.%1$I THEN %2$s::bigint ELSE 0 END',
            cmp[i], (1::bigint << (i - 1)));
    END LOOP;

    body := format($fn$
CREATE OR REPLACE FUNCTION casesync.%1$I() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp SET jit = off AS $body$
DECLARE
    written bigint;
BEGIN
    -- What the daemon applies for the council is not a local change.
    IF current_setting('casesync.origin', true) = 'remote' THEN
        RETURN NULL;
    END IF;
    IF TG_OP = 'INSERT' THEN
        INSERT INTO casesync.change_log (entity, table_name, op, keys)
        SELECT %2$L, %3$L, 'I', array_agg(n.%4$I::text)
          FROM new_rows n WHERE n.%4$I IS NOT NULL HAVING count(*) > 0;
        GET DIAGNOSTICS written = ROW_COUNT;
    ELSIF TG_OP = 'DELETE' THEN
        INSERT INTO casesync.change_log (entity, table_name, op, keys)
        SELECT %2$L, %3$L, 'D', array_agg(o.%4$I::text)
          FROM old_rows o WHERE o.%4$I IS NOT NULL HAVING count(*) > 0;
        GET DIAGNOSTICS written = ROW_COUNT;
    ELSIF TG_OP = 'UPDATE' THEN
        -- Rows pair up by key. Each key's changed columns are one bigint
        -- kept beside it (no sorting, no grouping); a key that only the
        -- new rows have was inserted by a key change (mask -1), one that
        -- only the old rows have was deleted (-2).
        INSERT INTO casesync.change_log (entity, table_name, op, columns,
                                         keys, masks)
        SELECT %2$L, %3$L, 'U', %5$L, array_agg(j.k), array_agg(j.m)
          FROM (SELECT coalesce(n.%4$I, o.%4$I)::text AS k,
                       CASE WHEN o.%4$I IS NULL THEN -1::bigint
                            WHEN n.%4$I IS NULL THEN -2::bigint
                            ELSE %6$s END AS m
                  FROM new_rows n FULL JOIN old_rows o ON o.%4$I = n.%4$I) j
         WHERE j.m <> 0 AND j.k IS NOT NULL HAVING count(*) > 0;
        GET DIAGNOSTICS written = ROW_COUNT;
    ELSE
        INSERT INTO casesync.change_log (entity, table_name, op, keys)
        VALUES (%2$L, %3$L, 'T', '{}');
        written := 1;
    END IF;
    IF written > 0 THEN
        PERFORM pg_notify('casesync_changes', %2$L);
    END IF;
    RETURN NULL;
END $body$
$fn$, fn, entity, tbl::text, keycol, cmp, mask);
    EXECUTE body;
    EXECUTE format('COMMENT ON FUNCTION casesync.%I() IS %L', fn,
                   'casesync change capture for ' || tbl::text
                   || ' (entity ' || entity || ')');

    PERFORM casesync.remove_triggers(tbl);
    EXECUTE format('CREATE TRIGGER casesync_capture_insert AFTER INSERT ON %s '
                   'REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT '
                   'EXECUTE FUNCTION casesync.%I()', tbl, fn);
    EXECUTE format('CREATE TRIGGER casesync_capture_update AFTER UPDATE ON %s '
                   'REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows '
                   'FOR EACH STATEMENT EXECUTE FUNCTION casesync.%I()', tbl, fn);
    EXECUTE format('CREATE TRIGGER casesync_capture_delete AFTER DELETE ON %s '
                   'REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT '
                   'EXECUTE FUNCTION casesync.%I()', tbl, fn);
    EXECUTE format('CREATE TRIGGER casesync_capture_truncate AFTER TRUNCATE '
                   'ON %s FOR EACH STATEMENT EXECUTE FUNCTION casesync.%I()',
                   tbl, fn);

    -- Grants: the mapped columns only. Earlier grants are withdrawn first,
    -- so a column dropped from the mapping is no longer readable.
    EXECUTE format('REVOKE ALL ON %s FROM casesync_daemon, casesync_datalead',
                   tbl);
    EXECUTE format('GRANT USAGE ON SCHEMA %I TO casesync_daemon, '
                   'casesync_datalead', nspname);
    SELECT string_agg(format('%I', x), ', ') INTO col
      FROM (SELECT DISTINCT x FROM unnest(array_prepend(keycol, cols)) AS x) s;
    EXECUTE format('GRANT SELECT (%s), INSERT (%s), UPDATE (%s) ON %s TO '
                   'casesync_daemon', col, col, col, tbl);
    EXECUTE format('GRANT SELECT (%s) ON %s TO casesync_datalead', col, tbl);
    FOREACH col IN ARRAY array_prepend(keycol, cols) LOOP
        seq := pg_get_serial_sequence(tbl::text, col);
        IF seq IS NOT NULL THEN
            EXECUTE format('GRANT USAGE ON SEQUENCE %s TO casesync_daemon', seq);
        END IF;
    END LOOP;

    INSERT INTO casesync.capture (tbl, entity, key_column, columns, function_name)
    VALUES (tbl, entity, keycol, cmp, fn)
    ON CONFLICT ON CONSTRAINT capture_pkey DO UPDATE
       SET entity = excluded.entity, key_column = excluded.key_column,
           columns = excluded.columns, function_name = excluded.function_name,
           installed_at = now();
    RETURN fn;
END $install$;

CREATE FUNCTION casesync.remove_triggers(tbl regclass) RETURNS void
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    t text;
BEGIN
    FOR t IN SELECT tgname FROM pg_trigger
              WHERE tgrelid = tbl AND NOT tgisinternal
                AND tgname LIKE 'casesync\_capture%' LOOP
        EXECUTE format('DROP TRIGGER %I ON %s', t, tbl);
    END LOOP;
END $$;

-- Removes capture from a table that is no longer mapped.
CREATE FUNCTION casesync.remove_capture(tbl regclass) RETURNS void
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    fn text;
BEGIN
    PERFORM casesync.remove_triggers(tbl);
    DELETE FROM casesync.capture c WHERE c.tbl = remove_capture.tbl
    RETURNING function_name INTO fn;
    IF fn IS NOT NULL THEN
        EXECUTE format('DROP FUNCTION IF EXISTS casesync.%I()', fn);
    END IF;
    EXECUTE format('REVOKE ALL ON %s FROM casesync_daemon, casesync_datalead',
                   tbl);
END $$;

-- Folds captured statements into change_pending, at most max_rows
-- change_log rows at a time. Rows of transactions still open are not
-- visible yet and stay for a later call, so nothing is skipped whatever the
-- order of commits. Concurrent callers skip each other's rows. Returns the
-- number of change_log rows folded, and the entities that saw a TRUNCATE.
-- It runs with its owner's rights: the daemon may call it, but may not
-- delete from or lock the change log itself.
CREATE FUNCTION casesync.collect_changes(max_rows integer,
                                         OUT folded integer,
                                         OUT truncated text[])
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    WITH moved AS (
        DELETE FROM casesync.change_log l
         WHERE l.id IN (SELECT id FROM casesync.change_log
                         ORDER BY id LIMIT max_rows FOR UPDATE SKIP LOCKED)
        RETURNING l.id, l.entity, l.op, l.txid, l.columns, l.keys, l.masks,
                  l.captured_at
    ), per_stmt_key AS (
        SELECT m.id, m.entity,
               CASE WHEN m.op <> 'U' THEN m.op WHEN k.mask = -1 THEN 'I'
                    WHEN k.mask = -2 THEN 'D' ELSE 'U' END::char(1) AS op,
               m.txid, m.captured_at, m.columns, k.key, k.mask
          FROM moved m CROSS JOIN LATERAL unnest(m.keys, m.masks) AS k(key, mask)
         WHERE m.op <> 'T' AND k.key IS NOT NULL
    ), names AS (
        -- Decoded once per distinct (column list, mask), not per key.
        SELECT d.columns, d.mask, c.col
          FROM (SELECT DISTINCT columns, mask FROM per_stmt_key
                 WHERE op = 'U') d
               CROSS JOIN LATERAL unnest(casesync.mask_columns(d.mask, d.columns))
                   AS c(col)
    ), per_key AS (
        SELECT p.entity, p.key AS local_key,
               (array_agg(p.op ORDER BY p.id DESC))[1] AS op,
               min(p.id) AS first_seq, max(p.id) AS seq,
               min(p.txid) AS first_txid, min(p.captured_at) AS first_at,
               bool_or(p.op <> 'U') AS all_columns,
               array_agg(DISTINCT n.col ORDER BY n.col)
                   FILTER (WHERE n.col IS NOT NULL) AS cols
          FROM per_stmt_key p
               LEFT JOIN names n ON p.op = 'U' AND n.columns = p.columns
                                AND n.mask = p.mask
         GROUP BY p.entity, p.key
    ), ins AS (
        INSERT INTO casesync.change_pending AS p
               (entity, local_key, op, columns, first_seq, seq, first_txid,
                first_at)
        SELECT pk.entity, pk.local_key, pk.op,
               CASE WHEN pk.all_columns OR pk.op <> 'U' THEN NULL
                    ELSE coalesce(pk.cols, '{}') END,
               pk.first_seq, pk.seq, pk.first_txid, pk.first_at
          FROM per_key pk
        ON CONFLICT (entity, local_key) DO UPDATE
           SET op = CASE WHEN excluded.op = 'U' AND p.op = 'I' THEN 'I'
                         ELSE excluded.op END,
               columns = CASE WHEN p.columns IS NULL OR excluded.columns IS NULL
                              THEN NULL
                              ELSE (SELECT array_agg(DISTINCT c ORDER BY c)
                                      FROM unnest(p.columns || excluded.columns)
                                           AS c) END,
               seq = excluded.seq
        RETURNING 1
    )
    SELECT (SELECT count(*) FROM moved),
           (SELECT coalesce(array_agg(DISTINCT entity), '{}') FROM moved
             WHERE op = 'T')
      INTO folded, truncated;
    -- ins is a data-modifying CTE: it runs whether read or not.
END $$;

-- Roles. They are cluster-wide: created when missing, never dropped here.
-- Login roles are made members of them (docs/database.md).
DO $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'casesync_daemon') THEN
        CREATE ROLE casesync_daemon NOLOGIN NOSUPERUSER NOCREATEDB
            NOCREATEROLE NOREPLICATION NOBYPASSRLS;
    END IF;
    IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'casesync_auditor') THEN
        CREATE ROLE casesync_auditor NOLOGIN NOSUPERUSER NOCREATEDB
            NOCREATEROLE NOREPLICATION NOBYPASSRLS;
    END IF;
    IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'casesync_datalead') THEN
        CREATE ROLE casesync_datalead NOLOGIN NOSUPERUSER NOCREATEDB
            NOCREATEROLE NOREPLICATION NOBYPASSRLS;
    END IF;
END $$;

REVOKE ALL ON SCHEMA casesync FROM PUBLIC;
REVOKE ALL ON ALL TABLES IN SCHEMA casesync FROM PUBLIC;
REVOKE ALL ON ALL SEQUENCES IN SCHEMA casesync FROM PUBLIC;
REVOKE EXECUTE ON FUNCTION casesync.install_capture(regclass, text, text, text[]),
    casesync.remove_capture(regclass), casesync.remove_triggers(regclass),
    casesync.collect_changes(integer) FROM PUBLIC;
GRANT USAGE ON SCHEMA casesync
    TO casesync_daemon, casesync_auditor, casesync_datalead;
GRANT SELECT ON casesync.schema_version
    TO casesync_daemon, casesync_auditor, casesync_datalead;

-- The daemon: its working state, and the audit trail INSERT and SELECT only.
GRANT SELECT, INSERT, UPDATE, DELETE
    ON casesync.crosswalk, casesync.base, casesync.change_pending,
       casesync.outbox
    TO casesync_daemon;
GRANT SELECT, INSERT, UPDATE
    ON casesync.cursors, casesync.conflicts, casesync.cycles
    TO casesync_daemon;
GRANT SELECT ON casesync.change_log TO casesync_daemon;
GRANT SELECT ON casesync.capture TO casesync_daemon;
GRANT SELECT, INSERT ON casesync.audit TO casesync_daemon;
GRANT USAGE ON SEQUENCE casesync.outbox_id_seq, casesync.conflicts_id_seq,
    casesync.cycles_id_seq, casesync.audit_seq_seq TO casesync_daemon;
GRANT EXECUTE ON FUNCTION casesync.collect_changes(integer) TO casesync_daemon;

-- Auditors: the trail, the cycles and the key crosswalk; no case data.
GRANT SELECT ON casesync.audit, casesync.cycles, casesync.crosswalk
    TO casesync_auditor;

-- Data leads: reports and conflict resolution, audited.
GRANT SELECT
    ON casesync.crosswalk, casesync.base, casesync.cursors, casesync.cycles,
       casesync.conflicts, casesync.outbox, casesync.change_pending,
       casesync.audit, casesync.capture
    TO casesync_datalead;
GRANT UPDATE (status, resolved_at, resolved_by, reason)
    ON casesync.conflicts TO casesync_datalead;
GRANT INSERT ON casesync.audit TO casesync_datalead;
GRANT USAGE ON SEQUENCE casesync.audit_seq_seq TO casesync_datalead;
