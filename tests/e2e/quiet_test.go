package e2e

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"
)

// TestQuietAdvanceClosesWindows shows the mechanism behind the demo's
// abandoned carts: when traffic stops, event time still advances with the
// wall clock (--quiet-advance), so a session window closes and its row
// appears without any further event.
func TestQuietAdvanceClosesWindows(t *testing.T) {
	s := start(t, t.TempDir(), nil, "--quiet-advance", "1s", "--idle-timeout", "1s")
	conn := s.connect(t)
	ctx := context.Background()
	for _, ddl := range []string{
		`CREATE SOURCE carts (user_id BIGINT, event_type TEXT, ts TIMESTAMP,
		     WATERMARK FOR ts AS ts - INTERVAL '1' SECOND) WITH (connector = 'http')`,
		`CREATE MATERIALIZED VIEW abandoned AS
		     SELECT user_id, window_end AS abandoned_at,
		            count(*) FILTER (WHERE event_type = 'cart_add') AS items
		     FROM SESSION(carts, ts, INTERVAL '2' SECOND)
		     GROUP BY user_id, window_start, window_end
		     HAVING count(*) FILTER (WHERE event_type = 'cart_add') > 0
		        AND count(*) FILTER (WHERE event_type = 'purchase') = 0
		     EMIT ON WINDOW CLOSE`,
	} {
		if _, err := conn.Exec(ctx, ddl); err != nil {
			t.Fatalf("%s: %v", ddl, err)
		}
	}
	now := time.Now().UTC().Format(time.RFC3339Nano)
	body := fmt.Sprintf(`{"user_id": 1, "event_type": "cart_add", "ts": %q}
{"user_id": 2, "event_type": "cart_add", "ts": %q}
{"user_id": 2, "event_type": "purchase", "ts": %q}`, now, now, now)
	if code, r := ingest(t, s.HTTP, "carts", "application/x-ndjson", "", []byte(body)); code != 200 || r.Accepted != 3 {
		t.Fatalf("ingest: %d %+v", code, r)
	}
	// No more events from here on.
	eventually(t, 30*time.Second, "abandoned cart appears without further traffic", func() error {
		rows, err := conn.Query(ctx, `SELECT user_id FROM abandoned ORDER BY user_id`)
		if err != nil {
			return err
		}
		var users []int64
		for rows.Next() {
			var u int64
			if err := rows.Scan(&u); err != nil {
				return err
			}
			users = append(users, u)
		}
		if err := rows.Err(); err != nil {
			return err
		}
		if !slices.Equal(users, []int64{1}) {
			return fmt.Errorf("abandoned users %v, want [1]", users)
		}
		return nil
	})
	s.stop()
}
