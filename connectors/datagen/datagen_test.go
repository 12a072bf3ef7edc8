package datagen

import (
	"context"
	"errors"
	"io"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sluice-db/sluice/connectors"
	"github.com/sluice-db/sluice/sql/types"
)

func col(name string, t types.Type) types.Column {
	return types.Column{Name: name, Type: t, Nullable: true}
}

var (
	bidSchema = types.Schema{col("auction", types.TInt64), col("bidder", types.TInt64), col("price", types.TInt64),
		col("channel", types.TText), col("url", types.TText), col("date_time", types.TTimestamp), col("extra", types.TText)}
	personSchema  = types.Schema{col("id", types.TInt64), col("name", types.TText), col("date_time", types.TTimestamp)}
	auctionSchema = types.Schema{col("id", types.TInt64), col("seller", types.TInt64), col("category", types.TInt64),
		col("initial_bid", types.TInt64), col("reserve", types.TInt64), col("date_time", types.TTimestamp), col("expires", types.TTimestamp)}
	clickSchema = types.Schema{col("event_id", types.TInt64), col("event_type", types.TText), col("ts", types.TTimestamp),
		col("user_id", types.TInt64), col("session_id", types.TText), col("campaign", types.TText), col("channel", types.TText),
		col("product_id", types.TInt64), col("price", types.Type{Kind: types.Numeric, Precision: 10, Scale: 2}),
		col("quantity", types.TInt32), col("order_id", types.TText), col("page", types.TText)}
)

var t0 = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

func open(t *testing.T, schema types.Schema, opts map[string]string, pos []byte, now func() time.Time) connectors.Reader {
	t.Helper()
	c, err := connectors.Lookup("datagen")
	if err != nil {
		t.Fatal(err)
	}
	full, err := connectors.Validate("source", "datagen", c.SourceOptions(), opts)
	if err != nil {
		t.Fatal(err)
	}
	if now == nil {
		now = func() time.Time { return t0 }
	}
	r, err := c.OpenSource(context.Background(), connectors.SourceSpec{Source: "s", Schema: schema, Options: full, Position: pos, Now: now})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.Close() })
	return r
}

// readRows reads n rows (copied) or until EOF.
func readRows(t *testing.T, r connectors.Reader, n int) []types.Row {
	t.Helper()
	var out []types.Row
	for len(out) < n {
		c, err := r.Read(context.Background())
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		if c == nil {
			t.Fatal("rate=0 reader returned no rows")
		}
		for i := 0; i < c.Len() && len(out) < n; i++ {
			out = append(out, append(types.Row(nil), c.Row(i)...))
		}
		if c.Len() > 0 && len(out) == n {
			// the rest of the chunk is dropped: tests that need exact
			// positions read whole chunks (batch_size divides n)
			break
		}
	}
	return out
}

func TestOptionsValidated(t *testing.T) {
	c, _ := connectors.Lookup("datagen")
	for _, bad := range []map[string]string{
		{"stream": "tweets"}, {"rate": "-1"}, {"late_fraction": "2"}, {"out_of_order": "soon"}, {"colour": "red"},
	} {
		if _, err := connectors.Validate("source", "datagen", c.SourceOptions(), bad); err == nil {
			t.Errorf("options %v accepted", bad)
		}
	}
	if _, err := connectors.Validate("sink", "datagen", c.SinkOptions(), nil); err == nil {
		t.Error("datagen accepted as a sink")
	}
}

