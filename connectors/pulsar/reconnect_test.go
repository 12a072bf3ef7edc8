package pulsar

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sluice-db/sluice/connectors"
)

// TestSourceExactlyOnceAcrossReconnections reads a topic while the broker
// unloads it again and again, which closes every consumer and makes the
// client reconnect and the broker redeliver what was not acknowledged. The
// reader restarts from a stored position first (a Seek), reads slowly (so
// the client holds messages in its queues when it reconnects) and commits
// positions as the engine does. Every event must come exactly once.
// Before the reader subscribed again after a seek and dropped
// redeliveries, it lost or repeated about a third of the events here.
func TestSourceExactlyOnceAcrossReconnections(t *testing.T) {
	url, admin := serviceEnv(t)
	name := uniq(t, "events")
	topic := createPartitioned(t, admin, name, 3)
	client := testClient(t, url)
	want := produceEvents(t, client, topic, 6000, nil)

	r1 := openSource(t, url, admin, topic, "unload", nil, nil)
	first := readN(t, r1, 300)
	pos, err := r1.Position()
	if err != nil {
		t.Fatal(err)
	}
	r1.Close() // a crash: pos was never committed

	r2 := openSource(t, url, admin, topic, "unload", pos, nil)
	defer r2.Close()
	// Twelve unloads, 200 ms apart, while the reader reads.
	const unloads = 12
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for range unloads {
			select {
			case <-done:
				return
			case <-time.After(200 * time.Millisecond):
			}
			adminDo(t, admin, http.MethodPut, "/admin/v2/persistent/public/default/"+name+"/unload", "")
		}
	}()
	// Read until every event came (or a generous deadline: a broker that
	// takes the topic back slowly only delays), then 3 s more for
	// anything read twice.
	var rest []got
	distinct := map[int64]bool{}
	for _, g := range first {
		distinct[g.id] = true
	}
	deadline := time.Now().Add(90 * time.Second)
	var complete time.Time
	for reads := 0; time.Now().Before(deadline); reads++ {
		if complete.IsZero() && len(distinct) >= len(want) {
			complete = time.Now()
		}
		if !complete.IsZero() && time.Since(complete) > 3*time.Second {
			break
		}
		c, err := r2.Read(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		if c == nil {
			continue
		}
		for i := range c.Len() {
			row := c.Row(i)
			rest = append(rest, got{row[0].I, row[1].S, c.Partition})
			distinct[row[0].I] = true
		}
		if reads%10 == 0 {
			p, err := r2.Position()
			if err != nil {
				t.Fatal(err)
			}
			if err := r2.Commit(context.Background(), p); err != nil {
				t.Logf("commit: %v", err) // an unload may interrupt an acknowledgement
			}
		}
		time.Sleep(2 * time.Millisecond) // a slow reader: the client's queues fill
	}
	close(done)
	wg.Wait()
	t.Logf("%d events after the restart, progress %v", len(rest), r2.(*Reader).Progress())
	seen := map[int64]int{}
	for _, g := range append(first, rest...) {
		seen[g.id]++
	}
	missing, dup := 0, 0
	for id := range want {
		switch {
		case seen[id] == 0:
			missing++
		case seen[id] > 1:
			dup++
		}
	}
	t.Logf("missing %d, duplicated %d", missing, dup)
	if g := r2.(*Reader).Progress()["gaps"]; g != "0" {
		t.Errorf("%s gaps between messages read", g)
	}
	if missing > 0 {
		for _, p := range r2.(*Reader).parts {
			resp, err := http.Get(admin + "/admin/v2/persistent/public/default/" + strings.TrimPrefix(p.topic, "persistent://public/default/") + "/stats")
			if err != nil {
				t.Logf("stats of %s: %v", p.topic, err)
				continue
			}
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			var st struct {
				Subscriptions map[string]struct {
					MsgBacklog int64
					Consumers  []struct{ AvailablePermits, UnackedMessages int64 }
				}
			}
			json.Unmarshal(b, &st)
			t.Logf("partition %d: last read %v, subscription %+v", p.index, p.lastPos, st.Subscriptions["unload-v"])
		}
	}
	checkExactlyOnce(t, want, first, rest)
}

// TestQuietPartitionKeepsItsConsumer: a partition with nothing new to
// read is quiet, not stuck. A reader that read everything, and one that
// started at latest on a topic with older messages, keep their consumers
// through several health checks.
func TestQuietPartitionKeepsItsConsumer(t *testing.T) {
	url, admin := serviceEnv(t)
	topic := createPartitioned(t, admin, uniq(t, "events"), 2)
	client := testClient(t, url)
	want := produceEvents(t, client, topic, 200, nil)
	all := openSource(t, url, admin, topic, "quiet-all", nil, nil)
	defer all.Close()
	if got := readN(t, all, len(want)); len(got) != len(want) {
		t.Fatalf("read %d of %d", len(got), len(want))
	}
	c, err := Connector{}.OpenSource(context.Background(), connectors.SourceSpec{
		Source: "events", Job: "v", Schema: eventSchema,
		Options: map[string]string{"service_url": url, "admin_url": admin, "topic": topic, "subscription": "quiet-latest", "start": "latest"},
	})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	deadline := time.Now().Add(3*stuckAfter + time.Second)
	for time.Now().Before(deadline) {
		for _, r := range []connectors.Reader{all, c} {
			if ch, err := r.Read(context.Background()); err != nil || ch != nil {
				t.Fatalf("read after the end: %v %v", ch, err)
			}
		}
	}
	for name, r := range map[string]connectors.Reader{"earliest": all, "latest": c} {
		if re := r.(*Reader).Progress()["resubscribed"]; re != "0" {
			t.Errorf("%s: a quiet partition's consumer was replaced %s times", name, re)
		}
	}
}

func TestGapAfter(t *testing.T) {
	for _, c := range []struct {
		last msgPos
		size int32
		next msgPos
		gap  bool
	}{
		{msgPos{5, 10, 2}, 4, msgPos{5, 10, 3}, false}, // the next in the batch
		{msgPos{5, 10, 1}, 4, msgPos{5, 10, 3}, true},  // one of the batch skipped
		{msgPos{5, 10, 3}, 4, msgPos{5, 11, 0}, false}, // the next entry's batch
		{msgPos{5, 10, 2}, 4, msgPos{5, 11, 0}, true},  // the batch's last message missing
		{msgPos{5, 10, 3}, 4, msgPos{5, 11, 1}, true},  // the next batch's first missing
		{msgPos{5, 10, -1}, 0, msgPos{5, 11, -1}, false},
		{msgPos{5, 10, -1}, 0, msgPos{5, 12, -1}, true}, // an entry skipped
		{msgPos{5, 10, 3}, 4, msgPos{7, 0, 0}, false},   // a new ledger
	} {
		if got := gapAfter(c.last, c.size, c.next); got != c.gap {
			t.Errorf("gapAfter(%v of %d, %v) = %v", c.last, c.size, c.next, got)
		}
	}
}
