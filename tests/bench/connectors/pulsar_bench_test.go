package connectors

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/apache/pulsar-client-go/pulsar"
	plog "github.com/apache/pulsar-client-go/pulsar/log"

	"github.com/sluice-db/sluice/connectors"
	_ "github.com/sluice-db/sluice/connectors/pulsar"
	"github.com/sluice-db/sluice/sql/types"
)

var bidSchema = types.Schema{
	{Name: "auction", Type: types.TInt64},
	{Name: "bidder", Type: types.TInt64},
	{Name: "price", Type: types.TFloat64},
	{Name: "channel", Type: types.TText, Nullable: true},
	{Name: "ts", Type: types.TTimestamp},
}

const pulsarMessages = 400_000

// BenchmarkPulsarSourceVsBareConsumer produces pulsarMessages bids of about
// 120 bytes into a 3-partition topic, then reads them all with a bare
// consumer and with the Sluice source (fresh subscriptions, from earliest),
// twice each alternately, and reports the best rate of each and the ratio.
func BenchmarkPulsarSourceVsBareConsumer(b *testing.B) {
	env := need(b, "PULSAR_URL", "PULSAR_ADMIN_URL")
	url, admin := env[0], env[1]
	name := fmt.Sprintf("bench-bids-%d", rand.Uint32())
	req, _ := http.NewRequest(http.MethodPut, admin+"/admin/v2/persistent/public/default/"+name+"/partitions", strings.NewReader("3"))
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil || resp.StatusCode/100 != 2 {
		b.Fatalf("create topic: %v %v", err, resp)
	}
	resp.Body.Close()
	topic := "persistent://public/default/" + name
	client, err := pulsar.NewClient(pulsar.ClientOptions{URL: url, Logger: plog.DefaultNopLogger()})
	if err != nil {
		b.Fatal(err)
	}
	defer client.Close()
	prod, err := client.CreateProducer(pulsar.ProducerOptions{Topic: topic, BatchingMaxMessages: 1000, BatchingMaxPublishDelay: 10 * time.Millisecond})
	if err != nil {
		b.Fatal(err)
	}
	for i := 0; i < pulsarMessages; i++ {
		payload := fmt.Sprintf(`{"auction":%d,"bidder":%d,"price":%d.25,"channel":"channel-%d","ts":"2026-11-29T12:%02d:%02d.%03dZ"}`, 1000+i%997, i%50000, i%10000, i%7, (i/60000)%60, (i/1000)%60, i%1000)
		prod.SendAsync(context.Background(), &pulsar.ProducerMessage{Key: fmt.Sprint(i % 997), Payload: []byte(payload)}, func(_ pulsar.MessageID, _ *pulsar.ProducerMessage, err error) {
			if err != nil {
				b.Error(err)
			}
		})
	}
	if err := prod.Flush(); err != nil {
		b.Fatal(err)
	}
	prod.Close()

	bare := func(run int) float64 {
		cons, err := client.Subscribe(pulsar.ConsumerOptions{Topic: topic, SubscriptionName: fmt.Sprintf("bare-%d", run), SubscriptionInitialPosition: pulsar.SubscriptionPositionEarliest})
		if err != nil {
			b.Fatal(err)
		}
		defer cons.Close()
		start := time.Now()
		ch := cons.Chan()
		var bytes int
		for n := 0; n < pulsarMessages; n++ {
			m := <-ch
			bytes += len(m.Payload())
		}
		return pulsarMessages / time.Since(start).Seconds()
	}
	sluice := func(run int) float64 {
		c, _ := connectors.Lookup("pulsar")
		r, err := c.OpenSource(context.Background(), connectors.SourceSpec{
			Source: "bids", Job: "bench", Schema: bidSchema,
			Options: map[string]string{"service_url": url, "topic": topic, "subscription": fmt.Sprintf("sluice-%d", run)},
		})
		if err != nil {
			b.Fatal(err)
		}
		defer r.Close()
		start := time.Now()
		n := 0
		for n < pulsarMessages {
			ch, err := r.Read(context.Background())
			if err != nil {
				b.Fatal(err)
			}
			if ch != nil {
				n += ch.Len()
			}
		}
		return float64(n) / time.Since(start).Seconds()
	}
	b.ResetTimer()
	var bestBare, bestSluice float64
	for run := 0; run < 2; run++ {
		bestBare = max(bestBare, bare(run))
		bestSluice = max(bestSluice, sluice(run))
	}
	b.ReportMetric(bestBare, "bare_events/s")
	b.ReportMetric(bestSluice, "sluice_events/s")
	b.ReportMetric(bestSluice/bestBare, "ratio")
}
