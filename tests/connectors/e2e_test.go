package connectors

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"sort"
	"strings"
	"syscall"
	"testing"
	"time"

	ch "github.com/ClickHouse/clickhouse-go/v2"
	"github.com/apache/pulsar-client-go/pulsar"
	plog "github.com/apache/pulsar-client-go/pulsar/log"

	_ "github.com/sluice-db/sluice/connectors/clickhouse"
	_ "github.com/sluice-db/sluice/connectors/file"
	_ "github.com/sluice-db/sluice/connectors/pulsar"
	"github.com/sluice-db/sluice/exec/db"
)

func TestMain(m *testing.M) {
	if os.Getenv("SLUICE_CONNECTORS_CHILD") != "" {
		os.Exit(child())
	}
	os.Exit(m.Run())
}

// child opens the database in $SLUICE_DATA, runs $SLUICE_SQL when set (the
// first start), prints "ready" and serves until killed.
func child() int {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()
	d, err := db.Open(ctx, db.Config{
		DataDir: os.Getenv("SLUICE_DATA"), QuietAdvance: -1, IdleTimeout: time.Hour,
		CheckpointInterval: 300 * time.Millisecond,
	})
	if err != nil {
		fmt.Fprintln(os.Stderr, "open:", err)
		return 1
	}
	if s := os.Getenv("SLUICE_SQL"); s != "" {
		if err := d.Exec(ctx, s); err != nil {
			fmt.Fprintln(os.Stderr, "exec:", err)
			return 1
		}
	}
	fmt.Println("ready")
	<-ctx.Done()
	d.Close(context.Background())
	return 0
}

func need(t *testing.T, names ...string) []string {
	t.Helper()
	var out []string
	for _, n := range names {
		v := os.Getenv(n)
		if v == "" {
			if os.Getenv("CI") == "true" {
				t.Fatalf("%s not set under CI: start tests/services/*.sh", n)
			}
			t.Skipf("%s not set: start tests/services/pulsar.sh and clickhouse.sh and export their env lines", n)
		}
		out = append(out, v)
	}
	return out
}

type proc struct {
	cmd *exec.Cmd
	out *bytes.Buffer
}

func startChild(t *testing.T, dataDir, script string) *proc {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), "SLUICE_CONNECTORS_CHILD=1", "SLUICE_DATA="+dataDir, "SLUICE_SQL="+script)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var errBuf bytes.Buffer
	cmd.Stderr = &errBuf
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	ready := make(chan bool, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			if sc.Text() == "ready" {
				ready <- true
			}
		}
		ready <- false
	}()
	select {
	case ok := <-ready:
		if !ok {
			cmd.Wait()
			t.Fatalf("database process exited: %s", errBuf.String())
		}
	case <-time.After(90 * time.Second):
		cmd.Process.Kill()
		t.Fatalf("database process not ready: %s", errBuf.String())
	}
	p := &proc{cmd: cmd, out: &errBuf}
	t.Cleanup(func() { p.kill() })
	return p
}

func (p *proc) kill() {
	if p.cmd.ProcessState == nil {
		p.cmd.Process.Signal(syscall.SIGKILL)
		p.cmd.Wait()
	}
}

type winKey struct {
	k     string
	start int64 // unix seconds
}

type winVal struct{ n, total int64 }

