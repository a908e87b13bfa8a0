-- Flink SQL for environment local, rendered by fraudctl from detections/ and topics.yaml.
-- Do not edit: change the rule files or templates/flink/ and render again.

SET 'table.exec.state.ttl' = '86400000 ms';
-- Event times are UTC wall-clock times; fraudctl submits in a UTC session (table.local-time-zone),
-- so the engine's clock (CURRENT_TIMESTAMP) reads in UTC too.

-- Every detection sees event time (`timestamp`, RFC 3339 in UTC) with a watermark that allows
-- 5s of out-of-order arrival; rows later than that are dropped by the engine.
-- The columns are the record contract's (src/fraudctl/contract.py: Transaction); optional numbers
-- are read as text and cast in transactions_checked, so one of the wrong type is seen.
-- An event time more than 5m ahead of the engine's clock is NULL here (it must
-- not move the watermark) and the row is dead-lettered.
CREATE TABLE IF NOT EXISTS transactions (
  transaction_id STRING,
  user_id STRING,
  amount DECIMAL(18, 2),
  currency STRING,
  `timestamp` STRING,
  location STRING,
  lat STRING,
  lon STRING,
  country STRING,
  merchant_id STRING,
  merchant_category STRING,
  device_id STRING,
  channel STRING,
  src_partition INT METADATA FROM 'partition' VIRTUAL,
  src_offset BIGINT METADATA FROM 'offset' VIRTUAL,
  proc_time AS PROCTIME(),
  event_time AS CASE
    WHEN CAST(TO_TIMESTAMP(REPLACE(REPLACE(`timestamp`, 'T', ' '), 'Z', '')) AS TIMESTAMP(3)) <= CAST(CURRENT_TIMESTAMP AS TIMESTAMP(3)) + INTERVAL '5' MINUTE
    THEN CAST(TO_TIMESTAMP(REPLACE(REPLACE(`timestamp`, 'T', ' '), 'Z', '')) AS TIMESTAMP(3))
  END,
  WATERMARK FOR event_time AS event_time - INTERVAL '5' SECOND
) WITH (
  'connector' = 'kafka',
  'topic' = 'transactions',
  'properties.bootstrap.servers' = '127.0.0.1:9092',
  'properties.group.id' = 'fraud-flink-detections',
  'properties.isolation.level' = 'read_committed',
  'scan.startup.mode' = 'group-offsets',
  'properties.auto.offset.reset' = 'earliest',
  'format' = 'json',
  'json.fail-on-missing-field' = 'false',
  'json.ignore-parse-errors' = 'true',
  'scan.watermark.idle-timeout' = '60000 ms'
);

-- The same topic, each record as text: what the JSON source above cannot parse at all (not JSON,
-- not an object, empty) is caught here for the dead-letter topic.
CREATE TABLE IF NOT EXISTS transactions_raw (
  payload STRING,
  src_partition INT METADATA FROM 'partition' VIRTUAL,
  src_offset BIGINT METADATA FROM 'offset' VIRTUAL
) WITH (
  'connector' = 'kafka',
  'topic' = 'transactions',
  'properties.bootstrap.servers' = '127.0.0.1:9092',
  'properties.group.id' = 'fraud-flink-detections-raw',
  'properties.isolation.level' = 'read_committed',
  'scan.startup.mode' = 'group-offsets',
  'properties.auto.offset.reset' = 'earliest',
  'format' = 'raw'
);

