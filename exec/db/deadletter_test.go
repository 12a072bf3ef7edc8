package db

import (
	"path/filepath"
	"testing"

	"github.com/sluice-db/sluice/connectors"
)

// TestDeadLetterReplayKeptOnce: a replayable dead letter (a Pulsar message
// or file offset) read again, by another job or after a restart, is kept
// and counted once; letters without an identity (HTTP lines) are all kept;
// a letter the table no longer holds may be recorded again.
func TestDeadLetterReplayKeptOnce(t *testing.T) {
	path := filepath.Join(t.TempDir(), deadLetterFile)
	open := func() *deadLetterLog {
		l := &deadLetterLog{max: 3}
		if err := l.open(path); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(l.close)
		return l
	}
	at := func(off string) connectors.DeadLetter {
		return connectors.DeadLetter{Source: "s", Partition: 1, Offset: off, Replayable: true, Raw: []byte(off), Reason: "bad"}
	}
	http := connectors.DeadLetter{Source: "s", Offset: "http line 1", Raw: []byte("x"), Reason: "bad"}
	add := func(l *deadLetterLog, dl connectors.DeadLetter, want bool) {
		t.Helper()
		added, err := l.add(dl)
		if err != nil {
			t.Fatal(err)
		}
		if added != want {
			t.Fatalf("add %s: added %v, want %v", dl.Offset, added, want)
		}
	}
	l := open()
	add(l, at("a"), true)
	add(l, at("a"), false) // another job's reader
	other := at("a")
	other.Partition = 2
	add(l, other, true) // another partition, another input
	add(l, http, true)
	if total, per := l.counts(); total != 3 || per["s"] != 3 {
		t.Fatalf("counts %d %v, want 3", total, per)
	}
	l.close()

	l = open() // a restart replays the inputs after its checkpoint
	if got := len(l.list()); got != 3 {
		t.Fatalf("reloaded %d letters, want 3", got)
	}
	add(l, at("a"), false)
	add(l, http, true) // no identity: kept again
	if got := l.list(); len(got) != 3 || got[2].Offset != "http line 1" {
		t.Fatalf("kept %+v", got)
	}
	// The ring of 3 has let "a" of partition 1 go: it may come back.
	add(l, at("a"), true)
	if total, _ := l.counts(); total != 5 { // the 3 reloaded, then 2
		t.Fatalf("total %d, want 5", total)
	}
}
