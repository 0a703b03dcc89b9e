-- casestore, version 3: updated_at follows every update. The sync engine's
-- `newest` policy compares it with the council's modification time, so it
-- must move when a row changes, whoever writes it. Existing values stay.
CREATE FUNCTION casestore.touch_updated_at() RETURNS trigger
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    NEW.updated_at := clock_timestamp();
    RETURN NEW;
END $$;

DO $$
DECLARE
    t regclass;
BEGIN
    FOR t IN SELECT c.oid::regclass FROM pg_class c
               JOIN pg_namespace n ON n.oid = c.relnamespace
               JOIN pg_attribute a ON a.attrelid = c.oid
              WHERE n.nspname = 'casestore' AND c.relkind = 'r'
                AND a.attname = 'updated_at' AND NOT a.attisdropped
              ORDER BY c.relname LOOP
        EXECUTE format('CREATE TRIGGER touch_updated_at BEFORE UPDATE ON %s '
                       'FOR EACH ROW EXECUTE FUNCTION '
                       'casestore.touch_updated_at()', t);
    END LOOP;
END $$;
