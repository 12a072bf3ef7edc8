package format

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/valyala/fastjson"

	"github.com/sluice-db/sluice/sql/types"
)

func col(name string, t types.Type) types.Column {
	return types.Column{Name: name, Type: t, Nullable: true}
}

var bidSchema = types.Schema{
	{Name: "auction", Type: types.TInt64},
	{Name: "bidder", Type: types.TInt64},
	{Name: "price", Type: types.TFloat64},
	col("channel", types.TText),
	{Name: "ts", Type: types.TTimestamp},
}

func micros(s string) int64 {
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		panic(err)
	}
	return t.UnixMicro()
}

func TestJSONDecodeBid(t *testing.T) {
	d, err := NewDecoder("json", bidSchema, nil)
	if err != nil {
		t.Fatal(err)
	}
	row := make(types.Row, len(bidSchema))
	in := `{"auction": 17, "bidder": 4, "price": 12.5, "channel": "web\u00e9", "ts": "2026-11-29T12:00:01.250Z", "extra": [1,2]}`
	if err := d.Decode([]byte(in), row); err != nil {
		t.Fatal(err)
	}
	want := types.Row{types.NewInt(17), types.NewInt(4), types.NewFloat(12.5), types.NewText("webé"), types.NewTimestamp(micros("2026-11-29T12:00:01.25Z"))}
	if !types.EqualRows(row, want) {
		t.Fatalf("got %v, want %v", row, want)
	}
}

func TestJSONTimestampForms(t *testing.T) {
	s := types.Schema{{Name: "ts", Type: types.TTimestamp}}
	d, _ := NewJSONDecoder(s, nil)
	want := micros("2026-03-01T10:20:30.123Z")
	for _, in := range []string{
		`{"ts":"2026-03-01T10:20:30.123Z"}`,
		`{"ts":"2026-03-01 10:20:30.123"}`,
		`{"ts":"2026-03-01T11:20:30.123+01:00"}`,
		`{"ts":"2026-03-01 05:20:30.123-0500"}`,
		`{"ts":"2026-03-01T10:20:30.123000000Z"}`,
		`{"ts":1772360430123}`,
		`{"TS":"2026-03-01T10:20:30.123Z"}`,
	} {
		row := make(types.Row, 1)
		if err := d.Decode([]byte(in), row); err != nil {
			t.Fatalf("%s: %v", in, err)
		}
		if row[0].I != want {
			t.Errorf("%s: got %v want %v", in, time.UnixMicro(row[0].I).UTC(), time.UnixMicro(want).UTC())
		}
	}
	// The fast path agrees with the slow one.
	for _, in := range []string{"1969-12-31 23:59:59.999999", "2000-02-29T00:00:00Z", "1600-03-01 00:00:00", "2024-12-31T23:59:59.5+14:00"} {
		fast, ok := fastTimestamp([]byte(in))
		slow, err := types.ParseTimestamp(in)
		if !ok || err != nil || fast != slow {
			t.Errorf("%s: fast %d %v slow %d %v", in, fast, ok, slow, err)
		}
	}
	for _, bad := range []string{`{"ts":"2026-02-30 00:00:00"}`, `{"ts":"yesterday"}`, `{"ts":true}`, `{"ts":1e300}`} {
		row := make(types.Row, 1)
		err := d.Decode([]byte(bad), row)
		if !errors.Is(err, ErrDecode) || !strings.Contains(err.Error(), `"ts"`) {
			t.Errorf("%s: want a decode error naming ts, got %v", bad, err)
		}
	}
}

