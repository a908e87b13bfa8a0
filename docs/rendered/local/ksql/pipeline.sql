-- ksqlDB statements for environment local, rendered by fraudctl from detections/ and topics.yaml.
-- Do not edit: change the rule files or templates/ksql/ and render again.
-- Event time is the `timestamp` field (RFC 3339, UTC); windows keep an explicit GRACE PERIOD of
-- 5s for out-of-order rows.

-- Every change of an aggregate must be a row (a per-transaction evaluation must not be collapsed by
-- Kafka Streams' record cache): fraudctl sends this setting with every statement.
SET 'ksql.streams.cache.max.bytes.buffering' = '0';

-- `timestamp` is a reserved word: the TIMESTAMP property names the column back-quoted (unquoted,
-- ksqlDB upper-cases the name and finds no such column).
-- The value columns are the record contract's (src/fraudctl/contract.py: Transaction).
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
  TIMESTAMP = '`timestamp`',
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

-- Rule hits, before scoring; each rule's hits are copied into this stream (the key travels in the
-- value too). Lower-case field names, as the Flink job writes them and the enrichment step reads them.
CREATE STREAM IF NOT EXISTS detections (
  user_key STRING KEY,
  `alert_id` STRING,
  `rule` STRING,
  `rule_id` STRING,
  `severity` STRING,
  `user_id` STRING,
  `transaction_id` STRING,
  `amount` DECIMAL(18, 2),
  `currency` STRING,
  `location` STRING,
  `event_time` STRING,
  `window_start` STRING,
  `window_end` STRING,
  `evidence` STRING
) WITH (
  KAFKA_TOPIC = 'detections',
  VALUE_FORMAT = 'JSON'
);

-- Allowed lateness (5s), applied as Flink's watermark applies it: a transaction
-- whose event time is older than the newest its partition has delivered, minus the lateness, is late and
-- dropped. Kafka Streams applies that rule to windowed aggregations (GRACE PERIOD against the partition's
-- stream time), so every transaction passes a 1 ms tumbling window per user; the window's change rows are
-- the transactions in time. (The record cache is off, SET above: every change is a row.)
CREATE TABLE IF NOT EXISTS transactions_in_time WITH (KAFKA_TOPIC = 'fraud_transactions_in_time', VALUE_FORMAT = 'JSON') AS
SELECT
  user_key,
  LATEST_BY_OFFSET(transaction_id, false) AS transaction_id,
  LATEST_BY_OFFSET(user_id, false) AS user_id,
  LATEST_BY_OFFSET(CAST(amount AS DOUBLE), false) AS amount,
  LATEST_BY_OFFSET(currency, false) AS currency,
  LATEST_BY_OFFSET(`timestamp`, false) AS `timestamp`,
  LATEST_BY_OFFSET(location, false) AS location,
  LATEST_BY_OFFSET(lat, false) AS lat,
  LATEST_BY_OFFSET(lon, false) AS lon,
  LATEST_BY_OFFSET(device_id, false) AS device_id,
  LATEST_BY_OFFSET(ROWTIME, false) AS event_ms
FROM transactions
WINDOW TUMBLING (SIZE 1 MILLISECOND, RETENTION 65 SECONDS,
                 GRACE PERIOD 5 SECONDS)
GROUP BY user_key
EMIT CHANGES;

