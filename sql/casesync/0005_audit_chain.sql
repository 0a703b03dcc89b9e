-- casesync state, version 5: the audit trail becomes tamper-evident.
-- Applied by `casesync migrate` inside one transaction.
--
-- Every entry now carries, next to its values, an HMAC digest of each
-- value (keyed by a secret held outside the database, named by key_id) and
-- the hash of the chain up to and including itself. The sequence number is
-- the entry's place in the chain: gapless, assigned by the writer while it
-- holds the head row below, in the transaction that makes the change.
-- A value may be erased at the end of its retention period (erased_at);
-- its digest stays, so the chain still verifies. docs/audit.md.

-- Sequence numbers become gapless: entries written before this version,
-- whose numbers came from a sequence (a rolled-back insert left a gap),
-- are numbered 1, 2, ... in their order. They are chained by the next
-- `casesync migrate` that has the audit key (see migrate.c).
ALTER TABLE casesync.audit ALTER COLUMN seq DROP DEFAULT;
DROP SEQUENCE casesync.audit_seq_seq;
UPDATE casesync.audit SET seq = -seq;
UPDATE casesync.audit a SET seq = n.rn
    FROM (SELECT seq, row_number() OVER (ORDER BY seq DESC) AS rn
          FROM casesync.audit) n
    WHERE a.seq = n.seq;
ALTER TABLE casesync.audit
    ADD CONSTRAINT audit_seq_positive CHECK (seq > 0),
    ADD COLUMN digests jsonb,
    ADD COLUMN key_id text,
    ADD COLUMN hash text CHECK (hash ~ '^[0-9a-f]{64}$'),
    ADD COLUMN erased_at timestamptz;
ALTER TABLE casesync.audit ALTER COLUMN at DROP DEFAULT;
CREATE INDEX audit_at ON casesync.audit (at);
CREATE INDEX audit_remote ON casesync.audit (entity, remote_id);
COMMENT ON COLUMN casesync.audit.digests IS
    'HMAC-SHA-256 of each value in changes, same shape: '
    '{"field": {"old": hex|null, "new": hex|null}}';
COMMENT ON COLUMN casesync.audit.hash IS
    'SHA-256 over the previous entry''s hash and this entry (digests, not '
    'values); docs/audit.md';

-- The head of the chain: how many entries there are and the last hash.
-- A writer locks this row (FOR UPDATE) as the last thing before COMMIT, so
-- entries are chained in commit order and no writer waits on anything else
-- while it holds the lock. hash is NULL while entries written before
-- version 5 are not yet chained.
CREATE TABLE casesync.audit_head (
    one      boolean PRIMARY KEY DEFAULT true CHECK (one),
    entries  bigint NOT NULL CHECK (entries >= 0),
    hash     text CHECK (hash ~ '^[0-9a-f]{64}$')
);
INSERT INTO casesync.audit_head (entries, hash)
    SELECT count(*), NULL FROM casesync.audit;

-- Signed checkpoints: (entries, head hash) signed with Ed25519. Kept here
-- and, exported as files, somewhere the database's administrators cannot
-- reach; `casesync audit verify` checks the trail against both.
CREATE TABLE casesync.audit_checkpoints (
    entries    bigint PRIMARY KEY CHECK (entries > 0),
    head       text NOT NULL CHECK (head ~ '^[0-9a-f]{64}$'),
    made_at    timestamptz NOT NULL,
    key_id     text NOT NULL,
    signature  text NOT NULL,
    made_by    text NOT NULL
);

-- A value erased at the end of its retention period: the same fields and
-- parts, every value null. The digests are left as they were.
CREATE FUNCTION casesync.audit_erased(changes jsonb) RETURNS jsonb
LANGUAGE sql IMMUTABLE STRICT AS $$
    SELECT coalesce(jsonb_object_agg(f.key,
               CASE WHEN jsonb_typeof(f.value) = 'object' THEN
                   (SELECT coalesce(jsonb_object_agg(p.key, 'null'::jsonb),
                                    '{}'::jsonb)
                    FROM jsonb_each(f.value) p)
               ELSE 'null'::jsonb END), '{}'::jsonb)
    FROM jsonb_each(changes) f
$$;
REVOKE EXECUTE ON FUNCTION casesync.audit_erased(jsonb) FROM PUBLIC;

-- Guards on what the writers' grants allow. The head only moves forward.
-- A data lead (a person, not a daemon) writes entries in their own name:
-- the actor is their role and the source 'person'.
CREATE FUNCTION casesync.audit_head_guard() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.entries < OLD.entries THEN
        RAISE EXCEPTION 'the audit trail''s head only moves forward'
            USING ERRCODE = 'insufficient_privilege';
    END IF;
    RETURN NEW;
END $$;
CREATE TRIGGER audit_head_forward BEFORE UPDATE ON casesync.audit_head
    FOR EACH ROW EXECUTE FUNCTION casesync.audit_head_guard();

CREATE FUNCTION casesync.audit_actor_guard() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF NOT pg_has_role(session_user, 'casesync_daemon', 'MEMBER')
       AND (NEW.actor IS DISTINCT FROM session_user::text
            OR NEW.source <> 'person') THEN
        RAISE EXCEPTION 'an audit entry written by a person carries their own role as actor'
            USING ERRCODE = 'insufficient_privilege';
    END IF;
    RETURN NEW;
END $$;
CREATE TRIGGER audit_actor BEFORE INSERT ON casesync.audit
    FOR EACH ROW EXECUTE FUNCTION casesync.audit_actor_guard();

-- Writers (the daemon; data leads resolving conflicts) move the head;
-- nobody but the owner updates or deletes an entry.
GRANT SELECT, UPDATE ON casesync.audit_head
    TO casesync_daemon, casesync_datalead;
GRANT SELECT, INSERT ON casesync.audit_checkpoints TO casesync_daemon;
GRANT SELECT ON casesync.audit_head, casesync.audit_checkpoints
    TO casesync_auditor, casesync_datalead;
