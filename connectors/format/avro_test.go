package format

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/hamba/avro/v2"

	"github.com/sluice-db/sluice/sql/types"
)

const bidAvro = `{"type":"record","name":"Bid","fields":[
 {"name":"auction","type":"long"},{"name":"bidder","type":"long"},{"name":"price","type":"double"},
 {"name":"channel","type":["null","string"],"default":null},
 {"name":"ts","type":{"type":"long","logicalType":"timestamp-millis"}}]}`

func TestAvroDecode(t *testing.T) {
	d, err := NewDecoder("avro", bidSchema, map[string]string{"avro_schema": bidAvro})
	if err != nil {
		t.Fatal(err)
	}
	s := avro.MustParse(bidAvro)
	ts := time.UnixMilli(1764417601250).UTC()
	for _, ch := range []*string{nil, ptr("web")} {
		raw, err := avro.Marshal(s, map[string]any{"auction": int64(5), "bidder": int64(6), "price": 7.25, "channel": unionVal(ch), "ts": ts})
		if err != nil {
			t.Fatal(err)
		}
		row := make(types.Row, len(bidSchema))
		if err := d.Decode(raw, row); err != nil {
			t.Fatal(err)
		}
		want := types.Row{types.NewInt(5), types.NewInt(6), types.NewFloat(7.25), types.NullValue, types.NewTimestamp(ts.UnixMicro())}
		if ch != nil {
			want[3] = types.NewText(*ch)
		}
		if !types.EqualRows(row, want) || (ch == nil) != row[3].IsNull() {
			t.Fatalf("got %v want %v", row, want)
		}
	}
	row := make(types.Row, len(bidSchema))
	if err := d.Decode([]byte{0xff, 0xff}, row); !errors.Is(err, ErrDecode) {
		t.Fatalf("garbage: %v", err)
	}
	if _, err := NewDecoder("avro", bidSchema, nil); !errors.Is(err, ErrBadOption) {
		t.Fatalf("missing schema: %v", err)
	}
	// A wrong type names the field.
	wrongSchema := types.Schema{{Name: "channel", Type: types.TInt64, Nullable: true}}
	w, _ := NewAvroDecoder(wrongSchema, map[string]string{"avro_schema": bidAvro})
	raw, _ := avro.Marshal(s, map[string]any{"auction": int64(5), "bidder": int64(6), "price": 7.25, "channel": unionVal(ptr("x")), "ts": ts})
	if err := w.Decode(raw, make(types.Row, 1)); err == nil || !strings.Contains(err.Error(), `"channel"`) {
		t.Fatalf("wrong type: %v", err)
	}
}

func ptr(s string) *string { return &s }

func unionVal(s *string) any {
	if s == nil {
		return nil
	}
	return map[string]any{"string": *s}
}

func FuzzAvroDecode(f *testing.F) {
	f.Add([]byte{10, 12, 0, 0, 0, 0, 0, 0, 29, 64, 0, 196, 169, 189, 206, 201, 102})
	f.Fuzz(func(t *testing.T, in []byte) {
		d, err := NewAvroDecoder(bidSchema, map[string]string{"avro_schema": bidAvro})
		if err != nil {
			t.Fatal(err)
		}
		if err := d.Decode(in, make(types.Row, len(bidSchema))); err != nil && !errors.Is(err, ErrDecode) {
			t.Fatalf("error not wrapping ErrDecode: %v", err)
		}
	})
}