-- Read as a plain stream: no key column (the topic's keys are windowed), grouped again by user below.
CREATE STREAM IF NOT EXISTS transactions_on_time (
  transaction_id STRING,
  user_id STRING,
  amount DOUBLE,
  currency STRING,
  `timestamp` STRING,
  location STRING,
  lat DOUBLE,
  lon DOUBLE,
  device_id STRING,
  event_ms BIGINT
) WITH (KAFKA_TOPIC = 'fraud_transactions_in_time', VALUE_FORMAT = 'JSON', TIMESTAMP = 'event_ms');

-- Each user's latest 50 transactions in time (arrival order), with the newest one's columns:
-- each change row is one transaction seen with the history it arrived into. Rules that look back
-- (rapid_burst, high_value) read these rows, so they fire on the transaction itself, not at a window's end.
CREATE TABLE IF NOT EXISTS user_history WITH (KAFKA_TOPIC = 'fraud_user_history', VALUE_FORMAT = 'JSON') AS
SELECT
  user_id AS user_key,
  LATEST_BY_OFFSET(CONCAT(LPAD(CAST(event_ms AS STRING), 15, '0'), CHR(31), transaction_id, CHR(31), CAST(amount AS STRING), CHR(31),
         COALESCE(currency, ''), CHR(31), COALESCE(location, ''), CHR(31), COALESCE(`timestamp`, ''), CHR(31),
         COALESCE(device_id, ''), CHR(31), COALESCE(CAST(lat AS STRING), ''), CHR(31), COALESCE(CAST(lon AS STRING), '')), 50, false) AS entries,
  AS_VALUE(user_id) AS user_id,
  LATEST_BY_OFFSET(transaction_id, false) AS transaction_id,
  LATEST_BY_OFFSET(amount, false) AS amount,
  LATEST_BY_OFFSET(currency, false) AS currency,
  LATEST_BY_OFFSET(`timestamp`, false) AS `timestamp`,
  LATEST_BY_OFFSET(location, false) AS location,
  LATEST_BY_OFFSET(lat, false) AS lat,
  LATEST_BY_OFFSET(lon, false) AS lon,
  LATEST_BY_OFFSET(event_ms, false) AS event_ms
FROM transactions_on_time
GROUP BY user_id
EMIT CHANGES;

CREATE STREAM IF NOT EXISTS user_history_changes (
  user_key STRING KEY,
  entries ARRAY<STRING>,
  transaction_id STRING,
  user_id STRING,
  amount DOUBLE,
  currency STRING,
  `timestamp` STRING,
  location STRING,
  lat DOUBLE,
  lon DOUBLE,
  event_ms BIGINT
) WITH (KAFKA_TOPIC = 'fraud_user_history', VALUE_FORMAT = 'JSON', TIMESTAMP = 'event_ms');



-- FR-001 rapid_burst: at least 5 transactions by one user within 60s (sliding, per row).
-- On each transaction r, the user's history (distinct, sorted by event time) is searched for every
-- transaction e whose window holds r (e at or after r, at most 60s later) and that has
-- 5 transactions in its window: the one 4 places before e is at most 60s older.
-- Usually e is r itself; e is later than r when r arrived out of order, which is what Flink's
-- event-time order gives. A repeat of an earlier hit has the same alert_id (sinks upsert).
-- The windows found (EXPLODE: one row per hit); ksqlDB cannot upgrade a query with a table function in
-- place, so a change of min_count or window re-creates this stage and its readers.
CREATE STREAM IF NOT EXISTS rapid_burst_windows WITH (KAFKA_TOPIC = 'fraud_rapid_burst_windows', VALUE_FORMAT = 'JSON') AS
SELECT
  h.user_key AS user_key,
  h.user_id AS user_id,
  EXPLODE(FILTER(
    TRANSFORM(GENERATE_SERIES(5, ARRAY_LENGTH(ARRAY_SORT(ARRAY_DISTINCT(h.entries)))), i =>
      CASE WHEN CAST(SUBSTRING(ARRAY_SORT(ARRAY_DISTINCT(h.entries))[i], 1, 15) AS BIGINT) >= h.event_ms
            AND CAST(SUBSTRING(ARRAY_SORT(ARRAY_DISTINCT(h.entries))[i], 1, 15) AS BIGINT) - 60000 <= h.event_ms
            AND CAST(SUBSTRING(ARRAY_SORT(ARRAY_DISTINCT(h.entries))[i - 4], 1, 15) AS BIGINT) >= CAST(SUBSTRING(ARRAY_SORT(ARRAY_DISTINCT(h.entries))[i], 1, 15) AS BIGINT) - 60000
           THEN CONCAT(ARRAY_SORT(ARRAY_DISTINCT(h.entries))[i], CHR(30), ARRAY_JOIN(SLICE(ARRAY_SORT(ARRAY_DISTINCT(h.entries)), i - 4, i), CHR(30)))
           ELSE '' END),
    y => y <> '')) AS hit
FROM user_history_changes h
WHERE ARRAY_LENGTH(FILTER(h.entries, x => SPLIT(x, CHR(31))[2] = h.transaction_id)) = 1
  AND ARRAY_LENGTH(ARRAY_DISTINCT(h.entries)) >= 5
EMIT CHANGES;

CREATE STREAM IF NOT EXISTS rapid_burst_hits WITH (KAFKA_TOPIC = 'fraud_rapid_burst_hits', VALUE_FORMAT = 'JSON') AS
SELECT
  r.user_key AS user_key,
  CONCAT('rapid_burst', ':', SPLIT(SPLIT(r.hit, CHR(30))[1], CHR(31))[2]) AS `alert_id`,
  'rapid_burst' AS `rule`,
  'FR-001' AS `rule_id`,
  'medium' AS `severity`,
  r.user_id AS `user_id`,
  SPLIT(SPLIT(r.hit, CHR(30))[1], CHR(31))[2] AS `transaction_id`,
  CAST(SPLIT(SPLIT(r.hit, CHR(30))[1], CHR(31))[3] AS DECIMAL(18, 2)) AS `amount`,
  SPLIT(SPLIT(r.hit, CHR(30))[1], CHR(31))[4] AS `currency`,
  SPLIT(SPLIT(r.hit, CHR(30))[1], CHR(31))[5] AS `location`,
  FORMAT_TIMESTAMP(FROM_UNIXTIME(CAST(SUBSTRING(SPLIT(r.hit, CHR(30))[1], 1, 15) AS BIGINT)), 'yyyy-MM-dd HH:mm:ss.SSS', 'UTC') AS `event_time`,
  FORMAT_TIMESTAMP(FROM_UNIXTIME(CAST(SUBSTRING(SPLIT(r.hit, CHR(30))[1], 1, 15) AS BIGINT) - 60000), 'yyyy-MM-dd HH:mm:ss.SSS', 'UTC') AS `window_start`,
  FORMAT_TIMESTAMP(FROM_UNIXTIME(CAST(SUBSTRING(SPLIT(r.hit, CHR(30))[1], 1, 15) AS BIGINT)), 'yyyy-MM-dd HH:mm:ss.SSS', 'UTC') AS `window_end`,
  CONCAT('{"count_at_least":5,"transaction_ids":"',
         ARRAY_JOIN(TRANSFORM(SLICE(SPLIT(r.hit, CHR(30)), 2, 6), x => SPLIT(x, CHR(31))[2]), ','),
         '"}') AS `evidence`
FROM rapid_burst_windows r
EMIT CHANGES;

INSERT INTO detections SELECT * FROM rapid_burst_hits EMIT CHANGES;



-- FR-002 location_mismatch: a transaction in a different location than the user's previous one (the
-- latest earlier in event time) within 10m; with coordinates on both, only above
-- 900 km/h. Like Flink's MATCH_RECOGNIZE (A B), each transaction is compared
-- with its predecessor only (London -> Paris -> Paris is one alert, not two).
-- The predecessor is found once per transaction, in a stage of its own.
CREATE STREAM IF NOT EXISTS location_previous WITH (KAFKA_TOPIC = 'fraud_location_previous', VALUE_FORMAT = 'JSON') AS
SELECT
  h.user_key AS user_key,
  h.user_id AS user_id,
  h.transaction_id AS transaction_id,
  h.amount AS amount,
  h.currency AS currency,
  h.location AS location,
  h.lat AS lat,
  h.lon AS lon,
  h.event_ms AS event_ms,
  ARRAY_MAX(FILTER(h.entries, x => CAST(SUBSTRING(x, 1, 15) AS BIGINT) < h.event_ms)) AS previous
