-- casesync state, version 2: statement-level change capture, pending
-- changes per key, the capture registry, and least-privilege roles.
-- Applied by `casesync migrate` inside one transaction.
--
-- Version 1 captured one change_log row per written row, with a row-level
-- trigger that turned both row images into jsonb: 6 to 18 times the cost of
-- the write itself. Version 2 captures once per statement from the
-- statement's transition tables, comparing only the mapped columns, and
-- stores the keys of a statement as one array. The daemon then folds those
-- rows into change_pending, one row per key, away from the writer's path.
-- Tables captured by version 1 are re-captured by version 2 inside this
-- migration, so no change goes uncaptured during the upgrade.

-- Roles come first: installing capture grants to them. They are
-- cluster-wide: created when missing, never dropped here. Login roles are
-- made members of them (docs/database.md).
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

-- change_log: one row per statement.
ALTER TABLE casesync.change_log ADD COLUMN keys text[];
UPDATE casesync.change_log SET keys = ARRAY[local_key];
ALTER TABLE casesync.change_log ALTER COLUMN keys SET NOT NULL;
ALTER TABLE casesync.change_log DROP COLUMN local_key;
ALTER TABLE casesync.change_log ADD COLUMN nkeys integer NOT NULL DEFAULT 1;
ALTER TABLE casesync.change_log ALTER COLUMN nkeys DROP DEFAULT;
ALTER TABLE casesync.change_log DROP CONSTRAINT change_log_op_check;
ALTER TABLE casesync.change_log ADD CONSTRAINT change_log_op_check
    CHECK (op IN ('I', 'U', 'D', 'T'));
ALTER TABLE casesync.change_log ADD COLUMN masks bigint[];
-- Version 1 rows keep their key and operation; which columns changed is
-- left unknown (NULL), which the daemon reads as "compare everything".
UPDATE casesync.change_log SET columns = NULL;
-- Arrays of keys are written once and read once: not worth compressing.
ALTER TABLE casesync.change_log ALTER COLUMN keys SET STORAGE EXTERNAL,
                                ALTER COLUMN masks SET STORAGE EXTERNAL;
COMMENT ON TABLE casesync.change_log IS
    'Local changes as captured: one row per statement, with the keys it '
    'wrote (nkeys of them). For updates, columns lists the compared columns '
    'and masks[i] has bit j-1 set when keys[i] changed columns[j]; -1 marks '
    'a key that a key change inserted, -2 one it deleted; NULL masks mean '
    'unknown. op T is a TRUNCATE. The daemon folds rows into change_pending.';

-- One row per local record with changes not yet settled. first_seq orders
-- the records (oldest change first); seq is drawn afresh at every fold, so
-- a consumer that read seq knows whether a newer change arrived since.
CREATE SEQUENCE casesync.change_pending_seq;
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
-- refuses to start (and to run a cycle) when its mappings want something
-- else. generator is the version of install_capture that wrote it.
CREATE TABLE casesync.capture (
    tbl           regclass PRIMARY KEY,
    entity        text NOT NULL UNIQUE,
    key_column    text NOT NULL,
    columns       text[] NOT NULL,
    writable      text[] NOT NULL,
    function_name text NOT NULL,
    generator     integer NOT NULL,
    installed_at  timestamptz NOT NULL DEFAULT now()
);

-- The names of the columns whose bits are set in mask.
CREATE FUNCTION casesync.mask_columns(mask bigint, cols text[])
RETURNS text[] LANGUAGE sql IMMUTABLE STRICT
SET search_path = pg_catalog, pg_temp AS $$
    SELECT coalesce(array_agg(cols[i] ORDER BY i), '{}')
      FROM generate_subscripts(cols, 1) AS i
     WHERE mask >= 0 AND mask & (1::bigint << (i - 1)) <> 0
$$;

-- Drops the capture triggers of a table (version 1's casesync_capture
-- included). A table that no longer exists has none.
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

-- Installs capture on one mapped table, or returns 'unchanged' when it is
-- already installed exactly so. A trigger function is generated for the
-- table (static SQL, so its plans are cached) and bound to four
-- statement-level triggers. Identifiers are quoted by format(%I); entity
-- and column names reach the function as trigger arguments, not as text in
-- its body. Also grants the daemon and the data leads what they need on the
-- table, and nothing more: all mapped columns (and the key) to read, the
-- writable ones to write. Returns 'installed' or 'unchanged'.
CREATE FUNCTION casesync.install_capture(tbl regclass, entity text,
                                         keycol text, cols text[],
                                         writable text[])
