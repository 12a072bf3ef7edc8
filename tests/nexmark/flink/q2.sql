-- Nexmark q2 as published in nexmark/nexmark nexmark-flink/src/main/resources/queries/q2.sql (Apache-2.0).
CREATE TABLE nexmark_q2 (
  auction  BIGINT,
  price  BIGINT
) WITH (
  'connector' = 'blackhole'
);

INSERT INTO nexmark_q2
SELECT auction, price FROM bid WHERE MOD(auction, 123) = 0;
