package format

import (
	"errors"
	"strings"
	"testing"

	"github.com/sluice-db/sluice/sql/types"
)

func TestCSVByOrderAndHeader(t *testing.T) {
	d, err := NewDecoder("csv", bidSchema, nil)
	if err != nil {
		t.Fatal(err)
	}
	row := make(types.Row, len(bidSchema))
	if err := d.Decode([]byte("7,8,9.5,\"a,\"\"b\"\"\",2026-01-01 00:00:01\r\n"), row); err != nil {
		t.Fatal(err)
	}
	want := types.Row{types.NewInt(7), types.NewInt(8), types.NewFloat(9.5), types.NewText(`a,"b"`), types.NewTimestamp(micros("2026-01-01T00:00:01Z"))}
	if !types.EqualRows(row, want) {
		t.Fatalf("got %v want %v", row, want)
	}
	if err := d.Decode([]byte("7,8,9.5,,1000"), row); err != nil || !row[3].IsNull() || row[4].I != 1e6 {
		t.Fatalf("null channel / epoch ms: %v %v", err, row)
	}
	for _, bad := range []string{"7,8", "x,8,9,a,0", `7,8,9,"a,0`, `7,8,9,a"b,0`, "7,8,,a,0"} {
		if err := d.Decode([]byte(bad), row); !errors.Is(err, ErrDecode) {
			t.Errorf("%q: want ErrDecode, got %v", bad, err)
		}
	}

	h, _ := NewDecoder("csv", bidSchema, map[string]string{"csv_header": "true", "csv_delimiter": "tab", "csv_null": `\N`})
	if err := h.Decode([]byte("ts\tprice\tignored\tbidder\tauction\tchannel"), row); !errors.Is(err, ErrSkipRow) {
		t.Fatalf("header: %v", err)
	}
	if err := h.Decode([]byte("1000\t2\tzzz\t3\t4\t\\N"), row); err != nil {
		t.Fatal(err)
	}
	want = types.Row{types.NewInt(4), types.NewInt(3), types.NewFloat(2), types.NullValue, types.NewTimestamp(1e6)}
	if !types.EqualRows(row, want) {
		t.Fatalf("got %v want %v", row, want)
	}
	err = h.Decode([]byte("1000\t2\tzzz\tx\t4\t\\N"), row)
	if err == nil || !strings.Contains(err.Error(), `"bidder"`) {
		t.Fatalf("want bidder error, got %v", err)
	}
	if _, err := NewDecoder("csv", bidSchema, map[string]string{"csv_delimiter": "ab"}); !errors.Is(err, ErrBadOption) {
		t.Fatalf("bad delimiter: %v", err)
	}
}

func FuzzCSVDecode(f *testing.F) {
	f.Add([]byte(`1,2,3.5,"x""y",2026-01-01 00:00:00`))
	f.Fuzz(func(t *testing.T, in []byte) {
		d, _ := NewCSVDecoder(bidSchema, nil)
		row := make(types.Row, len(bidSchema))
		if err := d.Decode(in, row); err != nil && !errors.Is(err, ErrDecode) {
			t.Fatalf("error not wrapping ErrDecode: %v", err)
		}
	})
}
