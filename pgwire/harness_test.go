package pgwire_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"testing"
	"time"

	"github.com/sluice-db/sluice/pgwire"
	"github.com/sluice-db/sluice/pgwire/pgwiretest"
)

// testServer is a Server over a fake backend on a loopback port.
type testServer struct {
	srv  *pgwire.Server
	fake *pgwiretest.Fake
	addr string
}

func startServer(t testing.TB, cfg pgwire.Config) *testServer {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	fake := pgwiretest.New()
	srv := pgwire.NewServer(cfg, fake)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ctx, l) }()
	t.Cleanup(func() {
		sctx, scancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer scancel()
		if err := srv.Shutdown(sctx); err != nil {
			t.Errorf("shutdown: %v", err)
		}
		cancel()
		<-done
	})
	return &testServer{srv: srv, fake: fake, addr: l.Addr().String()}
}

func (ts *testServer) url(extra string) string {
	host, port, _ := net.SplitHostPort(ts.addr)
	u := fmt.Sprintf("postgres://sluice@%s:%s/sluice?sslmode=disable", host, port)
	if extra != "" {
		u += "&" + extra
	}
	return u
}
