-- Reference data: blacklisted accounts. The CDC source (connectors/blacklist-postgres-source.yaml)
-- streams every insert, update and delete into the compacted `blacklist` topic.
CREATE TABLE IF NOT EXISTS public.blacklist (
  user_id    text PRIMARY KEY,
  reason     text NOT NULL,
  added_at   timestamptz NOT NULL DEFAULT now()
);
-- Deletes must carry the key to become tombstones downstream.
ALTER TABLE public.blacklist REPLICA IDENTITY DEFAULT;
