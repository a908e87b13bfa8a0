-- ksqlDB statements for environment local, rendered by fraudctl from detections/ and topics.yaml.
-- Do not edit: change the rule files or templates/ksql/ and render again.
-- Event time is the `timestamp` field (RFC 3339, UTC); windows keep an explicit GRACE PERIOD of
-- 5s for out-of-order rows.

CREATE STREAM IF NOT EXISTS transactions (
  user_key STRING KEY,
  transaction_id STRING,
  user_id STRING,
  amount DECIMAL(18, 2),
  currency STRING,
  `timestamp` STRING,
  location STRING,
  lat DOUBLE,
  lon DOUBLE,
  country STRING,
  merchant_id STRING,
  merchant_category STRING,
  device_id STRING,
  channel STRING
) WITH (
  KAFKA_TOPIC = 'transactions',
  VALUE_FORMAT = 'JSON',
  TIMESTAMP = 'timestamp',
  TIMESTAMP_FORMAT = 'yyyy-MM-dd''T''HH:mm:ss[.SSS]X'
);

CREATE TABLE IF NOT EXISTS blacklist (
  user_id STRING PRIMARY KEY,
  reason STRING,
  added_at STRING
) WITH (
  KAFKA_TOPIC = 'blacklist',
  KEY_FORMAT = 'KAFKA',
  VALUE_FORMAT = 'JSON'
);

-- Rule hits, before scoring; every rule inserts into this stream (the key travels in the value too).
CREATE STREAM IF NOT EXISTS detections (
  user_key STRING KEY,
  alert_id STRING,
  rule STRING,
  rule_id STRING,
  severity STRING,
  user_id STRING,
  transaction_id STRING,
  amount DECIMAL(18, 2),
  currency STRING,
  location STRING,
  event_time STRING,
  window_start BIGINT,
  window_end BIGINT,
  evidence STRING
) WITH (
  KAFKA_TOPIC = 'detections',
  VALUE_FORMAT = 'JSON'
);


-- FR-001 rapid_burst: at least 5 transactions by one user within 60s.
-- ksqlDB has no per-row sliding window: a hopping window advancing by a tenth of its size
-- approximates it, emitting on each change; alert_id is per transaction, so sinks upsert repeats.
CREATE TABLE IF NOT EXISTS rapid_burst_counts WITH (KAFKA_TOPIC = 'fraud_rapid_burst_counts', VALUE_FORMAT = 'JSON') AS
SELECT
  user_id,
  COUNT(*) AS txn_count,
  COLLECT_LIST(transaction_id) AS txn_ids,
  LATEST_BY_OFFSET(transaction_id) AS last_transaction_id,
  LATEST_BY_OFFSET(amount) AS last_amount,
  LATEST_BY_OFFSET(currency) AS last_currency,
  LATEST_BY_OFFSET(location) AS last_location,
  LATEST_BY_OFFSET(`timestamp`) AS last_timestamp,
  AS_VALUE(user_id) AS user_value,
  WINDOWSTART AS window_start,
  WINDOWEND AS window_end
FROM transactions
WINDOW HOPPING (SIZE 1 MINUTES, ADVANCE BY 6 SECONDS,
                RETENTION 86520 SECONDS, GRACE PERIOD 5 SECONDS)
GROUP BY user_id
HAVING COUNT(*) >= 5
EMIT CHANGES;

CREATE STREAM IF NOT EXISTS rapid_burst_changes (
  user_id STRING KEY,
  txn_count BIGINT,
  txn_ids ARRAY<STRING>,
  last_transaction_id STRING,
  last_amount DECIMAL(18, 2),
  last_currency STRING,
  last_location STRING,
  last_timestamp STRING,
  user_value STRING,
  window_start BIGINT,
  window_end BIGINT
) WITH (KAFKA_TOPIC = 'fraud_rapid_burst_counts', VALUE_FORMAT = 'JSON', WINDOW_TYPE = 'HOPPING',
        WINDOW_SIZE = '1 MINUTES');

INSERT INTO detections
SELECT
  c.user_value AS user_key,
  CONCAT('rapid_burst:', c.last_transaction_id) AS alert_id,
  'rapid_burst' AS rule,
  'FR-001' AS rule_id,
  'medium' AS severity,
  c.user_value AS user_id,
  c.last_transaction_id AS transaction_id,
  c.last_amount AS amount,
  c.last_currency AS currency,
  c.last_location AS location,
  c.last_timestamp AS event_time,
  c.window_start AS window_start,
  c.window_end AS window_end,
  CONCAT('{"count":', CAST(c.txn_count AS STRING), '}') AS evidence
