-- Nexmark q10 as published in risingwavelabs/risingwave e2e_test/streaming/nexmark/views/ (Apache-2.0).
CREATE MATERIALIZED VIEW nexmark_q10 AS
SELECT auction, bidder, price, dateTime, TO_CHAR(dateTime, 'YYYY-MM-DD') as date, TO_CHAR(dateTime, 'HH:MI') as time FROM bid;
