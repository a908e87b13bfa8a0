-- name: blacklist-hits
-- description: Blacklisted accounts that attempted transactions since a point in time, with the
--   blacklist's current reason.
-- kind: pull
-- param since: duration, default 1d. How far back to look.
-- sort: hits desc, user_id
SELECT user_id, hits, first_hit, last_hit, reason
FROM blacklist_hits
WHERE last_hit_ms >= {{ since.since_ms }};
