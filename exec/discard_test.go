package exec

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sluice-db/sluice/connectors"
	"github.com/sluice-db/sluice/exec/chunk"
	"github.com/sluice-db/sluice/planner/plan"
)

// discardConn is a source whose readers count how they were ended: Close
// (a job that stops) or Discard (a job that is dropped).
type discardConn struct{ sourceOnly }

var discards, closes atomic.Int64

func init() { connectors.Register(discardConn{}) }

func (discardConn) Name() string { return "discardtest" }
func (discardConn) OpenSource(context.Context, connectors.SourceSpec) (connectors.Reader, error) {
	return &discardReader{}, nil
}

type discardReader struct{ ended bool }

func (r *discardReader) Read(ctx context.Context) (*chunk.Chunk, error) {
	select {
	case <-ctx.Done():
		return nil, ctx.Err()
	case <-time.After(time.Millisecond):
	}
	return nil, nil
}
func (r *discardReader) Partitions() int                      { return 1 }
func (r *discardReader) Position() ([]byte, error)            { return nil, nil }
func (r *discardReader) Commit(context.Context, []byte) error { return nil }
func (r *discardReader) Close() error {
	if !r.ended {
		r.ended = true
		closes.Add(1)
	}
	return nil
}
func (r *discardReader) Discard(context.Context) error {
	r.ended = true
	discards.Add(1)
	return nil
}

var _ connectors.Discarder = (*discardReader)(nil)

// TestDropDiscardsReaderState checks that DROP of a job has its readers
// discard the state they keep outside Sluice (connectors.Discarder: a
// Pulsar subscription), and that a job that only stops (the engine closes)
// keeps it for the restart.
func TestDropDiscardsReaderState(t *testing.T) {
	discards.Store(0)
	closes.Store(0)
	e := NewEngine(Config{Clock: NewFakeClock(t0), BarrierInterval: -1})
	scan := &plan.Scan{Name: "src", Kind: plan.RelSource, Cols: events, NumPhysical: 3, Connector: "discardtest"}
	for _, name := range []string{"dropped", "kept"} {
		if err := e.StartView(context.Background(), &plan.Materialize{Input: scan, Name: name}); err != nil {
			t.Fatal(err)
		}
	}
	if err := e.Drop("dropped"); err != nil {
		t.Fatal(err)
	}
	if d, c := discards.Load(), closes.Load(); d != 1 || c != 0 {
		t.Fatalf("after DROP: %d readers discarded, %d closed; want 1 and 0", d, c)
	}
	if err := e.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	if d, c := discards.Load(), closes.Load(); d != 1 || c != 1 {
		t.Fatalf("after the engine closed: %d readers discarded, %d closed; want 1 and 1", d, c)
	}
}
