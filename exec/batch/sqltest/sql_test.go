package sqltest

import (
	"testing"

	"github.com/sluice-db/sluice/sql/sqlerr"
	"github.com/sluice-db/sluice/sql/types"
)

func TestSelectBasics(t *testing.T) {
	d := newDB()
	d.expect(t, "SELECT 1 + 2, 'x'", "3|x")
	d.expect(t, "SELECT item FROM auctions WHERE seller = 7 ORDER BY item", "desk;lamp")
	d.expect(t, "SELECT id, item FROM auctions ORDER BY id DESC LIMIT 2 OFFSET 1", "3|desk;2|chair")
	d.expect(t, "SELECT channel FROM bids ORDER BY channel", "app;app;web;web;NULL")
	d.expect(t, "SELECT channel FROM bids ORDER BY channel DESC", "NULL;web;web;app;app")
	d.expect(t, "SELECT item FROM auctions WHERE id = $1", "chair", types.NewInt(2))
	d.expect(t, "SELECT DISTINCT seller FROM auctions ORDER BY 1", "7;8;9")
	d.expect(t, "SELECT g * 2 FROM generate_series(1, 3) g", "2;4;6")
	d.expect(t, "SELECT item FROM auctions WHERE id IN (SELECT * FROM generate_series(2, 3)) ORDER BY 1", "chair;desk")
	// ROWS is a name except in OFFSET/FETCH and window frames.
	d.expect(t, "SELECT rows, t.rows + 1 FROM (SELECT 2 AS rows) t WHERE rows > 1 ORDER BY rows DESC", "2|3")
	d.expect(t, "SELECT g FROM generate_series(1, 10) g ORDER BY g OFFSET 2 ROWS FETCH FIRST 3 ROWS ONLY", "3;4;5")
	d.expectErr(t, "SELECT sum(g) OVER (ORDER BY g ROWS BETWEEN 1 PRECEDING AND CURRENT ROW) FROM generate_series(1, 4) g", sqlerr.FeatureNotSupported)
	d.expectErr(t, "SELECT sum(g) OVER (ORDER BY g ROWS 1 PRECEDING) FROM generate_series(1, 4) g", sqlerr.FeatureNotSupported)
}

func TestAggregates(t *testing.T) {
	d := newDB()
	d.expect(t, "SELECT count(*), sum(price), min(price), max(price) FROM bids", "5|735|90|300")
	d.expect(t, "SELECT count(*), sum(price) FROM bids WHERE price > 1000", "0|NULL")
	d.expect(t, "SELECT auction, count(*) AS n, max(price) FROM bids GROUP BY auction ORDER BY auction",
		"1|2|150;2|2|95;3|1|300")
	d.expect(t, "SELECT bidder, count(DISTINCT auction) FROM bids GROUP BY bidder HAVING count(*) > 1 ORDER BY bidder",
		"10|2;11|2")
	d.expect(t, "SELECT count(channel), count(*) FILTER (WHERE channel = 'web') FROM bids", "4|2")
	d.expect(t, "SELECT string_agg(item, ',') FROM auctions", "lamp,chair,desk,rug")
	d.expect(t, "SELECT string_agg(item, ',' ORDER BY id DESC) FROM auctions", "rug,desk,chair,lamp")
	d.expect(t, "SELECT seller, string_agg(item, '+' ORDER BY item) FILTER (WHERE id > 1) FROM auctions GROUP BY seller ORDER BY seller",
		"7|desk;8|chair;9|rug")
	d.expectErr(t, "SELECT lower(item ORDER BY id) FROM auctions", sqlerr.WrongObjectType)
	d.expectErr(t, "SELECT seller, array_agg(item) FROM auctions GROUP BY seller", sqlerr.UndefinedFunction)
	d.expectErr(t, "SELECT id FROM auctions WHERE string_agg(item, ',' ORDER BY id) = 'x'", sqlerr.GroupingError)
}

func TestJoinsAndSubqueries(t *testing.T) {
	d := newDB()
	d.expect(t, `SELECT a.item, m.top FROM auctions a JOIN max_bid m ON a.id = m.auction ORDER BY m.top DESC`,
		"desk|300;lamp|150;chair|95")
	d.expect(t, `SELECT a.item, m.top FROM auctions a LEFT JOIN max_bid m ON a.id = m.auction ORDER BY a.id`,
		"lamp|150;chair|95;desk|300;rug|NULL")
	d.expect(t, `SELECT item FROM auctions WHERE id IN (SELECT auction FROM bids WHERE price >= 150) ORDER BY item`,
		"desk;lamp")
	d.expect(t, `SELECT item FROM auctions a WHERE NOT EXISTS (SELECT 1 FROM bids b WHERE b.auction = a.id)`, "rug")
	d.expect(t, `SELECT item, (SELECT max(price) FROM bids b WHERE b.auction = a.id) FROM auctions a ORDER BY id`,
		"lamp|150;chair|95;desk|300;rug|NULL")
	d.expect(t, `SELECT item FROM auctions WHERE seller = (SELECT seller FROM auctions WHERE item = 'chair')`, "chair")
	d.expect(t, `SELECT auction FROM bids UNION ALL SELECT id FROM auctions WHERE id > 3`, "1;1;2;2;3;4")
}

