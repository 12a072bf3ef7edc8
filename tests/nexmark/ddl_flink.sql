-- Nexmark sources in Sluice's dialect with the column names of the Flink Nexmark suite
-- (nexmark/nexmark nexmark-flink/src/main/resources/queries/ddl.sql: person, auction and bid
-- views over one `nexmark` table of ROW-typed columns, which Sluice does not have; here they
-- are three sources). Unquoted names fold to lower case, so dateTime is the column datetime,
-- which the datagen connector knows as an alias of date_time.
CREATE SOURCE person (
    id BIGINT,
    name VARCHAR,
    emailAddress VARCHAR,
    creditCard VARCHAR,
    city VARCHAR,
    state VARCHAR,
    dateTime TIMESTAMP(3),
    extra VARCHAR,
    WATERMARK FOR dateTime AS dateTime - INTERVAL '4' SECOND
) WITH (connector = 'datagen', stream = 'person', rate = 1000);

CREATE SOURCE auction (
    id BIGINT,
    itemName VARCHAR,
    description VARCHAR,
    initialBid BIGINT,
    reserve BIGINT,
    dateTime TIMESTAMP(3),
    expires TIMESTAMP(3),
    seller BIGINT,
    category BIGINT,
    extra VARCHAR,
    WATERMARK FOR dateTime AS dateTime - INTERVAL '4' SECOND
) WITH (connector = 'datagen', stream = 'auction', rate = 1000);

CREATE SOURCE bid (
    auction BIGINT,
    bidder BIGINT,
    price BIGINT,
    channel VARCHAR,
    url VARCHAR,
    dateTime TIMESTAMP(3),
    extra VARCHAR,
    WATERMARK FOR dateTime AS dateTime - INTERVAL '4' SECOND
) WITH (connector = 'datagen', stream = 'bid', rate = 1000);
