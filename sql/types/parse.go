package types

import (
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/shopspring/decimal"
)

// ErrBadValue is wrapped by every error of ParseText.
var ErrBadValue = errors.New("invalid input value")

// ParseText parses s, in Postgres text input syntax, as a value of type t.
// Timestamps also accept RFC 3339 and integer epoch milliseconds.
func ParseText(t Type, s string) (Value, error) {
	switch t.Kind {
	case Null:
		return NewText(s), nil
	case Bool:
		switch strings.ToLower(strings.TrimSpace(s)) {
		case "t", "true", "yes", "on", "1", "y":
			return NewBool(true), nil
		case "f", "false", "no", "off", "0", "n":
			return NewBool(false), nil
		}
	case Int16, Int32, Int64:
		i, err := strconv.ParseInt(strings.TrimSpace(s), 10, 64)
		if err != nil {
			break
		}
		return CheckIntRange(t.Kind, i)
	case Float32, Float64:
		f, err := parseFloat(strings.TrimSpace(s))
		if err != nil {
			break
		}
		if t.Kind == Float32 {
			return NewFloat32(f), nil
		}
		return NewFloat(f), nil
	case Numeric:
		d, err := decimal.NewFromString(strings.TrimSpace(s))
		if err != nil {
			break
		}
		return CoerceNumeric(t, d)
	case Text:
		if t.Width > 0 && len([]rune(s)) > t.Width {
			return Value{}, fmt.Errorf("%w: value too long for type character varying(%d)", ErrBadValue, t.Width)
		}
		return NewText(s), nil
	case Bytea:
		if strings.HasPrefix(s, `\x`) {
			b, err := hex.DecodeString(s[2:])
			if err != nil {
				break
			}
			return NewBytea(b), nil
		}
		return NewBytea([]byte(s)), nil
	case JSONB:
		if !json.Valid([]byte(s)) {
			return Value{}, fmt.Errorf("%w: invalid input syntax for type json: %q", ErrBadValue, clip(s))
		}
		return NewJSONB(s), nil
	case Date:
		tm, err := time.Parse("2006-01-02", strings.TrimSpace(s))
		if err != nil {
			if us, err2 := ParseTimestamp(s); err2 == nil {
				return NewDate(floorDiv(us, MicrosPerDay)), nil
			}
			break
		}
		return NewDate(tm.Unix() / 86400), nil
	case Timestamp, TimestampTZ:
		us, err := ParseTimestamp(s)
		if err != nil {
			break
		}
		return Value{K: t.Kind, I: us}, nil
	case Interval:
		us, err := ParseInterval(s)
		if err != nil {
			return Value{}, err
		}
		return NewIntervalMicros(us), nil
	}
	return Value{}, fmt.Errorf("%w: invalid input syntax for type %s: %q", ErrBadValue, t, clip(s))
}

func clip(s string) string {
	if len(s) > 64 {
		return s[:64] + "..."
	}
	return s
}

func parseFloat(s string) (float64, error) {
	switch strings.ToLower(s) {
	case "nan":
		return math.NaN(), nil
	case "infinity", "inf", "+infinity":
		return math.Inf(1), nil
	case "-infinity", "-inf":
		return math.Inf(-1), nil
	}
	return strconv.ParseFloat(s, 64)
}

// CheckIntRange returns i as a value of integer kind k, or an out-of-range
// error.
func CheckIntRange(k Kind, i int64) (Value, error) {
	switch k {
	case Int16:
		if i < math.MinInt16 || i > math.MaxInt16 {
			return Value{}, fmt.Errorf("%w: smallint out of range", ErrBadValue)
		}
	case Int32:
		if i < math.MinInt32 || i > math.MaxInt32 {
			return Value{}, fmt.Errorf("%w: integer out of range", ErrBadValue)
		}
	}
	return Value{K: k, I: i}, nil
}

