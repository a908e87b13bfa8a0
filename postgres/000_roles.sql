-- Least privilege: two group roles hold what the pipeline and the analysts may do; each table's
-- file grants them exactly that. The environment's login users (postgres.roles in
-- environments/NAME.yaml) are made members by `fraudctl apply` (deploy/providers/postgres_logins.py),
-- so no user name or password is ever written here. The owner (postgres.user) owns every table.
DO $$
BEGIN
  IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'fraud_pipeline_writer') THEN
    CREATE ROLE fraud_pipeline_writer NOLOGIN;
  END IF;
  IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'fraud_analyst_reader') THEN
    CREATE ROLE fraud_analyst_reader NOLOGIN;
  END IF;
END
$$;
-- Nobody but the owner creates objects in the pipeline's schema.
REVOKE CREATE ON SCHEMA public FROM PUBLIC;
GRANT USAGE ON SCHEMA public TO fraud_pipeline_writer, fraud_analyst_reader;
