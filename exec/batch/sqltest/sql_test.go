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
