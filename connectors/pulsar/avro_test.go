package pulsar

import (
	"context"
	"testing"
	"time"

	"github.com/apache/pulsar-client-go/pulsar"

	"github.com/sluice-db/sluice/connectors"
	"github.com/sluice-db/sluice/sql/types"
)

const avroDef = `{"type":"record","name":"Event","namespace":"sluice.test","fields":[
 {"name":"id","type":"long"},{"name":"k","type":"string"},{"name":"v","type":"long"},{"name":"ts","type":"long"}]}`

type avroEvent struct {
	ID int64  `json:"id" avro:"id"`
	K  string `json:"k" avro:"k"`
	V  int64  `json:"v" avro:"v"`
	TS int64  `json:"ts" avro:"ts"`
}

// TestSourcePulsarSchemaAvro produces with the topic's AVRO schema (the Go
// client's own encoding) and reads with format = 'pulsar_schema': the
// source fetches the schema from the broker's registry.
func TestSourcePulsarSchemaAvro(t *testing.T) {
	url, admin := serviceEnv(t)
	topic := "persistent://public/default/" + uniq(t, "avro")
	client := testClient(t, url)
	prod, err := client.CreateProducer(pulsar.ProducerOptions{Topic: topic, Schema: pulsar.NewAvroSchema(avroDef, nil)})
	if err != nil {
		t.Fatal(err)
	}
	defer prod.Close()
	base := time.Date(2026, 11, 29, 12, 0, 0, 0, time.UTC).UnixMilli()
	const n = 50
	for i := 0; i < n; i++ {
		if _, err := prod.Send(context.Background(), &pulsar.ProducerMessage{Value: &avroEvent{ID: int64(i), K: "k", V: int64(i * 2), TS: base + int64(i)}}); err != nil {
			t.Fatal(err)
		}
	}
	c, _ := connectors.Lookup("pulsar")
	for _, format := range []string{"pulsar_schema", "avro"} {
		r, err := c.OpenSource(context.Background(), connectors.SourceSpec{
			Source: "events", Job: "avro-" + format, Schema: eventSchema,
			Options: map[string]string{"service_url": url, "admin_url": admin, "topic": topic, "format": format, "avro_schema": avroDef},
		})
		if err != nil {
			t.Fatal(err)
		}
		seen := 0
		deadline := time.Now().Add(30 * time.Second)
		for seen < n && time.Now().Before(deadline) {
			ch, err := r.Read(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			if ch == nil {
				continue
			}
			for i := 0; i < ch.Len(); i++ {
				row := ch.Row(i)
				id := row[0].I
				want := types.Row{types.NewInt(id), types.NewText("k"), types.NewInt(id * 2), types.NewTimestamp((base + id) * 1000)}
				if !types.EqualRows(row, want) {
					t.Fatalf("%s: row %v, want %v", format, row, want)
				}
				seen++
			}
		}
		r.Close()
		if seen != n {
			t.Fatalf("%s: read %d of %d", format, seen, n)
		}
	}
}