FROM user_history_changes h
WHERE ARRAY_LENGTH(FILTER(h.entries, x => SPLIT(x, CHR(31))[2] = h.transaction_id)) = 1
EMIT CHANGES;

CREATE STREAM IF NOT EXISTS location_mismatch_hits WITH (KAFKA_TOPIC = 'fraud_location_mismatch_hits', VALUE_FORMAT = 'JSON') AS
SELECT
  l.user_key AS user_key,
  CONCAT('location_mismatch', ':', l.transaction_id) AS `alert_id`,
  'location_mismatch' AS `rule`,
  'FR-002' AS `rule_id`,
  'high' AS `severity`,
  l.user_id AS `user_id`,
  l.transaction_id AS `transaction_id`,
  CAST(l.amount AS DECIMAL(18, 2)) AS `amount`,
  l.currency AS `currency`,
  l.location AS `location`,
  FORMAT_TIMESTAMP(FROM_UNIXTIME(l.event_ms), 'yyyy-MM-dd HH:mm:ss.SSS', 'UTC') AS `event_time`,
  FORMAT_TIMESTAMP(FROM_UNIXTIME(CAST(SUBSTRING(l.previous, 1, 15) AS BIGINT)), 'yyyy-MM-dd HH:mm:ss.SSS', 'UTC') AS `window_start`,
  FORMAT_TIMESTAMP(FROM_UNIXTIME(l.event_ms), 'yyyy-MM-dd HH:mm:ss.SSS', 'UTC') AS `window_end`,
  CONCAT('{"previous_transaction_id":"', SPLIT(l.previous, CHR(31))[2],
         '","previous_location":"', SPLIT(l.previous, CHR(31))[5], '"}') AS `evidence`
