package e2e

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

var (
	buildOnce sync.Once
	binPath   string
	buildErr  error
)

// repoRoot is the module root (two levels up from tests/e2e).
func repoRoot() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..", "..")
}

// binary returns the sluice binary: $SLUICE_BIN (set by .ci/run) or a
// fresh build of the checkout.
func binary(t testing.TB) string {
	t.Helper()
	if p := os.Getenv("SLUICE_BIN"); p != "" {
		return p
	}
	buildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "sluice-e2e-bin")
		if err != nil {
			buildErr = err
			return
		}
		binPath = filepath.Join(dir, "sluice")
		cmd := exec.Command("go", "build", "-o", binPath, ".")
		cmd.Dir = repoRoot()
		out, err := cmd.CombinedOutput()
		if err != nil {
			buildErr = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return binPath
}

// proc is a running sluice process.
type proc struct {
	t        testing.TB
	cmd      *exec.Cmd
	PG, HTTP string
	logs     *logBuffer
	done     chan error
}

type logBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (l *logBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// start runs `sluice args...` with the data in dataDir on free loopback
// ports and waits until /readyz answers 200.
func start(t testing.TB, dataDir string, env []string, args ...string) *proc {
	t.Helper()
	all := append([]string{"--data-dir", dataDir, "--pg-addr", "127.0.0.1:0", "--http-addr", "127.0.0.1:0",
		"--log-format", "json", "--shutdown-timeout", "20s"}, args...)
	cmd := exec.Command(binary(t), all...)
	cmd.Env = append(os.Environ(), env...)
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	s := &proc{t: t, cmd: cmd, logs: &logBuffer{}, done: make(chan error, 1)}
	addrs := make(chan [2]string, 1)
	go func() {
		sc := bufio.NewScanner(stderr)
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		for sc.Scan() {
			line := sc.Text()
			s.logs.mu.Lock()
			s.logs.b.WriteString(line + "\n")
			s.logs.mu.Unlock()
			var rec map[string]any
			if json.Unmarshal([]byte(line), &rec) == nil && rec["msg"] == "sluice listening" {
				pg, _ := rec["pg"].(string)
				h, _ := rec["http"].(string)
				addrs <- [2]string{pg, h}
			}
		}
		io.Copy(io.Discard, stderr)
		s.done <- cmd.Wait()
	}()
	t.Cleanup(func() {
		if cmd.ProcessState == nil {
			cmd.Process.Kill()
			<-s.done
		}
	})
	select {
	case a := <-addrs:
		s.PG, s.HTTP = a[0], a[1]
	case err := <-s.done:
		t.Fatalf("sluice exited before listening: %v\n%s", err, s.logs)
	case <-time.After(90 * time.Second):
		t.Fatalf("sluice did not start listening in 90s\n%s", s.logs)
	}
	deadline := time.Now().Add(60 * time.Second)
	for {
		res, err := http.Get("http://" + s.HTTP + "/readyz")
		if err == nil {
			res.Body.Close()
			if res.StatusCode == 200 {
				break
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("/readyz not 200 after 60s\n%s", s.logs)
		}
		time.Sleep(100 * time.Millisecond)
	}
	return s
}

// stop sends SIGTERM and requires a clean exit (status 0).
func (s *proc) stop() {
	s.t.Helper()
	if err := s.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		s.t.Fatal(err)
	}
	select {
	case err := <-s.done:
		if err != nil {
			s.t.Fatalf("sluice exited with %v after SIGTERM\n%s", err, s.logs)
		}
	case <-time.After(60 * time.Second):
		s.cmd.Process.Kill()
		s.t.Fatalf("sluice did not exit within 60s of SIGTERM\n%s", s.logs)
	}
}

// kill ends the process with SIGKILL and waits for it.
func (s *proc) kill() {
	s.t.Helper()
	if err := s.cmd.Process.Kill(); err != nil {
		s.t.Fatal(err)
	}
	<-s.done
}

// connString is a pgx/psql connection string for the server.
func (s *proc) connString() string {
	host, port, _ := strings.Cut(s.PG, ":")
	return fmt.Sprintf("host=%s port=%s user=sluice dbname=sluice sslmode=disable", host, port)
}

func (s *proc) connect(t testing.TB) *pgx.Conn {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := pgx.Connect(ctx, s.connString())
	if err != nil {
		t.Fatalf("pgx connect: %v", err)
	}
	t.Cleanup(func() { c.Close(context.Background()) })
	return c
}

// psql runs psql -At -c query and returns its output.
func (s *proc) psql(t testing.TB, query string) string {
	t.Helper()
	if _, err := exec.LookPath("psql"); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("psql is not installed (apt-get install postgresql-client)")
		}
		t.Skip("psql is not installed")
	}
	host, port, _ := strings.Cut(s.PG, ":")
	cmd := exec.Command("psql", "-X", "-At", "-v", "ON_ERROR_STOP=1", "-h", host, "-p", port, "-U", "sluice", "-d", "sluice", "-c", query)
	cmd.Env = append(os.Environ(), "PGCONNECT_TIMEOUT=10")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("psql -c %q: %v\n%s", query, err, out)
	}
	return strings.TrimSpace(string(out))
}

// eventually polls f until it returns nil or the timeout passes.
func eventually(t testing.TB, timeout time.Duration, what string, f func() error) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		err := f()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: still failing after %v: %v", what, timeout, err)
		}
		time.Sleep(250 * time.Millisecond)
	}
}
