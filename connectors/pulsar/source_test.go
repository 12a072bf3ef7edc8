package pulsar

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/apache/pulsar-client-go/pulsar"

	"github.com/sluice-db/sluice/connectors"
	"github.com/sluice-db/sluice/sql/types"
)

func randSuffix() uint32 { return rand.Uint32() }

var eventSchema = types.Schema{
	{Name: "id", Type: types.TInt64},
	{Name: "k", Type: types.TText},
	{Name: "v", Type: types.TInt64},
	{Name: "ts", Type: types.TTimestamp},
}

type event struct {
	ID int64  `json:"id"`
	K  string `json:"k"`
	V  int64  `json:"v"`
	TS string `json:"ts"`
}

// produceEvents writes n keyed events with disordered event times (plus the
// given poison payloads) to topic and returns the good ids.
func produceEvents(t testing.TB, client pulsar.Client, topic string, n int, poison [][]byte) map[int64]string {
	t.Helper()
	prod, err := client.CreateProducer(pulsar.ProducerOptions{Topic: topic})
	if err != nil {
		t.Fatal(err)
	}
	defer prod.Close()
	rng := rand.New(rand.NewPCG(1, 2))
	base := time.Date(2026, 11, 29, 12, 0, 0, 0, time.UTC)
	want := map[int64]string{}
	ctx := context.Background()
	for i := 0; i < n; i++ {
		k := fmt.Sprintf("key-%d", rng.IntN(20))
		ts := base.Add(time.Duration(i)*time.Second - time.Duration(rng.IntN(30))*time.Second)
		e := event{ID: int64(i), K: k, V: int64(rng.IntN(100)), TS: ts.Format("2006-01-02 15:04:05.000")}
		b, _ := json.Marshal(e)
		prod.SendAsync(ctx, &pulsar.ProducerMessage{Key: k, Payload: b}, func(_ pulsar.MessageID, _ *pulsar.ProducerMessage, err error) {
			if err != nil {
				t.Error(err)
			}
		})
		want[int64(i)] = k
		if i%500 == 250 && len(poison) > 0 {
			prod.SendAsync(ctx, &pulsar.ProducerMessage{Key: "poison", Payload: poison[0]}, func(pulsar.MessageID, *pulsar.ProducerMessage, error) {})
			poison = poison[1:]
		}
	}
	if err := prod.Flush(); err != nil {
		t.Fatal(err)
	}
	return want
}

type got struct {
	id        int64
	k         string
	partition int
}