FROM location_previous l
WHERE l.previous IS NOT NULL
  AND CAST(SUBSTRING(l.previous, 1, 15) AS BIGINT) >= l.event_ms - 600000
  AND SPLIT(l.previous, CHR(31))[5] <> l.location
  AND (l.lat IS NULL OR l.lon IS NULL OR SPLIT(l.previous, CHR(31))[8] = '' OR SPLIT(l.previous, CHR(31))[9] = ''
       OR GEO_DISTANCE(CAST(SPLIT(l.previous, CHR(31))[8] AS DOUBLE), CAST(SPLIT(l.previous, CHR(31))[9] AS DOUBLE), l.lat, l.lon, 'KM')
          / (CAST(GREATEST((l.event_ms - CAST(SUBSTRING(l.previous, 1, 15) AS BIGINT)) / 1000, CAST(1 AS BIGINT)) AS DOUBLE) / CAST(3600 AS DOUBLE)) > 900)
EMIT CHANGES;

INSERT INTO detections SELECT * FROM location_mismatch_hits EMIT CHANGES;



-- FR-003 high_value: amount above 1000, or above 5x the user's average over 30d
-- (the transactions of the user's history up to this one's event time, itself excluded).
CREATE STREAM IF NOT EXISTS high_value_hits WITH (KAFKA_TOPIC = 'fraud_high_value_hits', VALUE_FORMAT = 'JSON') AS
SELECT
  h.user_key AS user_key,
  CONCAT('high_value', ':', h.transaction_id) AS `alert_id`,
  'high_value' AS `rule`,
  'FR-003' AS `rule_id`,
  'medium' AS `severity`,
  h.user_id AS `user_id`,
  h.transaction_id AS `transaction_id`,
  CAST(h.amount AS DECIMAL(18, 2)) AS `amount`,
  h.currency AS `currency`,
  h.location AS `location`,
  FORMAT_TIMESTAMP(FROM_UNIXTIME(h.event_ms), 'yyyy-MM-dd HH:mm:ss.SSS', 'UTC') AS `event_time`,
  FORMAT_TIMESTAMP(FROM_UNIXTIME(h.event_ms - 2592000000), 'yyyy-MM-dd HH:mm:ss.SSS', 'UTC') AS `window_start`,
  FORMAT_TIMESTAMP(FROM_UNIXTIME(h.event_ms), 'yyyy-MM-dd HH:mm:ss.SSS', 'UTC') AS `window_end`,
  CONCAT('{"previous_count":', CAST(ARRAY_LENGTH(FILTER(ARRAY_DISTINCT(h.entries), x => SPLIT(x, CHR(31))[2] <> h.transaction_id AND CAST(SUBSTRING(x, 1, 15) AS BIGINT) <= h.event_ms AND CAST(SUBSTRING(x, 1, 15) AS BIGINT) >= h.event_ms - 2592000000)) AS STRING),
         ',"previous_total":', CAST(REDUCE(FILTER(ARRAY_DISTINCT(h.entries), x => SPLIT(x, CHR(31))[2] <> h.transaction_id AND CAST(SUBSTRING(x, 1, 15) AS BIGINT) <= h.event_ms AND CAST(SUBSTRING(x, 1, 15) AS BIGINT) >= h.event_ms - 2592000000), CAST(0 AS DOUBLE), (s, x) => s + CAST(SPLIT(x, CHR(31))[3] AS DOUBLE)) AS STRING), '}') AS `evidence`
