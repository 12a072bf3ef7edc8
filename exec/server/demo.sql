-- The Sluice demo (sluice --demo): a simulated marketing clickstream and the
-- continuous views that show what Sluice is for. Every statement is
-- idempotent, so a restart with --demo keeps the existing objects.

-- A datagen source: 50 events/s of page views, cart adds, checkouts,
-- purchases and email engagement. It starts two hours in the past (backfill)
-- so that every view has closed windows at once, then follows the wall
-- clock. Events arrive up to 5 s out of order; 0.1% arrive 2 minutes late,
-- beyond the watermark, and are counted in sluice_late_events.
CREATE SOURCE IF NOT EXISTS clickstream (
    event_id    BIGINT,
    event_type  TEXT,
    ts          TIMESTAMP,
    user_id     BIGINT,
    session_id  TEXT,
    campaign    TEXT,
    channel     TEXT,
    page        TEXT,
    product_id  BIGINT,
    category    TEXT,
    price       NUMERIC(10,2),
    quantity    INT,
    order_id    TEXT,
    device      TEXT,
    country     TEXT,
    WATERMARK FOR ts AS ts - INTERVAL '10' SECOND
) WITH (
    connector = 'datagen',
    stream = 'clickstream',
    rate = '50',
    seed = '42',
    users = '5000',
    sessions = '150',
    backfill = '2 hours',
    out_of_order = '5 seconds',
    late_fraction = '0.001',
    late_by = '2 minutes'
);

-- 1. Page views and distinct visitors per minute per campaign (tumbling
--    window).
CREATE MATERIALIZED VIEW IF NOT EXISTS page_views_per_minute AS
SELECT campaign, window_start, window_end,
       count(*) AS page_views,
       count(DISTINCT user_id) AS visitors
FROM TUMBLE(clickstream, ts, INTERVAL '1' MINUTE)
WHERE event_type = 'page_view'
GROUP BY campaign, window_start, window_end;

-- 2. Active users over a sliding hour, advancing every five minutes
--    (hopping window).
CREATE MATERIALIZED VIEW IF NOT EXISTS active_users_hourly AS
SELECT window_start, window_end,
       count(DISTINCT user_id) AS active_users,
       count(*) AS events
FROM HOP(clickstream, ts, INTERVAL '5' MINUTE, INTERVAL '1' HOUR)
GROUP BY window_start, window_end;

-- 3. Sessions: a user's session ends after 5 minutes without events
--    (session window), emitted once closed ...
CREATE MATERIALIZED VIEW IF NOT EXISTS user_sessions AS
SELECT user_id, window_start AS session_start, window_end AS session_end,
       count(*) AS events,
       count(*) FILTER (WHERE event_type = 'page_view') AS page_views,
       count(*) FILTER (WHERE event_type = 'purchase') AS purchases
FROM SESSION(clickstream, ts, INTERVAL '5' MINUTE)
GROUP BY user_id, window_start, window_end
EMIT ON WINDOW CLOSE;

-- ... and sessions per user so far (a view over a view).
CREATE MATERIALIZED VIEW IF NOT EXISTS sessions_per_user AS
SELECT user_id,
       count(*) AS sessions,
       sum(events) AS events,
       max(session_end) AS last_seen
FROM user_sessions
GROUP BY user_id;

-- 4. The checkout funnel per campaign in 10-minute windows: how many
--    sessions reached each step, and the revenue.
CREATE MATERIALIZED VIEW IF NOT EXISTS checkout_funnel AS
SELECT campaign, window_start, window_end,
       count(DISTINCT session_id) FILTER (WHERE event_type = 'page_view') AS viewed,
       count(DISTINCT session_id) FILTER (WHERE event_type = 'cart_add') AS added_to_cart,
       count(DISTINCT session_id) FILTER (WHERE event_type = 'checkout_start') AS started_checkout,
       count(DISTINCT session_id) FILTER (WHERE event_type = 'purchase') AS purchased,
       sum(price) FILTER (WHERE event_type = 'purchase') AS revenue
FROM TUMBLE(clickstream, ts, INTERVAL '10' MINUTE)
WHERE session_id IS NOT NULL
GROUP BY campaign, window_start, window_end;

-- 5. Carts abandoned for 30 minutes: users who added to the cart, did not
--    buy, and then did nothing for 30 minutes. The session window closes
--    30 minutes after the user's last event; when traffic stops altogether,
--    the engine's quiet advance (--quiet-advance) moves event time on with
--    the wall clock, so abandoned carts still appear.
CREATE MATERIALIZED VIEW IF NOT EXISTS abandoned_carts AS
SELECT user_id,
       window_start AS first_seen,
       window_end AS abandoned_at,
       count(*) FILTER (WHERE event_type = 'cart_add') AS items_added,
       sum(price * quantity) FILTER (WHERE event_type = 'cart_add') AS cart_value
FROM SESSION(clickstream, ts, INTERVAL '30' MINUTE)
GROUP BY user_id, window_start, window_end
HAVING count(*) FILTER (WHERE event_type = 'cart_add') > 0
   AND count(*) FILTER (WHERE event_type = 'purchase') = 0
EMIT ON WINDOW CLOSE;

-- A push source for HTTP ingest (POST /ingest/app_events) and a view over
-- it, to try ingest in the tour.
CREATE SOURCE IF NOT EXISTS app_events (
    user_id     BIGINT,
    event_type  TEXT,
    ts          TIMESTAMP,
    WATERMARK FOR ts AS ts - INTERVAL '5' SECOND
) WITH (connector = 'http');

CREATE MATERIALIZED VIEW IF NOT EXISTS app_events_per_minute AS
SELECT event_type, window_start, window_end, count(*) AS events
FROM TUMBLE(app_events, ts, INTERVAL '1' MINUTE)
GROUP BY event_type, window_start, window_end;
