-- name: top-alerting-users
-- description: The users who raised the most alerts within a recent window, most first.
-- kind: pull
-- param window: duration, default 1h. The window to count alerts in (for example 1h, 1d).
-- sort: alerts desc, user_id
SELECT user_id, alerts, rules, max_risk_score
FROM alerts_by_user_hourly
WHERE WINDOWSTART >= {{ window.since_ms }};
