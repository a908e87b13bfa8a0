-- name: alerts-for-user
-- description: Every alert raised for one user since a point in time, oldest first.
-- kind: pull
-- param user_id: string, required. The user to look at.
-- param since: duration, default 24h. How far back to look (for example 1h, 7d).
SELECT alert_id, rule, transaction_id, amount, currency, location, event_time, risk_score
FROM alerts_by_id
WHERE user_id = {{ user_id }} AND ROWTIME >= {{ since.since_ms }};
