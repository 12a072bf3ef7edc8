package recovery

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

var (
	buildOnce sync.Once
	binPath   string
	buildErr  error
)

func repoRoot() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..", "..")
}

// binary returns $SLUICE_BIN or a fresh build of the checkout.
func binary(t testing.TB) string {
	t.Helper()
	if p := os.Getenv("SLUICE_BIN"); p != "" {
		return p
	}
	buildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "sluice-recovery-bin")
		if err != nil {
			buildErr = err
			return
		}
		binPath = filepath.Join(dir, "sluice")
		cmd := exec.Command("go", "build", "-o", binPath, ".")
		cmd.Dir = repoRoot()
		if out, err := cmd.CombinedOutput(); err != nil {
			buildErr = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return binPath
}

type proc struct {
	t    testing.TB
	cmd  *exec.Cmd
	PG   string
	mu   sync.Mutex
	logs strings.Builder
	done chan error
}

func (p *proc) log() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.logs.String()
}

// start runs sluice on dataDir with free loopback ports and waits until it
// is ready.
func start(t testing.TB, dataDir string, args ...string) *proc {
	t.Helper()
	cmd := exec.Command(binary(t), append([]string{"--data-dir", dataDir, "--pg-addr", "127.0.0.1:0", "--http-addr", "127.0.0.1:0",
		"--log-format", "json", "--checkpoint-interval", "200ms"}, args...)...)
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	p := &proc{t: t, cmd: cmd, done: make(chan error, 1)}
	addrs := make(chan [2]string, 1)
	go func() {
		sc := bufio.NewScanner(stderr)
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		for sc.Scan() {
			line := sc.Text()
			p.mu.Lock()
			p.logs.WriteString(line + "\n")
			p.mu.Unlock()
			var rec map[string]any
			if json.Unmarshal([]byte(line), &rec) == nil && rec["msg"] == "sluice listening" {
				pg, _ := rec["pg"].(string)
				h, _ := rec["http"].(string)
				addrs <- [2]string{pg, h}
			}
		}
		_, _ = io.Copy(io.Discard, stderr)
		p.done <- cmd.Wait()
	}()
	t.Cleanup(func() {
		if cmd.ProcessState == nil {
			_ = cmd.Process.Kill()
			<-p.done
		}
	})
	var httpAddr string
	select {
	case a := <-addrs:
		p.PG, httpAddr = a[0], a[1]
	case err := <-p.done:
		t.Fatalf("sluice exited before listening: %v\n%s", err, p.log())
	case <-time.After(90 * time.Second):
		t.Fatalf("sluice did not listen within 90s\n%s", p.log())
	}
	deadline := time.Now().Add(60 * time.Second)
	for {
		res, err := http.Get("http://" + httpAddr + "/readyz")
		if err == nil {
			res.Body.Close()
			if res.StatusCode == 200 {
				return p
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("/readyz not 200 after 60s\n%s", p.log())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// kill9 kills the process with SIGKILL: nothing is flushed.
func (p *proc) kill9() {
	p.t.Helper()
	if err := p.cmd.Process.Kill(); err != nil {
		p.t.Fatal(err)
	}
	<-p.done
}

func (p *proc) conn(ctx context.Context) *pgx.Conn {
	p.t.Helper()
	c, err := pgx.Connect(ctx, "postgres://sluice@"+p.PG+"/sluice?sslmode=disable")
	if err != nil {
		p.t.Fatalf("connect: %v\n%s", err, p.log())
	}
	return c
}

func (p *proc) exec(ctx context.Context, sql string) {
	p.t.Helper()
	c := p.conn(ctx)
	defer c.Close(ctx)
	if _, err := c.Exec(ctx, sql, pgx.QueryExecModeSimpleProtocol); err != nil {
		p.t.Fatalf("%s: %v\n%s", sql, err, p.log())
	}
}

// contents renders a view's rows sorted, one a line.
func (p *proc) contents(ctx context.Context, view string) string {
	p.t.Helper()
	c := p.conn(ctx)
	defer c.Close(ctx)
	rows, err := c.Query(ctx, "SELECT * FROM "+view, pgx.QueryExecModeSimpleProtocol)
	if err != nil {
		p.t.Fatalf("select from %s: %v\n%s", view, err, p.log())
	}
	var lines []string
	for rows.Next() {
		vals, err := rows.Values()
		if err != nil {
			p.t.Fatal(err)
		}
		lines = append(lines, fmt.Sprint(vals...))
	}
	if err := rows.Err(); err != nil {
		p.t.Fatal(err)
	}
	sort.Strings(lines)
	return strings.Join(lines, "\n")
}

var views = []string{"tumble_v", "hop_v", "session_v", "funnel_v", "per_user_v"}

// lateOf are the late rows the views recorded (the stream's late events
// are 20 s behind, past every window): counted and listed like the views'
// contents, they too must equal the uninterrupted run's.
var lateOf = map[string]string{
	"late_events count":  "(SELECT name, late_events FROM sluice_views) AS s",
	"sluice_late_events": "(SELECT view, event_time, watermark, row FROM sluice_late_events) AS l",
}

// setup is the DDL: a deterministic datagen stream of total events at rate
// events/s from start_time, with disorder and late events, three
// windowed views over it, a funnel: an interval join of the stream with
// itself (a cart add within 3 s after a page view of the same user), whose
// two inputs are two readers of the source, and a GROUP BY without a
// window behind a HAVING, whose contents a restore rebuilds from the
// aggregate's state instead of reading them from the checkpoint.
func setup(startTime string, total, rate int) []string {
	return []string{
		fmt.Sprintf(`CREATE SOURCE clicks (event_id BIGINT, event_type TEXT, ts TIMESTAMP, user_id BIGINT,
    WATERMARK FOR ts AS ts - INTERVAL '2' SECOND)
WITH (connector = 'datagen', stream = 'clickstream', rate = '%d', seed = '7', users = '300', sessions = '40',
    max_events = '%d', start_time = '%s', out_of_order = '1 second', late_fraction = '0.005', late_by = '20 seconds',
    batch_size = '64')`, rate, total, startTime),
		`CREATE MATERIALIZED VIEW tumble_v AS
SELECT event_type, window_start, window_end, count(*) AS n, sum(user_id) AS s
FROM TUMBLE(clicks, ts, INTERVAL '1' SECOND)
GROUP BY event_type, window_start, window_end`,
		`CREATE MATERIALIZED VIEW hop_v AS
SELECT event_type, window_start, window_end, count(*) AS n, max(event_id) AS m
FROM HOP(clicks, ts, INTERVAL '1' SECOND, INTERVAL '4' SECOND)
GROUP BY event_type, window_start, window_end
EMIT ON WINDOW CLOSE`,
		`CREATE MATERIALIZED VIEW session_v AS
SELECT user_id, window_start, window_end, count(*) AS n
FROM SESSION(clicks, ts, INTERVAL '2' SECOND)
GROUP BY user_id, window_start, window_end`,
		`CREATE MATERIALIZED VIEW funnel_v AS
SELECT v.user_id, v.event_id AS view_id, c.event_id AS cart_id
FROM clicks v JOIN clicks c
  ON v.user_id = c.user_id AND c.ts BETWEEN v.ts AND v.ts + INTERVAL '3' SECOND
WHERE v.event_type = 'page_view' AND c.event_type = 'cart_add'`,
		`CREATE MATERIALIZED VIEW per_user_v AS
SELECT user_id, count(*) AS n, max(event_id) AS last_id, sum(event_id) % 1000 AS h
FROM clicks GROUP BY user_id HAVING count(*) % 4 <> 0`,
	}
}

// final waits until the stream has ended (end of its schedule) and every
// view's contents stayed the same for a while, and returns them.
func final(ctx context.Context, t *testing.T, p *proc, end time.Time) map[string]string {
	t.Helper()
	if d := time.Until(end); d > 0 {
		time.Sleep(d)
	}
	deadline := time.Now().Add(2 * time.Minute)
	var last map[string]string
	stable := 0
	for {
		cur := map[string]string{}
		for _, v := range views {
			cur[v] = p.contents(ctx, v)
		}
		for name, q := range lateOf {
			cur[name] = p.contents(ctx, q)
		}
		if last != nil && equalMaps(cur, last) {
			stable++
			if stable >= 4 {
				return cur
			}
		} else {
			stable = 0
		}
		last = cur
		if time.Now().After(deadline) {
			t.Fatalf("views did not settle\n%s", p.log())
		}
		time.Sleep(500 * time.Millisecond)
	}
}

func equalMaps(a, b map[string]string) bool {
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return len(a) == len(b)
}

// TestKill9RecoveryEqualsUninterruptedRun kills sluice with SIGKILL at
// random points while it consumes the stream, restarts it each time, and
// requires the final views to equal those of a run that was never killed:
// no lost and no duplicated events. The lives alternate between two
// workers and one, so restores also repartition the keyed state.
func TestKill9RecoveryEqualsUninterruptedRun(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binary")
	}
	ctx := context.Background()
	const total, rate = 24000, 3000 // 8 s of stream
	// Built before the stream's schedule starts, so the kills fall within it.
	binary(t)
	begin := time.Now().UTC().Add(time.Second).Truncate(time.Second)
	startTime := begin.Format("2006-01-02 15:04:05")
	end := begin.Add(time.Duration(total/rate) * time.Second)

	// The killed run.
	dir := t.TempDir()
	workers := func(life int) string { return strconv.Itoa(2 - life%2) } // 2, 1, 2, 1, 2
	p := start(t, dir, "--parallelism", workers(0))
	for _, s := range setup(startTime, total, rate) {
		p.exec(ctx, s)
	}
	seed := uint64(time.Now().UnixNano())
	t.Logf("kill seed %d", seed)
	rng := rand.New(rand.NewPCG(seed, 9))
	restored, rescaled := 0, 0
	for kill := range 4 {
		time.Sleep(time.Duration(400+rng.IntN(1600)) * time.Millisecond)
		p.kill9()
		t.Logf("kill -9 #%d at %s", kill+1, time.Since(begin).Round(time.Millisecond))
		p = start(t, dir, "--parallelism", workers(kill+1))
		for _, l := range strings.Split(p.log(), "\n") {
			if strings.Contains(l, "restored checkpoint") {
				restored++
				t.Log(l)
			}
			if strings.Contains(l, "taken at another parallelism") {
				rescaled++
			}
		}
	}
	got := final(ctx, t, p, end)
	if restored == 0 {
		t.Fatalf("no restart restored a checkpoint (is Config.CheckpointDir wired in exec/db?)\n%s", p.log())
	}
	if rescaled == 0 {
		t.Fatalf("no restart repartitioned a checkpoint taken at another parallelism\n%s", p.log())
	}

	// The uninterrupted run over the same stream (its schedule is in the
	// past by now, so it catches up at full speed).
	ref := start(t, t.TempDir())
	for _, s := range setup(startTime, total, rate) {
		ref.exec(ctx, s)
	}
	want := final(ctx, t, ref, end)
	for _, v := range views {
		if strings.Count(want[v], "\n") < 20 {
			t.Fatalf("reference view %s is too small to prove anything:\n%s", v, want[v])
		}
		if got[v] != want[v] {
			t.Errorf("view %s after kill -9 differs from the uninterrupted run:\n%s", v, diff(got[v], want[v]))
		}
	}
	for name := range lateOf {
		if strings.Count(want[name], "\n") < 2 {
			t.Fatalf("the uninterrupted run's %s is too small to prove anything:\n%s", name, want[name])
		}
		if got[name] != want[name] {
			t.Errorf("%s after kill -9 differs from the uninterrupted run:\n%s", name, diff(got[name], want[name]))
		}
	}
}

func diff(got, want string) string {
	gm := map[string]int{}
	for _, l := range strings.Split(got, "\n") {
		gm[l]++
	}
	var b strings.Builder
	for _, l := range strings.Split(want, "\n") {
		if gm[l] > 0 {
			gm[l]--
			continue
		}
		fmt.Fprintf(&b, "missing: %s\n", l)
	}
	for l, n := range gm {
		for range n {
			fmt.Fprintf(&b, "extra:   %s\n", l)
		}
	}
	s := b.String()
	if len(s) > 4000 {
		s = s[:4000] + "..."
	}
	return s
}
