package server

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os/exec"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/sluice-db/sluice/connectors"
	"github.com/sluice-db/sluice/connectors/httpingest"
	"github.com/sluice-db/sluice/sql/types"
)

type fakeDB struct {
	ready   atomic.Bool
	closed  atomic.Int32
	pgDown  *atomic.Bool // set by the fake pg server's Shutdown
	closeOK bool         // pg was shut down before the database closed
	mu      sync.Mutex
	rows    []types.Row
	subs    chan Update
}

func (f *fakeDB) Ready() bool { return f.ready.Load() }
func (f *fakeDB) Close(context.Context) error {
	f.closed.Add(1)
	f.closeOK = f.pgDown == nil || f.pgDown.Load()
	return nil
}

func (f *fakeDB) Stats() Stats {
	return Stats{
		Sources:     []SourceStats{{Name: "clicks", Events: 1234, Lag: 7, LagUnit: "messages"}, {Name: "gen", Events: 5, Lag: -1}},
		Views:       []ViewStats{{Name: "per_minute", EventsIn: 1234, EventsOut: 40, Watermark: time.Unix(990, 0), StateBytes: 4096, LateEvents: 3}},
		Sinks:       []SinkStats{{Name: "to_ch", Events: 40, LastEpoch: 9}},
		DeadLetters: map[string]int64{"clicks": 2},
		Checkpoints: []CheckpointStats{{Job: "per_minute", Count: 4, Failures: 1, LastDuration: 250 * time.Millisecond, LastEpoch: 12, LastBytes: 999}},
	}
}

func (f *fakeDB) IngestRelation(name string) (httpingest.Relation, error) {
	if name != "events" {
		return httpingest.Relation{}, httpingest.ErrNotFound
	}
	return httpingest.Relation{Name: name, Push: true, Schema: types.Schema{{Name: "n", Type: types.TInt64, Nullable: true}}}, nil
}

func (f *fakeDB) Ingest(_ context.Context, _ string, rows []types.Row) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.rows = append(f.rows, rows...)
	return nil
}

func (f *fakeDB) RecordDeadLetter(connectors.DeadLetter) {}

func (f *fakeDB) Subscribe(ctx context.Context, view string) (Subscription, error) {
	if view != "per_minute" {
		return nil, fmt.Errorf("subscribe: %w", ErrNoSuchView)
	}
	return &fakeSub{ch: f.subs}, nil
}

type fakeSub struct{ ch chan Update }

func (s *fakeSub) Schema() types.Schema {
	return types.Schema{{Name: "campaign", Type: types.TText}, {Name: "n", Type: types.TInt64}, {Name: "window_end", Type: types.TTimestamp}}
}

func (s *fakeSub) Next(ctx context.Context) (Update, error) {
	select {
	case u, ok := <-s.ch:
		if !ok {
			return Update{}, errors.New("view dropped")
		}
		return u, nil
	case <-ctx.Done():
		return Update{}, ctx.Err()
	}
}
func (s *fakeSub) Close() error { return nil }

type fakePG struct {
	down    atomic.Bool
	served  chan struct{}
	stopped chan struct{}
}

func (p *fakePG) Serve(ctx context.Context, l net.Listener) error {
	close(p.served)
	<-p.stopped
	l.Close()
	return nil
}

func (p *fakePG) Shutdown(context.Context) error {
	p.down.Store(true)
	close(p.stopped)
	return nil
}

func startRun(t *testing.T, db *fakeDB) (Addrs, context.CancelFunc, chan error) {
	t.Helper()
	cfg, err := Load([]string{"--pg-addr", "127.0.0.1:0", "--http-addr", "127.0.0.1:0", "--data-dir", t.TempDir()}, func(string) string { return "" })
	if err != nil {
		t.Fatal(err)
	}
	pg := &fakePG{served: make(chan struct{}), stopped: make(chan struct{})}
	db.pgDown = &pg.down
	ctx, cancel := context.WithCancel(context.Background())
	addrs := make(chan Addrs, 1)
	done := make(chan error, 1)
	go func() {
		done <- Run(ctx, cfg, Deps{DB: db, Ingest: db, Subscriber: db, PG: pg, Registry: prometheus.NewRegistry(),
			Now: func() time.Time { return time.Unix(1000, 0) }}, func(a Addrs) { addrs <- a })
	}()
	select {
	case a := <-addrs:
		return a, cancel, done
	case err := <-done:
		t.Fatalf("Run: %v", err)
	}
	return Addrs{}, cancel, done
}

