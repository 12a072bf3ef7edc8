package ingest

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

func repoRoot() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..", "..", "..")
}

type server struct {
	cmd      *exec.Cmd
	pg, http string
	done     chan error
}

// startSluice runs the binary ($SLUICE_BIN or a fresh build) on free ports.
func startSluice(b *testing.B) *server {
	b.Helper()
	bin := os.Getenv("SLUICE_BIN")
	if bin == "" {
		bin = filepath.Join(b.TempDir(), "sluice")
		cmd := exec.Command("go", "build", "-o", bin, ".")
		cmd.Dir = repoRoot()
		if out, err := cmd.CombinedOutput(); err != nil {
			b.Fatalf("go build: %v\n%s", err, out)
		}
	}
	cmd := exec.Command(bin, "--data-dir", b.TempDir(), "--pg-addr", "127.0.0.1:0", "--http-addr", "127.0.0.1:0",
		"--log-format", "json", "--ingest-max-body", "64MiB")
	stderr, err := cmd.StderrPipe()
	if err != nil {
		b.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	s := &server{cmd: cmd, done: make(chan error, 1)}
	addrs := make(chan [2]string, 1)
	go func() {
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			var rec map[string]any
			if json.Unmarshal(sc.Bytes(), &rec) == nil && rec["msg"] == "sluice listening" {
				addrs <- [2]string{rec["pg"].(string), rec["http"].(string)}
			}
		}
		io.Copy(io.Discard, stderr)
		s.done <- cmd.Wait()
	}()
	b.Cleanup(func() {
		cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-s.done:
		case <-time.After(30 * time.Second):
			cmd.Process.Kill()
		}
	})
	select {
	case a := <-addrs:
		s.pg, s.http = a[0], a[1]
	case err := <-s.done:
		b.Fatalf("sluice exited: %v", err)
	case <-time.After(60 * time.Second):
		b.Fatal("sluice did not start")
	}
	return s
}

var runSeq atomic.Int64

func (s *server) conn(b *testing.B) *pgx.Conn {
	b.Helper()
	host, port, _ := bytes.Cut([]byte(s.pg), []byte(":"))
	c, err := pgx.Connect(context.Background(), fmt.Sprintf("host=%s port=%s user=bench dbname=sluice sslmode=disable", host, port))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { c.Close(context.Background()) })
	return c
}

// BenchmarkHTTPIngest posts NDJSON batches from parallel clients into an
// http source read by a 1-second tumbling view; one op is one batch.
func BenchmarkHTTPIngest(b *testing.B) {
	s := startSluice(b)
	conn := s.conn(b)
	ctx := context.Background()
	base := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	for _, batch := range []int{100, 1000} {
		b.Run("batch="+strconv.Itoa(batch), func(b *testing.B) {
			// The framework may call this function several times (to size
			// b.N): each call gets its own source and view.
			src := fmt.Sprintf("ev_%d_%d", batch, runSeq.Add(1))
			view := src + "_per_second"
			for _, ddl := range []string{
				fmt.Sprintf(`CREATE SOURCE %s (user_id BIGINT, page TEXT, ts TIMESTAMP,
					WATERMARK FOR ts AS ts - INTERVAL '1' MINUTE) WITH (connector = 'http')`, src),
				fmt.Sprintf(`CREATE MATERIALIZED VIEW %s AS SELECT page, window_start, window_end, count(*) AS events
					FROM TUMBLE(%s, ts, INTERVAL '1' SECOND) GROUP BY page, window_start, window_end`, view, src),
			} {
				if _, err := conn.Exec(ctx, ddl); err != nil {
					b.Fatal(err)
				}
			}
			url := "http://" + s.http + "/ingest/" + src
			var seq, sent atomic.Int64
			client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 16}}
			b.SetParallelism(2)
			b.ReportAllocs()
			b.ResetTimer()
			start := time.Now()
			b.RunParallel(func(pb *testing.PB) {
				var body bytes.Buffer
				for pb.Next() {
					body.Reset()
					first := seq.Add(int64(batch)) - int64(batch)
					for i := range int64(batch) {
						n := first + i
						ts := base.Add(time.Duration(n) * time.Millisecond).Format("2006-01-02T15:04:05.000Z")
						fmt.Fprintf(&body, "{\"user_id\":%d,\"page\":\"/p%d\",\"ts\":\"%s\"}\n", n%1000, n%10, ts)
					}
					res, err := client.Post(url, "application/x-ndjson", bytes.NewReader(body.Bytes()))
					if err != nil {
						b.Error(err)
						return
					}
					var r struct{ Accepted int }
					json.NewDecoder(res.Body).Decode(&r)
					res.Body.Close()
					if res.StatusCode != 200 || r.Accepted != batch {
						b.Errorf("status %d, accepted %d of %d", res.StatusCode, r.Accepted, batch)
						return
					}
					sent.Add(int64(r.Accepted))
				}
			})
			elapsed := time.Since(start)
			b.StopTimer()
			b.ReportMetric(float64(sent.Load())/elapsed.Seconds(), "events/s")
			// Every accepted event must be counted by the view.
			deadline := time.Now().Add(60 * time.Second)
			for {
				var n int64
				if err := conn.QueryRow(ctx, "SELECT coalesce(sum(events), 0) FROM "+view).Scan(&n); err != nil {
					b.Fatal(err)
				}
				if n == sent.Load() {
					break
				}
				if time.Now().After(deadline) {
					b.Fatalf("view counted %d events, %d were accepted", n, sent.Load())
				}
				time.Sleep(50 * time.Millisecond)
			}
		})
	}
}