// TestPulsarToClickHouseAndPulsarWithKills streams keyed, disordered
// events from a 3-partition topic through a 10 s tumbling count/sum into a
// ClickHouse table and a Pulsar topic, kills the database twice mid-stream
// and has the broker unload the input topic three times, and checks both
// outputs hold exactly the expected windows, once each.
func TestPulsarToClickHouseAndPulsarWithKills(t *testing.T) {
	env := need(t, "PULSAR_URL", "PULSAR_ADMIN_URL", "CLICKHOUSE_ADDR")
	url, admin, chAddr := env[0], env[1], env[2]
	ctx := context.Background()
	suffix := rand.Uint32()
	in := fmt.Sprintf("e2e-in-%d", suffix)
	out := fmt.Sprintf("persistent://public/default/e2e-out-%d", suffix)
	table := fmt.Sprintf("e2e_windows_%d", suffix)
	// topicAdmin PUTs body to an admin path of the input topic.
	topicAdmin := func(path, body string) {
		req, _ := http.NewRequest(http.MethodPut, admin+"/admin/v2/persistent/public/default/"+in+path, strings.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		resp, err := http.DefaultClient.Do(req)
		if err != nil || resp.StatusCode/100 != 2 {
			t.Fatalf("PUT %s%s: %v %v", in, path, err, resp)
		}
		resp.Body.Close()
	}
	topicAdmin("/partitions", "3")
	client, err := pulsar.NewClient(pulsar.ClientOptions{URL: url, Logger: plog.DefaultNopLogger()})
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()
	// Each batch of events is sent by a new producer, connected before it
	// sends: a producer reconnecting while it sends (after the unloads
	// below) can lose batched messages to the broker's deduplication, which
	// tests/services/pulsar.sh turns on for the sinks
	// (apache/pulsar-client-go#1395, #1407), and without batching it races
	// with itself (the race detector reports it).
	newProducer := func() pulsar.Producer {
		prod, err := client.CreateProducer(pulsar.ProducerOptions{Topic: "persistent://public/default/" + in})
		if err != nil {
			t.Fatal(err)
		}
		return prod
	}

	// The events: 30 keys, event time about 20 ms apart, up to 3 s late
	// (the watermark allows 4 s), so no event is late for its window.
	const n = 15000
	rng := rand.New(rand.NewPCG(7, 11))
	base := time.Date(2026, 11, 29, 10, 0, 0, 0, time.UTC)
	type ev struct {
		ID int64  `json:"id"`
		K  string `json:"k"`
		V  int64  `json:"v"`
		TS string `json:"ts"`
	}
	events := make([]ev, n)
	times := make([]time.Time, n)
	var lastTS time.Time
	for i := range events {
		ts := base.Add(time.Duration(i)*20*time.Millisecond - time.Duration(rng.IntN(3000))*time.Millisecond)
		events[i] = ev{ID: int64(i), K: fmt.Sprintf("k%02d", rng.IntN(30)), V: int64(rng.IntN(1000)), TS: ts.Format(time.RFC3339Nano)}
		times[i] = ts
		if ts.After(lastTS) {
			lastTS = ts
		}
	}
	// The expected windows, computed here from the events.
	add := func(m map[winKey]winVal, w winKey, v int64) {
		x := m[w]
		x.n++
		x.total += v
		m[w] = x
	}
	want := map[winKey]winVal{}     // TUMBLE 10 s
	wantHop := map[winKey]winVal{}  // HOP slide 5 s, size 10 s
	wantSess := map[winKey]winVal{} // SESSION gap 1.0005 s, by window_start second
	byKey := map[string][]int{}
	for i, e := range events {
		u := times[i].Unix()
		add(want, winKey{e.K, u - u%10}, e.V)
		add(wantHop, winKey{e.K, u - u%5}, e.V)
		add(wantHop, winKey{e.K, u - u%5 - 5}, e.V)
		byKey[e.K] = append(byKey[e.K], i)
	}
	const gap = 1000500 * time.Microsecond
	for k, idx := range byKey {
		sort.Slice(idx, func(a, b int) bool { return times[idx[a]].Before(times[idx[b]]) })
		var start, prev time.Time
		for j, i := range idx {
			if j == 0 || times[i].Sub(prev) >= gap {
				start = times[i]
			}
			prev = times[i]
			add(wantSess, winKey{k, start.Unix()}, events[i].V)
		}
	}
	// unload makes the broker close every consumer of the input topic, as
	// load balancing or a broker restart does: the views' consumers
	// reconnect and get what they had not acknowledged again.
	unload := func() { topicAdmin("/unload", "") }
	produce := func(evs []ev) {
		prod := newProducer()
		defer prod.Close()
		for _, e := range evs {
			b, _ := json.Marshal(e)
			prod.SendAsync(ctx, &pulsar.ProducerMessage{Key: e.K, Payload: b}, func(_ pulsar.MessageID, _ *pulsar.ProducerMessage, err error) {
				if err != nil {
					t.Error(err)
				}
			})
		}
		if err := prod.Flush(); err != nil {
			t.Fatal(err)
		}
	}

	script := fmt.Sprintf(`
CREATE SOURCE ev (id BIGINT, k TEXT, v BIGINT, ts TIMESTAMP, WATERMARK FOR ts AS ts - INTERVAL '4' SECOND)
  WITH (connector = 'pulsar', service_url = '%s', admin_url = '%s', topic = '%s', subscription = 'e2e');
CREATE MATERIALIZED VIEW w AS
  SELECT k, window_start, window_end, count(*) AS n, sum(v) AS total
  FROM TUMBLE(ev, ts, INTERVAL '10' SECOND) GROUP BY k, window_start, window_end;
CREATE MATERIALIZED VIEW h AS
  SELECT k, window_start, window_end, count(*) AS n, sum(v) AS total
  FROM HOP(ev, ts, INTERVAL '5' SECOND, INTERVAL '10' SECOND) GROUP BY k, window_start, window_end;
CREATE MATERIALIZED VIEW s AS
  SELECT k, window_start, window_end, count(*) AS n, sum(v) AS total
  FROM SESSION(ev, ts, INTERVAL '1.0005' SECOND) GROUP BY k, window_start, window_end;
CREATE SINK to_clickhouse FROM w WITH (connector = 'clickhouse', addr = '%s', table = '%s', create_table = 'true');
CREATE SINK hop_to_clickhouse FROM h WITH (connector = 'clickhouse', addr = '%s', table = '%s_hop', create_table = 'true');
CREATE SINK session_to_clickhouse FROM s WITH (connector = 'clickhouse', addr = '%s', table = '%s_session', create_table = 'true');
CREATE SINK to_pulsar FROM w WITH (connector = 'pulsar', service_url = '%s', topic = '%s', key = 'k');
`, url, admin, in, chAddr, table, chAddr, table, chAddr, table, url, out)

	chConn, err := ch.Open(&ch.Options{Addr: []string{chAddr}, Protocol: ch.Native})
	if err != nil {
		t.Fatal(err)
	}
	defer chConn.Close()
	// Progress is counted in committed epochs (the sink's commit log), not
	// in rows: a sink rebuilt after a restart replaces its older rows, so
	// the row count may shrink while the sink moves on.
	count := func() uint64 {
		var c uint64
		chConn.QueryRow(ctx, "SELECT count() FROM "+table+"__sluice_commits").Scan(&c)
		return c
	}
	waitGrow := func(from uint64) {
		deadline := time.Now().Add(90 * time.Second)
		for count() <= from {
			if time.Now().After(deadline) {
				t.Fatalf("no new epoch committed to %s after 90 s", table)
			}
			time.Sleep(200 * time.Millisecond)
		}
	}

	// A subscription that never acknowledges keeps every message of the
	// input topic (without one the broker deletes what the views
	// acknowledged), so that diagnose can tell events the producer lost
	// from events the views lost.
	if c, err := client.Subscribe(pulsar.ConsumerOptions{Topic: "persistent://public/default/" + in, SubscriptionName: "diagnose",
		SubscriptionInitialPosition: pulsar.SubscriptionPositionEarliest}); err != nil {
		t.Fatal(err)
	} else {
		c.Close()
	}

	// Poison messages among the events: bad JSON, a wrong type, a bad
	// timestamp. They must reach the dead-letter topic with their raw bytes
	// and leave the results alone.
	poison := [][]byte{[]byte("\x00not json{"), []byte(`{"id":1,"k":"k01","v":"abc","ts":"2026-11-29T10:00:01Z"}`),
		[]byte(`{"id":1,"k":"k02","v":1,"ts":"yesterday"}`)}
	prod := newProducer()
	for _, pm := range poison {
		prod.SendAsync(ctx, &pulsar.ProducerMessage{Key: "k01", Payload: pm}, func(pulsar.MessageID, *pulsar.ProducerMessage, error) {})
	}
	if err := prod.Flush(); err != nil {
		t.Fatal(err)
	}
	prod.Close()

	// SLUICE_E2E_KILLS=0 runs the same stream without kills (a baseline
	// when a comparison fails).
	kills := os.Getenv("SLUICE_E2E_KILLS") != "0"
	dataDir := t.TempDir()
	var lives []*proc
	p := startChild(t, dataDir, script)
	lives = append(lives, p)
	// diagnose reports, when a result is wrong, what the input topic holds
	// (read through the subscription kept above) and what the database
	// saw: each life's log and the late events its views recorded.
	diagnose := func() {
		p.kill()
		if c, err := client.Subscribe(pulsar.ConsumerOptions{Topic: "persistent://public/default/" + in, SubscriptionName: "diagnose",
			SubscriptionInitialPosition: pulsar.SubscriptionPositionEarliest}); err == nil {
			ids := map[int64]int{}
			for {
				rctx, cancel := context.WithTimeout(ctx, 5*time.Second)
				m, err := c.Receive(rctx)
				cancel()
				if err != nil {
					break
				}
				var e ev
				if json.Unmarshal(m.Payload(), &e) == nil && e.ID >= 0 {
					ids[e.ID]++
				}
			}
			c.Close()
			twice := 0
			for _, k := range ids {
				if k > 1 {
					twice++
				}
			}
			var missing []string // ranges of event ids
			for i := 0; i < n; i++ {
				if ids[int64(i)] > 0 {
					continue
				}
				j := i
				for j+1 < n && ids[int64(j+1)] == 0 {
					j++
				}
				missing = append(missing, fmt.Sprintf("%d-%d", i, j))
				i = j
			}
			t.Logf("the input topic holds %d of the %d events (%d more than once); missing ids: %v", len(ids), n, twice, missing)
		}
		for i, l := range lives {
			t.Logf("life %d log:\n%s", i+1, l.out.String())
		}
		d, err := db.Open(ctx, db.Config{DataDir: dataDir, QuietAdvance: -1, IdleTimeout: time.Hour})
		if err != nil {
			t.Logf("reopen for diagnosis: %v", err)
			return
		}
		defer d.Close(ctx)
		time.Sleep(2 * time.Second)
		late := d.Engine().LateEvents()
		t.Logf("%d late events kept after a restart", len(late))
		for i, ev := range late {
			if i == 20 {
				break
			}
			t.Logf("late in %s: %s at %d, watermark %d", ev.View, ev.Row, ev.EventTime, ev.Watermark)
		}
	}
	produce(events[:n*2/5])
	unload()
	waitGrow(0)
	c1 := count()
	if kills {
		p.kill() // kill -9 mid-stream
		c1 = count()
		p = startChild(t, dataDir, "")
		lives = append(lives, p)
	}
	produce(events[n*2/5 : n*7/10])
	unload()
	waitGrow(c1)
	if kills {
		p.kill()
		p = startChild(t, dataDir, "")
		lives = append(lives, p)
	}
	produce(events[n*7/10:])
	unload()
	// Close every window: one event per key far after the last, on every
	// partition (keys spread over all three).
	var flush []ev
	for k := 0; k < 30; k++ {
		flush = append(flush, ev{ID: -1, K: fmt.Sprintf("k%02d", k), V: 0, TS: lastTS.Add(time.Hour).Format(time.RFC3339Nano)})
	}
	produce(flush)
	flushStart := lastTS.Add(time.Hour).Unix()
	flushStart -= flushStart % 10 // the window the flush events open

	checkCH := func(table string, want map[winKey]winVal, skipFrom int64) error {
		got := map[winKey][]winVal{}
		q := fmt.Sprintf("SELECT k, toUnixTimestamp(window_start), n, toString(total) FROM %s", table)
		var eng string
		chConn.QueryRow(ctx, "SELECT engine FROM system.tables WHERE name = ?", table).Scan(&eng)
		switch eng {
		case "ReplacingMergeTree":
			q = fmt.Sprintf("SELECT k, toUnixTimestamp(window_start), n, toString(total) FROM %s FINAL WHERE _sluice_deleted = 0", table)
		}
		rows, err := chConn.Query(ctx, q)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var (
				k     *string
				start uint32
				cnt   *int64
				total string
			)
			if err := rows.Scan(&k, &start, &cnt, &total); err != nil {
				return err
			}
			if int64(start) >= skipFrom || k == nil || cnt == nil {
				continue
			}
			var tot int64
			fmt.Sscan(total, &tot)
			w := winKey{*k, int64(start)}
			got[w] = append(got[w], winVal{*cnt, tot})
		}
		return compare(want, got)
	}
	flushTS := lastTS.Add(time.Hour).Unix()
	for _, c := range []struct {
		table    string
		want     map[winKey]winVal
		skipFrom int64
	}{
		{table, want, flushStart},
		{table + "_hop", wantHop, flushTS - flushTS%5 - 5},
	} {
		deadline := time.Now().Add(120 * time.Second)
		for {
			err := checkCH(c.table, c.want, c.skipFrom)
			if err == nil {
				break
			}
			if time.Now().After(deadline) {
				diagnose()
				t.Fatalf("ClickHouse table %s: %v", c.table, err)
			}
			time.Sleep(500 * time.Millisecond)
		}
	}

	// Dead letters: every poison message on <topic>-dlq with its raw bytes.
	dlq, err := client.Subscribe(pulsar.ConsumerOptions{Topic: "persistent://public/default/" + in + "-dlq", SubscriptionName: "check", SubscriptionInitialPosition: pulsar.SubscriptionPositionEarliest})
	if err != nil {
		t.Fatal(err)
	}
	defer dlq.Close()
	seen := map[string]bool{}
	for len(seen) < len(poison) {
		rctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		m, err := dlq.Receive(rctx)
		cancel()
		if err != nil {
			t.Fatalf("dead-letter topic: %v (saw %d of %d)", err, len(seen), len(poison))
		}
		if m.Properties()["sluice_error"] == "" || m.Properties()["sluice_original_topic"] == "" {
			t.Fatalf("dead letter without properties: %v", m.Properties())
		}
		seen[string(m.Payload())] = true
	}
	for _, pm := range poison {
		if !seen[string(pm)] {
			t.Errorf("poison %q not on the dead-letter topic", pm)
		}
	}

	// The Pulsar output: a changelog of JSON objects whose final row per
	// window must be the expected one.
	cons, err := client.Subscribe(pulsar.ConsumerOptions{Topic: out, SubscriptionName: "check", SubscriptionInitialPosition: pulsar.SubscriptionPositionEarliest})
	if err != nil {
		t.Fatal(err)
	}
	defer cons.Close()
	gotP := map[winKey][]winVal{}
	var epochRuns []string
	for {
		rctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		m, err := cons.Receive(rctx)
		cancel()
		if err != nil {
			break
		}
		var row struct {
			K           string          `json:"k"`
			WindowStart string          `json:"window_start"`
			N           int64           `json:"n"`
			Total       json.Number     `json:"total"`
			Op          json.RawMessage `json:"-"`
		}
		if err := json.Unmarshal(m.Payload(), &row); err != nil {
			t.Fatalf("pulsar output %s: %v", m.Payload(), err)
		}
		ws, err := time.Parse(time.RFC3339Nano, row.WindowStart)
		if err != nil {
			t.Fatalf("window_start %q: %v", row.WindowStart, err)
		}
		if ep := m.Properties()["sluice_epoch"]; len(epochRuns) == 0 || !strings.HasPrefix(epochRuns[len(epochRuns)-1], ep+"@") {
			epochRuns = append(epochRuns, ep+"@"+m.ID().String())
		}
		if ws.Unix() >= flushStart {
			continue
		}
		tot, _ := row.Total.Int64()
		if m.Key() != row.K {
			t.Fatalf("message key %q for row of k %q", m.Key(), row.K)
		}
		// The topic is a changelog keyed by window: an insert sets the
		// window's row, a retraction (sluice_op = "-") of that row removes
		// it. After a restart the engine rebuilds a sink reading a view
		// from the view's contents, so rows are sent again as inserts of
		// the same values: the final row per window is what must match.
		w := winKey{row.K, ws.Unix()}
		v := winVal{row.N, tot}
		if m.Properties()["sluice_op"] != "-" {
			gotP[w] = []winVal{v}
			continue
		}
		if len(gotP[w]) == 1 && gotP[w][0] == v {
			delete(gotP, w)
		}
	}
	if err := compare(want, gotP); err != nil {
		t.Logf("epochs in the topic (epoch@first message): %v", epochRuns)
		t.Fatalf("Pulsar topic %s: %v", out, err)
	}

	// SESSION: after a restart the sink reading the view is rebuilt from
	// the view's restored contents and replaces its older rows (the
	// connectors.Rebuilder contract), so sessions whose bounds came out
	// differently in the replay leave nothing behind.
	if err := checkCH(table+"_session", wantSess, flushTS); err != nil {
		time.Sleep(5 * time.Second) // the last sessions may still be committing
		if err := checkCH(table+"_session", wantSess, flushTS); err != nil {
			t.Fatalf("ClickHouse table %s_session: %v", table, err)
		}
	}
	p.kill()
}

// compare checks that got holds every wanted window once with its values.
func compare(want map[winKey]winVal, got map[winKey][]winVal) error {
	var problems []string
	for w, v := range want {
		g := got[w]
		switch {
		case len(g) == 0:
			problems = append(problems, fmt.Sprintf("missing %v", w))
		case len(g) > 1:
			problems = append(problems, fmt.Sprintf("%v %d times", w, len(g)))
		case g[0] != v:
			problems = append(problems, fmt.Sprintf("%v = %v, want %v", w, g[0], v))
		}
	}
	for w := range got {
		if _, ok := want[w]; !ok {
			problems = append(problems, fmt.Sprintf("unexpected %v", w))
		}
	}
	if len(problems) > 0 {
		sort.Strings(problems)
		if len(problems) > 8 {
			problems = append(problems[:8], fmt.Sprintf("... %d problems", len(problems)))
		}
		return fmt.Errorf("%d windows expected: %s", len(want), strings.Join(problems, "; "))
	}
	return nil
}
