package format

import (
	"encoding/binary"

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
	// lo and hi are date as little-endian words, compared without a call.
	lo   uint64
	hi   uint16
	days int64
	ok   bool
}

// two parses the two digits at b[i:] (b holds at least i+2 bytes).
func two(b []byte, i int) (int, bool) {
	d1, d2 := b[i]-'0', b[i+1]-'0' // bytes below '0' wrap above 9
	return int(d1)*10 + int(d2), d1 <= 9 && d2 <= 9
}

// fracScale[n] scales a fraction of n digits to microseconds.
var fracScale = [...]int64{0, 100000, 10000, 1000, 100, 10, 1}

// fastTimestampDay is fastTimestamp with the date looked up in c (when
// not nil) before it is parsed.
func fastTimestampDay(b []byte, c *dayCache) (int64, bool) {
	if len(b) < 19 || b[4] != '-' || b[7] != '-' || (b[10] != 'T' && b[10] != ' ' && b[10] != 't') || b[13] != ':' || b[16] != ':' {
		return 0, false
	}
	var days int64
	if c != nil && c.ok && binary.LittleEndian.Uint64(b) == c.lo && binary.LittleEndian.Uint16(b[8:]) == c.hi {
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
			c.lo, c.hi = binary.LittleEndian.Uint64(b), binary.LittleEndian.Uint16(b[8:])
			c.days, c.ok = days, true
		}
	}
	h, ok4 := two(b, 11)
	mi, ok5 := two(b, 14)
	s, ok6 := two(b, 17)
	if !(ok4 && ok5 && ok6) || h > 23 || mi > 59 || s > 59 {
		return 0, false
	}
	rest := b[19:]
	var frac int64
	if len(rest) > 0 && rest[0] == '.' {
		i := 1
		for i < len(rest) && rest[i] >= '0' && rest[i] <= '9' {
			if i <= 6 {
				frac = frac*10 + int64(rest[i]-'0')
			}
			i++
		}
		if i == 1 || i > 10 {
			return 0, false
		}
		frac *= fracScale[min(i-1, 6)]
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
