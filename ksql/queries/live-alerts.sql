-- name: live-alerts
-- description: New alerts as they are raised (a push query: runs until --limit, --timeout or Ctrl+C).
-- kind: push
SELECT alert_id, rule, user_id, transaction_id, amount, risk_score, event_time
FROM fraud_alerts_stream
EMIT CHANGES;
