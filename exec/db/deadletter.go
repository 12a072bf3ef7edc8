package db

import (
	"sync"
	"time"

	"github.com/sluice-db/sluice/connectors"
)

// deadLetterLog keeps the most recent dead letters in memory for the
// sluice_dead_letters table and counts all of them. Connectors with a
// durable dead-letter destination (a Pulsar topic) write there as well; the
// table is the place a user looks first.
type deadLetterLog struct {
	mu    sync.Mutex
	max   int
	buf   []connectors.DeadLetter
	next  int   // ring position once buf is full
	total int64 // every dead letter ever recorded
	per   map[string]int64
}

func (l *deadLetterLog) add(dl connectors.DeadLetter) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.per == nil {
		l.per = map[string]int64{}
	}
	l.total++
	l.per[dl.Source]++
	if len(l.buf) < l.max {
		l.buf = append(l.buf, dl)
		return
	}
	l.buf[l.next] = dl
	l.next = (l.next + 1) % l.max
}

// list returns the kept dead letters, oldest first.
func (l *deadLetterLog) list() []connectors.DeadLetter {
	l.mu.Lock()
	defer l.mu.Unlock()
	out := make([]connectors.DeadLetter, 0, len(l.buf))
	out = append(out, l.buf[l.next:]...)
	out = append(out, l.buf[:l.next]...)
	return out
}

func (l *deadLetterLog) counts() (int64, map[string]int64) {
	l.mu.Lock()
	defer l.mu.Unlock()
	m := make(map[string]int64, len(l.per))
	for k, v := range l.per {
		m[k] = v
	}
	return l.total, m
}

// RecordDeadLetter records an input a source or the HTTP ingest could not
// decode. It never blocks for long.
func (d *DB) RecordDeadLetter(dl connectors.DeadLetter) {
	if dl.Time.IsZero() {
		dl.Time = d.cfg.Clock.Now()
	}
	if len(dl.Raw) > 1<<20 {
		dl.Raw = dl.Raw[:1<<20] // keep memory bounded; the reason says the size
		dl.Reason += " (raw bytes truncated to 1 MiB)"
	}
	d.dead.add(dl)
	d.log.Debug("dead letter", "source", dl.Source, "reason", dl.Reason, "offset", dl.Offset, "at", dl.Time.Format(time.RFC3339Nano))
}

// DeadLetterCounts returns how many dead letters were recorded in all and
// per source since the process started (the table keeps only the newest
// 10 000; the counts keep everything).
func (d *DB) DeadLetterCounts() (int64, map[string]int64) { return d.dead.counts() }