func TestCheckSchema(t *testing.T) {
	c, _ := connectors.Lookup("datagen")
	sc, ok := c.(connectors.SchemaChecker)
	if !ok {
		t.Fatal("datagen does not implement SchemaChecker")
	}
	if err := sc.CheckSchema(clickSchema, map[string]string{"stream": "clickstream"}); err != nil {
		t.Fatal(err)
	}
	if err := sc.CheckSchema(bidSchema, map[string]string{"stream": "bid"}); err != nil {
		t.Fatal(err)
	}
	err := sc.CheckSchema(types.Schema{col("colour", types.TText)}, map[string]string{"stream": "clickstream"})
	if err == nil || !strings.Contains(err.Error(), `"colour"`) {
		t.Fatalf("unknown column: %v", err)
	}
	err = sc.CheckSchema(types.Schema{col("event_type", types.TInt64)}, map[string]string{"stream": "clickstream"})
	if err == nil || !strings.Contains(err.Error(), "event_type") {
		t.Fatalf("incompatible type: %v", err)
	}
	// Aliases and conversions.
	ok2 := types.Schema{col("event_time", types.TTimestampTZ), col("amount", types.TFloat64), col("user_id", types.TText), col("url", types.TText)}
	if err := sc.CheckSchema(ok2, map[string]string{"stream": "clickstream"}); err != nil {
		t.Fatal(err)
	}
}

