package httpingest

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sluice-db/sluice/connectors"
	"github.com/sluice-db/sluice/sql/types"
)

type fakeTarget struct {
	mu      sync.Mutex
	rels    map[string]Relation
	rows    map[string][]types.Row
	dead    []connectors.DeadLetter
	failErr error
}

func (f *fakeTarget) IngestRelation(name string) (Relation, error) {
	r, ok := f.rels[name]
	if !ok {
		return Relation{}, fmt.Errorf("lookup %q: %w", name, ErrNotFound)
	}
	return r, nil
}

func (f *fakeTarget) Ingest(_ context.Context, source string, rows []types.Row) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.failErr != nil {
		return f.failErr
	}
	for _, r := range rows {
		f.rows[source] = append(f.rows[source], append(types.Row(nil), r...))
	}
	return nil
}

func (f *fakeTarget) RecordDeadLetter(dl connectors.DeadLetter) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.dead = append(f.dead, dl)
}

var eventsSchema = types.Schema{
	{Name: "user_id", Type: types.TInt64, Nullable: false},
	{Name: "event_type", Type: types.TText, Nullable: true},
	{Name: "ts", Type: types.TTimestamp, Nullable: true},
}

func newTestServer(t *testing.T, cfg Config) (*fakeTarget, *httptest.Server) {
	t.Helper()
	ft := &fakeTarget{
		rels: map[string]Relation{
			"events":  {Name: "events", Push: true, Schema: eventsSchema},
			"secured": {Name: "secured", Push: true, Schema: eventsSchema, Options: map[string]string{"token": "src-secret"}},
			"pulsar":  {Name: "pulsar", Push: false, Schema: eventsSchema},
		},
		rows: map[string][]types.Row{},
	}
	if cfg.MaxBody == 0 {
		cfg.MaxBody = 1 << 20
	}
	cfg.Now = func() time.Time { return time.Unix(0, 0) }
	mux := http.NewServeMux()
	mux.Handle("/ingest/{source}", NewHandler(ft, cfg))
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return ft, srv
}

type result struct {
	code int
	resp Response
	hdr  http.Header
}

func post(t *testing.T, srv *httptest.Server, path, ctype, token string, body io.Reader) result {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, srv.URL+path, body)
	if err != nil {
		t.Fatal(err)
	}
	if ctype != "" {
		req.Header.Set("Content-Type", ctype)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	res, err := srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var r Response
	if err := json.NewDecoder(res.Body).Decode(&r); err != nil {
		t.Fatalf("response is not JSON: %v", err)
	}
	return result{res.StatusCode, r, res.Header}
}

const ndjson = "application/x-ndjson"

func TestIngestNDJSON(t *testing.T) {
	ft, srv := newTestServer(t, Config{})
	body := `{"user_id": 1, "event_type": "click", "ts": "2026-01-01T00:00:00Z"}
{"user_id": 2, "event_type": "view", "ts": 1767225600000}

{"user_id": 3}
`
	r := post(t, srv, "/ingest/events", ndjson, "", strings.NewReader(body))
	if r.code != 200 || r.resp.Accepted != 3 || r.resp.Rejected != 0 {
		t.Fatalf("got %d %+v", r.code, r.resp)
	}
	rows := ft.rows["events"]
	if len(rows) != 3 || rows[0][0].I != 1 || rows[1][1].S != "view" || !rows[2][1].IsNull() {
		t.Fatalf("rows %v", rows)
	}
	if rows[0][2].I != rows[1][2].I || rows[0][2].K != types.Timestamp {
		t.Fatalf("timestamps %v %v", rows[0][2], rows[1][2])
	}
}

