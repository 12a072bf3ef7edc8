package types

import (
	"math"
	"testing"

	"github.com/shopspring/decimal"
)

func TestFloatTextLikePostgres(t *testing.T) {
	for _, tc := range []struct {
		f    float64
		bits int
		want string
	}{
		{1704067200, 64, "1704067200"},
		{0.1, 64, "0.1"},
		{1e15, 64, "1e+15"},
		{123456789012345, 64, "123456789012345"},
		{0.0001, 64, "0.0001"},
		{0.00001, 64, "1e-05"},
		{-2.5, 64, "-2.5"},
		{1234567, 32, "1.234567e+06"},
		{123456, 32, "123456"},
		{math.Inf(1), 64, "Infinity"},
		{math.NaN(), 64, "NaN"},
	} {
		v := NewFloat(tc.f)
		if tc.bits == 32 {
			v = NewFloat32(tc.f)
		}
		if got := v.String(); got != tc.want {
			t.Errorf("%v (float%d): got %q, want %q", tc.f, tc.bits, got, tc.want)
		}
	}
}

func TestNumericKeepsScale(t *testing.T) {
	v, err := ParseText(TNumeric, "-12.50")
	if err != nil || v.String() != "-12.50" {
		t.Fatalf("got %q, %v", v.String(), err)
	}
	if got := NewNumeric(decimal.RequireFromString("3.000")).String(); got != "3.000" {
		t.Fatalf("got %q", got)
	}
	if got := NewNumeric(decimal.NewFromInt(42)).String(); got != "42" {
		t.Fatalf("got %q", got)
	}
}

func TestParseIntervalForms(t *testing.T) {
	for in, want := range map[string]int64{
		"1s":                 MicrosPerSecond,
		"10min":              10 * MicrosPerMinute,
		"1.5h":               90 * MicrosPerMinute,
		"1 second":           MicrosPerSecond,
		"2 hours 30 minutes": 150 * MicrosPerMinute,
		"1 day 02:00:00":     26 * MicrosPerHour,
		"00:05:00":           5 * MicrosPerMinute,
		"-1 second":          -MicrosPerSecond,
		"250 ms":             250_000,
		"3":                  3 * MicrosPerSecond,
	} {
		got, err := ParseInterval(in)
		if err != nil || got != want {
			t.Errorf("%q: got %d, %v; want %d", in, got, err, want)
		}
	}
	for _, bad := range []string{"", "abc", "1 fortnight", "1x"} {
		if _, err := ParseInterval(bad); err == nil {
			t.Errorf("%q: want an error", bad)
		}
	}
}

func TestParseTimestampForms(t *testing.T) {
	want := int64(1704067200) * MicrosPerSecond
	for _, in := range []string{"2024-01-01T00:00:00Z", "2024-01-01 00:00:00", "1704067200000", "2024-01-01 00:00:00+00", "2024-01-01t00:00:00z", "2024-01-01T01:00:00+0100", "2024-01-01 02:00:00+0200"} {
		got, err := ParseTimestamp(in)
		if err != nil || got != want {
			t.Errorf("%q: got %d, %v; want %d", in, got, err, want)
		}
	}
}