func TestJSONTypesAndNulls(t *testing.T) {
	s := types.Schema{
		col("b", types.TBool), col("i16", types.TInt16), col("i32", types.TInt32), col("f32", types.TFloat32),
		col("n", types.Type{Kind: types.Numeric, Precision: 10, Scale: 2}), col("d", types.TDate),
		col("j", types.TJSONB), col("iv", types.TInterval), col("by", types.TBytea), col("missing", types.TText),
	}
	d, _ := NewJSONDecoder(s, nil)
	row := make(types.Row, len(s))
	for i := range row {
		row[i] = types.NewInt(99) // Decode must overwrite stale values.
	}
	in := `{"b":true,"i16":-3,"i32":2.0,"f32":1.5,"n":"12.345","d":"2026-01-02","j":{"a":[1,{"b":null}]},"iv":"1 minute","by":"\\x0aff"}`
	if err := d.Decode([]byte(in), row); err != nil {
		t.Fatal(err)
	}
	want := types.Row{types.NewBool(true), types.NewIntKind(types.Int16, -3), types.NewIntKind(types.Int32, 2), types.NewFloat32(1.5),
		{K: types.Numeric, S: "12.35"}, types.NewDate(daysFromCivil(2026, 1, 2)), types.NewJSONB(`{"a":[1,{"b":null}]}`),
		types.NewIntervalMicros(60e6), types.NewBytea([]byte{0x0a, 0xff}), types.NullValue}
	for i := range want {
		if want[i] != row[i] {
			t.Errorf("column %s: got %#v want %#v", s[i].Name, row[i], want[i])
		}
	}
	for _, c := range []struct{ in, field, why string }{
		{`{"i16":70000}`, "i16", "out of range"},
		{`{"i32":1.5}`, "i32", "not a integer"},
		{`{"b":"yes"}`, "b", "expected boolean"},
		{`{"n":"abc"}`, "n", "not a numeric"},
		{`{"n":123456789.1}`, "n", "overflow"},
		{`{"missing":5}`, "missing", "expected text, got JSON number"},
	} {
		err := d.Decode([]byte(c.in), row)
		if err == nil || !strings.Contains(err.Error(), `"`+c.field+`"`) || !strings.Contains(err.Error(), c.why) {
			t.Errorf("%s: want error about %s (%s), got %v", c.in, c.field, c.why, err)
		}
	}
	for _, bad := range []string{``, `[1]`, `{"b":`, `nul`, `"x"`} {
		if err := d.Decode([]byte(bad), row); !errors.Is(err, ErrDecode) {
			t.Errorf("%q: want ErrDecode, got %v", bad, err)
		}
	}
}

func TestJSONNotNull(t *testing.T) {
	d, _ := NewJSONDecoder(bidSchema, nil)
	row := make(types.Row, len(bidSchema))
	err := d.Decode([]byte(`{"auction":1,"bidder":2,"ts":0}`), row)
	if err == nil || !strings.Contains(err.Error(), `"price": missing`) {
		t.Fatalf("want missing price, got %v", err)
	}
	err = d.Decode([]byte(`{"auction":1,"bidder":2,"price":null,"ts":0}`), row)
	if err == nil || !strings.Contains(err.Error(), `"price": null`) {
		t.Fatalf("want null price, got %v", err)
	}
	// channel is nullable: missing is NULL.
	if err := d.Decode([]byte(`{"auction":1,"bidder":2,"price":3,"ts":0}`), row); err != nil || !row[3].IsNull() {
		t.Fatalf("nullable missing: %v %v", err, row)
	}
	relaxed, _ := NewJSONDecoder(bidSchema, map[string]string{"json_missing": "null"})
	if err := relaxed.Decode([]byte(`{}`), row); err != nil {
		t.Fatalf("relaxed: %v", err)
	}
	if _, err := NewJSONDecoder(bidSchema, map[string]string{"json_missing": "x"}); !errors.Is(err, ErrBadOption) {
		t.Fatalf("bad option: %v", err)
	}
}

func TestJSONEncoderRoundTrip(t *testing.T) {
	s := types.Schema{col("a", types.TInt64), col("s", types.TText), col("f", types.TFloat64), col("ts", types.TTimestamp),
		col("j", types.TJSONB), col("n", types.TNumeric), col("d", types.TDate), col("nil", types.TText), col("inf", types.TFloat64)}
	row := types.Row{types.NewInt(-5), types.NewText("q\"uo\\te\n\x01é\xff"), types.NewFloat(0.1), types.NewTimestamp(micros("2026-11-29T12:00:00.5Z")),
		types.NewJSONB(`{"x":1}`), {K: types.Numeric, S: "-1.50"}, types.NewDate(20000), types.NullValue, types.NewFloat(math.Inf(1))}
	out := NewJSONEncoder(s).Append(nil, row)
	want := `{"a":-5,"s":"q\"uo\\te\n\u0001é\ufffd","f":0.1,"ts":"2026-11-29T12:00:00.5Z","j":{"x":1},"n":-1.50,"d":"2024-10-04","nil":null,"inf":"Infinity"}`
	if string(out) != want {
		t.Fatalf("got  %s\nwant %s", out, want)
	}
	if err := fastjson.ValidateBytes(out); err != nil {
		t.Fatal(err)
	}
	back := make(types.Row, len(s)-1)
	d, _ := NewJSONDecoder(s[:len(s)-1], nil)
	if err := d.Decode(out, back); err != nil {
		t.Fatal(err)
	}
	for i := range back {
		if i == 1 {
			continue // invalid UTF-8 was replaced
		}
		if !types.Equal(back[i], row[i]) && !(back[i].IsNull() && row[i].IsNull()) {
			t.Errorf("column %s: %#v -> %#v", s[i].Name, row[i], back[i])
		}
	}
}