FROM user_history_changes h
WHERE ARRAY_LENGTH(FILTER(h.entries, x => SPLIT(x, CHR(31))[2] = h.transaction_id)) = 1
  AND (h.amount > 1000
       OR (ARRAY_LENGTH(FILTER(ARRAY_DISTINCT(h.entries), x => SPLIT(x, CHR(31))[2] <> h.transaction_id AND CAST(SUBSTRING(x, 1, 15) AS BIGINT) <= h.event_ms AND CAST(SUBSTRING(x, 1, 15) AS BIGINT) >= h.event_ms - 2592000000)) > 0
           AND h.amount * ARRAY_LENGTH(FILTER(ARRAY_DISTINCT(h.entries), x => SPLIT(x, CHR(31))[2] <> h.transaction_id AND CAST(SUBSTRING(x, 1, 15) AS BIGINT) <= h.event_ms AND CAST(SUBSTRING(x, 1, 15) AS BIGINT) >= h.event_ms - 2592000000)) > 5 * REDUCE(FILTER(ARRAY_DISTINCT(h.entries), x => SPLIT(x, CHR(31))[2] <> h.transaction_id AND CAST(SUBSTRING(x, 1, 15) AS BIGINT) <= h.event_ms AND CAST(SUBSTRING(x, 1, 15) AS BIGINT) >= h.event_ms - 2592000000), CAST(0 AS DOUBLE), (s, x) => s + CAST(SPLIT(x, CHR(31))[3] AS DOUBLE))))
EMIT CHANGES;

INSERT INTO detections SELECT * FROM high_value_hits EMIT CHANGES;