// CoerceNumeric rounds d to the scale of t and checks its precision.
func CoerceNumeric(t Type, d decimal.Decimal) (Value, error) {
	if t.Precision > 0 {
		d = d.Round(int32(t.Scale))
		digits := len(d.Coefficient().String())
		if d.Coefficient().Sign() < 0 {
			digits--
		}
		intDigits := digits + int(d.Exponent())
		if intDigits > t.Precision-t.Scale && !d.IsZero() {
			return Value{}, fmt.Errorf("%w: numeric field overflow: precision %d, scale %d", ErrBadValue, t.Precision, t.Scale)
		}
		return Value{K: Numeric, S: d.StringFixed(int32(t.Scale))}, nil
	}
	return NewNumeric(d), nil
}

var timestampLayouts = []string{
	time.RFC3339Nano,
	"2006-01-02T15:04:05.999999999-0700",
	"2006-01-02 15:04:05.999999999-0700",
	"2006-01-02 15:04:05.999999999Z07:00",
	"2006-01-02 15:04:05.999999999Z07",
	"2006-01-02 15:04:05.999999999-07",
	"2006-01-02 15:04:05.999999999",
	"2006-01-02T15:04:05.999999999",
	"2006-01-02 15:04",
	"2006-01-02",
}

// ParseTimestamp parses RFC 3339, "YYYY-MM-DD HH:MM:SS[.ffffff][zone]" or
// integer epoch milliseconds into microseconds since the epoch (UTC).
func ParseTimestamp(s string) (int64, error) { return ParseTimestampIn(s, time.UTC) }

// ParseTimestampIn is ParseTimestamp with a text without a zone offset
// taken as local time in loc (a session's TimeZone, as Postgres reads
// timestamptz input).
func ParseTimestampIn(s string, loc *time.Location) (int64, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return 0, fmt.Errorf("%w: empty timestamp", ErrBadValue)
	}
	if c := s[0]; c == '-' || (c >= '0' && c <= '9') {
		if ms, err := strconv.ParseInt(s, 10, 64); err == nil {
			return ms * 1000, nil
		}
	}
	if len(s) > 10 && s[10] == 't' { // RFC 3339 allows lower-case T and Z
		s = s[:10] + "T" + s[11:]
	}
	if strings.HasSuffix(s, "z") {
		s = s[:len(s)-1] + "Z"
	}
	for _, l := range timestampLayouts {
		if t, err := time.Parse(l, s); err == nil {
			if loc == time.UTC || strings.Contains(l, "07") { // UTC, or the text has an offset
				return t.UnixMicro(), nil
			}
			return wallToUnix(t, loc).UnixMicro(), nil
		}
	}
	return 0, fmt.Errorf("%w: invalid input syntax for type timestamp: %q", ErrBadValue, clip(s))
}

// wallToUnix returns the instant at which clocks in loc show the wall time
// w (whose fields are read as if UTC), resolving daylight-saving changes
// as Postgres does: a wall time that occurs twice (clocks set back) takes
// the offset in force after the change, and one that does not occur
// (clocks set forward) is read with the offset in force before it.
func wallToUnix(w time.Time, loc *time.Location) time.Time {
	offAt := func(t time.Time) int {
		_, off := t.In(loc).Zone()
		return off
	}
	before, after := offAt(w.Add(-24*time.Hour)), offAt(w.Add(24*time.Hour))
	atBefore := w.Add(-time.Duration(before) * time.Second)
	if before == after {
		return atBefore
	}
	atAfter := w.Add(-time.Duration(after) * time.Second)
	if offAt(atAfter) == after { // valid with the later offset (also when ambiguous)
		return atAfter
	}
	return atBefore // valid with the earlier offset, or in the gap
}

