package exec

import (
	"bytes"
	"context"
	"runtime/pprof"
	"strings"
	"testing"
	"time"

	"github.com/sluice-db/sluice/planner/plan"
)

// TestNodeGoroutinesCarryProfileLabels: every node's goroutine, the
// source's included, is labelled with its job and node, so a CPU profile
// splits by operator (go tool pprof -tags).
func TestNodeGoroutinesCarryProfileLabels(t *testing.T) {
	sc := benchScan(1000, 10, 1000)
	sc.Options["hold"] = "true" // keep the job's goroutines alive
	p := windowAgg(sc, plan.WindowSpec{Kind: plan.Tumble, TimeCol: 2, Size: micros(10)}, plan.EmitOnWindowClose, 0)
	e := NewEngine(Config{BarrierInterval: -1, Parallelism: 2})
	defer e.Close(context.Background())
	if err := e.StartView(context.Background(), &plan.Materialize{Input: p, Name: "labelled"}); err != nil {
		t.Fatal(err)
	}
	// The shuffle runs inline on the source's goroutine (node.inline): its
	// samples are the source's.
	want := []string{`"node":"source bench"`, `"node":"materialize labelled"`,
		`"node":"window-agg 0"`, `"node":"window-agg 1"`, `"node":"window-agg merge"`}
	var dump string
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		var b bytes.Buffer
		if err := pprof.Lookup("goroutine").WriteTo(&b, 1); err != nil {
			t.Fatal(err)
		}
		dump = b.String()
		missing := 0
		for _, w := range want {
			if !strings.Contains(dump, w) {
				missing++
			}
		}
		if missing == 0 && strings.Contains(dump, `"job":"labelled"`) {
			return
		}
	}
	t.Fatalf("goroutine profile lacks some of %v (job \"labelled\"):\n%s", want, dump)
}
