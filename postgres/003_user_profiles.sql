-- Each user's current activity profile, kept by the Flink job (topic user-profiles) and upserted
-- by user_id (connectors/user-profiles-postgres.yaml). Read by analysts' queries by key.
CREATE TABLE IF NOT EXISTS public.user_profiles (
  user_id              text PRIMARY KEY,
  txn_count_1h         bigint NOT NULL,
  amount_1h            numeric(18, 2) NOT NULL,
  txn_count_24h        bigint NOT NULL,
  amount_24h           numeric(18, 2) NOT NULL,
  last_transaction_id  text NOT NULL,
  last_location        text,
  last_device_id       text,
  last_event_time      text NOT NULL
);
-- The profiles sink upserts; analysts' queries read.
GRANT SELECT, INSERT, UPDATE ON public.user_profiles TO fraud_pipeline_writer;
GRANT SELECT ON public.user_profiles TO fraud_analyst_reader;