func TestIngestRejectsBadRowsKeepsGoodOnes(t *testing.T) {
	ft, srv := newTestServer(t, Config{})
	body := strings.Join([]string{
		`{"user_id": 1, "event_type": "ok"}`,
		`{"user_id": 2, "event_type": `, // malformed JSON
		`{"user_id": "abc"}`,            // wrong type
		`{"event_type": "no user"}`,     // missing NOT NULL field
		`[1,2]`,                         // not an object
		`{"user_id": 6, "ts": "2026-01-01 00:00:01"}`,
	}, "\n")
	r := post(t, srv, "/ingest/events", ndjson, "", strings.NewReader(body))
	if r.code != 200 || r.resp.Accepted != 2 || r.resp.Rejected != 4 {
		t.Fatalf("got %d %+v", r.code, r.resp)
	}
	wantLines := []int{2, 3, 4, 5}
	for i, e := range r.resp.Errors {
		if e.Line != wantLines[i] || e.Error == "" {
			t.Fatalf("errors %+v", r.resp.Errors)
		}
	}
	if !strings.Contains(r.resp.Errors[1].Error, "user_id") || !strings.Contains(r.resp.Errors[2].Error, "user_id") {
		t.Fatalf("errors should name the field: %+v", r.resp.Errors)
	}
	if len(ft.dead) != 4 || string(ft.dead[0].Raw) != `{"user_id": 2, "event_type": ` || ft.dead[0].Source != "events" || ft.dead[0].Reason == "" {
		t.Fatalf("dead letters %+v", ft.dead)
	}
	if got := ft.rows["events"]; len(got) != 2 || got[0][0].I != 1 || got[1][0].I != 6 {
		t.Fatalf("accepted rows %v", got)
	}
}

func TestIngestJSONArray(t *testing.T) {
	ft, srv := newTestServer(t, Config{})
	body := "[\n  {\"user_id\": 1},\n  {\"user_id\": \"x\"},\n  {\"user_id\": 3}\n]"
	r := post(t, srv, "/ingest/events", "application/json", "", strings.NewReader(body))
	if r.code != 200 || r.resp.Accepted != 2 || r.resp.Rejected != 1 || r.resp.Errors[0].Line != 3 {
		t.Fatalf("got %d %+v", r.code, r.resp)
	}
	if len(ft.dead) != 1 || string(ft.dead[0].Raw) != `{"user_id": "x"}` {
		t.Fatalf("dead %+v", ft.dead)
	}
	// One pretty-printed object is one row.
	r = post(t, srv, "/ingest/events", "application/json", "", strings.NewReader("{\n \"user_id\": 9\n}\n"))
	if r.code != 200 || r.resp.Accepted != 1 {
		t.Fatalf("pretty object: %d %+v", r.code, r.resp)
	}
	// A broken array is rejected as a whole: nothing accepted.
	before := len(ft.rows["events"])
	r = post(t, srv, "/ingest/events", "application/json", "", strings.NewReader(`[{"user_id": 1}, {"user_id": 2`))
	if r.code != 400 || r.resp.Accepted != 0 || len(ft.rows["events"]) != before {
		t.Fatalf("broken array: %d %+v", r.code, r.resp)
	}
	if last := ft.dead[len(ft.dead)-1]; !bytes.Equal(last.Raw, []byte(`[{"user_id": 1}, {"user_id": 2`)) {
		t.Fatalf("broken array dead letter %q", last.Raw)
	}
}

func TestIngestStatusCodes(t *testing.T) {
	_, srv := newTestServer(t, Config{MaxBody: 64})
	ok := `{"user_id": 1}`
	for _, tc := range []struct {
		name, path, ctype string
		body              string
		want              int
	}{
		{"unknown source", "/ingest/nope", ndjson, ok, 404},
		{"pull source", "/ingest/pulsar", ndjson, ok, 409},
		{"csv", "/ingest/events", "text/csv", ok, 415},
		{"form", "/ingest/events", "application/x-www-form-urlencoded", ok, 415},
		{"oversize", "/ingest/events", ndjson, strings.Repeat(ok+"\n", 10), 413},
		{"no content type", "/ingest/events", "", ok, 200},
		{"charset param", "/ingest/events", "application/json; charset=utf-8", ok, 200},
		{"source token missing", "/ingest/secured", ndjson, ok, 401},
	} {
		r := post(t, srv, tc.path, tc.ctype, "", strings.NewReader(tc.body))
		if r.code != tc.want {
			t.Errorf("%s: status %d, want %d (%+v)", tc.name, r.code, tc.want, r.resp)
		}
		if r.code != 200 && (len(r.resp.Errors) == 0 || r.resp.Accepted != 0) {
			t.Errorf("%s: error response %+v", tc.name, r.resp)
		}
	}
	// Oversize without Content-Length (chunked): still 413.
	pr, pw := io.Pipe()
	go func() {
		for range 10 {
			pw.Write([]byte(ok + "\n"))
		}
		pw.Close()
	}()
	if r := post(t, srv, "/ingest/events", ndjson, "", pr); r.code != 413 {
		t.Errorf("chunked oversize: %d", r.code)
	}
	res, err := srv.Client().Get(srv.URL + "/ingest/events")
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != 405 || res.Header.Get("Allow") != "POST" {
		t.Errorf("GET: %d allow=%q", res.StatusCode, res.Header.Get("Allow"))
	}
	if r := post(t, srv, "/ingest/secured", ndjson, "src-secret", strings.NewReader(ok)); r.code != 200 {
		t.Errorf("source token: %d", r.code)
	}
}

