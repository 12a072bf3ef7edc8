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
	// Checkpoints are per job (a view's or sink's dataflow).
	Checkpoints []CheckpointStats
	// Recoveries are the jobs restored from a checkpoint at start.
	Recoveries []RecoveryStats
}

// RecoveryStats describes one job's restore from a checkpoint.
type RecoveryStats struct {
	Job string
	// Duration is how long loading and restoring the checkpoint took.
	Duration time.Duration
	// Skipped counts newer checkpoints that were corrupt or incomplete.
	Skipped int
}

// CheckpointStats describes the checkpoints of one job.
type CheckpointStats struct {
	Job string
	// Count is the completed checkpoints, Failures the failed ones.
	Count, Failures int64
	// LastDuration is how long the last checkpoint took; LastEpoch its
	// epoch; LastBytes the state it wrote.
	LastDuration time.Duration
	LastEpoch    uint64
	LastBytes    int64
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

	sourceEvents, sourceLag            *prometheus.Desc
	viewIn, wmDelay, stateBytes, late  *prometheus.Desc
	sinkEvents, sinkEpoch, deadLetters *prometheus.Desc
	ckptCount, ckptFailures            *prometheus.Desc
	ckptDuration, ckptEpoch, ckptBytes *prometheus.Desc
	recovery, recoverySkipped          *prometheus.Desc
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
		ckptCount:       d("sluice_checkpoints_total", "Completed checkpoints of a job (a view's or sink's dataflow).", []string{"job"}, nil),
		ckptFailures:    d("sluice_checkpoint_failures_total", "Failed checkpoints of a job.", []string{"job"}, nil),
		ckptDuration:    d("sluice_checkpoint_duration_seconds", "Duration of a job's last completed checkpoint.", []string{"job"}, nil),
		ckptEpoch:       d("sluice_checkpoint_epoch", "Epoch of a job's last completed checkpoint.", []string{"job"}, nil),
		ckptBytes:       d("sluice_checkpoint_bytes", "State bytes written by a job's last checkpoint.", []string{"job"}, nil),
		recovery:        d("sluice_recovery_duration_seconds", "Time a job took to restore its checkpoint when the process started.", []string{"job"}, nil),
		recoverySkipped: d("sluice_recovery_skipped_checkpoints", "Newer checkpoints a job found corrupt or incomplete and skipped when it restored.", []string{"job"}, nil),
	}
}

func (c *statsCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{c.sourceEvents, c.sourceLag, c.viewIn, c.wmDelay, c.stateBytes, c.late,
		c.sinkEvents, c.sinkEpoch, c.deadLetters, c.ckptCount, c.ckptFailures, c.ckptDuration, c.ckptEpoch, c.ckptBytes, c.recovery, c.recoverySkipped} {
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
	for _, k := range st.Checkpoints {
		ch <- cm(c.ckptCount, prometheus.CounterValue, float64(k.Count), k.Job)
		ch <- cm(c.ckptFailures, prometheus.CounterValue, float64(k.Failures), k.Job)
		if k.Count > 0 {
			ch <- cm(c.ckptDuration, prometheus.GaugeValue, k.LastDuration.Seconds(), k.Job)
			ch <- cm(c.ckptEpoch, prometheus.GaugeValue, float64(k.LastEpoch), k.Job)
			ch <- cm(c.ckptBytes, prometheus.GaugeValue, float64(k.LastBytes), k.Job)
		}
	}
	for _, r := range st.Recoveries {
		ch <- cm(c.recovery, prometheus.GaugeValue, r.Duration.Seconds(), r.Job)
		ch <- cm(c.recoverySkipped, prometheus.GaugeValue, float64(r.Skipped), r.Job)
	}
}
