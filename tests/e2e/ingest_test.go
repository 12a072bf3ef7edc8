package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

type ingestResponse struct {
	Accepted int `json:"accepted"`
	Rejected int `json:"rejected"`
	Errors   []struct {
		Line  int    `json:"line"`
		Error string `json:"error"`
	} `json:"errors"`
}

func ingest(t *testing.T, addr, source, ctype, token string, body []byte) (int, ingestResponse) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, "http://"+addr+"/ingest/"+source, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if ctype != "" {
		req.Header.Set("Content-Type", ctype)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	raw, _ := io.ReadAll(res.Body)
	var r ingestResponse
	if err := json.Unmarshal(raw, &r); err != nil {
		t.Fatalf("ingest response is not JSON: %v: %s", err, raw)
	}
	return res.StatusCode, r
}

// TestIngest drives HTTP ingest through every documented status and checks
// that every accepted row is in the table and every rejected one in
// sluice_dead_letters — across a restart.
func TestIngest(t *testing.T) {
	dir := t.TempDir()
	const token = "e2e-token"
	s := start(t, dir, []string{"SLUICE_INGEST_TOKEN=" + token}, "--ingest-max-body", "4KiB")
	conn := s.connect(t)
	ctx := context.Background()
	for _, ddl := range []string{
		`CREATE TABLE orders (order_id BIGINT NOT NULL, customer TEXT, amount NUMERIC(10,2), ts TIMESTAMP NOT NULL)`,
		`CREATE SOURCE clicks (user_id BIGINT NOT NULL, page TEXT, ts TIMESTAMP NOT NULL,
		     WATERMARK FOR ts AS ts - INTERVAL '10' MINUTE) WITH (connector = 'http')`,
		`CREATE MATERIALIZED VIEW clicks_per_minute AS
		     SELECT page, window_start, window_end, count(*) AS clicks
		     FROM TUMBLE(clicks, ts, INTERVAL '1' MINUTE) GROUP BY page, window_start, window_end`,
		`CREATE SOURCE gen (event_id BIGINT) WITH (connector = 'datagen', rate = '1')`,
	} {
		if _, err := conn.Exec(ctx, ddl); err != nil {
			t.Fatalf("%s: %v", ddl, err)
		}
	}
	const nd = "application/x-ndjson"
	accepted, rejected := 0, 0
	post := func(source, ctype, tok string, body string, wantCode, wantAcc, wantRej int) ingestResponse {
		t.Helper()
		code, r := ingest(t, s.HTTP, source, ctype, tok, []byte(body))
		if code != wantCode || r.Accepted != wantAcc || r.Rejected != wantRej {
			t.Fatalf("POST %s: %d %+v, want %d accepted=%d rejected=%d", source, code, r, wantCode, wantAcc, wantRej)
		}
		accepted += r.Accepted
		rejected += r.Rejected
		return r
	}

	// Good rows, three timestamp spellings, NDJSON and array.
	post("orders", nd, token, `{"order_id": 1, "customer": "ann", "amount": 12.50, "ts": "2026-01-01T10:00:00Z"}
{"order_id": 2, "customer": "bob", "amount": "7.25", "ts": "2026-01-01 10:00:01"}
{"order_id": 3, "ts": 1767261602000}`, 200, 3, 0)
	post("orders", "application/json", token, `[{"order_id": 4, "ts": "2026-01-01T10:00:03Z"}, {"order_id": 5, "ts": "2026-01-01T10:00:04Z"}]`, 200, 2, 0)

	// Malformed JSON, wrong types, missing NOT NULL fields: rejected, the
	// good row of the same request kept.
	r := post("orders", nd, token, strings.Join([]string{
		`{"order_id": 6, "ts": "2026-01-01T10:00:05Z"}`,
		`{"order_id": 7, "ts": `,
		`{"order_id": "seven", "ts": "2026-01-01T10:00:06Z"}`,
		`{"order_id": 8, "ts": "yesterday"}`,
		`{"customer": "no id", "ts": "2026-01-01T10:00:07Z"}`,
		`{"order_id": 9}`,
	}, "\n"), 200, 1, 5)
	for i, want := range []int{2, 3, 4, 5, 6} {
		if r.Errors[i].Line != want || r.Errors[i].Error == "" {
			t.Fatalf("errors %+v", r.Errors)
		}
	}
	// A broken array: 400, nothing accepted, the body kept as a dead letter.
	post("orders", "application/json", token, `[{"order_id": 10, "ts": "2026-01-01T10:00:08Z"}, {"order_id": `, 400, 0, 1)

	// Request-level failures.
	okBody := `{"order_id": 99, "ts": "2026-01-01T10:00:09Z"}`
	for _, tc := range []struct {
		name, source, ctype, token, body string
		code                             int
	}{
		{"no token", "orders", nd, "", okBody, 401},
		{"wrong token", "orders", nd, "nope", okBody, 401},
		{"unknown source", "nosuch", nd, token, okBody, 404},
		{"pull source", "gen", nd, token, okBody, 409},
		{"a view", "clicks_per_minute", nd, token, okBody, 409},
		{"csv", "orders", "text/csv", token, okBody, 415},
		{"oversize", "orders", nd, token, strings.Repeat(okBody+"\n", 100), 413},
	} {
		code, r := ingest(t, s.HTTP, tc.source, tc.ctype, tc.token, []byte(tc.body))
		if code != tc.code || r.Accepted != 0 || len(r.Errors) == 0 {
			t.Errorf("%s: %d %+v, want %d and nothing accepted", tc.name, code, r, tc.code)
		}
	}
	req, _ := http.NewRequest(http.MethodGet, "http://"+s.HTTP+"/ingest/orders", nil)
	if res, err := http.DefaultClient.Do(req); err != nil || res.StatusCode != 405 {
		t.Errorf("GET /ingest/orders: %v %v", res, err)
	} else {
		res.Body.Close()
	}

	// Concurrent posts into the push source: every accepted row counted once
	// in the tumbling view.
	var wg sync.WaitGroup
	var mu sync.Mutex
	clicks := 0
	for g := range 4 {
		wg.Go(func() {
			var b strings.Builder
			for i := range 30 {
				// Within 90 s of each other: well inside the 10-minute
				// watermark delay, so no row is late whatever the order.
				fmt.Fprintf(&b, "{\"user_id\": %d, \"page\": \"/p%d\", \"ts\": \"2026-01-01T10:%02d:%02dZ\"}\n", g, i%3, i/20, (i*3)%60)
			}
			code, r := ingest(t, s.HTTP, "clicks", nd, token, []byte(b.String()))
			if code != 200 || r.Accepted != 30 {
				t.Errorf("clicks: %d %+v", code, r)
			}
			mu.Lock()
			clicks += r.Accepted
			mu.Unlock()
		})
	}
	wg.Wait()
	// A row an hour later moves the watermark past their windows.
	post("clicks", nd, token, `{"user_id": 0, "page": "/end", "ts": "2026-01-01T11:00:00Z"}`, 200, 1, 0)

	verify := func(p *proc) {
		t.Helper()
		c := p.connect(t)
		eventually(t, 30*time.Second, "accepted orders stored", func() error {
			var n, distinct int64
			if err := c.QueryRow(ctx, `SELECT count(*), count(DISTINCT order_id) FROM orders`).Scan(&n, &distinct); err != nil {
				return err
			}
			if n != 6 || distinct != 6 {
				return fmt.Errorf("orders: %d rows (%d distinct), want the 6 accepted", n, distinct)
			}
			return nil
		})
		eventually(t, 30*time.Second, "clicks counted", func() error {
			var n int64
			if err := c.QueryRow(ctx, `SELECT coalesce(sum(clicks), 0) FROM clicks_per_minute WHERE page <> '/end'`).Scan(&n); err != nil {
				return err
			}
			if n != int64(clicks) {
				return fmt.Errorf("clicks_per_minute counts %d clicks, %d were accepted", n, clicks)
			}
			return nil
		})
		var dead int64
		if err := c.QueryRow(ctx, `SELECT count(*) FROM sluice_dead_letters WHERE source = 'orders'`).Scan(&dead); err != nil {
			t.Fatal(err)
		}
		if dead != int64(rejected) {
			t.Errorf("sluice_dead_letters holds %d rows for orders, %d were rejected", dead, rejected)
		}
		var raw []byte
		if err := c.QueryRow(ctx, `SELECT raw FROM sluice_dead_letters WHERE source = 'orders' AND reason LIKE '%order_id%' LIMIT 1`).Scan(&raw); err != nil {
			t.Errorf("dead letter for the wrong-typed order_id: %v", err)
		} else if !bytes.Contains(raw, []byte(`"seven"`)) && !bytes.Contains(raw, []byte(`no id`)) {
			t.Errorf("dead letter raw bytes %q", raw)
		}
	}
	verify(s)

	t.Run("metrics count ingest", func(t *testing.T) {
		fams := scrape(t, s.HTTP)
		if v := value(fams, "sluice_http_ingest_rows_total", "source", "orders"); v <= 0 {
			t.Errorf("sluice_http_ingest_rows_total{source=orders} = %v", v)
		}
		if v := value(fams, "sluice_dead_letters_total", "source", "orders"); v != float64(rejected) {
			t.Errorf("sluice_dead_letters_total{source=orders} = %v, want %d", v, rejected)
		}
		if v := value(fams, "sluice_http_ingest_requests_total", "code", "413"); v != 1 {
			t.Errorf("sluice_http_ingest_requests_total{code=413} = %v", v)
		}
	})

	// Nothing accepted is lost, even when the process is killed without a
	// chance to checkpoint or flush.
	s.kill()
	s2 := start(t, dir, []string{"SLUICE_INGEST_TOKEN=" + token})
	verify(s2)
	s2.stop()
}