func FuzzJSONDecode(f *testing.F) {
	for _, s := range []string{`{"auction":1,"bidder":2,"price":3.5,"channel":"x","ts":"2026-01-01T00:00:00Z"}`, `{"ts":123}`, `{}`, `[`, `{"price":"1"}`, `{"ts":"2026-01-01 00:00:00.1234567890+01"}`} {
		f.Add([]byte(s))
	}
	all := types.Schema{col("b", types.TBool), col("i", types.TInt16), col("f", types.TFloat32), col("n", types.Type{Kind: types.Numeric, Precision: 5, Scale: 1}),
		col("t", types.Type{Kind: types.Text, Width: 3}), col("ts", types.TTimestampTZ), col("d", types.TDate), col("j", types.TJSONB), col("iv", types.TInterval), col("by", types.TBytea)}
	f.Fuzz(func(t *testing.T, in []byte) {
		for _, s := range []types.Schema{bidSchema, all} {
			d, _ := NewJSONDecoder(s, nil)
			row := make(types.Row, len(s))
			err := d.Decode(in, row)
			if err != nil {
				if !errors.Is(err, ErrDecode) {
					t.Fatalf("error not wrapping ErrDecode: %v", err)
				}
				continue
			}
			for i, v := range row {
				if v.K != types.Null && v.K != s[i].Type.Kind {
					t.Fatalf("column %s: kind %v, want %v", s[i].Name, v.K, s[i].Type.Kind)
				}
			}
			// What decodes encodes to valid JSON that decodes to the same row.
			out := NewJSONEncoder(s).Append(nil, row)
			if err := fastjson.ValidateBytes(out); err != nil {
				t.Fatalf("encoder produced invalid JSON %s: %v", out, err)
			}
		}
	})
}

// narrowBidSchema is the columns of the file benchmark's query (the
// planner narrows the source to them): bidder and channel are skipped.
var narrowBidSchema = types.Schema{bidSchema[0], bidSchema[2], bidSchema[4]}

func BenchmarkJSONDecodeBid(b *testing.B) {
	for _, form := range []struct {
		name, ts string
		slow     bool
		schema   types.Schema
	}{{"epoch_ms", `1764417601250`, false, bidSchema}, {"rfc3339", `"2026-11-29T12:00:01.250Z"`, false, bidSchema},
		{"rfc3339_general_path", `"2026-11-29T12:00:01.250Z"`, true, bidSchema},
		{"rfc3339_narrow", `"2026-11-29T12:00:01.250Z"`, false, narrowBidSchema}} {
		b.Run(form.name, func(b *testing.B) {
			in := []byte(`{"auction":1017,"bidder":20004,"price":1250.5,"channel":"channel-3","ts":` + form.ts + `}`)
			d, _ := NewJSONDecoder(form.schema, nil)
			d.slowOnly = form.slow
			row := make(types.Row, len(form.schema))
			b.ReportAllocs()
			b.SetBytes(int64(len(in)))
			for b.Loop() {
				if err := d.Decode(in, row); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "rows/s")
		})
	}
}

func BenchmarkJSONEncodeBid(b *testing.B) {
	e := NewJSONEncoder(bidSchema)
	row := types.Row{types.NewInt(1017), types.NewInt(20004), types.NewFloat(1250.5), types.NewText("channel-3"), types.NewTimestamp(1764417601250000)}
	var buf []byte
	b.ReportAllocs()
	for b.Loop() {
		buf = e.Append(buf[:0], row)
	}
}

