-- Reference data: blacklisted accounts. The CDC source (connectors/blacklist-postgres-source.yaml)
-- streams every insert, update and delete into the compacted `blacklist` topic.
CREATE TABLE IF NOT EXISTS public.blacklist (
  user_id    text PRIMARY KEY,
  reason     text NOT NULL,
  added_at   timestamptz NOT NULL DEFAULT now()
);
-- Deletes must carry the key to become tombstones downstream.
ALTER TABLE public.blacklist REPLICA IDENTITY DEFAULT;
-- The CDC source reads the table through this publication (created here, by the owner, so the
-- pipeline's writer needs no ownership); its name is the one templates/connect/postgres-reference-source
-- renders: fraud_<table>_cdc.
DO $$
BEGIN
  IF NOT EXISTS (SELECT 1 FROM pg_publication WHERE pubname = 'fraud_blacklist_cdc') THEN
    CREATE PUBLICATION fraud_blacklist_cdc FOR TABLE public.blacklist;
  END IF;
END
$$;
-- The CDC source snapshots the table; analysts read it. Only the owner (case work, the demo) writes it.
GRANT SELECT ON public.blacklist TO fraud_pipeline_writer, fraud_analyst_reader;