func TestIngestGlobalToken(t *testing.T) {
	ft, srv := newTestServer(t, Config{Token: "s3cret"})
	body := `{"user_id": 1}`
	for _, tok := range []string{"", "wrong", "s3cret2"} {
		r := post(t, srv, "/ingest/events", ndjson, tok, strings.NewReader(body))
		if r.code != 401 || r.hdr.Get("WWW-Authenticate") == "" {
			t.Errorf("token %q: %d", tok, r.code)
		}
	}
	// Unknown sources are not revealed without the token.
	if r := post(t, srv, "/ingest/nope", ndjson, "", strings.NewReader(body)); r.code != 401 {
		t.Errorf("unknown source without token: %d", r.code)
	}
	if r := post(t, srv, "/ingest/events", ndjson, "s3cret", strings.NewReader(body)); r.code != 200 || r.resp.Accepted != 1 {
		t.Errorf("right token: %d %+v", r.code, r.resp)
	}
	if n := len(ft.rows["events"]); n != 1 {
		t.Fatalf("rows after auth failures: %d", n)
	}
}

func TestIngestDatabaseFailure(t *testing.T) {
	ft, srv := newTestServer(t, Config{})
	ft.failErr = errors.New("disk full")
	r := post(t, srv, "/ingest/events", ndjson, "", strings.NewReader(`{"user_id": 1}`))
	if r.code != 500 || r.resp.Accepted != 0 || !strings.Contains(r.resp.Errors[0].Error, "disk full") {
		t.Fatalf("got %d %+v", r.code, r.resp)
	}
}

