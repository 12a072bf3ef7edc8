package types

import (
	"testing"
	"time"
)

// TestTimestampTZInZone checks timestamptz text in a session time zone
// against what PostgreSQL 15 prints and reads (tests/pgwire compares the
// same with a running PostgreSQL).
func TestTimestampTZInZone(t *testing.T) {
	load := func(name string) *time.Location {
		loc, err := time.LoadLocation(name)
		if err != nil {
			t.Skipf("no time zone data for %s: %v", name, err)
		}
		return loc
	}
	for _, c := range []struct {
		zone, in, out string
	}{
		{"Europe/Berlin", "2024-06-01 12:00:00.5+00", "2024-06-01 14:00:00.5+02"},
		{"Europe/Berlin", "2024-01-15 12:00:00", "2024-01-15 12:00:00+01"},
		{"Asia/Kolkata", "2024-06-01 12:00:00+00", "2024-06-01 17:30:00+05:30"},
		{"Asia/Kathmandu", "2024-06-01 00:00:00+00", "2024-06-01 05:45:00+05:45"},
		{"America/St_Johns", "2024-01-01 00:00:00+00", "2023-12-31 20:30:00-03:30"},
		{"Europe/Berlin", "1890-01-01 00:00:00+00", "1890-01-01 00:53:28+00:53:28"},
		// Clocks set back: the later offset. Clocks set forward: the
		// earlier offset, so the time moves on by the gap.
		{"America/Los_Angeles", "2024-11-03 01:30:00", "2024-11-03 01:30:00-08"},
		{"America/Los_Angeles", "2024-03-10 02:30:00", "2024-03-10 03:30:00-07"},
		{"Europe/Berlin", "2024-10-27 02:30:00", "2024-10-27 02:30:00+01"},
		{"Europe/Berlin", "2024-03-31 02:30:00", "2024-03-31 03:30:00+02"},
	} {
		loc := load(c.zone)
		us, err := ParseTimestampIn(c.in, loc)
		if err != nil {
			t.Errorf("%s %s: %v", c.zone, c.in, err)
			continue
		}
		if got := string(AppendTimestampTZIn(nil, us, loc)); got != c.out {
			t.Errorf("%s %s: got %s, want %s", c.zone, c.in, got, c.out)
		}
	}
	// UTC reads a text without offset as UTC, as ParseTimestamp does.
	a, _ := ParseTimestampIn("2024-06-01 12:00:00", time.UTC)
	b, _ := ParseTimestamp("2024-06-01 12:00:00")
	if a != b || string(AppendTimestampTZIn(nil, a, time.UTC)) != "2024-06-01 12:00:00+00" {
		t.Errorf("UTC: %d %d %s", a, b, AppendTimestampTZIn(nil, a, time.UTC))
	}
}
