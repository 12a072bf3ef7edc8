-- Nexmark q19 as published in risingwavelabs/risingwave e2e_test/streaming/nexmark/views/ (Apache-2.0).
CREATE MATERIALIZED VIEW q19
AS SELECT * FROM
    (SELECT *, ROW_NUMBER() OVER (PARTITION BY auction ORDER BY price DESC) AS rank_number FROM bid)
WHERE rank_number <= 10;