func TestErrors(t *testing.T) {
	d := newDB()
	d.expectErr(t, "SELECT 1/0", sqlerr.DivisionByZero)
	d.expectErr(t, "SELECT (SELECT id FROM auctions)", "21000")
	d.expectErr(t, "SELECT nope FROM auctions", sqlerr.UndefinedColumn)
	d.expectErr(t, "SELECT * FROM nowhere", sqlerr.UndefinedTable)
}

func TestWindowsAndTopN(t *testing.T) {
	d := newDB()
	d.expect(t, "SELECT window_start, count(*) FROM TUMBLE(bids, ts, INTERVAL '1' MINUTE) GROUP BY window_start, window_end ORDER BY 1",
		"2026-01-01 10:00:00|3;2026-01-01 10:01:00|2")
	// auction 2 has bids at 10:00:07 (90) and 10:01:02 (95); each is in two hops.
	d.expect(t, `SELECT window_start, auction, max(price)
		FROM TABLE(HOP(TABLE bids, DESCRIPTOR(ts), INTERVAL '30' SECOND, INTERVAL '1' MINUTE))
		WHERE auction = 2 GROUP BY window_start, window_end, auction ORDER BY 1`,
		"2026-01-01 09:59:30|2|90;2026-01-01 10:00:00|2|90;2026-01-01 10:00:30|2|95;2026-01-01 10:01:00|2|95")
	d.expect(t, `SELECT window_start, window_end, count(*)
		FROM TABLE(CUMULATE(TABLE bids, DESCRIPTOR(ts), INTERVAL '1' MINUTE, INTERVAL '2' MINUTE))
		GROUP BY window_start, window_end ORDER BY 1, 2`,
		"2026-01-01 10:00:00|2026-01-01 10:01:00|3;2026-01-01 10:00:00|2026-01-01 10:02:00|5")
	d.expect(t, "SELECT auction, window_start, window_end, window_time FROM TUMBLE(bids, ts, INTERVAL '1' MINUTE) WHERE auction = 3",
		"3|2026-01-01 10:01:00|2026-01-01 10:02:00|2026-01-01 10:01:59.999999")
	d.expect(t, `SELECT auction, price FROM (SELECT auction, price,
		ROW_NUMBER() OVER (PARTITION BY auction ORDER BY price DESC) AS rn FROM bids) WHERE rn = 1 ORDER BY auction`,
		"1|150;2|95;3|300")
}

func TestSketchesAndBooleans(t *testing.T) {
	d := newDB()
	// Few inputs: approx_percentile is exact (percentile_cont) and the
	// HyperLogLog count is exact.
	d.expect(t, `SELECT auction, approx_percentile(price, 0.5), approx_count_distinct(bidder), bool_or(price > 100), bool_and(price > 100)
		FROM bids GROUP BY auction ORDER BY auction`,
		"1|125|2|t|f;2|92.5|2|f|f;3|300|1|t|t")
	d.expect(t, "SELECT coalesce(channel, 'none'), count(*) FROM bids GROUP BY 1 ORDER BY 2 DESC, 1", "app|2;web|2;none|1")
	d.expect(t, "SELECT sum(price) FILTER (WHERE channel = 'web'), avg(price)::numeric(10,2) FROM bids", "190|147.00")
	d.expect(t, "SELECT * FROM max_bid WHERE top > (SELECT avg(top) FROM max_bid)", "3|300")
	d.expect(t, "SELECT count(*) FROM bids b1, bids b2 WHERE b1.bidder = b2.bidder", "9")
}

// TestBytesAsText: convert_from and encode read bytea (the raw bytes of
// sluice_dead_letters) as text, as in Postgres.
func TestBytesAsText(t *testing.T) {
	d := newDB()
	d.expect(t, `SELECT convert_from('{"k":1}'::bytea, 'UTF8'), convert_from('abc'::bytea, 'utf-8')`, `{"k":1}|abc`)
	d.expect(t, `SELECT encode('a\b'::bytea, 'escape'), encode('hi'::bytea, 'hex'), encode('hi'::bytea, 'base64')`, `a\\b|6869|aGk=`)
	d.expect(t, `SELECT convert_from('\xe9'::bytea, 'LATIN1'), encode('\x00ff'::bytea, 'escape')`, `é|\000\377`)
	d.expectErr(t, `SELECT convert_from('\xff'::bytea, 'UTF8')`, "22021")
	d.expectErr(t, `SELECT convert_from('a'::bytea, 'KLINGON')`, sqlerr.InvalidParameterValue)
	d.expectErr(t, `SELECT encode('a'::bytea, 'rot13')`, sqlerr.InvalidParameterValue)
}
