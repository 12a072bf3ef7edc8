package nexmark

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"regexp"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/sluice-db/sluice/connectors"
	_ "github.com/sluice-db/sluice/connectors/datagen" // the Nexmark generator
	"github.com/sluice-db/sluice/exec"
	"github.com/sluice-db/sluice/exec/batch"
	"github.com/sluice-db/sluice/planner"
	"github.com/sluice-db/sluice/sql"
	"github.com/sluice-db/sluice/sql/expr"
	"github.com/sluice-db/sluice/sql/types"
	"github.com/sluice-db/sluice/tests/slt"
)

// generated is one Nexmark event of one stream.
type generated struct {
	src string
	t   int64
	row types.Row
}

// generate reads n events of each Nexmark stream from the datagen
// connector (rate 0: as fast as read, fixed seed and start time), with the
// physical columns of the script runner's sources.
func generate(t *testing.T, r *slt.Runner, counts map[string]int) []generated {
	t.Helper()
	c, err := connectors.Lookup("datagen")
	if err != nil {
		t.Fatal(err)
	}
	var out []generated
	for src, n := range counts {
		rel, err := r.Relation(src)
		if err != nil {
			t.Fatal(err)
		}
		phys := rel.Cols[:rel.NumPhysical]
		opts, err := connectors.Validate("source", "datagen", c.SourceOptions(), map[string]string{
			"stream": src, "rate": "0", "seed": "7", "max_events": fmt.Sprint(n), "start_time": "2026-01-01 00:00:00"})
		if err != nil {
			t.Fatal(err)
		}
		rd, err := c.OpenSource(context.Background(), connectors.SourceSpec{Source: src, Schema: phys, Options: opts,
			Now: func() time.Time { return slt.Start }})
		if err != nil {
			t.Fatal(err)
		}
		tc := phys.Index("date_time")
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
				out = append(out, generated{src: src, t: row[tc].I, row: row})
			}
		}
		rd.Close()
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].t < out[j].t })
	return out
}

var (
	datagenWith = regexp.MustCompile(`(?s)WITH \(connector = 'datagen'.*?\);`)
	viewHead    = regexp.MustCompile(`(?s)^(.*?CREATE MATERIALIZED VIEW \w+)\s+AS\b`)
)

func readFile(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func run(t *testing.T, r *slt.Runner, text string) {
	t.Helper()
	lines := strings.Split(strings.TrimSpace(text), "\n")
	if err := r.Run(context.Background(), slt.Record{Verb: "statement", Args: []string{"ok"}, Body: lines}); err != nil {
		t.Fatalf("%v\n%s", err, text)
	}
}

func render(rows []types.Row) []string {
	out := make([]string, len(rows))
	for i, row := range rows {
		parts := make([]string, len(row))
		for k, v := range row {
			if v.K == types.Float64 {
				parts[k] = fmt.Sprintf("%.6g", v.Float())
				continue
			}
			parts[k] = v.String()
		}
		out[i] = strings.Join(parts, " ")
	}
	sort.Strings(out)
	return out
}

// TestJoinQueriesAgainstBatch runs the Nexmark join queries (RisingWave
// form) as continuous views over generated Nexmark events, fed in event
// time order, and compares each view, once every watermark has passed,
// with the same query run by the batch executor over the sources'
// contents; with one worker, and with three (the joins and aggregates run
// as copies).
func TestJoinQueriesAgainstBatch(t *testing.T) {
	for _, par := range []int{1, 3} {
		t.Run(fmt.Sprintf("workers=%d", par), func(t *testing.T) { joinQueriesAgainstBatch(t, par) })
	}
}

func joinQueriesAgainstBatch(t *testing.T, par int) {
	r := slt.NewRunner(exec.Config{Parallelism: par})
	defer func() {
		if err := r.Close(); err != nil {
			t.Error(err)
		}
	}()
	run(t, r, datagenWith.ReplaceAllString(readFile(t, "ddl.sql"), "WITH (connector = 'slt');"))

	queries := []struct {
		file string
		ttl  bool
		// fix adapts the published text to the generator's data.
		fix func(string) string
	}{
		// The generator's states are upper-case (Flink's q3 asks for 'OR').
		{file: "q3", ttl: true, fix: strings.NewReplacer("'or'", "'OR'", "'id'", "'ID'", "'ca'", "'CA'").Replace},
		{file: "q4", ttl: true},
		{file: "q5"},
		{file: "q9", ttl: true},
		{file: "q20", ttl: true},
	}
	var views []string
	selects := map[string]*sql.Select{}
	for _, q := range queries {
		text := readFile(t, "risingwave/"+q.file+".sql")
		if q.fix != nil {
			text = q.fix(text)
		}
		if q.ttl {
			text = viewHead.ReplaceAllString(text, "$1 WITH (state_ttl = '1 hour') AS")
		}
		st, err := sql.ParseOne(text)
		if err != nil {
			t.Fatalf("%s: %v", q.file, err)
		}
		cv, ok := st.(*sql.CreateView)
		if !ok {
			t.Fatalf("%s: %T", q.file, st)
		}
		run(t, r, text)
		views = append(views, cv.Name)
		selects[cv.Name] = cv.Query
	}

	events := generate(t, r, map[string]int{"person": 200, "auction": 600, "bid": 9200})
	ctx := context.Background()
	for i := 0; i < len(events); {
		k := i
		var rows []types.Row
		for ; k < len(events) && events[k].src == events[i].src && len(rows) < 256; k++ {
			rows = append(rows, events[k].row)
		}
		if err := r.Engine.Insert(ctx, events[i].src, rows); err != nil {
			t.Fatal(err)
		}
		i = k
	}
	end := events[len(events)-1].t + int64(time.Hour/time.Microsecond)
	for _, src := range []string{"person", "auction", "bid"} {
		if err := r.Engine.AdvanceWatermark(src, end); err != nil {
			t.Fatal(err)
		}
	}
	if err := r.Engine.Flush(ctx); err != nil {
		t.Fatal(err)
	}

	for _, v := range views {
		_, got, err := r.Engine.Snapshot(v)
		if err != nil {
			t.Fatal(err)
		}
		node, _, err := planner.New(r).PlanQuery(selects[v], nil)
		if err != nil {
			t.Fatalf("%s batch plan: %v", v, err)
		}
		want, err := batch.Collect(ctx, &expr.Context{Now: r.Clock.Now}, node, r)
		if err != nil {
			t.Fatalf("%s batch: %v", v, err)
		}
		if len(want) == 0 {
			t.Fatalf("%s: the batch query found no rows; the generated input does not exercise the join", v)
		}
		g, w := render(got), render(want)
		if strings.Join(g, "\n") != strings.Join(w, "\n") {
			t.Errorf("%s: streaming view (%d rows) differs from the batch query (%d rows)\n%s", v, len(g), len(w), diff(g, w))
			continue
		}
		t.Logf("%s: %d rows agree", v, len(g))
	}
}

// diff lists the first lines only in got (+) or only in want (-).
func diff(got, want []string) string {
	n := map[string]int{}
	for _, s := range got {
		n[s]++
	}
	for _, s := range want {
		n[s]--
	}
	var out []string
	for s, c := range n {
		switch {
		case c > 0:
			out = append(out, "+ "+s)
		case c < 0:
			out = append(out, "- "+s)
		}
	}
	sort.Strings(out)
	if len(out) > 20 {
		out = append(out[:20], "...")
	}
	return strings.Join(out, "\n")
}