// TestCommandLine checks the commands and configuration sources of the
// binary.
func TestCommandLine(t *testing.T) {
	bin := binary(t)
	out, err := exec.Command(bin, "version").CombinedOutput()
	if err != nil || !strings.HasPrefix(string(out), "sluice ") {
		t.Fatalf("sluice version: %v %q", err, out)
	}
	out, err = exec.Command(bin, "--help").CombinedOutput()
	if err != nil {
		t.Fatalf("sluice --help: %v", err)
	}
	for _, want := range []string{"--data-dir", "SLUICE_DATA_DIR", "./sluice-data", "--pg-addr", "127.0.0.1:4566",
		"--http-addr", "127.0.0.1:8080", "--demo", "--ingest-token", "--quiet-advance"} {
		if !strings.Contains(string(out), want) {
			t.Errorf("--help lacks %q", want)
		}
	}
	cmd := exec.Command(bin, "--no-such-flag")
	if err := cmd.Run(); err == nil || cmd.ProcessState.ExitCode() != 2 {
		t.Errorf("unknown flag: %v", err)
	}
	// Environment and config file: the file sets the data directory, the
	// environment the HTTP address; the flags of start() win for the rest.
	dir := t.TempDir()
	conf := dir + "/sluice.conf"
	data := dir + "/from-config"
	if err := writeFile(conf, "# e2e\ndata-dir = "+data+"\nlog-level = debug\n"); err != nil {
		t.Fatal(err)
	}
	cmd = exec.Command(bin, "--config", conf, "--pg-addr", "127.0.0.1:0", "--log-format", "json")
	cmd.Env = append(cmd.Environ(), "SLUICE_HTTP_ADDR=127.0.0.1:0")
	// The process writes stderr from exec's copying goroutine while the
	// test reads it: the buffer must be locked.
	var stderr lockedBuffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	eventually(t, 30*time.Second, "listening", func() error {
		if !strings.Contains(stderr.String(), `"msg":"sluice listening"`) {
			return fmt.Errorf("not yet")
		}
		return nil
	})
	cmd.Process.Signal(interruptSignal)
	if err := cmd.Wait(); err != nil {
		t.Fatalf("exit after SIGINT: %v\n%s", err, stderr.String())
	}
	if !strings.Contains(stderr.String(), `"data_dir":"`+data+`"`) || !strings.Contains(stderr.String(), `"level":"DEBUG"`) {
		t.Errorf("config file not applied:\n%s", stderr.String())
	}
	if !fileExists(data) {
		t.Errorf("data directory %s from the config file was not created", data)
	}
}

