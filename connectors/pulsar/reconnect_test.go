package pulsar

import (
	"context"
	"net/http"
	"sync"
	"testing"
	"time"
)

// TestSourceExactlyOnceAcrossReconnections reads a topic while the broker
// unloads it again and again, which closes every consumer and makes the
// client reconnect and the broker redeliver what was not acknowledged. The
// reader restarts from a stored position first (a Seek), reads slowly (so
// the client holds messages in its queues when it reconnects) and commits
// positions as the engine does. Every event must come exactly once.
func TestSourceExactlyOnceAcrossReconnections(t *testing.T) {
	url, admin := serviceEnv(t)
	name := uniq(t, "events")
	topic := createPartitioned(t, admin, name, 3)
	client, err := newClient(map[string]string{"service_url": url})
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()
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
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	unloads := 0
	go func() {
		defer wg.Done()
		for {
			select {
			case <-stop:
				return
			case <-time.After(150 * time.Millisecond):
			}
			req, _ := http.NewRequest(http.MethodPut, admin+"/admin/v2/persistent/public/default/"+name+"/unload", nil)
			if resp, err := http.DefaultClient.Do(req); err == nil {
				resp.Body.Close()
				unloads++
			}
		}
	}()
	var rest []got
	empty := 0
	deadline := time.Now().Add(90 * time.Second)
	for reads := 0; time.Now().Before(deadline) && empty < 50; reads++ {
		c, err := r2.Read(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		if c == nil {
			empty++
			continue
		}
		empty = 0
		for i := range c.Len() {
			row := c.Row(i)
			rest = append(rest, got{row[0].I, row[1].S, c.Partition})
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
	close(stop)
	wg.Wait()
	t.Logf("%d events after the restart, %d unloads, progress %v", len(rest), unloads, r2.(interface{ Progress() map[string]string }).Progress())
	if unloads < 3 {
		t.Fatalf("only %d unloads while reading", unloads)
	}
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
	checkExactlyOnce(t, want, first, rest)
}