FROM rapid_burst_changes c
PARTITION BY c.user_value
EMIT CHANGES;



-- FR-002 location_mismatch: a stream-stream self-join of one user's transactions within 10m,
-- in different locations; with coordinates on both, only above 900 km/h.
-- A second source stream over the same topic is the join's other side (ksqlDB joins two sources).
CREATE STREAM IF NOT EXISTS transactions_earlier (
  user_key STRING KEY,
  transaction_id STRING,
  `timestamp` STRING,
  location STRING,
  lat DOUBLE,
  lon DOUBLE
) WITH (
  KAFKA_TOPIC = 'transactions',
  VALUE_FORMAT = 'JSON',
  TIMESTAMP = 'timestamp',
  TIMESTAMP_FORMAT = 'yyyy-MM-dd''T''HH:mm:ss[.SSS]X'
);

INSERT INTO detections
SELECT
  b.user_id AS user_key,
  CONCAT('location_mismatch', ':', b.transaction_id) AS alert_id,
  'location_mismatch' AS rule,
  'FR-002' AS rule_id,
  'high' AS severity,
  b.user_id AS user_id,
  b.transaction_id AS transaction_id,
  b.amount AS amount,
  b.currency AS currency,
  b.location AS location,
  b.`timestamp` AS event_time,
  a.ROWTIME AS window_start,
  b.ROWTIME AS window_end,
  CONCAT('{"previous_transaction_id":"', a.transaction_id, '","previous_location":"', a.location, '"}') AS evidence
FROM transactions b
JOIN transactions_earlier a WITHIN (10 MINUTES, 0 SECONDS) GRACE PERIOD 5 SECONDS
  ON b.user_key = a.user_key
WHERE a.location <> b.location
  AND a.transaction_id <> b.transaction_id
  AND (a.lat IS NULL OR b.lat IS NULL
       OR GEO_DISTANCE(a.lat, a.lon, b.lat, b.lon, 'KM')
          / (GREATEST((b.ROWTIME - a.ROWTIME) / 1000, 1) / 3600.0) > 900)
EMIT CHANGES;



-- FR-003 high_value: amount above 1000. (The "multiple of the user's
-- average" half needs per-row history, which ksqlDB offers only through a stream-table join on an
-- aggregate that already includes the row; it is rendered on Flink only.)
INSERT INTO detections
SELECT
  t.user_id AS user_key,
  CONCAT('high_value', ':', t.transaction_id) AS alert_id,
  'high_value' AS rule,
  'FR-003' AS rule_id,
  'medium' AS severity,
  t.user_id AS user_id,
  t.transaction_id AS transaction_id,
  t.amount AS amount,
  t.currency AS currency,
  t.location AS location,
  t.`timestamp` AS event_time,
  t.ROWTIME AS window_start,
  t.ROWTIME AS window_end,
  CONCAT('{"threshold":', '1000', '}') AS evidence
FROM transactions t
WHERE t.amount > 1000
EMIT CHANGES;



-- FR-004 blacklisted_account: stream-table join on the key. Both topics are keyed by user_id
-- with the same partition count, so the join needs no repartition.

INSERT INTO detections
SELECT
  t.user_id AS user_key,
  CONCAT('blacklisted_account', ':', t.transaction_id) AS alert_id,
  'blacklisted_account' AS rule,
  'FR-004' AS rule_id,
  'critical' AS severity,
  t.user_id AS user_id,
  t.transaction_id AS transaction_id,
  t.amount AS amount,
  t.currency AS currency,
  t.location AS location,
  t.`timestamp` AS event_time,
  t.ROWTIME AS window_start,
  t.ROWTIME AS window_end,
  CONCAT('{"reason":"', COALESCE(b.reason, ''), '"}') AS evidence
FROM transactions t
JOIN blacklist b ON t.user_key = b.user_id
EMIT CHANGES;