func TestRunServesAndShutsDownInOrder(t *testing.T) {
	db := &fakeDB{subs: make(chan Update)}
	addrs, cancel, done := startRun(t, db)
	base := "http://" + addrs.HTTP

	res, err := http.Get(base + "/readyz")
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != 503 {
		t.Fatalf("readyz before ready: %d", res.StatusCode)
	}
	db.ready.Store(true)
	for _, p := range []string{"/readyz", "/healthz"} {
		res, err := http.Get(base + p)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		if res.StatusCode != 200 {
			t.Fatalf("%s: %d", p, res.StatusCode)
		}
	}
	res, err = http.Post(base+"/ingest/events", "application/x-ndjson", strings.NewReader("{\"n\":1}\n{\"n\":2}\n"))
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != 200 || len(db.rows) != 2 {
		t.Fatalf("ingest: %d, rows %v", res.StatusCode, db.rows)
	}
	// An open subscription must not keep shutdown waiting.
	sres, err := http.Get(base + "/subscribe/per_minute")
	if err != nil {
		t.Fatal(err)
	}
	defer sres.Body.Close()
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("Run returned %v", err)
	}
	if db.closed.Load() != 1 || !db.closeOK {
		t.Fatalf("database closed %d times, after pg shutdown: %v", db.closed.Load(), db.closeOK)
	}
	if _, err := net.DialTimeout("tcp", addrs.HTTP, time.Second); err == nil {
		t.Fatal("http still accepting after shutdown")
	}
}

func TestRunReportsListenError(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	cfg, _ := Load([]string{"--pg-addr", l.Addr().String(), "--http-addr", "127.0.0.1:0"}, func(string) string { return "" })
	db := &fakeDB{}
	err = Run(context.Background(), cfg, Deps{DB: db, Ingest: db, PG: &fakePG{}, Registry: prometheus.NewRegistry()}, nil)
	if err == nil || !strings.Contains(err.Error(), "--pg-addr") || db.closed.Load() != 1 {
		t.Fatalf("err %v, closed %d", err, db.closed.Load())
	}
}

func scrape(t *testing.T, url string) map[string]*dto.MetricFamily {
	t.Helper()
	res, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	if res.StatusCode != 200 {
		t.Fatalf("metrics: %d", res.StatusCode)
	}
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(res.Body)
	if err != nil {
		t.Fatalf("parse metrics: %v", err)
	}
	return fams
}

func metricValue(t *testing.T, fams map[string]*dto.MetricFamily, name string, labels map[string]string) float64 {
	t.Helper()
	f, ok := fams[name]
	if !ok {
		t.Fatalf("metric %s missing", name)
	}
	for _, m := range f.Metric {
		match := true
		for k, v := range labels {
			found := false
			for _, lp := range m.Label {
				if lp.GetName() == k && lp.GetValue() == v {
					found = true
				}
			}
			match = match && found
		}
		if !match {
			continue
		}
		switch {
		case m.Counter != nil:
			return m.Counter.GetValue()
		case m.Gauge != nil:
			return m.Gauge.GetValue()
		case m.Summary != nil:
			return float64(m.Summary.GetSampleCount())
		}
	}
	t.Fatalf("metric %s%v missing", name, labels)
	return 0
}

func TestMetricsParse(t *testing.T) {
	db := &fakeDB{subs: make(chan Update)}
	db.ready.Store(true)
	addrs, cancel, done := startRun(t, db)
	defer func() { cancel(); <-done }()
	base := "http://" + addrs.HTTP
	// One ingest request so that the ingest counters exist.
	res, err := http.Post(base+"/ingest/events", "application/x-ndjson", strings.NewReader("{\"n\":1}\n{\"n\":\"x\"}\n"))
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	fams := scrape(t, base+"/metrics")
	for _, tc := range []struct {
		name   string
		labels map[string]string
		want   float64
	}{
		{"sluice_source_events_total", map[string]string{"source": "clicks"}, 1234},
		{"sluice_source_lag", map[string]string{"source": "clicks", "unit": "messages"}, 7},
		{"sluice_view_events_total", map[string]string{"view": "per_minute", "direction": "in"}, 1234},
		{"sluice_view_events_total", map[string]string{"view": "per_minute", "direction": "out"}, 40},
		{"sluice_view_watermark_delay_seconds", map[string]string{"view": "per_minute"}, 10},
		{"sluice_state_bytes", map[string]string{"view": "per_minute"}, 4096},
		{"sluice_late_events_total", map[string]string{"view": "per_minute"}, 3},
		{"sluice_dead_letters_total", map[string]string{"source": "clicks"}, 2},
		{"sluice_sink_events_total", map[string]string{"sink": "to_ch"}, 40},
		{"sluice_checkpoints_total", map[string]string{"job": "per_minute"}, 4},
		{"sluice_checkpoint_failures_total", map[string]string{"job": "per_minute"}, 1},
		{"sluice_checkpoint_duration_seconds", map[string]string{"job": "per_minute"}, 0.25},
		{"sluice_checkpoint_epoch", map[string]string{"job": "per_minute"}, 12},
		{"sluice_http_ingest_rows_total", map[string]string{"source": "events", "result": "accepted"}, 1},
		{"sluice_http_ingest_rows_total", map[string]string{"source": "events", "result": "rejected"}, 1},
		{"sluice_http_ingest_requests_total", map[string]string{"code": "200"}, 1},
	} {
		if got := metricValue(t, fams, tc.name, tc.labels); got != tc.want {
			t.Errorf("%s%v = %v, want %v", tc.name, tc.labels, got, tc.want)
		}
	}
	if _, ok := fams["sluice_source_lag"]; ok {
		for _, m := range fams["sluice_source_lag"].Metric {
			for _, lp := range m.Label {
				if lp.GetValue() == "gen" {
					t.Error("lag exported for a source that cannot tell")
				}
			}
		}
	}
	if _, ok := fams["go_goroutines"]; !ok {
		t.Error("go collector missing")
	}
}

