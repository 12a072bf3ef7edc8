package grafana

import (
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/sluice-db/sluice/connectors/httpingest"
	"github.com/sluice-db/sluice/exec/server"
)

// captureRegisterer records the descriptors of registered collectors.
type captureRegisterer struct{ names map[string]bool }

var fqName = regexp.MustCompile(`fqName: "([^"]+)"`)

func (c *captureRegisterer) Register(col prometheus.Collector) error {
	ch := make(chan *prometheus.Desc, 64)
	go func() { col.Describe(ch); close(ch) }()
	for d := range ch {
		if m := fqName.FindStringSubmatch(d.String()); m != nil {
			c.names[m[1]] = true
		}
	}
	return nil
}

func (c *captureRegisterer) MustRegister(cs ...prometheus.Collector) {
	for _, col := range cs {
		_ = c.Register(col)
	}
}

func (c *captureRegisterer) Unregister(prometheus.Collector) bool { return true }

// TestOpsDashboardMetricsExist checks that every sluice_* metric the
// operations dashboard queries is one Sluice exports (pgwire's own metrics
// are named in pgwire.Config and accepted by prefix).
func TestOpsDashboardMetricsExist(t *testing.T) {
	reg := &captureRegisterer{names: map[string]bool{}}
	reg.MustRegister(server.NewStatsCollector(func() server.Stats { return server.Stats{} }, time.Now))
	httpingest.NewHandler(nil, httpingest.Config{Registerer: reg})
	ident := regexp.MustCompile(`sluice_[a-z_]+`)
	for _, p := range OpsDashboard().Panels {
		for _, tg := range p.Targets {
			for _, name := range ident.FindAllString(tg.Expr, -1) {
				base := strings.TrimSuffix(strings.TrimSuffix(strings.TrimSuffix(name, "_bucket"), "_sum"), "_count")
				if strings.HasPrefix(name, "sluice_pgwire_") {
					continue
				}
				if !reg.names[name] && !reg.names[base] {
					t.Errorf("panel %q queries %s, which Sluice does not export", p.Title, name)
				}
			}
		}
	}
	if len(reg.names) < 10 {
		t.Fatalf("captured only %v", reg.names)
	}
}