-- FR-005 new_device: a device the user has not used within 30d, amount at least 200.
-- The last use of each (user, device) is a table; a transaction whose pair is absent, or last seen
-- longer ago than the look-back, is new. Both sides are keyed by the same user|device string.
CREATE STREAM IF NOT EXISTS transactions_by_device WITH (KAFKA_TOPIC = 'fraud_transactions_by_device', VALUE_FORMAT = 'JSON') AS
SELECT CONCAT(user_id, '|', device_id) AS user_device, *
FROM transactions
WHERE device_id IS NOT NULL
PARTITION BY CONCAT(user_id, '|', device_id)
EMIT CHANGES;

CREATE TABLE IF NOT EXISTS device_last_seen WITH (KAFKA_TOPIC = 'fraud_device_last_seen', VALUE_FORMAT = 'JSON') AS
SELECT user_device, MAX(ROWTIME) AS last_seen
FROM transactions_by_device
GROUP BY user_device
EMIT CHANGES;

INSERT INTO detections
SELECT
  t.user_id AS user_key,
  CONCAT('new_device', ':', t.transaction_id) AS alert_id,
  'new_device' AS rule,
  'FR-005' AS rule_id,
  'medium' AS severity,
  t.user_id AS user_id,
  t.transaction_id AS transaction_id,
  t.amount AS amount,
  t.currency AS currency,
  t.location AS location,
  t.`timestamp` AS event_time,
  t.ROWTIME - 2592000000 AS window_start,
  t.ROWTIME AS window_end,
  CONCAT('{"device_id":"', t.device_id, '"}') AS evidence
FROM transactions_by_device t
LEFT JOIN device_last_seen d ON t.user_device = d.user_device
WHERE t.amount >= 200
  AND (d.last_seen IS NULL OR t.ROWTIME - d.last_seen > 2592000000)
PARTITION BY t.user_id
EMIT CHANGES;



-- Analysts' state (the query library in ksql/queries/, run by `fraudctl query`): tables that
-- answer pull queries by key. ksqlDB has no per-row (OVER) windows, so a user's profile keeps their
-- recent (time, amount) pairs and the pull query counts those in the hour and the day up to the
-- latest transaction, the same figures the Flink job keeps.
CREATE TABLE IF NOT EXISTS user_profiles WITH (KAFKA_TOPIC = 'fraud_user_profiles', VALUE_FORMAT = 'JSON') AS
SELECT
  user_key AS user_id,
  COLLECT_LIST(STRUCT(t := ROWTIME, a := CAST(amount AS DOUBLE))) AS recent,
  LATEST_BY_OFFSET(ROWTIME) AS last_ms,
  LATEST_BY_OFFSET(transaction_id) AS last_transaction_id,
  LATEST_BY_OFFSET(location) AS last_location,
  LATEST_BY_OFFSET(device_id) AS last_device_id,
  REPLACE(REPLACE(LATEST_BY_OFFSET(`timestamp`), 'T', ' '), 'Z', '') AS last_event_time  -- as Flink writes it
FROM transactions
GROUP BY user_key
EMIT CHANGES;

-- Alerts as the enrichment step writes them (scored), keyed by user_id.
CREATE STREAM IF NOT EXISTS fraud_alerts_stream (
  user_key STRING KEY,
  alert_id STRING,
  rule STRING,
  user_id STRING,
  transaction_id STRING,
  amount DOUBLE,
  currency STRING,
  location STRING,
  event_time STRING,
  risk_score DOUBLE
) WITH (
  KAFKA_TOPIC = 'fraud-alerts',
  VALUE_FORMAT = 'JSON'
);

-- One row per alert (a re-delivered alert overwrites its row): pull queries filter it by user.
CREATE TABLE IF NOT EXISTS alerts_by_id WITH (KAFKA_TOPIC = 'fraud_alerts_by_id', VALUE_FORMAT = 'JSON') AS
SELECT
  alert_id,
  LATEST_BY_OFFSET(rule) AS rule,
  LATEST_BY_OFFSET(user_id) AS user_id,
  LATEST_BY_OFFSET(transaction_id) AS transaction_id,
  LATEST_BY_OFFSET(amount) AS amount,
  LATEST_BY_OFFSET(currency) AS currency,
  LATEST_BY_OFFSET(location) AS location,
  LATEST_BY_OFFSET(event_time) AS event_time,
  LATEST_BY_OFFSET(risk_score) AS risk_score
FROM fraud_alerts_stream
GROUP BY alert_id
EMIT CHANGES;

