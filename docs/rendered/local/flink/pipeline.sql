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
  evidence STRING
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
    t.event_time - INTERVAL '1' MINUTE AS window_start,
    CAST(t.event_time AS TIMESTAMP(3)) AS window_end,
    CONCAT('{"count":', CAST(t.txn_count AS STRING), ',"transaction_ids":"', t.txn_ids, '"}') AS evidence
FROM (
    SELECT *,
        COUNT(*) OVER w AS txn_count,
        LISTAGG(transaction_id) OVER w AS txn_ids
    FROM transactions_unique
    WINDOW w AS (PARTITION BY user_id ORDER BY event_time
                 RANGE BETWEEN INTERVAL '1' MINUTE PRECEDING AND CURRENT ROW)
) AS t
WHERE t.txn_count >= 5;


-- FR-002 location_mismatch: two transactions of one user in different locations within 10m;
-- with coordinates on both, only when the implied speed exceeds 900 km/h.
INSERT INTO detections /*+ OPTIONS('sink.transactional-id-prefix'='fraudctl-local-fraud-flink-detections-detections-location_mismatch') */
SELECT
    CONCAT('location_mismatch', ':', transaction_id) AS alert_id,
    'location_mismatch' AS rule,
    'FR-002' AS rule_id,
    'high' AS severity,
    user_id, transaction_id, amount, currency, location, CAST(event_time AS TIMESTAMP(3)) AS event_time,
    CAST(previous_time AS TIMESTAMP(3)) AS window_start,
    CAST(event_time AS TIMESTAMP(3)) AS window_end,
    CONCAT('{"previous_transaction_id":"', previous_id, '","previous_location":"', previous_location, '"}') AS evidence
FROM transactions_unique
MATCH_RECOGNIZE (
    PARTITION BY user_id
    ORDER BY event_time
    MEASURES
        B.transaction_id AS transaction_id, B.amount AS amount, B.currency AS currency,
        B.location AS location, B.event_time AS event_time,
        A.transaction_id AS previous_id, A.location AS previous_location, A.event_time AS previous_time
    ONE ROW PER MATCH
    AFTER MATCH SKIP TO LAST B
    PATTERN (A B) WITHIN INTERVAL '10' MINUTE
    DEFINE
        B AS B.location <> A.location AND (
            A.lat IS NULL OR A.lon IS NULL OR B.lat IS NULL OR B.lon IS NULL
            OR 12742 * ASIN(SQRT(
                POWER(SIN(RADIANS(B.lat - A.lat) / 2), 2)
                + COS(RADIANS(A.lat)) * COS(RADIANS(B.lat)) * POWER(SIN(RADIANS(B.lon - A.lon) / 2), 2)
            )) / (GREATEST(TIMESTAMPDIFF(SECOND, A.event_time, B.event_time), 1) / 3600.0) > 900
        )
);


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
    t.event_time - INTERVAL '30' DAY AS window_start,
    CAST(t.event_time AS TIMESTAMP(3)) AS window_end,
    CONCAT('{"previous_count":', CAST(t.n - 1 AS STRING), ',"previous_total":', CAST(t.total - t.amount AS STRING), '}') AS evidence
FROM (
    SELECT *,
        COUNT(*) OVER w AS n,
        SUM(amount) OVER w AS total
    FROM transactions_unique
    WINDOW w AS (PARTITION BY user_id ORDER BY event_time
                 RANGE BETWEEN INTERVAL '30' DAY PRECEDING AND CURRENT ROW)
) AS t
WHERE t.amount > 1000
   OR (t.n > 1 AND t.amount > 5 * (t.total - t.amount) / (t.n - 1));


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
    JSON_OBJECT('reason' VALUE COALESCE(b.reason, '')) AS evidence
FROM transactions_unique AS t
JOIN blacklist FOR SYSTEM_TIME AS OF t.event_time AS b
  -- An entry that breaks the blacklist contract is dead-lettered, and never blacklists anyone.
  ON t.user_id = b.user_id AND (CASE
    WHEN CHAR_LENGTH(b.reason) > 256 THEN 'reason longer than 256 characters'
    WHEN CHAR_LENGTH(b.added_at) > 64 THEN 'added_at longer than 64 characters'
  END) IS NULL;


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
    t.event_time - INTERVAL '30' DAY AS window_start,
    CAST(t.event_time AS TIMESTAMP(3)) AS window_end,
    CONCAT('{"device_id":"', t.device_id, '"}') AS evidence
FROM (
    SELECT *,
        COUNT(*) OVER w AS uses
    FROM transactions_unique
    WHERE device_id IS NOT NULL
    WINDOW w AS (PARTITION BY user_id, device_id ORDER BY event_time
                 RANGE BETWEEN INTERVAL '30' DAY PRECEDING AND CURRENT ROW)
) AS t
WHERE t.uses = 1 AND t.amount >= 200;


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
    txn_count_1h,
    amount_1h,
    COUNT(*) OVER day_ AS txn_count_24h,
    CAST(SUM(amount) OVER day_ AS DECIMAL(18, 2)) AS amount_24h,
    transaction_id AS last_transaction_id,
    location AS last_location,
    device_id AS last_device_id,
    CAST(event_time AS TIMESTAMP(3)) AS last_event_time
FROM (
    SELECT user_id, amount, transaction_id, location, device_id, event_time,
        COUNT(*) OVER hour_ AS txn_count_1h,
        CAST(SUM(amount) OVER hour_ AS DECIMAL(18, 2)) AS amount_1h
    FROM transactions_unique
    WINDOW hour_ AS (PARTITION BY user_id ORDER BY event_time
                     RANGE BETWEEN INTERVAL '1' HOUR PRECEDING AND CURRENT ROW)
)
WINDOW day_ AS (PARTITION BY user_id ORDER BY event_time
                RANGE BETWEEN INTERVAL '1' DAY PRECEDING AND CURRENT ROW);

