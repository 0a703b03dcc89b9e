-- casesync state, version 4: the conflict queue, tombstones, the outbox
-- written before the first send, and claims for several daemons.
-- Applied by `casesync migrate` inside one transaction.

-- Conflicts. kind says what the two sides did: 'fields' (both changed the
-- same fields differently), 'deleted_remote' (the council deleted a record
-- the provider changed), 'deleted_local' (the provider deleted a record the
-- council changed). fields holds, per conflicting field, the base, local
-- and remote values: {"field": {"base": v, "local": v, "remote": v}}.
-- A data lead resolves an open conflict (status 'resolved', resolution,
-- who and why); the daemon then applies and syncs the resolution (status
-- 'applied'). At most one unsettled conflict per record.
ALTER TABLE casesync.conflicts DROP CONSTRAINT conflicts_status_check;
ALTER TABLE casesync.conflicts ADD CONSTRAINT conflicts_status_check
    CHECK (status IN ('open', 'resolved', 'applied'));
ALTER TABLE casesync.conflicts
    ADD COLUMN kind text NOT NULL DEFAULT 'fields'
        CHECK (kind IN ('fields', 'deleted_remote', 'deleted_local')),
    ADD COLUMN base_version text,
    ADD COLUMN remote_version text,
    ADD COLUMN opened_cycle bigint REFERENCES casesync.cycles (id),
    ADD COLUMN resolution jsonb,
    ADD COLUMN applied_at timestamptz,
    ADD COLUMN applied_cycle bigint REFERENCES casesync.cycles (id);
CREATE UNIQUE INDEX conflicts_unsettled ON casesync.conflicts (entity, local_key)
    WHERE status IN ('open', 'resolved');
CREATE INDEX conflicts_status ON casesync.conflicts (status, entity);
COMMENT ON COLUMN casesync.conflicts.resolution IS
    'The decision: {"take": "local"|"remote"} or {"values": {"field": v}}; '
    'fields not named take the side given by "take" when present, else stay '
    'as the three-way merge decides.';

-- Tombstones: a record deleted on both sides keeps its base row (deleted,
-- with the council's last version), so a replayed or late feed item for it
-- is recognised and not applied again.
ALTER TABLE casesync.base ADD COLUMN deleted boolean NOT NULL DEFAULT false;

-- The outbox: every write to the council is stored here, with its
-- idempotency key and exact body, and committed before it is first sent.
-- After a crash the same request (key, If-Match, bytes) is sent again, so
-- the council applies it once. A row is removed in the transaction that
-- settles its answer; 'failed' rows (refused for good) stay for reports.
ALTER TABLE casesync.outbox
    ADD COLUMN op text NOT NULL DEFAULT 'update'
        CHECK (op IN ('create', 'update', 'delete')),
    ADD COLUMN remote_id text,
    ADD COLUMN if_match text,
    ADD COLUMN sent_at timestamptz,
    ADD COLUMN claimed_by text,
    -- The provider's record as read when the request was made: after a
    -- crash, the answer is merged into the provider against it.
    ADD COLUMN local_snapshot jsonb;
ALTER TABLE casesync.outbox ALTER COLUMN op DROP DEFAULT;
CREATE UNIQUE INDEX outbox_pending ON casesync.outbox (entity, local_key)
    WHERE status = 'pending';

-- Claims: several casesyncd processes against one database share the
-- pending changes. A process claims a batch of rows for a lease (FOR
-- UPDATE SKIP LOCKED, so claimers never wait on each other); a claim whose
-- lease ran out (its process died) is taken over.
-- claim_cycle is the claimer's cycle: a process takes its own claims of
-- earlier cycles back at once (after a restart), not those of this cycle
-- (a change that failed waits for the next cycle).
ALTER TABLE casesync.change_pending
    ADD COLUMN claimed_by text,
    ADD COLUMN claimed_until timestamptz,
    ADD COLUMN claim_cycle bigint;

-- The daemon queues a push of a record the council created, so the council
-- learns the values only the provider assigns (its key).
GRANT USAGE ON SEQUENCE casesync.change_pending_seq TO casesync_daemon;

-- Data leads resolve conflicts: the decision and who, why and when.
GRANT UPDATE (resolution) ON casesync.conflicts TO casesync_datalead;