// TestIngestConcurrentNothingLost posts from several goroutines and checks
// that every accepted row reached the target exactly once.
func TestIngestConcurrentNothingLost(t *testing.T) {
	ft, srv := newTestServer(t, Config{})
	var wg sync.WaitGroup
	var mu sync.Mutex
	accepted := 0
	for g := range 8 {
		wg.Go(func() {
			for i := range 20 {
				var b strings.Builder
				for j := range 25 {
					fmt.Fprintf(&b, "{\"user_id\": %d}\n", g*100000+i*100+j)
				}
				b.WriteString("{bad\n")
				r := post(t, srv, "/ingest/events", ndjson, "", strings.NewReader(b.String()))
				mu.Lock()
				accepted += r.resp.Accepted
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	seen := map[int64]bool{}
	for _, r := range ft.rows["events"] {
		if seen[r[0].I] {
			t.Fatalf("row %d twice", r[0].I)
		}
		seen[r[0].I] = true
	}
	if accepted != 8*20*25 || len(seen) != accepted || len(ft.dead) != 8*20 {
		t.Fatalf("accepted %d, stored %d, dead %d", accepted, len(seen), len(ft.dead))
	}
}

func TestHTTPConnectorOptions(t *testing.T) {
	c, err := connectors.Lookup("http")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := connectors.Validate("source", "http", c.SourceOptions(), map[string]string{"topic": "x"}); !errors.Is(err, connectors.ErrUnknownOption) {
		t.Fatalf("unknown option: %v", err)
	}
	if _, err := connectors.Validate("source", "http", c.SourceOptions(), map[string]string{"format": "csv"}); !errors.Is(err, connectors.ErrBadOption) {
		t.Fatalf("bad format: %v", err)
	}
	opts, err := connectors.Validate("source", "http", c.SourceOptions(), map[string]string{"token": "t", "idle_timeout": "5s"})
	if err != nil || opts["format"] != "json" {
		t.Fatalf("valid options: %v %v", opts, err)
	}
	if _, err := c.OpenSource(context.Background(), connectors.SourceSpec{}); !errors.Is(err, ErrPushOnly) {
		t.Fatalf("OpenSource: %v", err)
	}
	if !IsPush("HTTP") || IsPush("pulsar") {
		t.Fatal("IsPush")
	}
}

func BenchmarkIngestNDJSON(b *testing.B) {
	ft := &fakeTarget{rels: map[string]Relation{"events": {Name: "events", Push: true, Schema: eventsSchema}}, rows: map[string][]types.Row{}}
	h := NewHandler(discardTarget{ft}, Config{MaxBody: 64 << 20})
	var body bytes.Buffer
	const rows = 1000
	for i := range rows {
		fmt.Fprintf(&body, "{\"user_id\": %d, \"event_type\": \"click\", \"ts\": \"2026-01-01T00:00:%02dZ\"}\n", i, i%60)
	}
	b.ReportAllocs()
	b.SetBytes(int64(body.Len()))
	for b.Loop() {
		req := httptest.NewRequest(http.MethodPost, "/ingest/events", bytes.NewReader(body.Bytes()))
		req.SetPathValue("source", "events")
		req.Header.Set("Content-Type", ndjson)
		w := httptest.NewRecorder()
		h.ServeHTTP(w, req)
		if w.Code != 200 {
			b.Fatal(w.Body.String())
		}
	}
	b.ReportMetric(float64(rows*b.N)/b.Elapsed().Seconds(), "rows/s")
}

type discardTarget struct{ *fakeTarget }

func (discardTarget) Ingest(context.Context, string, []types.Row) error { return nil }

func gz(t *testing.T, s string) []byte {
	t.Helper()
	var b bytes.Buffer
	zw := gzip.NewWriter(&b)
	zw.Write([]byte(s))
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func postEncoded(t *testing.T, srv *httptest.Server, enc string, body []byte) result {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, srv.URL+"/ingest/events", bytes.NewReader(body))
	req.Header.Set("Content-Type", ndjson)
	req.Header.Set("Content-Encoding", enc)
	res, err := srv.Client().Transport.RoundTrip(req) // no transparent decompression
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var r Response
	if err := json.NewDecoder(res.Body).Decode(&r); err != nil {
		t.Fatal(err)
	}
	return result{res.StatusCode, r, res.Header}
}

func TestIngestGzip(t *testing.T) {
	ft, srv := newTestServer(t, Config{MaxBody: 200})
	if r := postEncoded(t, srv, "gzip", gz(t, "{\"user_id\": 1}\n{\"user_id\": 2}\n")); r.code != 200 || r.resp.Accepted != 2 {
		t.Fatalf("gzip: %d %+v", r.code, r.resp)
	}
	// Small when compressed, over the limit when decompressed.
	bomb := gz(t, strings.Repeat("{\"user_id\": 1}\n", 100))
	if len(bomb) > 200 {
		t.Fatalf("test body compresses to %d bytes", len(bomb))
	}
	if r := postEncoded(t, srv, "gzip", bomb); r.code != 413 || r.resp.Accepted != 0 {
		t.Fatalf("decompressed oversize: %d %+v", r.code, r.resp)
	}
	if r := postEncoded(t, srv, "gzip", []byte("not gzip")); r.code != 400 {
		t.Fatalf("bad gzip: %d", r.code)
	}
	if r := postEncoded(t, srv, "br", []byte("x")); r.code != 415 {
		t.Fatalf("brotli: %d", r.code)
	}
	if n := len(ft.rows["events"]); n != 2 {
		t.Fatalf("rows stored %d", n)
	}
}

// TestIngestSourceTokenReplacesGlobal: a source with its own token takes
// that token, not the global one; other sources take the global one.
func TestIngestSourceTokenReplacesGlobal(t *testing.T) {
	ft, srv := newTestServer(t, Config{Token: "global"})
	body := `{"user_id": 1}`
	for _, tc := range []struct {
		source, token string
		code          int
	}{
		{"secured", "src-secret", 200},
		{"secured", "global", 401},
		{"secured", "", 401},
		{"events", "global", 200},
		{"events", "src-secret", 401},
		{"nope", "", 401},
		{"nope", "global", 404},
		{"pulsar", "", 401},
		{"pulsar", "global", 409},
	} {
		if r := post(t, srv, "/ingest/"+tc.source, ndjson, tc.token, strings.NewReader(body)); r.code != tc.code {
			t.Errorf("%s with token %q: %d, want %d", tc.source, tc.token, r.code, tc.code)
		}
	}
	if len(ft.rows["secured"]) != 1 || len(ft.rows["events"]) != 1 {
		t.Fatalf("rows %v", ft.rows)
	}
}
