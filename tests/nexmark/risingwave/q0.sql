-- Nexmark q0 as published in risingwavelabs/risingwave e2e_test/streaming/nexmark/views/ (Apache-2.0).
CREATE MATERIALIZED VIEW nexmark_q0
AS
SELECT auction, bidder, price, date_time FROM bid;
