package nexmark

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/sluice-db/sluice/connectors"
	"github.com/sluice-db/sluice/exec"
	"github.com/sluice-db/sluice/exec/batch"
	"github.com/sluice-db/sluice/planner"
	"github.com/sluice-db/sluice/sql"
	"github.com/sluice-db/sluice/sql/expr"
	"github.com/sluice-db/sluice/sql/types"
	"github.com/sluice-db/sluice/tests/slt"
)

// bids reads n Nexmark bids from the datagen connector (fixed seed and
// start time) spaced step apart in event time, in the columns of the
// script runner's bid source.
func bids(t *testing.T, r *slt.Runner, n int, step string) []types.Row {
	t.Helper()
	c, err := connectors.Lookup("datagen")
	if err != nil {
		t.Fatal(err)
	}
	rel, err := r.Relation("bid")
	if err != nil {
		t.Fatal(err)
	}
	phys := rel.Cols[:rel.NumPhysical]
	opts, err := connectors.Validate("source", "datagen", c.SourceOptions(), map[string]string{
		"stream": "bid", "rate": "0", "seed": "11", "max_events": fmt.Sprint(n), "logical_step": step,
		"start_time": "2026-01-01 00:00:00"})
	if err != nil {
		t.Fatal(err)
	}
	rd, err := c.OpenSource(context.Background(), connectors.SourceSpec{Source: "bid", Schema: phys, Options: opts,
		Now: func() time.Time { return slt.Start }})
	if err != nil {
		t.Fatal(err)
	}
	defer rd.Close()
	var out []types.Row
	for {
		ch, err := rd.Read(context.Background())
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		for i := range ch.Len() {
			row := make(types.Row, len(rel.Cols))
			copy(row, ch.Row(i))
			out = append(out, row)
		}
	}
	return out
}

// TestQ5StateBounded runs Nexmark q5 (RisingWave form: a hop count per
// auction joined with the max count per window, a GROUP BY window_start
// over windowed input) over bids spanning many slides. Its state, sampled
// after each part of the input, stays at what a few open windows need: the
// max side frees each window's group once the watermark passes the
// window's close, where it used to keep one group per slide forever. The
// view still agrees with the batch query at the end.
func TestQ5StateBounded(t *testing.T) {
	r := slt.NewRunner(exec.Config{})
	defer func() {
		if err := r.Close(); err != nil {
			t.Error(err)
		}
	}()
	run(t, r, datagenWith.ReplaceAllString(readFile(t, "ddl.sql"), "WITH (connector = 'slt');"))
	text := readFile(t, "risingwave/q5.sql")
	st, err := sql.ParseOne(text)
	if err != nil {
		t.Fatal(err)
	}
	cv := st.(*sql.CreateView)
	run(t, r, text)

	// 24000 bids 100ms apart: 40 minutes of event time, 1200 slides of 2s.
	rows := bids(t, r, 24000, "100 milliseconds")
	tc := r.Engine
	rel, err := r.Relation("bid")
	if err != nil {
		t.Fatal(err)
	}
	ti := rel.Cols.Index("date_time")
	if span := time.Duration(rows[len(rows)-1][ti].I-rows[0][ti].I) * time.Microsecond; span < 30*time.Minute {
		t.Fatalf("the bids span only %s of event time", span)
	}
	stats := func() exec.ViewStats {
		for _, s := range tc.ViewStats() {
			if s.Name == cv.Name {
				return s
			}
		}
		t.Fatalf("no stats for %s", cv.Name)
		return exec.ViewStats{}
	}
	ctx := context.Background()
	const parts = 12
	var samples []exec.ViewStats
	per := len(rows) / parts
	for p := range parts {
		part := rows[p*per : (p+1)*per]
		for i := 0; i < len(part); i += 256 {
			if err := tc.Insert(ctx, "bid", part[i:min(i+256, len(part))]); err != nil {
				t.Fatal(err)
			}
		}
		if err := tc.Flush(ctx); err != nil {
			t.Fatal(err)
		}
		samples = append(samples, stats())
	}
	var b strings.Builder
	for p, s := range samples {
		fmt.Fprintf(&b, "after part %d: %d state bytes, %d open windows\n", p+1, s.StateBytes, s.OpenWindows)
	}
	t.Log(b.String())
	// The first two parts (200s each) warm up; after that the state must
	// not grow with the input: a view keeping one group per slide holds
	// 100 more groups after every part.
	var early int64
	for _, s := range samples[1:3] {
		early = max(early, s.StateBytes)
	}
	for p, s := range samples[3:] {
		if s.StateBytes > early*3/2 {
			t.Fatalf("after part %d the state is %d bytes, up to %d after parts 2-3: it grows with the input\n%s", p+4, s.StateBytes, early, b.String())
		}
	}
	if last := samples[len(samples)-1]; last.OpenWindows > 40 {
		t.Fatalf("%d windows held at the end", last.OpenWindows)
	}
	if samples[0].StateBytes == 0 {
		t.Fatal("no state measured")
	}

	// Close every window, then compare with the batch query.
	end := rows[len(rows)-1][ti].I + int64(time.Hour/time.Microsecond)
	if err := tc.AdvanceWatermark("bid", end); err != nil {
		t.Fatal(err)
	}
	if err := tc.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	if s := stats(); s.Late != 0 {
		t.Fatalf("%d rows recorded as late from input fed in event-time order", s.Late)
	}
	_, got, err := tc.Snapshot(cv.Name)
	if err != nil {
		t.Fatal(err)
	}
	node, _, err := planner.New(r).PlanQuery(cv.Query, nil)
	if err != nil {
		t.Fatal(err)
	}
	want, err := batch.Collect(ctx, &expr.Context{Now: r.Clock.Now}, node, r)
	if err != nil {
		t.Fatal(err)
	}
	if len(want) < 1000 {
		t.Fatalf("the batch query found %d rows; the input does not exercise q5", len(want))
	}
	g, w := render(got), render(want)
	if strings.Join(g, "\n") != strings.Join(w, "\n") {
		t.Fatalf("streaming view (%d rows) differs from the batch query (%d rows)\n%s", len(g), len(w), diff(g, w))
	}
}