// FuzzJSONFastPath checks that the single-pass fast path and the general
// fastjson path agree on every input: same error or not, same row.
func FuzzJSONFastPath(f *testing.F) {
	for _, s := range []string{`{"auction":1,"bidder":2,"price":3.5,"channel":"x","ts":"2026-01-01T00:00:00Z"}`,
		`{"auction":-0,"bidder":2e3,"price":-1.5E-3,"channel":null,"ts":1700000000000}`, ` { } `, `{"a":[1],"auction":1}`,
		`{"auction":1,"auction":2,"bidder":3,"price":1,"ts":0}`, `{"auction":01}`, `{"channel":"\u00e9"}`, `{"i":32768,"f":1}`} {
		f.Add([]byte(s))
	}
	schemas := []types.Schema{bidSchema, {col("i", types.TInt16), col("j", types.TInt32), col("f", types.TFloat32), col("b", types.TBool),
		col("t", types.Type{Kind: types.Text, Width: 2}), col("ts", types.TTimestampTZ)}}
	// long decodes every input with one decoder per schema, so that what
	// it remembers of earlier objects' keys is in play.
	var long []*JSONDecoder
	for _, s := range schemas {
		d, _ := NewJSONDecoder(s, nil)
		long = append(long, d)
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		for si, s := range schemas {
			rl := make(types.Row, len(s))
			el := long[si].Decode(in, rl)
			fast, _ := NewJSONDecoder(s, nil)
			slow, _ := NewJSONDecoder(s, nil)
			slow.slowOnly = true
			rf, rs := make(types.Row, len(s)), make(types.Row, len(s))
			ef, es := fast.Decode(in, rf), slow.Decode(in, rs)
			if (ef == nil) != (es == nil) {
				t.Fatalf("%q: fast error %v, slow error %v", in, ef, es)
			}
			if (el == nil) != (es == nil) || (el == nil && !slices.Equal(rl, rs)) {
				t.Fatalf("%q: long-lived decoder %v (%v), slow %v (%v)", in, rl, el, rs, es)
			}
			if ef == nil {
				for i := range rf {
					if rf[i] != rs[i] {
						t.Fatalf("%q: column %s fast %#v slow %#v", in, s[i].Name, rf[i], rs[i])
					}
				}
			}
		}
	})
}

// TestJSONFastPathKeyOrders decodes objects whose keys change order, case
// and set with one long-lived decoder (its per-position key memory in
// play) and compares every row with the general path.
func TestJSONFastPathKeyOrders(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 8))
	names := []string{"auction", "bidder", "price", "channel", "ts", "extra", "AUCTION", "Price"}
	vals := map[string]string{"auction": "17", "AUCTION": "18", "bidder": "-4", "price": "12.25", "Price": "3.5",
		"channel": `"c-1"`, "ts": `"2026-11-29T12:00:00.123Z"`, "extra": "[1,2]"}
	fast, _ := NewJSONDecoder(bidSchema, nil)
	slow, _ := NewJSONDecoder(bidSchema, nil)
	slow.slowOnly = true
	for n := range 2000 {
		var b strings.Builder
		b.WriteByte('{')
		perm := rng.Perm(len(names))
		if n%3 != 0 { // mostly the same shape, as real streams are
			perm = []int{0, 1, 2, 3, 4}
		}
		for k, i := range perm[:1+rng.IntN(len(perm))] {
			if k > 0 {
				b.WriteByte(',')
			}
			fmt.Fprintf(&b, "%q:%s", names[i], vals[names[i]])
		}
		b.WriteByte('}')
		in := []byte(b.String())
		rf, rs := make(types.Row, len(bidSchema)), make(types.Row, len(bidSchema))
		ef, es := fast.Decode(in, rf), slow.Decode(in, rs)
		if (ef == nil) != (es == nil) {
			t.Fatalf("%s: fast error %v, slow error %v", in, ef, es)
		}
		if ef == nil && !slices.Equal(rf, rs) {
			t.Fatalf("%s: fast %v slow %v", in, rf, rs)
		}
	}
}

