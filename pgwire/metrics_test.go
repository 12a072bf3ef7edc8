package pgwire_test

import (
	"context"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/sluice-db/sluice/pgwire"
)

func TestMetrics(t *testing.T) {
	reg := prometheus.NewRegistry()
	ts := startServer(t, pgwire.Config{Registerer: reg})
	ctx := context.Background()
	c, err := pgx.Connect(ctx, ts.url(""))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Exec(ctx, "select 1"); err != nil {
		t.Fatal(err)
	}
	_, _ = c.Exec(ctx, "selec")
	_, _ = c.Exec(ctx, "select 1/0")
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]float64{}
	for _, mf := range mfs {
		for _, m := range mf.GetMetric() {
			key := mf.GetName()
			for _, lp := range m.GetLabel() {
				key += "," + lp.GetName() + "=" + lp.GetValue()
			}
			switch {
			case m.Gauge != nil:
				got[key] = m.GetGauge().GetValue()
			case m.Counter != nil:
				got[key] = m.GetCounter().GetValue()
			case m.Histogram != nil:
				got[key] = float64(m.GetHistogram().GetSampleCount())
			}
		}
	}
	for key, want := range map[string]float64{
		"sluice_pgwire_connections":           1,
		"sluice_pgwire_connections_total":     1,
		"sluice_pgwire_errors_total,class=42": 1,
		"sluice_pgwire_errors_total,class=22": 1,
	} {
		if got[key] != want {
			t.Errorf("%s = %v, want %v (all: %v)", key, got[key], want, got)
		}
	}
	// pgx runs Exec without arguments through the simple protocol.
	if got["sluice_pgwire_query_duration_seconds,protocol=simple"] < 2 {
		t.Errorf("latency histogram: %v", got)
	}
	c.Close(ctx)
	waitFor(t, "connection gauge to drop", func() bool {
		mfs, _ := reg.Gather()
		for _, mf := range mfs {
			if mf.GetName() == "sluice_pgwire_connections" {
				return mf.GetMetric()[0].GetGauge().GetValue() == 0
			}
		}
		return false
	})
}
