package pulsar

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/apache/pulsar-client-go/pulsar"

	"github.com/sluice-db/sluice/connectors"
	"github.com/sluice-db/sluice/exec/chunk"
	"github.com/sluice-db/sluice/sql/types"
)

var outSchema = types.Schema{
	{Name: "id", Type: types.TInt64},
	{Name: "k", Type: types.TText, Nullable: true},
	{Name: "window_end", Type: types.TTimestamp},
}

func epochChunk(from, to int) *chunk.Chunk {
	c := chunk.New(len(outSchema), to-from)
	for i := from; i < to; i++ {
		c.Append(chunk.Insert, chunk.NoTime, types.Row{types.NewInt(int64(i)), types.NewText("k" + string(rune('a'+i%7))), types.NewTimestamp(int64(i) * 1e6)})
	}
	return c
}

func openSink(t *testing.T, url, admin, topic string) *Sink {
	t.Helper()
	c, _ := connectors.Lookup("pulsar")
	s, err := c.OpenSink(context.Background(), connectors.SinkSpec{
		Name: "out", Schema: outSchema,
		Options: map[string]string{"service_url": url, "admin_url": admin, "topic": topic, "key": "k", "producer_name": "sluice-test-" + topic[len("persistent://public/default/"):]},
	})
	if err != nil {
		t.Fatal(err)
	}
	return s.(*Sink)
}

func TestSinkReplayedEpochNotWrittenTwice(t *testing.T) {
	for _, parts := range []int{0, 3} {
		t.Run(map[int]string{0: "unpartitioned", 3: "partitioned"}[parts], func(t *testing.T) {
			url, admin := serviceEnv(t)
			name := uniq(t, "out")
			topic := "persistent://public/default/" + name
			if parts > 0 {
				createPartitioned(t, admin, name, parts)
			}
			ctx := context.Background()
			s1 := openSink(t, url, admin, topic)
			if last, _ := s1.LastCommitted(ctx); last != 0 {
				t.Fatalf("fresh topic: last committed %d", last)
			}
			for e := 1; e <= 2; e++ {
				if err := s1.Write(ctx, epochChunk((e-1)*100, e*100)); err != nil {
					t.Fatal(err)
				}
				if err := s1.Commit(ctx, uint64(e)); err != nil {
					t.Fatal(err)
				}
			}
			// Epoch 3 crashes half-way: only 60 of its 100 rows reach the broker.
			if err := s1.Write(ctx, epochChunk(200, 300)); err != nil {
				t.Fatal(err)
			}
			if err := s1.send(ctx, 3, 60); err != nil {
				t.Fatal(err)
			}
			s1.Close()

			s2 := openSink(t, url, admin, topic)
			defer s2.Close()
			last, _ := s2.LastCommitted(ctx)
			if last > 2 || (parts == 0 && last != 2) {
				t.Fatalf("last committed after a crash in epoch 3: %d", last)
			}
			// The engine replays from its checkpoint: epochs 2 and 3 again,
			// then a new epoch 4.
			for e := 2; e <= 4; e++ {
				if err := s2.Write(ctx, epochChunk((e-1)*100, e*100)); err != nil {
					t.Fatal(err)
				}
				if err := s2.Commit(ctx, uint64(e)); err != nil {
					t.Fatal(err)
				}
			}
			if last, _ := s2.LastCommitted(ctx); last != 4 {
				t.Fatalf("last committed %d, want 4", last)
			}
			// Read everything back: ids 0..399 once each, keyed.
			cons, err := s2.client.Subscribe(pulsar.ConsumerOptions{Topic: topic, SubscriptionName: "check", SubscriptionInitialPosition: pulsar.SubscriptionPositionEarliest})
			if err != nil {
				t.Fatal(err)
			}
			defer cons.Close()
			count := map[int64]int{}
			total := 0
			for {
				rctx, cancel := context.WithTimeout(ctx, 3*time.Second)
				m, err := cons.Receive(rctx)
				cancel()
				if err != nil {
					break
				}
				var row struct {
					ID        int64  `json:"id"`
					K         string `json:"k"`
					WindowEnd string `json:"window_end"`
				}
				if err := json.Unmarshal(m.Payload(), &row); err != nil {
					t.Fatalf("payload %s: %v", m.Payload(), err)
				}
				if m.Key() != row.K || row.WindowEnd != time.UnixMicro(row.ID*1e6).UTC().Format(time.RFC3339) {
					t.Fatalf("key %q / row %+v", m.Key(), row)
				}
				count[row.ID]++
				total++
			}
			for id := int64(0); id < 400; id++ {
				if count[id] != 1 {
					t.Errorf("id %d written %d times", id, count[id])
				}
			}
			if total != 400 {
				t.Fatalf("%d messages, want 400", total)
			}
		})
	}
}