RETURNS text
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $install$
DECLARE
    gen_version CONSTANT integer := 1;
    fn         text := 'capture_' || substr(md5(tbl::text), 1, 16);
    rel        record;
    keynum     int2;
    col        text;
    cmp        text[];
    wr         text[];
    cmpexpr    text;
    mask       text := '0';
    tag        text := '$capture$';
    body       text;
    seq        text;
    other      text;
BEGIN
    SELECT c.relkind, c.relispartition, n.nspname INTO rel
      FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
     WHERE c.oid = tbl;
    IF rel.relkind <> 'r' OR rel.relispartition
       OR EXISTS (SELECT 1 FROM pg_inherits
                   WHERE inhparent = tbl OR inhrelid = tbl) THEN
        RAISE EXCEPTION 'change capture needs a plain table: % is a view, a '
            'partitioned table, a partition or part of an inheritance tree', tbl
            USING ERRCODE = 'feature_not_supported';
    END IF;
    FOREACH col IN ARRAY array_prepend(keycol, cols || writable) LOOP
        IF NOT EXISTS (SELECT 1 FROM pg_attribute
                        WHERE attrelid = tbl AND attname = col
                          AND attnum > 0 AND NOT attisdropped) THEN
            RAISE EXCEPTION 'column % of % does not exist', col, tbl
                USING ERRCODE = 'undefined_column';
        END IF;
    END LOOP;
    SELECT attnum INTO keynum FROM pg_attribute
     WHERE attrelid = tbl AND attname = keycol;
    IF NOT EXISTS (SELECT 1 FROM pg_index
                    WHERE indrelid = tbl AND indisunique AND indpred IS NULL
                      AND indnkeyatts = 1 AND indkey[0] = keynum) THEN
        RAISE EXCEPTION 'key column % of % has no unique index of its own',
            keycol, tbl USING ERRCODE = 'invalid_table_definition';
    END IF;
    SELECT c.entity INTO other FROM casesync.capture c
     WHERE c.tbl = install_capture.tbl AND c.entity <> install_capture.entity;
    IF other IS NOT NULL THEN
        RAISE EXCEPTION 'table % is mapped by entities % and %; change '
            'capture needs one entity per table', tbl, other, entity
            USING ERRCODE = 'unique_violation';
    END IF;
    -- The compared columns: mapped ones, without the key, each once; one
    -- bit each in a bigint. The writable ones: never the key.
    SELECT coalesce(array_agg(DISTINCT x ORDER BY x), '{}') INTO cmp
      FROM unnest(cols) AS x WHERE x <> keycol;
    SELECT coalesce(array_agg(DISTINCT x ORDER BY x), '{}') INTO wr
      FROM unnest(writable) AS x WHERE x <> keycol;
    IF cardinality(cmp) > 62 THEN
        RAISE EXCEPTION 'table % maps % columns; change capture compares at '
            'most 62 per table', tbl, cardinality(cmp)
            USING ERRCODE = 'program_limit_exceeded';
    END IF;

    IF EXISTS (SELECT 1 FROM casesync.capture c
                WHERE c.tbl = install_capture.tbl
                  AND c.entity = install_capture.entity
                  AND c.key_column = keycol AND c.columns = cmp
                  AND c.writable = wr AND c.generator = gen_version
                  AND c.function_name = fn)
       AND (SELECT count(*) FROM pg_trigger t
             WHERE t.tgrelid = tbl AND NOT t.tgisinternal
               AND t.tgname LIKE 'casesync\_capture%'
               AND t.tgenabled IN ('O', 'A')
               AND t.tgfoid = to_regprocedure(format('casesync.%I()', fn))) = 4
       AND (SELECT count(*) FROM pg_trigger t
             WHERE t.tgrelid = tbl AND NOT t.tgisinternal
               AND t.tgname LIKE 'casesync\_capture%') = 4 THEN
        RETURN 'unchanged';
    END IF;

    FOR i IN 1 .. cardinality(cmp) LOOP
        -- A type whose equality cannot be resolved here (json, some
        -- extension types) is compared by its text form.
        BEGIN
            EXECUTE format('SELECT NULL::%1$s IS DISTINCT FROM NULL::%1$s',
                           (SELECT format_type(atttypid, atttypmod)
                              FROM pg_attribute
                             WHERE attrelid = tbl AND attname = cmp[i]));
            cmpexpr := format('n.%1$I IS DISTINCT FROM o.%1$I', cmp[i]);
        EXCEPTION WHEN undefined_function OR undefined_object THEN
            cmpexpr := format('n.%1$I::text IS DISTINCT FROM o.%1$I::text',
                              cmp[i]);
        END;
        mask := mask || format(' | CASE WHEN %s THEN %s::bigint ELSE 0 END',
                               cmpexpr, (1::bigint << (i - 1)));
    END LOOP;

    body := format($fn$
DECLARE
    written bigint;
BEGIN
    -- What the daemon applies for the council is not a local change; only
    -- the daemon's role may say so.
    IF current_setting('casesync.origin', true) = 'remote'
       AND pg_has_role(session_user, 'casesync_daemon', 'MEMBER') THEN
        RETURN NULL;
    END IF;
    IF TG_OP = 'INSERT' THEN
        INSERT INTO casesync.change_log (entity, table_name, op, keys, nkeys)
        SELECT TG_ARGV[0], format('%%I.%%I', TG_TABLE_SCHEMA, TG_TABLE_NAME),
               'I', array_agg(n.%1$I::text), count(*)
          FROM new_rows n WHERE n.%1$I IS NOT NULL HAVING count(*) > 0;
        GET DIAGNOSTICS written = ROW_COUNT;
    ELSIF TG_OP = 'DELETE' THEN
        INSERT INTO casesync.change_log (entity, table_name, op, keys, nkeys)
        SELECT TG_ARGV[0], format('%%I.%%I', TG_TABLE_SCHEMA, TG_TABLE_NAME),
               'D', array_agg(o.%1$I::text), count(*)
          FROM old_rows o WHERE o.%1$I IS NOT NULL HAVING count(*) > 0;
        GET DIAGNOSTICS written = ROW_COUNT;
    ELSIF TG_OP = 'UPDATE' THEN
        -- Rows pair up by key. Each key's changed columns are one bigint
        -- kept beside it (no sorting, no grouping); a key that only the
        -- new rows have was inserted by a key change (mask -1), one that
        -- only the old rows have was deleted (-2).
        INSERT INTO casesync.change_log (entity, table_name, op, columns,
                                         keys, masks, nkeys)
        SELECT TG_ARGV[0], format('%%I.%%I', TG_TABLE_SCHEMA, TG_TABLE_NAME),
               'U', TG_ARGV[1]::text[], array_agg(j.k), array_agg(j.m),
               count(*)
          FROM (SELECT coalesce(n.%1$I, o.%1$I)::text AS k,
                       CASE WHEN o.%1$I IS NULL THEN -1::bigint
                            WHEN n.%1$I IS NULL THEN -2::bigint
                            ELSE %2$s END AS m
                  FROM new_rows n FULL JOIN old_rows o ON o.%1$I = n.%1$I) j
         WHERE j.m <> 0 AND j.k IS NOT NULL HAVING count(*) > 0;
        GET DIAGNOSTICS written = ROW_COUNT;
    ELSE
        INSERT INTO casesync.change_log (entity, table_name, op, keys, nkeys)
        VALUES (TG_ARGV[0], format('%%I.%%I', TG_TABLE_SCHEMA, TG_TABLE_NAME),
                'T', '{}', 0);
        written := 1;
    END IF;
    IF written > 0 THEN
        PERFORM pg_notify('casesync_changes', TG_ARGV[0]);
    END IF;
    RETURN NULL;
END $fn$, keycol, mask);
    -- A dollar-quote tag that the body cannot end early.
    WHILE position(tag IN body) > 0 LOOP
        tag := '$capture' || md5(tag) || '$';
    END LOOP;
    EXECUTE format('CREATE OR REPLACE FUNCTION casesync.%I() RETURNS trigger '
                   'LANGUAGE plpgsql SECURITY DEFINER '
                   'SET search_path = pg_catalog, pg_temp SET jit = off AS %s%s%s',
                   fn, tag, body, tag);
    -- Only a trigger may run it: nobody can call it to forge changes.
    EXECUTE format('REVOKE ALL ON FUNCTION casesync.%I() FROM PUBLIC', fn);
    EXECUTE format('COMMENT ON FUNCTION casesync.%I() IS %L', fn,
                   'casesync change capture for ' || tbl::text
                   || ' (entity ' || entity || ')');

    PERFORM casesync.remove_triggers(tbl);
    EXECUTE format('CREATE TRIGGER casesync_capture_insert AFTER INSERT ON %s '
                   'REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT '
                   'EXECUTE FUNCTION casesync.%I(%L, %L)', tbl, fn, entity, cmp);
    EXECUTE format('CREATE TRIGGER casesync_capture_update AFTER UPDATE ON %s '
                   'REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows '
                   'FOR EACH STATEMENT EXECUTE FUNCTION casesync.%I(%L, %L)',
                   tbl, fn, entity, cmp);
    EXECUTE format('CREATE TRIGGER casesync_capture_delete AFTER DELETE ON %s '
                   'REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT '
                   'EXECUTE FUNCTION casesync.%I(%L, %L)', tbl, fn, entity, cmp);
    EXECUTE format('CREATE TRIGGER casesync_capture_truncate AFTER TRUNCATE '
                   'ON %s FOR EACH STATEMENT EXECUTE FUNCTION casesync.%I(%L, %L)',
                   tbl, fn, entity, cmp);

    -- Grants: the mapped columns only. Earlier grants are withdrawn first,
    -- so a column dropped from the mapping is no longer readable.
    EXECUTE format('REVOKE ALL ON %s FROM casesync_daemon, casesync_datalead',
                   tbl);
    EXECUTE format('GRANT USAGE ON SCHEMA %I TO casesync_daemon, '
                   'casesync_datalead', rel.nspname);
    SELECT string_agg(format('%I', x), ', ') INTO col
      FROM unnest(array_prepend(keycol, cmp)) AS x;
    EXECUTE format('GRANT SELECT (%s) ON %s TO casesync_daemon, '
                   'casesync_datalead', col, tbl);
    IF cardinality(wr) > 0 THEN
        SELECT string_agg(format('%I', x), ', ') INTO col FROM unnest(wr) AS x;
        EXECUTE format('GRANT INSERT (%s), UPDATE (%s) ON %s TO casesync_daemon',
                       col, col, tbl);
    END IF;
    seq := pg_get_serial_sequence(tbl::text, keycol);
    IF seq IS NOT NULL THEN
        EXECUTE format('GRANT USAGE ON SEQUENCE %s TO casesync_daemon', seq);
    END IF;

    INSERT INTO casesync.capture (tbl, entity, key_column, columns, writable,
                                  function_name, generator)
    VALUES (tbl, entity, keycol, cmp, wr, fn, gen_version)
    ON CONFLICT ON CONSTRAINT capture_pkey DO UPDATE
       SET entity = excluded.entity, key_column = excluded.key_column,
           columns = excluded.columns, writable = excluded.writable,
           function_name = excluded.function_name,
           generator = excluded.generator, installed_at = now();
    RETURN 'installed';