-- Alert counts per user, by rule.
CREATE TABLE IF NOT EXISTS user_alert_counts WITH (KAFKA_TOPIC = 'fraud_user_alert_counts', VALUE_FORMAT = 'JSON') AS
SELECT
  user_key AS user_id,
  COUNT_DISTINCT(alert_id) AS alerts,
  COUNT_DISTINCT(CASE WHEN rule = 'rapid_burst' THEN alert_id END) AS alerts_rapid_burst,
  COUNT_DISTINCT(CASE WHEN rule = 'location_mismatch' THEN alert_id END) AS alerts_location_mismatch,
  COUNT_DISTINCT(CASE WHEN rule = 'high_value' THEN alert_id END) AS alerts_high_value,
  COUNT_DISTINCT(CASE WHEN rule = 'blacklisted_account' THEN alert_id END) AS alerts_blacklisted_account,
  COUNT_DISTINCT(CASE WHEN rule = 'new_device' THEN alert_id END) AS alerts_new_device
FROM fraud_alerts_stream
GROUP BY user_key
EMIT CHANGES;

CREATE TABLE IF NOT EXISTS user_activity WITH (KAFKA_TOPIC = 'fraud_user_activity', VALUE_FORMAT = 'JSON') AS
SELECT
  p.user_id AS user_id,
  ARRAY_LENGTH(FILTER(p.recent, r => r->t >= p.last_ms - 3600000)) AS txn_count_1h,
  REDUCE(FILTER(p.recent, r => r->t >= p.last_ms - 3600000), 0.0, (s, r) => s + r->a) AS amount_1h,
  ARRAY_LENGTH(FILTER(p.recent, r => r->t >= p.last_ms - 86400000)) AS txn_count_24h,
  REDUCE(FILTER(p.recent, r => r->t >= p.last_ms - 86400000), 0.0, (s, r) => s + r->a) AS amount_24h,
  p.last_transaction_id AS last_transaction_id,
  p.last_location AS last_location,
  p.last_device_id AS last_device_id,
  p.last_event_time AS last_event_time,
  COALESCE(a.alerts, CAST(0 AS BIGINT)) AS alerts,
  COALESCE(a.alerts_rapid_burst, CAST(0 AS BIGINT)) AS alerts_rapid_burst,
  COALESCE(a.alerts_location_mismatch, CAST(0 AS BIGINT)) AS alerts_location_mismatch,
  COALESCE(a.alerts_high_value, CAST(0 AS BIGINT)) AS alerts_high_value,
  COALESCE(a.alerts_blacklisted_account, CAST(0 AS BIGINT)) AS alerts_blacklisted_account,
  COALESCE(a.alerts_new_device, CAST(0 AS BIGINT)) AS alerts_new_device
FROM user_profiles p
LEFT JOIN user_alert_counts a ON p.user_id = a.user_id
EMIT CHANGES;

-- Alerts per user in hourly windows (top-alerting-users sums the windows of its range).
CREATE TABLE IF NOT EXISTS alerts_by_user_hourly WITH (KAFKA_TOPIC = 'fraud_alerts_by_user_hourly', VALUE_FORMAT = 'JSON') AS
SELECT
  user_key AS user_id,
  COUNT_DISTINCT(alert_id) AS alerts,
  COUNT_DISTINCT(rule) AS rules,
  MAX(risk_score) AS max_risk_score
FROM fraud_alerts_stream
WINDOW TUMBLING (SIZE 1 HOUR, RETENTION 2 DAYS, GRACE PERIOD 5 SECONDS)
GROUP BY user_key
EMIT CHANGES;

-- Blacklisted accounts' alerts per user, with the blacklist's current reason.
CREATE TABLE IF NOT EXISTS blacklist_hits WITH (KAFKA_TOPIC = 'fraud_blacklist_hits', VALUE_FORMAT = 'JSON') AS
SELECT
  a.user_key AS user_id,
  COUNT_DISTINCT(a.alert_id) AS hits,
  MIN(a.event_time) AS first_hit,
  MAX(a.event_time) AS last_hit,
  MAX(a.ROWTIME) AS last_hit_ms,
  LATEST_BY_OFFSET(b.reason) AS reason
FROM fraud_alerts_stream a
LEFT JOIN blacklist b ON a.user_key = b.user_id
WHERE a.rule = 'blacklisted_account'
GROUP BY a.user_key
EMIT CHANGES;

