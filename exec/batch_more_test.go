package exec

import (
	"context"
	"fmt"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/sluice-db/sluice/connectors"
	"github.com/sluice-db/sluice/exec/chunk"
	"github.com/sluice-db/sluice/planner/plan"
	"github.com/sluice-db/sluice/sql/types"
)

// flushRecorder passes its input on and, on FlushBatch, emits one row
// holding the number of flushes so far: the output shows where the node
// flushed.
type flushRecorder struct {
	stateless
	flushes int64
}

func (f *flushRecorder) OnData(_ int, c *chunk.Chunk, out *emitter) error { return out.pass(c) }

func (f *flushRecorder) FlushBatch(out *emitter) error {
	f.flushes++
	row := out.row(chunk.Insert, chunk.NoTime)
	row[0] = types.NewText(fmt.Sprintf("flush%d", f.flushes))
	return nil
}

// describe renders a message as "rows[+more]", "flushN" or the kind.
func describe(m chunk.Message) string {
	if m.Kind != chunk.Data {
		return m.Kind.String()
	}
	var b strings.Builder
	for i := range m.Chunk.Len() {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(m.Chunk.Row(i)[0].S)
	}
	if m.Chunk.More {
		b.WriteString("+more")
	}
	if m.Chunk.Len() == 0 {
		b.WriteString("(empty)")
	}
	return b.String()
}

func textChunk(more bool, vals ...string) *chunk.Chunk {
	c := chunk.New(1, len(vals))
	for _, v := range vals {
		c.Append(chunk.Insert, chunk.NoTime, types.Row{types.NewText(v)})
	}
	c.More = more
	return c
}

// TestNodeBatchRuns checks the chunk.More protocol of a node: no
// FlushBatch after a chunk with More, a flush after the chunk that ends
// the run, an empty chunk ending a run that the input ended with an empty
// chunk, and a forwarded More.
func TestNodeBatchRuns(t *testing.T) {
	e := NewEngine(Config{Clock: NewFakeClock(t0), BarrierInterval: -1})
	defer e.Close(context.Background())
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	j := &job{e: e, name: "t", ctx: ctx, cancel: cancel}
	op := &flushRecorder{}
	n := newNode(j, "rec", op, 1, 1)
	out := make(chan envelope, 16)
	n.out = &outlet{ch: out}
	j.wg.Add(1)
	go n.run(ctx)
	defer j.wg.Wait()
	defer cancel()

	next := func() string {
		t.Helper()
		select {
		case env := <-out:
			return describe(env.msg)
		case <-time.After(10 * time.Second):
			t.Fatal("no output from the node")
			return ""
		}
	}
	expect := func(in []chunk.Message, want ...string) {
		t.Helper()
		for _, m := range in {
			n.inbox <- envelope{msg: m}
		}
		var got []string
		for range want {
			got = append(got, next())
		}
		if strings.Join(got, " ") != strings.Join(want, " ") {
			t.Fatalf("got %q, want %q", got, want)
		}
	}
	data := func(c *chunk.Chunk) chunk.Message { return chunk.Message{Kind: chunk.Data, Chunk: c} }

	// Without More: a flush after each chunk the node is idle after.
	expect([]chunk.Message{data(textChunk(false, "a"))}, "a", "flush1")
	// A run: the node waits for its end (the output would otherwise show
	// a flush right after "b+more", as the node is idle in between).
	expect([]chunk.Message{data(textChunk(true, "b"))}, "b+more")
	expect([]chunk.Message{data(textChunk(true, "c"))}, "c+more")
	expect([]chunk.Message{data(textChunk(false, "d"))}, "d", "flush2")
	// A run ended by an empty chunk: the node ends its own run the same
	// way, then flushes.
	expect([]chunk.Message{data(textChunk(true, "e"))}, "e+more")
	expect([]chunk.Message{data(textChunk(false))}, "(empty)", "flush3")
	// A run ended by a watermark: forwarded, no empty chunk needed.
	expect([]chunk.Message{data(textChunk(true, "f"))}, "f+more")
	expect([]chunk.Message{{Kind: chunk.Watermark, Watermark: 5}}, "watermark")
	expect([]chunk.Message{data(textChunk(false, "g"))}, "g", "flush4")
}