// TestJSONShapeValues decodes objects of one key sequence (the shape
// decodeShape learns) whose values vary in kind, length and validity, and
// whose spacing sometimes changes, with one long-lived decoder, and
// compares every row and error with the general path.
func TestJSONShapeValues(t *testing.T) {
	rng := rand.New(rand.NewPCG(9, 10))
	nums := []string{"0", "-0", "7", "-12", "1017", "123456789012345678", "1.5", "-0.25", "1250.5", "0.000000000000001",
		"1234567890123456789", "99999999999999999999", "1e3", "2E-2", "01", "1.", "-", `"17"`, "true", "null", "[1]"}
	texts := []string{`"channel-3"`, `""`, `"é"`, `"a\"b"`, `"x\u0041"`, `"tab\there"`, "17", "null", `"unterminated`}
	times := []string{`"2026-11-29T12:00:01.250Z"`, `"2026-11-30T00:00:00Z"`, `"2026-11-29 23:59:59.999999+01:00"`,
		`"2026-11-29T12:00:01.1234567890Z"`, `"2026-02-30T00:00:00Z"`, `"2026-11-29T25:00:00Z"`, `"1700000000000"`, "1700000000000", `"x"`}
	keys := []string{"auction", "bidder", "price", "channel", "ts"}
	pools := [][]string{nums, nums, nums, texts, times}
	clean := []int{6, 6, 10, 3, 3} // the values of each pool that decode on the fast path
	for _, schema := range []types.Schema{bidSchema, narrowBidSchema} {
		fast, _ := NewJSONDecoder(schema, nil)
		slow, _ := NewJSONDecoder(schema, nil)
		slow.slowOnly = true
		shaped := 0
		for n := range 20000 {
			var b strings.Builder
			sep, colon := ",", ":"
			if n%50 == 0 {
				sep, colon = ", ", " : "
			}
			b.WriteByte('{')
			// Phases of objects without channel (nullable) or without
			// bidder (NOT NULL in bidSchema): shapes that set only some
			// columns.
			skip := []string{"", "channel", "", "bidder"}[n/2500%4]
			first := true
			for k, key := range keys {
				if key == skip {
					continue
				}
				if !first {
					b.WriteString(sep)
				}
				first = false
				pool := pools[k]
				v := pool[rng.IntN(clean[k])]
				if rng.IntN(20) == 0 {
					v = pool[rng.IntN(len(pool))]
				}
				fmt.Fprintf(&b, "%q%s%s", key, colon, v)
			}
			b.WriteString([]string{"}", "} ", "}\t", "}x"}[rng.IntN(4)*btoi(rng.IntN(10) == 0)])
			in := []byte(b.String())
			rf, rs := make(types.Row, len(schema)), make(types.Row, len(schema))
			if fast.decodeShape(in, rf) {
				shaped++
			}
			for c := range rf { // Decode overwrites every value (rows are reused)
				rf[c] = types.NewText("stale")
			}
			ef, es := fast.Decode(in, rf), slow.Decode(in, rs)
			if (ef == nil) != (es == nil) {
				t.Fatalf("%s: fast error %v, slow error %v", in, ef, es)
			}
			if ef == nil && !slices.Equal(rf, rs) {
				t.Fatalf("%s: fast %v slow %v", in, rf, rs)
			}
		}
		if shaped < 10000 {
			t.Fatalf("%d objects took the shape path", shaped)
		}
	}
}

func btoi(b bool) int {
	if b {
		return 1
	}
	return 0
}

// TestExactFloat checks the float fast path against strconv.ParseFloat.
func TestExactFloat(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	check := func(s string) {
		want, werr := strconv.ParseFloat(s, 64)
		got, ok := exactFloat([]byte(s))
		if !ok {
			return
		}
		if werr != nil || math.Float64bits(got) != math.Float64bits(want) {
			t.Fatalf("%s: exactFloat %v, ParseFloat %v (%v)", s, got, want, werr)
		}
	}
	for _, s := range []string{"0", "-0", "0.0", "-0.0", "1", "0.1", "0.3", "123456789012345", "1234567890.12345",
		"999999999999999", "0.000000000000001", "9007199254740993", "1.5"} {
		check(s)
	}
	for range 200000 {
		ip := strconv.FormatUint(rng.Uint64N(1_000_000_000_000), 10)
		fp := strconv.FormatUint(rng.Uint64N(1_000_000_000), 10)
		s := ip[:rng.IntN(len(ip))+1] + "." + fp[:rng.IntN(len(fp))+1]
		if rng.IntN(2) == 0 {
			s = "-" + s
		}
		check(s)
	}
	if _, ok := exactFloat([]byte("1e5")); ok {
		t.Fatal("exactFloat accepted an exponent")
	}
	if _, ok := exactFloat([]byte("1234567890123456")); ok {
		t.Fatal("exactFloat accepted 16 digits")
	}
}

// TestTimestampDayCache parses timestamps whose dates repeat and change
// through one cache and checks each against the uncached parse.
func TestTimestampDayCache(t *testing.T) {
	var c dayCache
	rng := rand.New(rand.NewPCG(3, 4))
	dates := []string{"2026-11-29", "2026-11-30", "2024-02-29", "2023-02-29", "1969-12-31", "2026-13-01", "2026-11-29"}
	for range 5000 {
		in := fmt.Sprintf("%s%c%02d:%02d:%02d.%03d%s", dates[rng.IntN(len(dates))], "T t"[rng.IntN(3)],
			rng.IntN(25), rng.IntN(61), rng.IntN(61), rng.IntN(1000), []string{"", "Z", "+01:00", "-0530"}[rng.IntN(4)])
		got, gok := fastTimestampDay([]byte(in), &c)
		want, wok := fastTimestamp([]byte(in))
		if got != want || gok != wok {
			t.Fatalf("%s: cached %d %v, uncached %d %v", in, got, gok, want, wok)
		}
	}
}