// readN reads until n rows came (or until the stream stays empty for 3 s
// when n < 0).
func readN(t testing.TB, r connectors.Reader, n int) []got {
	t.Helper()
	var out []got
	// Quiet for 3 s: the end of what the topic holds (n < 0). Counted in
	// time, not in empty reads: a batch of messages that the restored
	// position already covers reads as no rows at once, and a restarted
	// reader gets hundreds of those back to back.
	var quiet time.Time
	deadline := time.Now().Add(60 * time.Second)
	for (n < 0 || len(out) < n) && time.Now().Before(deadline) {
		c, err := r.Read(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		if c == nil {
			if quiet.IsZero() {
				quiet = time.Now()
			}
			if n < 0 && time.Since(quiet) > 3*time.Second {
				break
			}
			continue
		}
		quiet = time.Time{}
		if c.Partition < 0 || c.Partition >= r.Partitions() {
			t.Fatalf("chunk partition %d of %d", c.Partition, r.Partitions())
		}
		for i := 0; i < c.Len(); i++ {
			row := c.Row(i)
			out = append(out, got{row[0].I, row[1].S, c.Partition})
		}
	}
	return out
}

func openSource(t testing.TB, url, admin, topic, sub string, pos []byte, dead *[]connectors.DeadLetter) connectors.Reader {
	t.Helper()
	c, err := connectors.Lookup("pulsar")
	if err != nil {
		t.Fatal(err)
	}
	r, err := c.OpenSource(context.Background(), connectors.SourceSpec{
		Source: "events", Job: "v", Schema: eventSchema, Position: pos,
		Options: map[string]string{"service_url": url, "admin_url": admin, "topic": topic, "subscription": sub},
		DeadLetter: func(d connectors.DeadLetter) {
			if dead != nil {
				*dead = append(*dead, d)
			}
		},
		Now: func() time.Time { return time.Unix(0, 0) },
	})
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func TestSourcePartitionsRestartDeadLetters(t *testing.T) {
	url, admin := serviceEnv(t)
	name := uniq(t, "events")
	topic := createPartitioned(t, admin, name, 3)
	client := testClient(t, url)
	poison := [][]byte{[]byte(`{"id": "not a number", "k":"x","v":1,"ts":0}`), []byte("\x00\xffnot json"), []byte(`{"id":5,"k":"x","v":1,"ts":"when?"}`)}
	want := produceEvents(t, client, topic, 3000, poison)

	var dead []connectors.DeadLetter
	r1 := openSource(t, url, admin, topic, "s1", nil, &dead)
	if r1.Partitions() != 3 {
		t.Fatalf("partitions %d, want 3", r1.Partitions())
	}
	a := readN(t, r1, 800)
	p1, err := r1.Position()
	if err != nil {
		t.Fatal(err)
	}
	if err := r1.Commit(context.Background(), p1); err != nil {
		t.Fatal(err)
	}
	b := readN(t, r1, 700)
	p2, _ := r1.Position()
	lag, err := r1.(connectors.LagReporter).Lag(context.Background())
	if err != nil || len(lag) != 3 {
		t.Fatalf("lag %v %v", lag, err)
	}
	var backlog int64
	for _, l := range lag {
		backlog += l.Backlog
	}
	// msgBacklog counts batch entries, not messages: only check it is there.
	if backlog <= 0 {
		t.Errorf("backlog %d after committing %d of 3000", backlog, len(a))
	}
	r1.Close() // crash: p2 never committed

	// Restart from p2: the rest, nothing twice.
	r2 := openSource(t, url, admin, topic, "s1", p2, &dead)
	rest := readN(t, r2, -1)
	r2.Close()
	checkExactlyOnce(t, want, a, b, rest)

	// Restart from the older p1 (as if the checkpoint of p2 was lost): b and
	// rest again, exactly.
	r3 := openSource(t, url, admin, topic, "s1", p1, nil)
	again := readN(t, r3, -1)
	r3.Close()
	checkExactlyOnce(t, want, a, again)

	// A checkpoint taken before anything was read mentions no partition:
	// every partition starts again at the configured start (earliest), even
	// though earlier runs moved the subscription cursor.
	r4 := openSource(t, url, admin, topic, "s1", []byte(`{"v":1,"topics":{}}`), nil)
	all := readN(t, r4, -1)
	r4.Close()
	checkExactlyOnce(t, want, all)

	// Dead letters: each poison message exactly once per run that saw it,
	// with raw bytes, and on the dead-letter topic with properties.
	seen := map[string]bool{}
	for _, d := range dead {
		seen[string(d.Raw)] = true
		if d.Reason == "" || d.Offset == "" {
			t.Errorf("dead letter without reason/offset: %+v", d)
		}
	}
	for _, p := range poison {
		if !seen[string(p)] {
			t.Errorf("poison %q not reported", p)
		}
	}
	dlq, err := client.Subscribe(pulsar.ConsumerOptions{Topic: topic + "-dlq", SubscriptionName: "check", SubscriptionInitialPosition: pulsar.SubscriptionPositionEarliest})
	if err != nil {
		t.Fatal(err)
	}
	defer dlq.Close()
	onTopic := map[string]map[string]string{}
	for len(onTopic) < len(poison) {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		m, err := dlq.Receive(ctx)
		cancel()
		if err != nil {
			t.Fatalf("dead-letter topic: %v (got %d)", err, len(onTopic))
		}
		onTopic[string(m.Payload())] = m.Properties()
	}
	for _, p := range poison {
		props, ok := onTopic[string(p)]
		if !ok {
			t.Errorf("poison %q not on the dead-letter topic", p)
			continue
		}
		if props["sluice_error"] == "" || props["sluice_message_id"] == "" || props["sluice_publish_time"] == "" || props["sluice_original_topic"] == "" {
			t.Errorf("dead-letter properties incomplete: %v", props)
		}
	}
}

// checkExactlyOnce checks that the reads together hold every wanted id
// once, that each key stayed on one partition and that ids of a key come in
// production order.
func checkExactlyOnce(t testing.TB, want map[int64]string, reads ...[]got) {
	t.Helper()
	count := map[int64]int{}
	keyPart := map[string]int{}
	lastID := map[string]int64{}
	for _, rd := range reads {
		for _, g := range rd {
			count[g.id]++
			if p, ok := keyPart[g.k]; ok && p != g.partition {
				t.Fatalf("key %s on partitions %d and %d", g.k, p, g.partition)
			}
			keyPart[g.k] = g.partition
			if l, ok := lastID[g.k]; ok && g.id <= l {
				t.Fatalf("key %s: id %d after %d", g.k, g.id, l)
			}
			lastID[g.k] = g.id
		}
	}
	var missing, dup []int64
	for id := range want {
		switch count[id] {
		case 0:
			missing = append(missing, id)
		case 1:
		default:
			dup = append(dup, id)
		}
	}
	for id := range count {
		if _, ok := want[id]; !ok {
			t.Errorf("unexpected id %d", id)
		}
	}
	sort.Slice(missing, func(i, j int) bool { return missing[i] < missing[j] })
	if len(missing) > 0 || len(dup) > 0 {
		t.Fatalf("missing %d (first %v), duplicated %d (first %v)", len(missing), head(missing), len(dup), head(dup))
	}
	parts := map[int]bool{}
	for _, p := range keyPart {
		parts[p] = true
	}
	if len(parts) < 2 {
		t.Errorf("keys used only %d partitions", len(parts))
	}
}

func head(s []int64) []int64 {
	if len(s) > 5 {
		return s[:5]
	}
	return s
}

// TestSourceWithoutPositionReadsFromStart checks that a job starting
// without a position (its state is empty: a view created again after
// DROP, under the same name and so the same subscription) reads from the
// configured start, not from where the subscription's cursor was left by
// the commits of an earlier job: it would otherwise silently miss every
// event that job had consumed.
func TestSourceWithoutPositionReadsFromStart(t *testing.T) {
	url, admin := serviceEnv(t)
	topic := createPartitioned(t, admin, uniq(t, "events"), 2)
	client := testClient(t, url)
	want := produceEvents(t, client, topic, 1000, nil)

	r1 := openSource(t, url, admin, topic, "again", nil, nil)
	first := readN(t, r1, len(want))
	pos, err := r1.Position()
	if err != nil {
		t.Fatal(err)
	}
	if err := r1.Commit(context.Background(), pos); err != nil { // the cursor moves past every event
		t.Fatal(err)
	}
	r1.Close()
	if len(first) != len(want) {
		t.Fatalf("the first job read %d of %d events", len(first), len(want))
	}

	r2 := openSource(t, url, admin, topic, "again", nil, nil)
	again := readN(t, r2, -1)
	r2.Close()
	if len(again) != len(want) {
		t.Fatalf("a job without a position read %d of the %d events on the topic", len(again), len(want))
	}
}

// TestSourceDiscardRemovesSubscription checks Discard (what DROP of the
// consuming view calls): the job's subscription is gone from the topic, so
// it keeps no cursor and the broker no backlog for it, while Close (a
// shutdown) keeps it for the restart.
func TestSourceDiscardRemovesSubscription(t *testing.T) {
	url, admin := serviceEnv(t)
	name := uniq(t, "events")
	topic := createPartitioned(t, admin, name, 2)
	client := testClient(t, url)
	produceEvents(t, client, topic, 100, nil)
	subs := func() string {
		t.Helper()
		resp, err := http.Get(admin + "/admin/v2/persistent/public/default/" + name + "-partition-0/subscriptions")
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("subscriptions: %s %s", resp.Status, b)
		}
		return string(b)
	}

	r := openSource(t, url, admin, topic, "keep", nil, nil)
	readN(t, r, 10)
	r.Close()
	if s := subs(); !strings.Contains(s, `"keep-v"`) {
		t.Fatalf("after Close the subscriptions are %s, want keep-v kept", s)
	}
	r = openSource(t, url, admin, topic, "keep", nil, nil)
	readN(t, r, 10)
	if err := r.(connectors.Discarder).Discard(context.Background()); err != nil {
		t.Fatal(err)
	}
	if s := subs(); strings.Contains(s, `"keep-v"`) {
		t.Fatalf("after Discard the subscriptions are %s, want keep-v gone", s)
	}
	if err := r.Close(); err != nil { // after Discard, Close does nothing more
		t.Fatal(err)
	}
}