-- FR-004 blacklisted_account: each transaction in time (first delivery only, as on Flink) joined with
-- the blacklist on the user. The history topic is keyed by user_id like the blacklist topic (Java's
-- murmur2 partitioner on both, so a user's rows meet in one partition).
CREATE STREAM IF NOT EXISTS blacklisted_account_hits WITH (KAFKA_TOPIC = 'fraud_blacklisted_account_hits', VALUE_FORMAT = 'JSON') AS
SELECT
  h.user_key AS user_key,
  CONCAT('blacklisted_account', ':', h.transaction_id) AS `alert_id`,
  'blacklisted_account' AS `rule`,
  'FR-004' AS `rule_id`,
  'critical' AS `severity`,
  h.user_id AS `user_id`,
  h.transaction_id AS `transaction_id`,
  CAST(h.amount AS DECIMAL(18, 2)) AS `amount`,
  h.currency AS `currency`,
  h.location AS `location`,
  FORMAT_TIMESTAMP(FROM_UNIXTIME(h.event_ms), 'yyyy-MM-dd HH:mm:ss.SSS', 'UTC') AS `event_time`,
  FORMAT_TIMESTAMP(FROM_UNIXTIME(h.event_ms), 'yyyy-MM-dd HH:mm:ss.SSS', 'UTC') AS `window_start`,
  FORMAT_TIMESTAMP(FROM_UNIXTIME(h.event_ms), 'yyyy-MM-dd HH:mm:ss.SSS', 'UTC') AS `window_end`,
  CONCAT('{"reason":"', COALESCE(b.reason, ''), '"}') AS `evidence`
FROM user_history_changes h
JOIN blacklist b ON h.user_key = b.user_id
WHERE ARRAY_LENGTH(FILTER(h.entries, x => SPLIT(x, CHR(31))[2] = h.transaction_id)) = 1
EMIT CHANGES;

INSERT INTO detections SELECT * FROM blacklisted_account_hits EMIT CHANGES;



-- FR-005 new_device: a device the user has not used within 30d, on an amount of at least 200.
-- Each (user, device) pair keeps its latest uses in time; a transaction is on a new device when no other
-- use of the pair lies within the look-back before it. One table per pair, so the look-back holds
-- however many other transactions the user made meanwhile.
CREATE TABLE IF NOT EXISTS device_history WITH (KAFKA_TOPIC = 'fraud_device_history', VALUE_FORMAT = 'JSON') AS
SELECT
  CONCAT(user_id, CHR(31), device_id) AS user_device,
  LATEST_BY_OFFSET(CONCAT(LPAD(CAST(event_ms AS STRING), 15, '0'), CHR(31), transaction_id, CHR(31), CAST(amount AS STRING), CHR(31),
         COALESCE(currency, ''), CHR(31), COALESCE(location, ''), CHR(31), COALESCE(`timestamp`, ''), CHR(31),
         COALESCE(device_id, ''), CHR(31), COALESCE(CAST(lat AS STRING), ''), CHR(31), COALESCE(CAST(lon AS STRING), '')), 8, false) AS uses,
  LATEST_BY_OFFSET(transaction_id, false) AS transaction_id,
  LATEST_BY_OFFSET(user_id, false) AS user_id,
  LATEST_BY_OFFSET(amount, false) AS amount,
  LATEST_BY_OFFSET(currency, false) AS currency,
  LATEST_BY_OFFSET(`timestamp`, false) AS `timestamp`,
  LATEST_BY_OFFSET(location, false) AS location,
  LATEST_BY_OFFSET(lat, false) AS lat,
  LATEST_BY_OFFSET(lon, false) AS lon,
  LATEST_BY_OFFSET(device_id, false) AS device_id,
  LATEST_BY_OFFSET(event_ms, false) AS event_ms
FROM transactions_on_time
WHERE device_id IS NOT NULL
GROUP BY CONCAT(user_id, CHR(31), device_id)
EMIT CHANGES;

CREATE STREAM IF NOT EXISTS device_history_changes (
  user_device STRING KEY,
  uses ARRAY<STRING>,
  transaction_id STRING,
  user_id STRING,
  amount DOUBLE,
  currency STRING,
  `timestamp` STRING,
  location STRING,
  lat DOUBLE,
  lon DOUBLE,
  device_id STRING,
  event_ms BIGINT
) WITH (KAFKA_TOPIC = 'fraud_device_history', VALUE_FORMAT = 'JSON', TIMESTAMP = 'event_ms');

CREATE STREAM IF NOT EXISTS new_device_hits WITH (KAFKA_TOPIC = 'fraud_new_device_hits', VALUE_FORMAT = 'JSON') AS
SELECT
  d.user_id AS user_key,
  CONCAT('new_device', ':', d.transaction_id) AS `alert_id`,
  'new_device' AS `rule`,
  'FR-005' AS `rule_id`,
  'medium' AS `severity`,
  AS_VALUE(d.user_id) AS `user_id`,
  d.transaction_id AS `transaction_id`,
  CAST(d.amount AS DECIMAL(18, 2)) AS `amount`,
  d.currency AS `currency`,
  d.location AS `location`,
  FORMAT_TIMESTAMP(FROM_UNIXTIME(d.event_ms), 'yyyy-MM-dd HH:mm:ss.SSS', 'UTC') AS `event_time`,
  FORMAT_TIMESTAMP(FROM_UNIXTIME(d.event_ms - 2592000000), 'yyyy-MM-dd HH:mm:ss.SSS', 'UTC') AS `window_start`,
  FORMAT_TIMESTAMP(FROM_UNIXTIME(d.event_ms), 'yyyy-MM-dd HH:mm:ss.SSS', 'UTC') AS `window_end`,
  CONCAT('{"device_id":"', d.device_id, '"}') AS `evidence`
FROM device_history_changes d
WHERE d.amount >= 200
  AND ARRAY_LENGTH(FILTER(d.uses, x => SPLIT(x, CHR(31))[2] = d.transaction_id)) = 1
  AND ARRAY_LENGTH(FILTER(d.uses, x => SPLIT(x, CHR(31))[2] <> d.transaction_id
                                      AND CAST(SUBSTRING(x, 1, 15) AS BIGINT) <= d.event_ms
                                      AND CAST(SUBSTRING(x, 1, 15) AS BIGINT) >= d.event_ms - 2592000000)) = 0
PARTITION BY d.user_id
EMIT CHANGES;

INSERT INTO detections SELECT * FROM new_device_hits EMIT CHANGES;



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
  REDUCE(FILTER(p.recent, r => r->t >= p.last_ms - 3600000), CAST(0 AS DOUBLE), (s, r) => s + r->a) AS amount_1h,
  ARRAY_LENGTH(FILTER(p.recent, r => r->t >= p.last_ms - 86400000)) AS txn_count_24h,
  REDUCE(FILTER(p.recent, r => r->t >= p.last_ms - 86400000), CAST(0 AS DOUBLE), (s, r) => s + r->a) AS amount_24h,
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

