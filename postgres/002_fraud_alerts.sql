-- Alerts for case work, upserted by alert_id (connectors/alerts-postgres.yaml). The pipeline writes
-- only the alert columns; status, assignee, disposition and notes belong to the analysts and are
-- never overwritten by a re-delivered alert.
CREATE TABLE IF NOT EXISTS public.fraud_alerts (
  alert_id        text PRIMARY KEY,
  rule            text NOT NULL,
  rule_id         text NOT NULL,
  severity        text NOT NULL,
  user_id         text NOT NULL,
  transaction_id  text NOT NULL,
  amount          numeric(18, 2),
  currency        text,
  location        text,
  event_time      text,
  window_start    text,
  window_end      text,
  evidence        text,
  risk_score      double precision,
  model_version   text,
  status          text NOT NULL DEFAULT 'new' CHECK (status IN ('new', 'investigating', 'closed')),
  assignee        text,
  disposition     text CHECK (disposition IN ('fraud', 'not_fraud', 'unknown')),
  notes           text,
  created_at      timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX IF NOT EXISTS fraud_alerts_user ON public.fraud_alerts (user_id);
-- The alerts sink upserts; analysts' queries read.
GRANT SELECT, INSERT, UPDATE ON public.fraud_alerts TO fraud_pipeline_writer;
GRANT SELECT ON public.fraud_alerts TO fraud_analyst_reader;