const interruptSignal = syscall.SIGINT

func writeFile(path, content string) error { return os.WriteFile(path, []byte(content), 0o600) }

func fileExists(path string) bool {
	_, err := os.Stat(path)
	return err == nil
}

// lockedBuffer is a bytes.Buffer safe for one writer and concurrent readers.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// TestGeneratedColumnErrorIsADeadLetter: an event whose generated column
// cannot be computed (an amount that is no number) is a bad input like an
// undecodable one: it goes to sluice_dead_letters with its columns and the
// reason, and the view over the source goes on with the other events.
func TestGeneratedColumnErrorIsADeadLetter(t *testing.T) {
	s := start(t, t.TempDir(), nil)
	conn := s.connect(t)
	ctx := context.Background()
	for _, ddl := range []string{
		`CREATE SOURCE pay (payload JSONB, amount NUMERIC(10, 2) AS (payload->>'amount')::numeric(10, 2),
		     ts TIMESTAMP NOT NULL, WATERMARK FOR ts AS ts - INTERVAL '1' MINUTE) WITH (connector = 'http')`,
		`CREATE MATERIALIZED VIEW paid AS SELECT count(*) AS n, sum(amount) AS total FROM pay`,
	} {
		if _, err := conn.Exec(ctx, ddl); err != nil {
			t.Fatalf("%s: %v", ddl, err)
		}
	}
	code, r := ingest(t, s.HTTP, "pay", "application/x-ndjson", "", []byte(`{"payload": {"amount": "12.50"}, "ts": "2026-01-01T10:00:00Z"}
{"payload": {"amount": "a lot"}, "ts": "2026-01-01T10:00:01Z"}
{"payload": {"amount": 7.25}, "ts": "2026-01-01T10:00:02Z"}`))
	if code != 200 || r.Accepted != 3 {
		t.Fatalf("POST: %d %+v (the rows decode; the generated column fails later)", code, r)
	}
	eventually(t, 20*time.Second, "the view counts the good events", func() error {
		var n int64
		var total string
		if err := conn.QueryRow(ctx, `SELECT n, total::text FROM paid`).Scan(&n, &total); err != nil {
			return err
		}
		if n != 2 || total != "19.75" {
			return fmt.Errorf("paid: n=%d total=%s, want 2 and 19.75", n, total)
		}
		return nil
	})
	var status string
	if err := conn.QueryRow(ctx, `SELECT status FROM sluice_views WHERE name = 'paid'`).Scan(&status); err != nil || status != "running" {
		t.Fatalf("paid is %q (%v), want running", status, err)
	}
	var reason string
	var raw []byte
	if err := conn.QueryRow(ctx, `SELECT reason, raw FROM sluice_dead_letters WHERE source = 'pay'`).Scan(&reason, &raw); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(reason, "amount") || !strings.Contains(string(raw), "a lot") {
		t.Fatalf("dead letter: reason %q raw %s", reason, raw)
	}
}