-- Records the engine cannot evaluate, with the reason and source position in headers
-- (the same headers as the enrichment step's dead letters).
CREATE TABLE IF NOT EXISTS dead_letters (
  payload STRING,
  headers MAP<STRING, BYTES> METADATA
) WITH (
  'connector' = 'kafka',
  'topic' = 'dlq-stream',
  'properties.bootstrap.servers' = '127.0.0.1:9092',
  'format' = 'raw',
  'sink.delivery-guarantee' = 'exactly-once',
  'sink.transactional-id-prefix' = 'fraudctl-local-fraud-flink-detections-dlq-stream',
  'properties.transaction.timeout.ms' = '600000'
);

-- Blacklisted accounts: the compacted topic fed by the CDC source, read as a versioned table
-- (src/fraudctl/contract.py: BlacklistEntry; the user is the key).
CREATE TABLE IF NOT EXISTS blacklist (
  user_id STRING,
  reason STRING,
  added_at STRING,
  update_time TIMESTAMP(3) METADATA FROM 'timestamp' VIRTUAL,
  PRIMARY KEY (user_id) NOT ENFORCED,
  WATERMARK FOR update_time AS update_time
) WITH (
  'connector' = 'upsert-kafka',
  'topic' = 'blacklist',
  'properties.bootstrap.servers' = '127.0.0.1:9092',
  'key.format' = 'raw',
  'value.format' = 'json',
  'value.fields-include' = 'EXCEPT_KEY',
  'value.json.ignore-parse-errors' = 'true'
);

-- The same topic as text, for its dead letters: values that are not a JSON object or break the
-- contract (a tombstone is a removal, not a dead letter).
CREATE TABLE IF NOT EXISTS blacklist_raw (
  payload STRING,
  src_partition INT METADATA FROM 'partition' VIRTUAL,
  src_offset BIGINT METADATA FROM 'offset' VIRTUAL
) WITH (
  'connector' = 'kafka',
  'topic' = 'blacklist',
  'properties.bootstrap.servers' = '127.0.0.1:9092',
  'properties.group.id' = 'fraud-flink-detections-blacklist-raw',
  'properties.isolation.level' = 'read_committed',
  'scan.startup.mode' = 'group-offsets',
  'properties.auto.offset.reset' = 'earliest',
  'format' = 'raw'
);

CREATE TEMPORARY VIEW blacklist_values AS
SELECT payload, src_partition, src_offset,
       payload IS JSON OBJECT AS is_object,
       JSON_VALUE(payload, '$.reason') AS reason,
       JSON_VALUE(payload, '$.added_at') AS added_at
FROM blacklist_raw
WHERE payload IS NOT NULL;

-- Late rows (behind the watermark, i.e. more than 5s older than the newest row seen)
-- are not evaluated by the rules: they are kept in their own topic for audit.
CREATE TABLE IF NOT EXISTS late_transactions (
  transaction_id STRING,
  user_id STRING,
  amount DECIMAL(18, 2),
  currency STRING,
  `timestamp` STRING,
  location STRING,
  watermark_at_arrival TIMESTAMP(3)
) WITH (
  'connector' = 'kafka',
  'topic' = 'late-transactions',
  'properties.bootstrap.servers' = '127.0.0.1:9092',
  'format' = 'json',
  'sink.delivery-guarantee' = 'exactly-once',
  'sink.transactional-id-prefix' = 'fraudctl-local-fraud-flink-detections-late-transactions',
  'properties.transaction.timeout.ms' = '600000'
);

-- What every rule reads: rows on time, each transaction once (a re-delivered transaction_id is
-- dropped; the first delivery wins). Dedup state is kept for 1d.
CREATE TEMPORARY VIEW transactions_checked AS
SELECT
    transaction_id,
    user_id,
    amount,
    currency,
    `timestamp`,
    location,
    TRY_CAST(lat AS DOUBLE) AS lat,
    TRY_CAST(lon AS DOUBLE) AS lon,
    country,
    merchant_id,
    merchant_category,
    device_id,
    channel,
    src_partition, src_offset, proc_time, event_time,
    CASE
    WHEN event_time IS NULL AND CAST(TO_TIMESTAMP(REPLACE(REPLACE(`timestamp`, 'T', ' '), 'Z', '')) AS TIMESTAMP(3)) IS NOT NULL THEN 'timestamp more than 5m ahead of the engine''s clock'
    WHEN transaction_id IS NULL THEN 'missing transaction_id'
    WHEN CHAR_LENGTH(transaction_id) < 1 THEN 'transaction_id must not be empty'
    WHEN CHAR_LENGTH(transaction_id) > 128 THEN 'transaction_id longer than 128 characters'
    WHEN user_id IS NULL THEN 'missing user_id'
    WHEN CHAR_LENGTH(user_id) < 1 THEN 'user_id must not be empty'
    WHEN CHAR_LENGTH(user_id) > 128 THEN 'user_id longer than 128 characters'
    WHEN amount IS NULL THEN 'missing or non-numeric amount'
    WHEN amount <= 0 THEN 'amount must be greater than 0'
    WHEN amount >= 1000000000000 THEN 'amount must be less than 1000000000000'
    WHEN currency IS NULL THEN 'missing currency'
    WHEN NOT REGEXP(currency, '^[A-Z]{3}$') THEN 'currency does not match ^[A-Z]{3}$'
    WHEN event_time IS NULL THEN 'timestamp missing or not an RFC 3339 UTC time'
    WHEN location IS NULL THEN 'missing location'
    WHEN CHAR_LENGTH(location) < 1 THEN 'location must not be empty'
    WHEN CHAR_LENGTH(location) > 128 THEN 'location longer than 128 characters'
    WHEN lat IS NOT NULL AND TRY_CAST(lat AS DOUBLE) IS NULL THEN 'lat is not a number'
    WHEN TRY_CAST(lat AS DOUBLE) < -90 THEN 'lat must be at least -90'
    WHEN TRY_CAST(lat AS DOUBLE) > 90 THEN 'lat must be at most 90'
    WHEN lon IS NOT NULL AND TRY_CAST(lon AS DOUBLE) IS NULL THEN 'lon is not a number'
    WHEN TRY_CAST(lon AS DOUBLE) < -180 THEN 'lon must be at least -180'
    WHEN TRY_CAST(lon AS DOUBLE) > 180 THEN 'lon must be at most 180'
    WHEN CHAR_LENGTH(country) > 64 THEN 'country longer than 64 characters'
    WHEN CHAR_LENGTH(merchant_id) > 128 THEN 'merchant_id longer than 128 characters'
    WHEN CHAR_LENGTH(merchant_category) > 64 THEN 'merchant_category longer than 64 characters'
    WHEN CHAR_LENGTH(device_id) > 128 THEN 'device_id longer than 128 characters'
    WHEN channel NOT IN ('pos', 'ecom', 'atm') THEN 'channel must be one of pos, ecom, atm'
  END AS rejection
FROM transactions;

CREATE TEMPORARY VIEW transactions_on_time AS
SELECT * FROM transactions_checked
WHERE rejection IS NULL
  AND (CURRENT_WATERMARK(event_time) IS NULL OR event_time > CURRENT_WATERMARK(event_time));

CREATE TEMPORARY VIEW transactions_unique AS
SELECT transaction_id, user_id, amount, currency, `timestamp`, location, lat, lon, country, merchant_id, merchant_category, device_id, channel, event_time
FROM (
  SELECT *, ROW_NUMBER() OVER (PARTITION BY transaction_id ORDER BY proc_time ASC) AS delivery
  FROM transactions_on_time
)
WHERE delivery = 1;

-- Rule hits, before scoring: the enrichment step reads them and writes fraud-alerts.
-- The columns are the record contract's (src/fraudctl/contract.py: Detection).
-- Each hit carries its transaction and context, so it is scored on what the model reads.
CREATE TABLE IF NOT EXISTS detections (
  alert_id STRING,
  rule STRING,
  rule_id STRING,
  severity STRING,
  user_id STRING,
  transaction_id STRING,
  amount DECIMAL(18, 2),
  currency STRING,
  location STRING,
  event_time TIMESTAMP(3),
  window_start TIMESTAMP(3),
  window_end TIMESTAMP(3),
  evidence STRING,
  `transaction` ROW<transaction_id STRING, user_id STRING, amount DECIMAL(18, 2), currency STRING, `timestamp` STRING, location STRING, lat DOUBLE, lon DOUBLE, country STRING, merchant_id STRING, merchant_category STRING, device_id STRING, channel STRING>,
  `context` ROW<rules_fired ARRAY<STRING>, txn_count_1h BIGINT, amount_sum_1h DOUBLE, txn_count_24h BIGINT, amount_sum_24h DOUBLE, history_count BIGINT, user_avg_amount DOUBLE, seconds_since_previous DOUBLE, distance_from_previous_km DOUBLE, speed_from_previous_kmh DOUBLE, distance_from_usual_km DOUBLE, new_device BOOLEAN, new_merchant BOOLEAN>
) WITH (
  'connector' = 'kafka',
  'topic' = 'detections',
  'properties.bootstrap.servers' = '127.0.0.1:9092',
  'format' = 'json',
  'sink.delivery-guarantee' = 'exactly-once',
  'sink.transactional-id-prefix' = 'fraudctl-local-fraud-flink-detections-detections',
  'properties.transaction.timeout.ms' = '600000'
);
INSERT INTO late_transactions
SELECT transaction_id, user_id, amount, currency, `timestamp`, location,
       CAST(CURRENT_WATERMARK(event_time) AS TIMESTAMP(3))
FROM transactions_checked
WHERE rejection IS NULL AND event_time <= CURRENT_WATERMARK(event_time);

-- Dead letters: parsed records that break the contract (what was read, as JSON), and records
-- that are not a JSON object at all (the original text).
INSERT INTO dead_letters /*+ OPTIONS('sink.transactional-id-prefix'='fraudctl-local-fraud-flink-detections-dlq-stream-contract') */
SELECT
    JSON_OBJECT(
        'transaction_id' VALUE transaction_id,
        'user_id' VALUE user_id,
        'amount' VALUE amount,
        'currency' VALUE currency,
        'timestamp' VALUE `timestamp`,
        'location' VALUE location,
        'lat' VALUE lat,
        'lon' VALUE lon,
        'country' VALUE country,
        'merchant_id' VALUE merchant_id,
        'merchant_category' VALUE merchant_category,
        'device_id' VALUE device_id,
        'channel' VALUE channel
        ABSENT ON NULL),
    MAP[
    'error', ENCODE(rejection, 'UTF-8'),
    'source.topic', ENCODE('transactions', 'UTF-8'),
    'source.partition', ENCODE(CAST(src_partition AS STRING), 'UTF-8'),
    'source.offset', ENCODE(CAST(src_offset AS STRING), 'UTF-8'),
    'stage', ENCODE('stream-engine', 'UTF-8')
  ]
FROM transactions_checked
WHERE rejection IS NOT NULL;

INSERT INTO dead_letters /*+ OPTIONS('sink.transactional-id-prefix'='fraudctl-local-fraud-flink-detections-dlq-stream-blacklist') */
SELECT payload, MAP[
    'error', ENCODE(rejection, 'UTF-8'),
    'source.topic', ENCODE('blacklist', 'UTF-8'),
    'source.partition', ENCODE(CAST(src_partition AS STRING), 'UTF-8'),
    'source.offset', ENCODE(CAST(src_offset AS STRING), 'UTF-8'),
    'stage', ENCODE('stream-engine', 'UTF-8')
  ]
FROM (
  SELECT *, CASE WHEN NOT is_object THEN 'not a JSON object' ELSE CASE
    WHEN CHAR_LENGTH(reason) > 256 THEN 'reason longer than 256 characters'
    WHEN CHAR_LENGTH(added_at) > 64 THEN 'added_at longer than 64 characters'
  END END AS rejection
  FROM blacklist_values
)
WHERE rejection IS NOT NULL;

INSERT INTO dead_letters /*+ OPTIONS('sink.transactional-id-prefix'='fraudctl-local-fraud-flink-detections-dlq-stream-unparsed') */
SELECT
    COALESCE(payload, ''),
    MAP[
    'error', ENCODE(CASE WHEN payload IS NULL THEN 'empty record' ELSE 'not a JSON object' END, 'UTF-8'),
    'source.topic', ENCODE('transactions', 'UTF-8'),
    'source.partition', ENCODE(CAST(src_partition AS STRING), 'UTF-8'),
    'source.offset', ENCODE(CAST(src_offset AS STRING), 'UTF-8'),
    'stage', ENCODE('stream-engine', 'UTF-8')
  ]
FROM transactions_raw
WHERE payload IS NULL OR NOT (payload IS JSON OBJECT);

-- Per-transaction features (stream.feature_history = 30d): each stage adds the columns of one
-- window per user (or per user and device, user and merchant), in event-time order.
-- The blacklist as of the transaction's event time, joined first: every stage after it is shared
-- by all the job's outputs. Joined after the windows, the planner pushed each output's own
-- projection into the join and ran it once per output (four times, measured). An entry that
-- breaks the blacklist contract is dead-lettered, and never blacklists anyone.
CREATE TEMPORARY VIEW features_0 AS
SELECT u.*,
    CASE WHEN u.lat IS NOT NULL AND u.lon IS NOT NULL THEN u.lat END AS geo_lat,
    CASE WHEN u.lat IS NOT NULL AND u.lon IS NOT NULL THEN u.lon END AS geo_lon,
    COALESCE(b.user_id IS NOT NULL AND (CASE
    WHEN CHAR_LENGTH(b.reason) > 256 THEN 'reason longer than 256 characters'
    WHEN CHAR_LENGTH(b.added_at) > 64 THEN 'added_at longer than 64 characters'
  END) IS NULL, FALSE) AS blacklisted,
    b.reason AS blacklist_reason
FROM transactions_unique AS u
LEFT JOIN blacklist FOR SYSTEM_TIME AS OF u.event_time AS b
  ON u.user_id = b.user_id;

CREATE TEMPORARY VIEW features_1 AS
SELECT *, CAST(COUNT(*) OVER w AS INT) AS device_uses_2592000
FROM features_0
WINDOW w AS (PARTITION BY user_id, device_id ORDER BY event_time
             RANGE BETWEEN INTERVAL '30' DAY PRECEDING AND CURRENT ROW);

CREATE TEMPORARY VIEW features_2 AS
SELECT *, CAST(COUNT(*) OVER w AS INT) AS merchant_uses
FROM features_1
WINDOW w AS (PARTITION BY user_id, merchant_id ORDER BY event_time
             RANGE BETWEEN INTERVAL '30' DAY PRECEDING AND CURRENT ROW);

CREATE TEMPORARY VIEW features_3 AS
SELECT *,
    CAST(COUNT(*) OVER w AS INT) AS n_3600,
    CAST(SUM(amount) OVER w AS DECIMAL(18, 2)) AS total_3600
FROM features_2
WINDOW w AS (PARTITION BY user_id ORDER BY event_time
             RANGE BETWEEN INTERVAL '1' HOUR PRECEDING AND CURRENT ROW);

CREATE TEMPORARY VIEW features_4 AS
SELECT *,
    CAST(COUNT(*) OVER w AS INT) AS n_86400,
    CAST(SUM(amount) OVER w AS DECIMAL(18, 2)) AS total_86400
FROM features_3
WINDOW w AS (PARTITION BY user_id ORDER BY event_time
             RANGE BETWEEN INTERVAL '1' DAY PRECEDING AND CURRENT ROW);

CREATE TEMPORARY VIEW features_5 AS
SELECT *,
    CAST(COUNT(*) OVER w AS INT) AS n_2592000,
    CAST(SUM(amount) OVER w AS DECIMAL(18, 2)) AS total_2592000,
    CAST(COUNT(geo_lat) OVER w AS INT) AS geo_n,
    SUM(geo_lat) OVER w AS geo_lat_sum,
    SUM(geo_lon) OVER w AS geo_lon_sum
FROM features_4
WINDOW w AS (PARTITION BY user_id ORDER BY event_time
             RANGE BETWEEN INTERVAL '30' DAY PRECEDING AND CURRENT ROW);

CREATE TEMPORARY VIEW features_6 AS
SELECT *,
    CAST(COUNT(*) OVER w AS INT) AS n_60,
    CAST(SUM(amount) OVER w AS DECIMAL(18, 2)) AS total_60,
    LISTAGG(transaction_id) OVER w AS ids_60
FROM features_5
WINDOW w AS (PARTITION BY user_id ORDER BY event_time
             RANGE BETWEEN INTERVAL '1' MINUTE PRECEDING AND CURRENT ROW);

-- The user's previous transaction (the row before in event time). FIRST_VALUE skips NULLs, so
-- the optional coordinates travel as text ('' when absent).
CREATE TEMPORARY VIEW features_7 AS
SELECT *,
    CAST(COUNT(*) OVER p AS INT) AS prev_rows,
    FIRST_VALUE(transaction_id) OVER p AS prev_id,
    FIRST_VALUE(location) OVER p AS prev_location,
    FIRST_VALUE(CAST(event_time AS TIMESTAMP(3))) OVER p AS prev_time,
    FIRST_VALUE(COALESCE(CONCAT(CAST(geo_lat AS STRING), ',', CAST(geo_lon AS STRING)), '')) OVER p AS prev_geo
FROM features_6
WINDOW p AS (PARTITION BY user_id ORDER BY event_time ROWS BETWEEN 1 PRECEDING AND CURRENT ROW);

CREATE TEMPORARY VIEW features_measured AS
SELECT *,
    12742 * ASIN(LEAST(1.0, SQRT(
        POWER(SIN(RADIANS(prev_lat - geo_lat) / 2), 2)
        + COS(RADIANS(geo_lat)) * COS(RADIANS(prev_lat)) * POWER(SIN(RADIANS(prev_lon - geo_lon) / 2), 2)))) AS prev_km,
    12742 * ASIN(LEAST(1.0, SQRT(
        POWER(SIN(RADIANS(usual_lat - geo_lat) / 2), 2)
        + COS(RADIANS(geo_lat)) * COS(RADIANS(usual_lat)) * POWER(SIN(RADIANS(usual_lon - geo_lon) / 2), 2)))) AS usual_km
FROM (
  SELECT *,
      CASE WHEN prev_rows = 2 THEN prev_time END AS previous_time,
      CASE WHEN prev_rows = 2 THEN CAST(TIMESTAMPDIFF(SECOND, prev_time, CAST(event_time AS TIMESTAMP(3))) AS DOUBLE) END AS prev_s,
      CASE WHEN prev_rows = 2 AND prev_geo <> '' THEN CAST(SPLIT_INDEX(prev_geo, ',', 0) AS DOUBLE) END AS prev_lat,
      CASE WHEN prev_rows = 2 AND prev_geo <> '' THEN CAST(SPLIT_INDEX(prev_geo, ',', 1) AS DOUBLE) END AS prev_lon,
      -- The usual location: the average of the user's earlier coordinates in the history.
      CASE WHEN geo_n - (CASE WHEN geo_lat IS NULL THEN 0 ELSE 1 END) > 0
           THEN (geo_lat_sum - COALESCE(geo_lat, 0)) / (geo_n - (CASE WHEN geo_lat IS NULL THEN 0 ELSE 1 END)) END AS usual_lat,
      CASE WHEN geo_n - (CASE WHEN geo_lat IS NULL THEN 0 ELSE 1 END) > 0
           THEN (geo_lon_sum - COALESCE(geo_lon, 0)) / (geo_n - (CASE WHEN geo_lat IS NULL THEN 0 ELSE 1 END)) END AS usual_lon
  FROM features_7
);

CREATE TEMPORARY VIEW features_all AS
SELECT *, prev_km / (GREATEST(prev_s, 1) / 3600.0) AS prev_kmh FROM features_measured;

-- Each rule's verdict on the transaction (templates/flink/rules/RULE.sql.j2: `hit`).
CREATE TEMPORARY VIEW transaction_hits AS
SELECT *,
    COALESCE(n_60 >= 5, FALSE) AS hit_rapid_burst,
    COALESCE(previous_time IS NOT NULL
        AND previous_time > CAST(event_time AS TIMESTAMP(3)) - INTERVAL '10' MINUTE
        AND prev_location <> location
        AND (prev_kmh IS NULL OR prev_kmh > 900), FALSE) AS hit_location_mismatch,
    COALESCE(amount > 1000
        OR (n_2592000 > 1 AND amount > 5 * (total_2592000 - amount) / (n_2592000 - 1)), FALSE) AS hit_high_value,
    COALESCE(blacklisted, FALSE) AS hit_blacklisted_account,
    COALESCE(device_id IS NOT NULL AND device_uses_2592000 = 1 AND amount >= 200, FALSE) AS hit_new_device
FROM features_all;

-- The transaction and its context as the enriched record holds them, built once: the enriched
-- topic and every rule's hits carry the same two columns.
CREATE TEMPORARY VIEW transaction_records AS
SELECT t.*, ROW(t.transaction_id, t.user_id, t.amount, t.currency, t.`timestamp`, t.location, t.lat, t.lon, t.country, t.merchant_id, t.merchant_category, t.device_id, t.channel) AS `transaction`,
    ROW(
        SPLIT(CONCAT_WS(',', CASE WHEN t.hit_rapid_burst THEN 'rapid_burst' END, CASE WHEN t.hit_location_mismatch THEN 'location_mismatch' END, CASE WHEN t.hit_high_value THEN 'high_value' END, CASE WHEN t.hit_blacklisted_account THEN 'blacklisted_account' END, CASE WHEN t.hit_new_device THEN 'new_device' END), ','),
        CAST(t.n_3600 AS BIGINT),
        CAST(t.total_3600 AS DOUBLE),
        CAST(t.n_86400 AS BIGINT),
        CAST(t.total_86400 AS DOUBLE),
        CAST(t.n_2592000 - 1 AS BIGINT),
        CASE WHEN t.n_2592000 > 1 THEN CAST((t.total_2592000 - t.amount) / (t.n_2592000 - 1) AS DOUBLE) END,
        t.prev_s,
        t.prev_km,
        t.prev_kmh,
        t.usual_km,
        COALESCE(t.device_id IS NOT NULL AND t.device_uses_2592000 = 1, FALSE),
        COALESCE(t.merchant_id IS NOT NULL AND t.merchant_uses = 1, FALSE)
    ) AS `context`
FROM transaction_hits AS t;

-- One record per evaluated transaction: the transaction and its context, the scoring service's
-- request item (src/fraudctl/contract.py: EnrichedTransaction).
CREATE TABLE IF NOT EXISTS transactions_enriched (
  `transaction` ROW<transaction_id STRING, user_id STRING, amount DECIMAL(18, 2), currency STRING, `timestamp` STRING, location STRING, lat DOUBLE, lon DOUBLE, country STRING, merchant_id STRING, merchant_category STRING, device_id STRING, channel STRING>,
  `context` ROW<rules_fired ARRAY<STRING>, txn_count_1h BIGINT, amount_sum_1h DOUBLE, txn_count_24h BIGINT, amount_sum_24h DOUBLE, history_count BIGINT, user_avg_amount DOUBLE, seconds_since_previous DOUBLE, distance_from_previous_km DOUBLE, speed_from_previous_kmh DOUBLE, distance_from_usual_km DOUBLE, new_device BOOLEAN, new_merchant BOOLEAN>
) WITH (
  'connector' = 'kafka',
  'topic' = 'transactions-enriched',
  'properties.bootstrap.servers' = '127.0.0.1:9092',
  'format' = 'json',
  'sink.delivery-guarantee' = 'exactly-once',
  'sink.transactional-id-prefix' = 'fraudctl-local-fraud-flink-detections-transactions-enriched',
  'properties.transaction.timeout.ms' = '600000'
);

INSERT INTO transactions_enriched
SELECT `transaction`, `context` FROM transaction_records;


-- FR-001 rapid_burst: at least 5 transactions by one user within 60s (sliding, per row).
INSERT INTO detections /*+ OPTIONS('sink.transactional-id-prefix'='fraudctl-local-fraud-flink-detections-detections-rapid_burst') */
SELECT
    CONCAT('rapid_burst', ':', t.transaction_id) AS alert_id,
    'rapid_burst' AS rule,
    'FR-001' AS rule_id,
    'medium' AS severity,
    t.user_id,
    t.transaction_id,
    t.amount,
    t.currency,
    t.location,
    CAST(t.event_time AS TIMESTAMP(3)) AS event_time,
    CAST(t.event_time - INTERVAL '1' MINUTE AS TIMESTAMP(3)) AS window_start,
    CAST(t.event_time AS TIMESTAMP(3)) AS window_end,
    CONCAT('{"count":', CAST(t.n_60 AS STRING), ',"transaction_ids":"', t.ids_60, '"}') AS evidence,
    t.`transaction`,
    t.`context`
FROM transaction_records AS t
WHERE t.hit_rapid_burst;

-- FR-002 location_mismatch: the previous transaction in another location within 10m; with coordinates on both, only above 900 km/h.
INSERT INTO detections /*+ OPTIONS('sink.transactional-id-prefix'='fraudctl-local-fraud-flink-detections-detections-location_mismatch') */
SELECT
    CONCAT('location_mismatch', ':', t.transaction_id) AS alert_id,
    'location_mismatch' AS rule,
    'FR-002' AS rule_id,
    'high' AS severity,
    t.user_id,
    t.transaction_id,
    t.amount,
    t.currency,
    t.location,
    CAST(t.event_time AS TIMESTAMP(3)) AS event_time,
    CAST(t.previous_time AS TIMESTAMP(3)) AS window_start,
    CAST(t.event_time AS TIMESTAMP(3)) AS window_end,
    CONCAT('{"previous_transaction_id":"', t.prev_id, '","previous_location":"', t.prev_location, '"}') AS evidence,
    t.`transaction`,
    t.`context`
FROM transaction_records AS t
WHERE t.hit_location_mismatch;

-- FR-003 high_value: amount above 1000, or above 5x the user's average over 30d.
INSERT INTO detections /*+ OPTIONS('sink.transactional-id-prefix'='fraudctl-local-fraud-flink-detections-detections-high_value') */
SELECT
    CONCAT('high_value', ':', t.transaction_id) AS alert_id,
    'high_value' AS rule,
    'FR-003' AS rule_id,
    'medium' AS severity,
    t.user_id,
    t.transaction_id,
    t.amount,
    t.currency,
    t.location,
    CAST(t.event_time AS TIMESTAMP(3)) AS event_time,
    CAST(t.event_time - INTERVAL '30' DAY AS TIMESTAMP(3)) AS window_start,
    CAST(t.event_time AS TIMESTAMP(3)) AS window_end,
    CONCAT('{"previous_count":', CAST(t.n_2592000 - 1 AS STRING), ',"previous_total":', CAST(t.total_2592000 - t.amount AS STRING), '}') AS evidence,
    t.`transaction`,
    t.`context`
FROM transaction_records AS t
WHERE t.hit_high_value;

-- FR-004 blacklisted_account: the user is on the blacklist as of the transaction's event time.
INSERT INTO detections /*+ OPTIONS('sink.transactional-id-prefix'='fraudctl-local-fraud-flink-detections-detections-blacklisted_account') */
SELECT
    CONCAT('blacklisted_account', ':', t.transaction_id) AS alert_id,
    'blacklisted_account' AS rule,
    'FR-004' AS rule_id,
    'critical' AS severity,
    t.user_id,
    t.transaction_id,
    t.amount,
    t.currency,
    t.location,
    CAST(t.event_time AS TIMESTAMP(3)) AS event_time,
    CAST(t.event_time AS TIMESTAMP(3)) AS window_start,
    CAST(t.event_time AS TIMESTAMP(3)) AS window_end,
    JSON_OBJECT('reason' VALUE COALESCE(t.blacklist_reason, '')) AS evidence,
    t.`transaction`,
    t.`context`
FROM transaction_records AS t
WHERE t.hit_blacklisted_account;

-- FR-005 new_device: a device the user has not used within 30d, on an amount of at least 200.
INSERT INTO detections /*+ OPTIONS('sink.transactional-id-prefix'='fraudctl-local-fraud-flink-detections-detections-new_device') */
SELECT
    CONCAT('new_device', ':', t.transaction_id) AS alert_id,
    'new_device' AS rule,
    'FR-005' AS rule_id,
    'medium' AS severity,
    t.user_id,
    t.transaction_id,
    t.amount,
    t.currency,
    t.location,
    CAST(t.event_time AS TIMESTAMP(3)) AS event_time,
    CAST(t.event_time - INTERVAL '30' DAY AS TIMESTAMP(3)) AS window_start,
    CAST(t.event_time AS TIMESTAMP(3)) AS window_end,
    CONCAT('{"device_id":"', t.device_id, '"}') AS evidence,
    t.`transaction`,
    t.`context`
FROM transaction_records AS t
WHERE t.hit_new_device;

-- Per-user state for analysts' queries (`fraudctl query user-activity`): as of each user's latest
-- transaction, the number and sum of their transactions in the hour and the day up to it, and
-- where and on which device it was made. An upsert table keyed by user_id (latest event time wins:
-- rows leave the OVER windows in event-time order); the user-profiles-postgres connector keeps the
-- current row per user in PostgreSQL, where queries read it by key.
CREATE TABLE IF NOT EXISTS user_profiles (
  user_id STRING,
  txn_count_1h BIGINT,
  amount_1h DECIMAL(18, 2),
  txn_count_24h BIGINT,
  amount_24h DECIMAL(18, 2),
  last_transaction_id STRING,
  last_location STRING,
  last_device_id STRING,
  last_event_time TIMESTAMP(3),
  PRIMARY KEY (user_id) NOT ENFORCED
) WITH (
  'connector' = 'upsert-kafka',
  'topic' = 'user-profiles',
  'properties.bootstrap.servers' = '127.0.0.1:9092',
  'key.format' = 'raw',
  'value.format' = 'json',
  'sink.delivery-guarantee' = 'exactly-once',
  'sink.transactional-id-prefix' = 'fraudctl-local-fraud-flink-detections-user-profiles',
  'properties.transaction.timeout.ms' = '600000'
);
INSERT INTO user_profiles
SELECT
    user_id,
    n_3600 AS txn_count_1h,
    CAST(total_3600 AS DECIMAL(18, 2)) AS amount_1h,
    n_86400 AS txn_count_24h,
    CAST(total_86400 AS DECIMAL(18, 2)) AS amount_24h,
    transaction_id AS last_transaction_id,
    location AS last_location,
    device_id AS last_device_id,
    CAST(event_time AS TIMESTAMP(3)) AS last_event_time
-- The hour and the day are windows of the features chain (templates/flink/state/features.sql.j2).
FROM transaction_hits;

