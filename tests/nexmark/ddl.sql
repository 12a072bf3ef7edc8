-- Nexmark sources in Sluice's dialect, with the column names RisingWave's Nexmark suite uses
-- (risingwavelabs/risingwave src/tests/simulation/src/nexmark/create_source.sql) and a
-- watermark on date_time. The connector options are examples; the connector helper decides
-- which it accepts.
CREATE SOURCE person (
    id BIGINT,
    name VARCHAR,
    email_address VARCHAR,
    credit_card VARCHAR,
    city VARCHAR,
    state VARCHAR,
    date_time TIMESTAMP,
    extra VARCHAR,
    WATERMARK FOR date_time AS date_time - INTERVAL '4' SECOND
) WITH (connector = 'pulsar', topic = 'nexmark-person', format = 'json');

CREATE SOURCE auction (
    id BIGINT,
    item_name VARCHAR,
    description VARCHAR,
    initial_bid BIGINT,
    reserve BIGINT,
    date_time TIMESTAMP,
    expires TIMESTAMP,
    seller BIGINT,
    category BIGINT,
    extra VARCHAR,
    WATERMARK FOR date_time AS date_time - INTERVAL '4' SECOND
) WITH (connector = 'pulsar', topic = 'nexmark-auction', format = 'json');

CREATE SOURCE bid (
    auction BIGINT,
    bidder BIGINT,
    price BIGINT,
    channel VARCHAR,
    url VARCHAR,
    date_time TIMESTAMP,
    extra VARCHAR,
    WATERMARK FOR date_time AS date_time - INTERVAL '4' SECOND
) WITH (connector = 'pulsar', topic = 'nexmark-bid', format = 'json');
