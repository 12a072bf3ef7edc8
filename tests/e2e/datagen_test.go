package e2e

import (
	"context"
	"errors"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
)

// TestDatagenSources creates Nexmark and clickstream datagen sources over
// SQL: an unknown column is an error at CREATE SOURCE, and a bounded bid
// stream feeds a view with exactly max_events rows, and a view created over
// that one after the stream ended gets its rows without holding up an
// INSERT.
func TestDatagenSources(t *testing.T) {
	s := start(t, t.TempDir(), nil)
	conn := s.connect(t)
	ctx := context.Background()
	_, err := conn.Exec(ctx, `CREATE SOURCE bad (event_type TEXT, colour TEXT) WITH (connector = 'datagen')`)
	var pe *pgconn.PgError
	if !errors.As(err, &pe) || !strings.Contains(pe.Message, "colour") {
		t.Errorf("CREATE SOURCE with an unknown datagen column: %v, want an error naming the column", err)
	}
	_, err = conn.Exec(ctx, `CREATE SOURCE bad2 (event_type TEXT) WITH (connector = 'datagen', stream = 'tweets')`)
	if !errors.As(err, &pe) || !strings.Contains(pe.Message, "stream") {
		t.Errorf("CREATE SOURCE with a bad stream: %v", err)
	}
	for _, ddl := range []string{
		`CREATE SOURCE bid (auction BIGINT, bidder BIGINT, price BIGINT, date_time TIMESTAMP,
		     WATERMARK FOR date_time AS date_time - INTERVAL '4' SECOND)
		 WITH (connector = 'datagen', stream = 'bid', rate = '0', max_events = '46000', seed = '9',
		       start_time = '2026-01-01 00:00:00')`,
		`CREATE MATERIALIZED VIEW bids_per_auction_minute AS
		     SELECT auction, window_start, window_end, count(*) AS bids, max(price) AS top
		     FROM TUMBLE(bid, date_time, INTERVAL '1' SECOND)
		     GROUP BY auction, window_start, window_end`,
	} {
		if _, err := conn.Exec(ctx, ddl); err != nil {
			t.Fatalf("%s: %v", ddl, err)
		}
	}
	eventually(t, 60*time.Second, "all bids counted", func() error {
		var n, auctions int64
		if err := conn.QueryRow(ctx, `SELECT coalesce(sum(bids), 0), count(DISTINCT auction) FROM bids_per_auction_minute`).Scan(&n, &auctions); err != nil {
			return err
		}
		if n != 46000 {
			return errors.New("bids counted: " + itoa(n))
		}
		if auctions < 100 {
			return errors.New("too few distinct auctions: " + itoa(auctions))
		}
		return nil
	})
	// The bid stream has ended. A view created over the view it fed, and
	// an INSERT after it, complete: the new view ends after the contents
	// (an INSERT used to wait for it forever).
	tctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	for _, q := range []string{
		`CREATE TABLE marks (x BIGINT)`,
		`CREATE MATERIALIZED VIEW busy AS SELECT auction, window_start, bids FROM bids_per_auction_minute WHERE bids > 1`,
		`INSERT INTO marks VALUES (1)`,
	} {
		if _, err := conn.Exec(tctx, q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	var same bool
	if err := conn.QueryRow(tctx, `SELECT (SELECT count(*) FROM busy) = (SELECT count(*) FROM bids_per_auction_minute WHERE bids > 1)`).Scan(&same); err != nil || !same {
		t.Fatalf("the view over the ended view does not hold its rows: %v, %v", same, err)
	}
	eventually(t, 30*time.Second, "both views ended", func() error {
		rows, err := conn.Query(ctx, `SELECT name, status FROM sluice_views ORDER BY name`)
		if err != nil {
			return err
		}
		var got []string
		for rows.Next() {
			var name, status string
			if err := rows.Scan(&name, &status); err != nil {
				return err
			}
			got = append(got, name+" "+status)
		}
		if err := rows.Err(); err != nil {
			return err
		}
		if s := strings.Join(got, ", "); s != "bids_per_auction_minute ended, busy ended" {
			return errors.New("sluice_views: " + s)
		}
		return nil
	})
	s.stop()
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }
