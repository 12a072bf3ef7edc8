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

// readBack reads every message of topic and counts the ids.
func readBack(t *testing.T, s *Sink, topic string) (map[int64]int, int) {
	t.Helper()
	ctx := context.Background()
	cons, err := s.client.Subscribe(pulsar.ConsumerOptions{Topic: topic, SubscriptionName: "check", SubscriptionInitialPosition: pulsar.SubscriptionPositionEarliest})
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
	return count, total
}

func commitEpoch(t *testing.T, s *Sink, e uint64, from, to int) {
	t.Helper()
	if err := s.Write(context.Background(), epochChunk(from, to)); err != nil {
		t.Fatal(err)
	}
	if err := s.Commit(context.Background(), e); err != nil {
		t.Fatal(err)
	}
}

func TestSinkReplayedEpochNotWrittenTwice(t *testing.T) {
	for _, c := range []struct {
		name    string
		parts   int
		crash   bool // epoch 3 cut short after 60 rows
		rebuild bool // the new run's epoch 3 has other rows
	}{
		{"unpartitioned_rewrite", 0, true, false},
		{"unpartitioned_rebuild", 0, true, true},
		{"partitioned_replay", 3, false, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			url, admin := serviceEnv(t)
			name := uniq(t, "out")
			topic := "persistent://public/default/" + name
			if c.parts > 0 {
				createPartitioned(t, admin, name, c.parts)
			}
			ctx := context.Background()
			s1 := openSink(t, url, admin, topic)
			if last, _ := s1.LastCommitted(ctx); last != 0 {
				t.Fatalf("fresh topic: last committed %d", last)
			}
			commitEpoch(t, s1, 1, 0, 100)
			commitEpoch(t, s1, 2, 100, 200)
			if c.crash {
				if err := s1.Write(ctx, epochChunk(200, 300)); err != nil {
					t.Fatal(err)
				}
				if err := s1.send(ctx, 3, 60, 0); err != nil {
					t.Fatal(err)
				}
			}
			s1.Close()

			s2 := openSink(t, url, admin, topic)
			defer s2.Close()
			if last, _ := s2.LastCommitted(ctx); last != 2 {
				t.Fatalf("last committed after the crash: %d, want 2", last)
			}
			// The engine replays epoch 2 (dropped) and writes epoch 3 again:
			// the same rows from its checkpoint, or new rows after a rebuild.
			commitEpoch(t, s2, 2, 100, 200)
			if c.rebuild {
				commitEpoch(t, s2, 3, 1000, 1100)
			} else {
				commitEpoch(t, s2, 3, 200, 300)
			}
			commitEpoch(t, s2, 4, 300, 400)
			if last, _ := s2.LastCommitted(ctx); last != 4 {
				t.Fatalf("last committed %d, want 4", last)
			}
			count, total := readBack(t, s2, topic)
			wantIDs := map[int64]bool{}
			for id := int64(0); id < 400; id++ {
				if !c.rebuild || id < 260 || id >= 300 {
					wantIDs[id] = true // a rebuild keeps the crashed run's 60-row prefix
				}
			}
			if c.rebuild {
				for id := int64(1000); id < 1100; id++ {
					wantIDs[id] = true
				}
			}
			for id := range wantIDs {
				if count[id] != 1 {
					t.Errorf("id %d written %d times", id, count[id])
				}
			}
			if total != len(wantIDs) {
				t.Fatalf("%d messages, want %d", total, len(wantIDs))
			}
		})
	}
}