// UnitMicros returns the length of one interval unit ("second", "minutes",
// "MINUTE", "ms", ...) in microseconds.
func UnitMicros(unit string) (int64, bool) {
	u := strings.ToLower(strings.TrimSpace(unit))
	switch u {
	case "us", "usec", "usecs", "microsecond", "microseconds":
		return 1, true
	case "ms", "msec", "msecs", "millisecond", "milliseconds":
		return 1000, true
	case "s", "sec", "secs", "second", "seconds":
		return MicrosPerSecond, true
	case "m", "min", "mins", "minute", "minutes":
		return MicrosPerMinute, true
	case "h", "hr", "hrs", "hour", "hours":
		return MicrosPerHour, true
	case "d", "day", "days":
		return MicrosPerDay, true
	case "w", "week", "weeks":
		return 7 * MicrosPerDay, true
	case "mon", "mons", "month", "months":
		return 30 * MicrosPerDay, true
	case "y", "year", "years":
		return 365 * MicrosPerDay, true
	}
	return 0, false
}

// ParseInterval parses Postgres interval input: "1 minute", "2 hours 30
// minutes", "1 day 02:00:00", "00:05:00", "-1 second", "1.5 seconds", or a
// bare number of seconds. It returns microseconds.
func ParseInterval(s string) (int64, error) {
	fields := strings.Fields(strings.ToLower(strings.TrimSpace(s)))
	if len(fields) == 0 {
		return 0, fmt.Errorf("%w: invalid input syntax for type interval: %q", ErrBadValue, s)
	}
	var total int64
	for i := 0; i < len(fields); i++ {
		f := fields[i]
		if strings.Contains(f, ":") {
			us, err := parseClock(f)
			if err != nil {
				return 0, err
			}
			total += us
			continue
		}
		n, err := strconv.ParseFloat(f, 64)
		if err != nil {
			// A number glued to its unit: "1s", "10min", "1.5h".
			j := strings.IndexFunc(f, func(r rune) bool { return (r < '0' || r > '9') && r != '.' && r != '-' && r != '+' })
			mul, ok := int64(0), false
			if j > 0 {
				mul, ok = UnitMicros(f[j:])
			}
			n2, err2 := strconv.ParseFloat(f[:max(j, 0)], 64)
			if !ok || err2 != nil {
				return 0, fmt.Errorf("%w: invalid input syntax for type interval: %q", ErrBadValue, s)
			}
			total += int64(math.Round(n2 * float64(mul)))
			continue
		}
		unit := "second"
		if i+1 < len(fields) {
			if _, ok := UnitMicros(fields[i+1]); ok {
				unit = fields[i+1]
				i++
			}
		}
		mul, _ := UnitMicros(unit)
		total += int64(math.Round(n * float64(mul)))
	}
	return total, nil
}

func parseClock(f string) (int64, error) {
	neg := strings.HasPrefix(f, "-")
	f = strings.TrimPrefix(f, "-")
	parts := strings.Split(f, ":")
	if len(parts) < 2 || len(parts) > 3 {
		return 0, fmt.Errorf("%w: invalid interval %q", ErrBadValue, f)
	}
	h, err1 := strconv.ParseInt(parts[0], 10, 64)
	m, err2 := strconv.ParseInt(parts[1], 10, 64)
	var sec float64
	var err3 error
	if len(parts) == 3 {
		sec, err3 = strconv.ParseFloat(parts[2], 64)
	}
	if err1 != nil || err2 != nil || err3 != nil {
		return 0, fmt.Errorf("%w: invalid interval %q", ErrBadValue, f)
	}
	us := h*MicrosPerHour + m*MicrosPerMinute + int64(math.Round(sec*1e6))
	if neg {
		us = -us
	}
	return us, nil
}

func floorDiv(a, b int64) int64 {
	q := a / b
	if (a%b != 0) && ((a < 0) != (b < 0)) {
		q--
	}
	return q
}

// FloorDiv divides rounding toward negative infinity (window arithmetic on
// timestamps before the epoch needs it).
func FloorDiv(a, b int64) int64 { return floorDiv(a, b) }