func TestSubscribeSSE(t *testing.T) {
	db := &fakeDB{subs: make(chan Update)}
	addrs, cancel, done := startRun(t, db)
	defer func() { cancel(); <-done }()
	base := "http://" + addrs.HTTP
	res, err := http.Get(base + "/subscribe/nope")
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != 404 {
		t.Fatalf("unknown view: %d", res.StatusCode)
	}
	page, err := http.Get(base + "/live/per_minute")
	if err != nil {
		t.Fatal(err)
	}
	html, _ := io.ReadAll(page.Body)
	page.Body.Close()
	if page.StatusCode != 200 || !strings.Contains(string(html), `new EventSource("/subscribe/"`) {
		t.Fatalf("live page: %d", page.StatusCode)
	}
	res, err = http.Get(base + "/subscribe/per_minute")
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	if ct := res.Header.Get("Content-Type"); ct != "text/event-stream" {
		t.Fatalf("content type %q", ct)
	}
	go func() {
		db.subs <- Update{Row: types.Row{types.NewText(`spring "sale"`), types.NewInt(3), types.NewTimestamp(60_000_000)}}
		db.subs <- Update{Delete: true, Row: types.Row{types.NewText("x"), types.NullValue, types.NewTimestamp(0)}}
		db.subs <- Update{IsProgress: true, Progress: time.Unix(120, 0)}
		close(db.subs)
	}()
	type event struct{ name, data string }
	var events []event
	sc := bufio.NewScanner(res.Body)
	var cur event
	for sc.Scan() {
		line := sc.Text()
		switch {
		case strings.HasPrefix(line, "event: "):
			cur.name = strings.TrimPrefix(line, "event: ")
		case strings.HasPrefix(line, "data: "):
			cur.data = strings.TrimPrefix(line, "data: ")
		case line == "" && cur.name != "":
			events = append(events, cur)
			cur = event{}
		}
	}
	names := []string{}
	for _, e := range events {
		names = append(names, e.name)
		if !json.Valid([]byte(e.data)) {
			t.Errorf("event %s: invalid JSON %q", e.name, e.data)
		}
	}
	if strings.Join(names, ",") != "columns,insert,delete,progress,error" {
		t.Fatalf("events %v", names)
	}
	var cols []ColumnInfo
	json.Unmarshal([]byte(events[0].data), &cols)
	if len(cols) != 3 || cols[0].Name != "campaign" || cols[2].Type != "timestamp without time zone" {
		t.Fatalf("columns %+v", cols)
	}
	var row map[string]any
	json.Unmarshal([]byte(events[1].data), &row)
	if row["campaign"] != `spring "sale"` || row["n"] != float64(3) {
		t.Fatalf("insert row %v", row)
	}
	var prog map[string]string
	json.Unmarshal([]byte(events[3].data), &prog)
	if prog["progress"] != "1970-01-01T00:02:00Z" {
		t.Fatalf("progress %v", prog)
	}
}

// TestLivePageScript runs the live page's script under node with a fake
// DOM and EventSource (testdata/live_test.js): columns, inserts, deletes
// and progress events render as expected, with HTML escaped.
func TestLivePageScript(t *testing.T) {
	node, err := exec.LookPath("node")
	if err != nil {
		t.Skip("node is not installed")
	}
	out, err := exec.Command(node, "testdata/live_test.js", "live.html").CombinedOutput()
	if err != nil || !strings.Contains(string(out), "live page ok") {
		t.Fatalf("live page script: %v\n%s", err, out)
	}
}

// TestPprofOnlyWhenAsked: /debug/pprof/ is served with --pprof and is a
// 404 without it.
func TestPprofOnlyWhenAsked(t *testing.T) {
	for _, on := range []bool{false, true} {
		args := []string{}
		if on {
			args = append(args, "--pprof")
		}
		cfg, err := Load(args, func(string) string { return "" })
		if err != nil {
			t.Fatal(err)
		}
		srv := httptest.NewServer(NewHTTPHandler(context.Background(), cfg, Deps{DB: &fakeDB{}, Registry: prometheus.NewRegistry()}))
		res, err := http.Get(srv.URL + "/debug/pprof/goroutine?debug=1")
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(res.Body)
		res.Body.Close()
		srv.Close()
		switch {
		case on && (res.StatusCode != http.StatusOK || !strings.Contains(string(body), "goroutine profile")):
			t.Errorf("--pprof: status %d, body %.80q", res.StatusCode, body)
		case !on && res.StatusCode != http.StatusNotFound:
			t.Errorf("without --pprof: status %d, want 404", res.StatusCode)
		}
	}
}
