package server

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Stats is a point-in-time picture of the database for /metrics. The
// database glue fills it (exec/db's Stats, mapped in main).
type Stats struct {
	Sources []SourceStats
	Views   []ViewStats
	Sinks   []SinkStats
	// DeadLetters counts rejected inputs per source (connector decode
	// failures and HTTP ingest rejects).
	DeadLetters map[string]int64
	// Checkpoints is the number of completed checkpoints, CheckpointSeconds
	// the sum of their durations (exported as a summary with count and sum)
	// and CheckpointFailures the number that failed.
	Checkpoints        int64
	CheckpointSeconds  float64
	CheckpointFailures int64
	// LastCheckpoint is when the last checkpoint completed (zero: never).
	LastCheckpoint time.Time
}

// SourceStats describes one source or table.
type SourceStats struct {
	Name string
	// Events is the number of rows read (or ingested) so far.
	Events int64
	// Lag is the consumer backlog in LagUnit ("messages" or "bytes"); -1
	// when the connector cannot tell.
	Lag     int64
	LagUnit string
}

// ViewStats describes one materialized view.
type ViewStats struct {
	Name string
	// EventsIn counts rows entering the view's dataflow, EventsOut the
	// changes it emitted (inserts and retractions).
	EventsIn, EventsOut int64
	// Watermark is the view's current event-time watermark (zero: none yet).
	Watermark time.Time
	// StateBytes estimates the operator state held for the view.
	StateBytes int64
	// LateEvents counts rows that arrived after their window closed beyond
	// the allowed lateness (recorded in sluice_late_events, never dropped
	// silently).
	LateEvents int64
}

// SinkStats describes one sink.
type SinkStats struct {
	Name      string
	Events    int64
	LastEpoch uint64
}

// statsCollector is a prometheus.Collector that reads Stats at scrape time.
type statsCollector struct {
	stats func() Stats
	now   func() time.Time

	sourceEvents, sourceLag                     *prometheus.Desc
	viewIn, wmDelay, stateBytes, late           *prometheus.Desc
	sinkEvents, sinkEpoch, deadLetters          *prometheus.Desc
	ckptDuration, ckptFailures, ckptLastSuccess *prometheus.Desc
}

// NewStatsCollector returns a collector exporting the sluice_* metrics from
// stats, which is called once per scrape. now is used for the watermark
// delay (time.Now in production).
func NewStatsCollector(stats func() Stats, now func() time.Time) prometheus.Collector {
	d := prometheus.NewDesc
	return &statsCollector{
		stats:           stats,
		now:             now,
		sourceEvents:    d("sluice_source_events_total", "Rows read or ingested by a source or table.", []string{"source"}, nil),
		sourceLag:       d("sluice_source_lag", "Consumer backlog of a source, in the unit of the unit label.", []string{"source", "unit"}, nil),
		viewIn:          d("sluice_view_events_total", "Rows entering (direction=in) or changes leaving (direction=out) a materialized view.", []string{"view", "direction"}, nil),
		wmDelay:         d("sluice_view_watermark_delay_seconds", "How far a view's event-time watermark is behind the wall clock.", []string{"view"}, nil),
		stateBytes:      d("sluice_state_bytes", "Estimated operator state held by a view.", []string{"view"}, nil),
		late:            d("sluice_late_events_total", "Rows that arrived after their window closed beyond the allowed lateness (kept in sluice_late_events).", []string{"view"}, nil),
		sinkEvents:      d("sluice_sink_events_total", "Changes written by a sink.", []string{"sink"}, nil),
		sinkEpoch:       d("sluice_sink_committed_epoch", "Last checkpoint epoch a sink committed.", []string{"sink"}, nil),
		deadLetters:     d("sluice_dead_letters_total", "Inputs a source could not decode or validate (kept in sluice_dead_letters).", []string{"source"}, nil),
		ckptDuration:    d("sluice_checkpoint_duration_seconds", "Duration of completed checkpoints.", nil, nil),
		ckptFailures:    d("sluice_checkpoint_failures_total", "Checkpoints that failed.", nil, nil),
		ckptLastSuccess: d("sluice_checkpoint_last_success_timestamp_seconds", "Unix time of the last completed checkpoint.", nil, nil),
	}
}

func (c *statsCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{c.sourceEvents, c.sourceLag, c.viewIn, c.wmDelay, c.stateBytes, c.late,
		c.sinkEvents, c.sinkEpoch, c.deadLetters, c.ckptDuration, c.ckptFailures, c.ckptLastSuccess} {
		ch <- d
	}
}

func (c *statsCollector) Collect(ch chan<- prometheus.Metric) {
	st := c.stats()
	now := c.now()
	cm := prometheus.MustNewConstMetric
	for _, s := range st.Sources {
		ch <- cm(c.sourceEvents, prometheus.CounterValue, float64(s.Events), s.Name)
		if s.Lag >= 0 && s.LagUnit != "" {
			ch <- cm(c.sourceLag, prometheus.GaugeValue, float64(s.Lag), s.Name, s.LagUnit)
		}
	}
	for _, v := range st.Views {
		ch <- cm(c.viewIn, prometheus.CounterValue, float64(v.EventsIn), v.Name, "in")
		ch <- cm(c.viewIn, prometheus.CounterValue, float64(v.EventsOut), v.Name, "out")
		if !v.Watermark.IsZero() {
			ch <- cm(c.wmDelay, prometheus.GaugeValue, now.Sub(v.Watermark).Seconds(), v.Name)
		}
		ch <- cm(c.stateBytes, prometheus.GaugeValue, float64(v.StateBytes), v.Name)
		ch <- cm(c.late, prometheus.CounterValue, float64(v.LateEvents), v.Name)
	}
	for _, s := range st.Sinks {
		ch <- cm(c.sinkEvents, prometheus.CounterValue, float64(s.Events), s.Name)
		ch <- cm(c.sinkEpoch, prometheus.GaugeValue, float64(s.LastEpoch), s.Name)
	}
	for src, n := range st.DeadLetters {
		ch <- cm(c.deadLetters, prometheus.CounterValue, float64(n), src)
	}
	ch <- prometheus.MustNewConstSummary(c.ckptDuration, uint64(st.Checkpoints), st.CheckpointSeconds, nil)
	ch <- cm(c.ckptFailures, prometheus.CounterValue, float64(st.CheckpointFailures))
	if !st.LastCheckpoint.IsZero() {
		ch <- cm(c.ckptLastSuccess, prometheus.GaugeValue, float64(st.LastCheckpoint.UnixNano())/1e9)
	}
}
