package format

import (
	"github.com/sluice-db/sluice/sql/types"
)

// parseTimestamp parses the timestamp text forms events carry into
// microseconds since the epoch (UTC). The common shapes
// "YYYY-MM-DD[T ]HH:MM:SS[.f{1,9}][Z|±HH[:MM]]" take a fast path without
// allocation; everything else goes to types.ParseTimestamp.
func parseTimestamp(b []byte) (int64, error) {
	if us, ok := fastTimestamp(b); ok {
		return us, nil
	}
	return types.ParseTimestamp(string(b))
}

func digits(b []byte, n int) (int, bool) {
	if len(b) < n {
		return 0, false
	}
	v := 0
	for i := 0; i < n; i++ {
		c := b[i]
		if c < '0' || c > '9' {
			return 0, false
		}
		v = v*10 + int(c-'0')
	}
	return v, true
}

func fastTimestamp(b []byte) (int64, bool) { return fastTimestampDay(b, nil) }

// dayCache remembers the last date a decoder parsed: events of one stream
// mostly share their date, so its digits are checked and converted once.
type dayCache struct {
	date [10]byte
	days int64
	ok   bool
}

// fastTimestampDay is fastTimestamp with the date looked up in c (when
// not nil) before it is parsed.
func fastTimestampDay(b []byte, c *dayCache) (int64, bool) {
	if len(b) < 19 || b[4] != '-' || b[7] != '-' || (b[10] != 'T' && b[10] != ' ' && b[10] != 't') || b[13] != ':' || b[16] != ':' {
		return 0, false
	}
	var days int64
	if c != nil && c.ok && string(b[:10]) == string(c.date[:]) {
		days = c.days
	} else {
		y, ok1 := digits(b[0:], 4)
		mo, ok2 := digits(b[5:], 2)
		d, ok3 := digits(b[8:], 2)
		if !(ok1 && ok2 && ok3) || mo < 1 || mo > 12 || d < 1 || d > daysIn(y, mo) {
			return 0, false
		}
		days = daysFromCivil(int64(y), int64(mo), int64(d))
		if c != nil {
			copy(c.date[:], b[:10])
			c.days, c.ok = days, true
		}
	}
	h, ok4 := digits(b[11:], 2)
	mi, ok5 := digits(b[14:], 2)
	s, ok6 := digits(b[17:], 2)
	if !(ok4 && ok5 && ok6) || h > 23 || mi > 59 || s > 59 {
		return 0, false
	}
	rest := b[19:]
	var frac int64
	if len(rest) > 0 && rest[0] == '.' {
		i := 1
		scale := int64(100000)
		for i < len(rest) && rest[i] >= '0' && rest[i] <= '9' {
			if i <= 6 {
				frac += int64(rest[i]-'0') * scale
				scale /= 10
			}
			i++
		}
		if i == 1 || i > 10 {
			return 0, false
		}
		rest = rest[i:]
	}
	var off int64
	switch {
	case len(rest) == 0:
	case len(rest) == 1 && (rest[0] == 'Z' || rest[0] == 'z'):
	case rest[0] == '+' || rest[0] == '-':
		oh, ok := digits(rest[1:], 2)
		if !ok {
			return 0, false
		}
		om := 0
		switch len(rest) {
		case 3:
		case 6:
			if rest[3] != ':' {
				return 0, false
			}
			if om, ok = digits(rest[4:], 2); !ok {
				return 0, false
			}
		case 5:
			if om, ok = digits(rest[3:], 2); !ok {
				return 0, false
			}
		default:
			return 0, false
		}
		if oh > 23 || om > 59 {
			return 0, false
		}
		off = int64(oh*3600+om*60) * 1e6
		if rest[0] == '-' {
			off = -off
		}
	default:
		return 0, false
	}
	us := (days*86400+int64(h*3600+mi*60+s))*1e6 + frac - off
	return us, true
}

func isLeap(y int) bool { return y%4 == 0 && (y%100 != 0 || y%400 == 0) }

func daysIn(y, m int) int {
	switch m {
	case 2:
		if isLeap(y) {
			return 29
		}
		return 28
	case 4, 6, 9, 11:
		return 30
	}
	return 31
}

// daysFromCivil returns days since 1970-01-01 of a proleptic Gregorian date
// (Howard Hinnant's algorithm).
func daysFromCivil(y, m, d int64) int64 {
	if m <= 2 {
		y--
	}
	era := y / 400
	if y < 0 && y%400 != 0 {
		era = (y - 399) / 400
	}
	yoe := y - era*400
	mp := (m + 9) % 12
	doy := (153*mp+2)/5 + d - 1
	doe := yoe*365 + yoe/4 - yoe/100 + doy
	return era*146097 + doe - 719468
}