END $install$;

-- Removes capture from a table that is no longer mapped (or no longer
-- exists: then only the registry row and the function go).
CREATE FUNCTION casesync.remove_capture(tbl regclass) RETURNS void
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    fn text;
BEGIN
    DELETE FROM casesync.capture c WHERE c.tbl = remove_capture.tbl
    RETURNING function_name INTO fn;
    IF EXISTS (SELECT 1 FROM pg_class WHERE oid = tbl) THEN
        PERFORM casesync.remove_triggers(tbl);
        EXECUTE format('REVOKE ALL ON %s FROM casesync_daemon, '
                       'casesync_datalead', tbl);
    END IF;
    IF fn IS NOT NULL THEN
        EXECUTE format('DROP FUNCTION IF EXISTS casesync.%I()', fn);
    END IF;
END $$;

-- Folds captured statements into change_pending: the oldest change_log
-- rows, up to about max_keys keys (at least one row). Rows of transactions
-- still open are not visible yet and stay for a later call, so nothing is
-- skipped whatever the order of commits. One folder at a time: a caller
-- that finds another folding returns at once with nothing folded. Returns
-- the number of change_log rows folded, and the entities that saw a
-- TRUNCATE. It runs with its owner's rights: the daemon may call it, but
-- may not delete from or lock the change log itself.
CREATE FUNCTION casesync.collect_changes(max_keys integer,
                                         OUT folded integer,
                                         OUT truncated text[])
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    folded := 0;
    truncated := '{}';
    IF NOT pg_try_advisory_xact_lock(x'7263656173796e64'::bigint) THEN
        RETURN;
    END IF;
    WITH batch AS (
        SELECT b.id FROM (
            SELECT f.id, sum(f.nkeys) OVER (ORDER BY f.id) - f.nkeys AS before
              FROM (SELECT id, nkeys FROM casesync.change_log
                     ORDER BY id LIMIT 1000) f) b
         WHERE b.before < greatest(max_keys, 1)
    ), moved AS (
        DELETE FROM casesync.change_log l USING batch
         WHERE l.id = batch.id
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
                 WHERE op = 'U' AND mask IS NOT NULL) d
               CROSS JOIN LATERAL unnest(casesync.mask_columns(d.mask, d.columns))
                   AS c(col)
    ), per_key AS (
        -- A key's changes in capture order: for one key that is the order
        -- they happened in (row locks order writers of one row). Inserted
        -- then updated is still an insert.
        SELECT p.entity, p.key AS local_key,
               (array_agg(p.op ORDER BY p.id))[1] AS first_op,
               (array_agg(p.op ORDER BY p.id DESC))[1] AS last_op,
               min(p.id) AS first_id, min(p.txid) AS first_txid,
               min(p.captured_at) AS first_at,
               bool_or(p.op <> 'U' OR p.mask IS NULL) AS all_columns,
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
        SELECT pk.entity, pk.local_key,
               CASE WHEN pk.first_op = 'I' AND pk.last_op = 'U' THEN 'I'
                    ELSE pk.last_op END,
               CASE WHEN pk.all_columns THEN NULL
                    ELSE coalesce(pk.cols, '{}') END,
               pk.first_id, nextval('casesync.change_pending_seq'),
               pk.first_txid, pk.first_at
          FROM per_key pk
        ON CONFLICT (entity, local_key) DO UPDATE
           SET op = CASE WHEN p.op = 'I' AND excluded.op = 'U' THEN 'I'
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

-- Tables captured by version 1: captured again by version 2 right here,
-- comparing every column, until `casesync migrate` narrows them to the
-- mapped ones.
DO $$
DECLARE
    t record;
    args text[];
    cols text[];
BEGIN
    FOR t IN SELECT tg.tgrelid::regclass AS tbl, tg.tgargs
               FROM pg_trigger tg
              WHERE tg.tgname = 'casesync_capture'
                AND tg.tgfoid = 'casesync.capture()'::regprocedure LOOP
        args := string_to_array(rtrim(encode(t.tgargs, 'escape'), '\000'),
                                '\000');
        SELECT array_agg(attname::text ORDER BY attnum) INTO cols
          FROM pg_attribute
         WHERE attrelid = t.tbl AND attnum > 0 AND NOT attisdropped
           AND attname <> args[2];
        PERFORM casesync.install_capture(t.tbl, args[1], args[2],
                                         coalesce(cols, '{}'),
                                         coalesce(cols, '{}'));
    END LOOP;
END $$;
DROP FUNCTION casesync.capture();
DROP FUNCTION casesync.install_capture(regclass, text, text);

REVOKE ALL ON SCHEMA casesync FROM PUBLIC;
REVOKE ALL ON ALL TABLES IN SCHEMA casesync FROM PUBLIC;
REVOKE ALL ON ALL SEQUENCES IN SCHEMA casesync FROM PUBLIC;
REVOKE EXECUTE ON FUNCTION
    casesync.install_capture(regclass, text, text, text[], text[]),
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
GRANT SELECT ON casesync.change_log, casesync.capture TO casesync_daemon;
GRANT SELECT, INSERT ON casesync.audit TO casesync_daemon;
GRANT USAGE ON SEQUENCE casesync.outbox_id_seq, casesync.conflicts_id_seq,
    casesync.cycles_id_seq, casesync.audit_seq_seq TO casesync_daemon;
GRANT EXECUTE ON FUNCTION casesync.collect_changes(integer) TO casesync_daemon;

-- Auditors: the trail (with the old and new values of changed fields, which
-- is what they trace), the cycles and the key crosswalk; not the case
-- records, base snapshots, conflict queue or outbox.
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