func TestNexmarkProportionsAndIDs(t *testing.T) {
	const events = 50 * 200
	counts := map[string]int{}
	var maxPerson, maxAuction int64
	for _, tc := range []struct {
		stream string
		schema types.Schema
	}{{"person", personSchema}, {"auction", auctionSchema}, {"bid", bidSchema}} {
		r := open(t, tc.schema, map[string]string{"stream": tc.stream, "rate": "0", "seed": "7"}, nil, nil)
		rd := r.(*Reader)
		for rd.pos.N < events {
			c, err := r.Read(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			for i := 0; i < c.Len(); i++ {
				row := c.Row(i)
				// Rows past the event budget are not counted.
				counts[tc.stream]++
				switch tc.stream {
				case "person":
					maxPerson = max(maxPerson, row[0].I)
				case "auction":
					maxAuction = max(maxAuction, row[0].I)
					if row[6].I <= row[5].I {
						t.Fatalf("auction expires before it starts: %v", row)
					}
					if row[4].I < row[3].I {
						t.Fatalf("reserve below initial bid: %v", row)
					}
					if row[2].I < firstCategoryID || row[2].I >= firstCategoryID+numCategories {
						t.Fatalf("category %d", row[2].I)
					}
				case "bid":
					if row[0].I < firstAuctionID || row[0].I > maxAuctionBound(rd.pos.N) {
						t.Fatalf("bid on auction %d outside the generated range", row[0].I)
					}
					if row[1].I < firstPersonID || row[2].I <= 0 || row[3].S == "" {
						t.Fatalf("bad bid %v", row)
					}
				}
			}
		}
		// Trim to exactly `events` global events: chunks may overshoot.
		counts[tc.stream] -= overshoot(rd.pos.N, events, tc.stream)
	}
	if counts["person"]*3 != counts["auction"] || counts["person"]*46 != counts["bid"] || counts["person"] != events/50 {
		t.Fatalf("proportions person:auction:bid = %d:%d:%d, want 1:3:46 of %d events", counts["person"], counts["auction"], counts["bid"], events)
	}
	if maxPerson < firstPersonID+int64(events/50)-1 || maxAuction < firstAuctionID+int64(3*events/50)-1 {
		t.Fatalf("ids: max person %d, max auction %d", maxPerson, maxAuction)
	}
}

func maxAuctionBound(n int64) int64 { return firstAuctionID + lastBase0AuctionID(n) + auctionIDLead }

// overshoot counts events of stream among global events [from, to).
func overshoot(to, from int64, stream string) int {
	k := map[string]int{"person": kindPerson, "auction": kindAuction, "bid": kindBid}[stream]
	n := 0
	for e := from; e < to; e++ {
		if nexmarkKind(e) == k {
			n++
		}
	}
	return n
}

func TestDeterministicPerSeed(t *testing.T) {
	for _, stream := range []string{"bid", "clickstream"} {
		schema := bidSchema
		if stream == "clickstream" {
			schema = clickSchema
		}
		opts := map[string]string{"stream": stream, "rate": "0", "seed": "3", "out_of_order": "2 seconds", "late_fraction": "0.01"}
		a := readRows(t, open(t, schema, opts, nil, nil), 3000)
		b := readRows(t, open(t, schema, opts, nil, nil), 3000)
		opts["seed"] = "4"
		c := readRows(t, open(t, schema, opts, nil, nil), 3000)
		same, diff := true, false
		for i := range a {
			same = same && types.EqualRows(a[i], b[i])
			diff = diff || !types.EqualRows(a[i], c[i])
		}
		if !same || !diff {
			t.Fatalf("%s: same seed identical=%v, other seed differs=%v", stream, same, diff)
		}
	}
}

func TestRestartFromPosition(t *testing.T) {
	for _, stream := range []string{"bid", "auction", "clickstream"} {
		schema := map[string]types.Schema{"bid": bidSchema, "auction": auctionSchema, "clickstream": clickSchema}[stream]
		opts := map[string]string{"stream": stream, "rate": "0", "seed": "11", "batch_size": "100", "out_of_order": "1 second"}
		whole := readRows(t, open(t, schema, opts, nil, nil), 1000)
		r := open(t, schema, opts, nil, nil)
		first := readRows(t, r, 400)
		pos, err := r.Position()
		if err != nil {
			t.Fatal(err)
		}
		// A restart later, with another wall clock: times come from the
		// position, not from the new clock.
		later := func() time.Time { return t0.Add(time.Hour) }
		rest := readRows(t, open(t, schema, opts, pos, later), 600)
		got := append(first, rest...)
		if len(got) != len(whole) {
			t.Fatalf("%s: %d rows after restart, want %d", stream, len(got), len(whole))
		}
		for i := range whole {
			if !types.EqualRows(got[i], whole[i]) {
				t.Fatalf("%s: row %d after restart = %v, want %v", stream, i, got[i], whole[i])
			}
		}
	}
}

func TestClickstreamFunnel(t *testing.T) {
	rows := readRows(t, open(t, clickSchema, map[string]string{"rate": "0", "seed": "5"}, nil, nil), 50000)
	count := map[string]int{}
	carted := map[string]bool{}
	for i, r := range rows {
		if r[0].I != int64(i) {
			t.Fatalf("event_id %d at %d", r[0].I, i)
		}
		typ := r[1].S
		count[typ]++
		switch typ {
		case evCartAdd:
			carted[r[4].S] = true
			if r[7].IsNull() || r[8].IsNull() || r[8].K != types.Numeric {
				t.Fatalf("cart_add without product/price: %v", r)
			}
		case evPurchase:
			if !carted[r[4].S] {
				t.Fatalf("purchase in session %s without a cart_add", r[4].S)
			}
			if r[10].IsNull() || r[8].IsNull() {
				t.Fatalf("purchase without order/price: %v", r)
			}
		case evEmailOpen:
			if !r[4].IsNull() || r[6].S != "email" {
				t.Fatalf("email_open: %v", r)
			}
		}
	}
	pv, ca, co, pu := count[evPageView], count[evCartAdd], count[evCheckoutStart], count[evPurchase]
	if !(pv > ca && ca > co && co > pu && pu > 0) {
		t.Fatalf("funnel not decreasing: %v", count)
	}
	if count[evEmailOpen] == 0 || count[evEmailClick] == 0 {
		t.Fatalf("no email events: %v", count)
	}
	if float64(pu)/float64(len(rows)) > 0.05 {
		t.Fatalf("unrealistic purchase share: %v", count)
	}
}

func TestRateFollowsClock(t *testing.T) {
	var now atomic.Int64
	now.Store(t0.UnixMicro())
	clock := func() time.Time { return time.UnixMicro(now.Load()) }
	r := open(t, clickSchema, map[string]string{"rate": "100", "out_of_order": "3 seconds", "backfill": "10 seconds"}, nil, clock)
	// Backfill: events scheduled in the last 10 s are due at once.
	c, err := r.Read(context.Background())
	if err != nil || c == nil {
		t.Fatalf("read: %v %v", c, err)
	}
	if c.Len() != 1001 {
		t.Fatalf("backfill produced %d rows, want 1001", c.Len())
	}
	start := t0.Add(-10 * time.Second).UnixMicro()
	for i := 0; i < c.Len(); i++ {
		ts := c.Row(i)[2].I
		sched := start + int64(i)*10000
		if ts > sched || ts < sched-3_000_000 {
			t.Fatalf("row %d event time %d outside [%d, %d]", i, ts, sched-3_000_000, sched)
		}
	}
	now.Add(500_000) // half a second: 50 more events
	c, err = r.Read(context.Background())
	if err != nil || c == nil || c.Len() != 50 {
		t.Fatalf("after 0.5 s: %v rows, err %v", c, err)
	}
}

func TestMaxEvents(t *testing.T) {
	r := open(t, bidSchema, map[string]string{"stream": "bid", "rate": "0", "max_events": "2500"}, nil, nil)
	rows := readRows(t, r, 10000)
	if len(rows) != 2500 {
		t.Fatalf("got %d rows, want 2500", len(rows))
	}
	if _, err := r.Read(context.Background()); !errors.Is(err, io.EOF) {
		t.Fatalf("after max_events: %v", err)
	}
}

func TestConversions(t *testing.T) {
	schema := types.Schema{col("ts", types.TTimestampTZ), col("event_time", types.TText), col("price", types.TFloat64),
		col("user_id", types.TText), col("event_id", types.TInt32), col("timestamp", types.TInt64)}
	rows := readRows(t, open(t, schema, map[string]string{"rate": "0", "start_time": "2026-01-01 00:00:00"}, nil, nil), 200)
	for _, r := range rows {
		if r[0].K != types.TimestampTZ || r[1].K != types.Text || r[3].K != types.Text || r[4].K != types.Int32 || r[5].K != types.Int64 {
			t.Fatalf("kinds: %v", r)
		}
		if r[5].I != r[0].I/1000 {
			t.Fatalf("epoch millis %d vs micros %d", r[5].I, r[0].I)
		}
		if !strings.HasPrefix(r[1].S, "2026-01-01T") {
			t.Fatalf("text timestamp %q", r[1].S)
		}
		if !r[2].IsNull() && r[2].K != types.Float64 {
			t.Fatalf("price kind %v", r[2].K)
		}
	}
}

func BenchmarkDatagen(b *testing.B) {
	for _, tc := range []struct {
		stream string
		schema types.Schema
	}{{"bid", bidSchema}, {"clickstream", clickSchema}} {
		b.Run(tc.stream, func(b *testing.B) {
			c, _ := connectors.Lookup("datagen")
			opts, _ := connectors.Validate("source", "datagen", c.SourceOptions(), map[string]string{"stream": tc.stream, "rate": "0"})
			r, err := c.OpenSource(context.Background(), connectors.SourceSpec{Schema: tc.schema, Options: opts, Now: func() time.Time { return t0 }})
			if err != nil {
				b.Fatal(err)
			}
			b.ReportAllocs()
			rows := 0
			for b.Loop() {
				ch, err := r.Read(context.Background())
				if err != nil {
					b.Fatal(err)
				}
				rows += ch.Len()
			}
			b.ReportMetric(float64(rows)/b.Elapsed().Seconds(), "rows/s")
		})
	}
}

// TestProgressWhileReading calls Progress from another goroutine while
// Read runs, as the engine's statistics do (run with -race).
func TestProgressWhileReading(t *testing.T) {
	r := open(t, bidSchema, map[string]string{"stream": "bid", "rate": "0", "max_events": "20000"}, nil, nil)
	pr, ok := r.(connectors.Progress)
	if !ok {
		t.Fatal("datagen does not implement connectors.Progress")
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		for range 200 {
			if pr.Progress()["stream"] != "bid" {
				t.Error("progress stream")
			}
		}
	}()
	rows := readRows(t, r, 20000)
	<-done
	if len(rows) != 20000 || pr.Progress()["emitted"] != "20000" {
		t.Fatalf("rows %d, progress %v", len(rows), pr.Progress())
	}
}
