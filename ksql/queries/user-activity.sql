-- name: user-activity
-- description: One user's recent activity: transactions and amount in the hour and the day up to
--   their latest transaction, where and on which device it was made, and their alerts by rule.
-- kind: pull
-- param user_id: string, required. The user to look at.
SELECT *
FROM user_activity
WHERE user_id = {{ user_id }};