// batchReader is a one-partition intoReader that returns the rows of
// batches, as the file connector does: up to rows rows per call, More
// when the batch has rows left.
type batchReader struct {
	batches [][]types.Row
	calls   int
}

func (r *batchReader) Read(context.Context) (*chunk.Chunk, error) {
	return nil, fmt.Errorf("batchReader: Read called")
}

func (r *batchReader) ReadIntoN(_ context.Context, c *chunk.Chunk, rows int) (*chunk.Chunk, error) {
	r.calls++
	if len(r.batches) == 0 {
		return nil, io.EOF
	}
	c.Partition = 0
	b := r.batches[0]
	k := min(rows, len(b))
	for _, row := range b[:k] {
		c.Append(chunk.Insert, chunk.NoTime, row)
	}
	r.batches[0] = b[k:]
	if len(r.batches[0]) == 0 {
		r.batches = r.batches[1:]
	} else {
		c.More = true
	}
	return c, nil
}

func (r *batchReader) Partitions() int                                        { return 1 }
func (r *batchReader) Position() ([]byte, error)                              { return nil, nil }
func (r *batchReader) Commit(context.Context, []byte) error                   { return nil }
func (r *batchReader) Close() error                                           { return nil }
func (r *batchReader) Lag(context.Context) ([]connectors.PartitionLag, error) { return nil, nil }

// TestSourceHoldsWatermarkForBatch checks that the source sends a
// reader's batch as chunks with More and one watermark at its end, and
// that a row behind the watermark the batch's earlier chunks established
// still splits the batch there (it is judged as if the batch were one
// chunk).
func TestSourceHoldsWatermarkForBatch(t *testing.T) {
	e := NewEngine(Config{Clock: NewFakeClock(t0), BarrierInterval: -1, QuietAdvance: -1})
	defer e.Close(context.Background())
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	j := &job{e: e, name: "t", ctx: ctx, cancel: cancel}
	out := make(chan envelope, 64)
	scan := &plan.Scan{Name: "s", Kind: plan.RelSource, Cols: events, NumPhysical: 3, Watermark: &plan.Watermark{Col: 2}}
	s, err := newSourceNode(j, scan, outlet{ch: out})
	if err != nil {
		t.Fatal(err)
	}
	s.wmCol, s.delay = 2, micros(1)
	n := readChunkRows + 10 // two chunks
	var first, second []types.Row
	for i := range n {
		first = append(first, ev("a", int64(i), float64(10+i/1000)))
	}
	// The second batch: its first chunk raises the watermark to 99-1; a
	// row at 50 in its second chunk is behind it.
	for range readChunkRows {
		second = append(second, ev("b", 1, 99))
	}
	second = append(second, ev("b", 2, 50), ev("b", 3, 100))
	rd := &batchReader{batches: [][]types.Row{first, second}}
	s.reader = rd
	j.wg.Add(1)
	go s.run(ctx)
	var got []string
	for done := false; !done; {
		select {
		case env := <-out:
			m := env.msg
			switch m.Kind {
			case chunk.Data:
				d := fmt.Sprintf("data%d", m.Chunk.Len())
				if m.Chunk.More {
					d += "+more"
				}
				got = append(got, d)
			case chunk.Watermark:
				got = append(got, fmt.Sprintf("wm%d", (m.Watermark-sec(0))/1e6))
			default:
				got = append(got, m.Kind.String())
				done = m.Kind == chunk.EndOfStream
			}
		case <-time.After(10 * time.Second):
			t.Fatalf("source stalled after %q", got)
		}
	}
	cancel()
	j.wg.Wait()
	want := []string{
		fmt.Sprintf("data%d+more", readChunkRows), "data10", fmt.Sprintf("wm%d", 10+(n-1)/1000-1),
		fmt.Sprintf("data%d+more", readChunkRows), "wm98", "data2", "wm99", "eos",
	}
	if strings.Join(got, " ") != strings.Join(want, " ") {
		t.Fatalf("source sent\n%q\nwant\n%q", got, want)
	}
}
