package pulsar

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"net/url"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/apache/pulsar-client-go/pulsar"
	"github.com/apache/pulsar-client-go/pulsar/backoff"
	plog "github.com/apache/pulsar-client-go/pulsar/log"

	"github.com/sluice-db/sluice/connectors"
	"github.com/sluice-db/sluice/connectors/format"
	"github.com/sluice-db/sluice/exec/chunk"
)

// ChunkRows is the most messages one chunk carries.
const ChunkRows = 1024

func init() { connectors.Register(Connector{}) }

// Connector is the Pulsar connector.
type Connector struct{}

// Name implements connectors.Connector.
func (Connector) Name() string { return "pulsar" }

func validStart(v string) error {
	if v == "earliest" || v == "latest" {
		return nil
	}
	if _, err := parseStart(v); err != nil {
		return errors.New("must be earliest, latest or a timestamp (RFC 3339 or epoch milliseconds)")
	}
	return nil
}

func parseStart(v string) (time.Time, error) {
	if ms, err := strconv.ParseInt(v, 10, 64); err == nil {
		return time.UnixMilli(ms), nil
	}
	if t, err := time.Parse(time.RFC3339Nano, v); err == nil {
		return t, nil
	}
	return time.Parse("2006-01-02 15:04:05", v)
}

func validPositiveInt(v string) error {
	if n, err := strconv.Atoi(v); err != nil || n <= 0 {
		return errors.New("must be a positive integer")
	}
	return nil
}

var commonOptions = []connectors.OptionSpec{
	{Name: "service_url", Required: true, Doc: "broker URL, pulsar://host:port or pulsar+ssl://host:port"},
	{Name: "auth_token", Doc: "JWT for token authentication"},
	{Name: "tls_trust_certs_file", Doc: "CA certificates for pulsar+ssl"},
	{Name: "admin_url", Doc: "broker HTTP admin URL (topic_pattern, pulsar_schema, lag, dead-letter setup)"},
}

// SourceOptions implements connectors.Connector.
func (Connector) SourceOptions() []connectors.OptionSpec {
	return append(append([]connectors.OptionSpec(nil), commonOptions...),
		connectors.OptionSpec{Name: "topic", Doc: "topic to read (partitioned or not)"},
		connectors.OptionSpec{Name: "topics", Doc: "comma-separated topics to read"},
		connectors.OptionSpec{Name: "topic_pattern", Doc: "regular expression over persistent://tenant/namespace/name (needs admin_url)"},
		connectors.OptionSpec{Name: "subscription", Doc: "subscription name prefix: each consuming view or sink subscribes as <subscription>-<job> (default sluice-<job>)"},
		connectors.OptionSpec{Name: "subscription_type", Default: "exclusive", Doc: "exclusive, failover, shared or key_shared", Valid: connectors.OneOf("exclusive", "failover", "shared", "key_shared")},
		connectors.OptionSpec{Name: "start", Default: "earliest", Doc: "where a new subscription starts: earliest, latest or a timestamp", Valid: validStart},
		connectors.OptionSpec{Name: "format", Default: "json", Doc: "json, avro (avro_schema) or pulsar_schema (the topic's schema from the registry, needs admin_url)", Valid: connectors.OneOf("json", "avro", "pulsar_schema")},
		connectors.OptionSpec{Name: "avro_schema", Doc: "Avro writer schema (JSON) for format avro"},
		connectors.OptionSpec{Name: "dead_letter_topic", Doc: "where undecodable messages go (default <topic>-dlq; none disables)"},
		connectors.OptionSpec{Name: "receiver_queue_size", Default: "1000", Doc: "messages prefetched per partition", Valid: validPositiveInt},
		connectors.OptionSpec{Name: "json_missing", Default: "error", Doc: "missing fields of NOT NULL columns: error (dead letter) or null", Valid: connectors.OneOf("error", "null")},
		connectors.OptionSpec{Name: "idle_timeout", Doc: "engine option: a silent partition stops holding back the watermark after this long"},
		connectors.OptionSpec{Name: "quiet_advance", Doc: "engine option: when every input is silent this long, event time advances with the wall clock"},
	)
}

func newClient(opts map[string]string) (pulsar.Client, error) {
	co := pulsar.ClientOptions{
		URL:                   opts["service_url"],
		TLSTrustCertsFilePath: opts["tls_trust_certs_file"],
		Logger:                plog.DefaultNopLogger(),
		OperationTimeout:      30 * time.Second,
		ConnectionTimeout:     10 * time.Second,
	}
	if t := opts["auth_token"]; t != "" {
		co.Authentication = pulsar.NewAuthenticationToken(t)
	}
	c, err := pulsar.NewClient(co)
	if err != nil {
		return nil, fmt.Errorf("create pulsar client: %w", err)
	}
	return c, nil
}

// reconnectMax bounds the delay between a consumer's or producer's
// attempts to reconnect.
const reconnectMax = 2 * time.Second

// reconnectBackoff is the delay between reconnection attempts: doubling
// from 100 ms with up to 20 % jitter, as the client's default, but at most
// reconnectMax instead of 60 s. A consumer whose first attempts failed (a
// broker taking its topics back after an unload) would otherwise leave its
// partition unread, and the view's watermark held back, for up to a
// minute. Written here because the client's policy has no maximum to set.
type reconnectBackoff struct{ d time.Duration }

func newReconnectBackoff() backoff.Policy { return &reconnectBackoff{} }

func (b *reconnectBackoff) Next() time.Duration {
	b.d = min(max(2*b.d, 100*time.Millisecond), reconnectMax)
	return b.d + time.Duration(rand.Int64N(int64(b.d)/5+1))
}

func (b *reconnectBackoff) IsMaxBackoffReached() bool { return b.d >= reconnectMax }
func (b *reconnectBackoff) Reset()                    { b.d = 0 }

// partition is one partition topic being read.
type partition struct {
	index int
	topic string // partition topic, e.g. persistent://public/default/t-partition-0
	base  string // topic without the partition suffix
	// consumer reads the partition; forward replaces it (under mu) when it
	// is stuck, subscribing again with subscribe.
	mu        sync.Mutex
	consumer  pulsar.Consumer
	subscribe func() (pulsar.Consumer, error)
	// resubscribed counts the stuck consumers replaced (forward's; read
	// under mu).
	resubscribed int64
	// skip, when set, drops messages at or before it (restart).
	skip    *msgPos
	initial *msgPos          // start=latest: the last message when first opened
	last    pulsar.MessageID // last message returned by Read
	lastPos msgPos           // its position
	pending []pulsar.MessageID
	// dups counts the messages dropped as redelivered: at or before last
	// (exclusive and failover subscriptions deliver a partition in order,
	// so only a redelivery goes back).
	dups int64
	// gaps counts the places where a message followed last with messages
	// missing between them (see gapAfter).
	gaps int64
}

// gapAfter reports whether messages lie between last (of a batch of
// lastSize, or not batched) and next, which followed it on a partition:
// an entry of the same ledger skipped, or a batch index. A message in a
// later ledger is taken as following (the end of a ledger is not known
// here). Entries the client filters out (replicated-subscription and
// transaction markers) count as gaps too: a gap is a warning, not proof
// of a loss.
func gapAfter(last msgPos, lastSize int32, next msgPos) bool {
	if next.Ledger != last.Ledger {
		return false
	}
	switch {
	case next.Entry == last.Entry:
		return next.Batch > last.Batch+1
	case next.Entry == last.Entry+1:
		rest := last.Batch >= 0 && last.Batch+1 < lastSize // the batch was not read to its end
		return rest || next.Batch > 0
	}
	return next.Entry > last.Entry+1
}

type msgPos struct {
	Ledger int64 `json:"l"`
	Entry  int64 `json:"e"`
	Batch  int32 `json:"b"`
}

func posOf(id pulsar.MessageID) msgPos {
	return msgPos{id.LedgerID(), id.EntryID(), id.BatchIdx()}
}

func (a msgPos) cmp(b msgPos) int {
	switch {
	case a.Ledger != b.Ledger:
		return cmpInt(a.Ledger, b.Ledger)
	case a.Entry != b.Entry:
		return cmpInt(a.Entry, b.Entry)
	}
	return cmpInt(int64(a.Batch), int64(b.Batch))
}

func cmpInt(a, b int64) int {
	if a < b {
		return -1
	}
	if a > b {
		return 1
	}
	return 0
}

// position is the JSON form of Reader.Position.
type position struct {
	V      int               `json:"v"`
	Topics map[string]msgPos `json:"topics"`
}

type batch struct {
	p    *partition
	msgs []pulsar.Message
}

// Reader reads the partitions of a Pulsar source.
type Reader struct {
	spec       connectors.SourceSpec
	opts       map[string]string
	client     pulsar.Client
	parts      []*partition
	dec        format.Decoder
	cumulative bool
	exclusive  bool // an exclusive subscription: this reader is its only consumer
	ch         chan batch
	stop       chan struct{}
	wg         sync.WaitGroup
	chunk      *chunk.Chunk
	now        func() time.Time
	admin      string
	sub        string
	dlqTopic   string
	dlq        map[string]pulsar.Producer
	closeOnce  sync.Once
	// snaps maps a Position text to the message IDs it covers, so that
	// Commit can acknowledge with the IDs the client handed out.
	snaps map[string]map[*partition]pulsar.MessageID
}

// OpenSource implements connectors.Connector.
func (c Connector) OpenSource(ctx context.Context, spec connectors.SourceSpec) (connectors.Reader, error) {
	opts, err := connectors.Validate("source", "pulsar", c.SourceOptions(), spec.Options)
	if err != nil {
		return nil, err
	}
	n := 0
	for _, k := range []string{"topic", "topics", "topic_pattern"} {
		if opts[k] != "" {
			n++
		}
	}
	if n != 1 {
		return nil, fmt.Errorf("%w: exactly one of topic, topics, topic_pattern is required for source connector \"pulsar\"", connectors.ErrMissingOption)
	}
	r := &Reader{
		spec: spec, opts: opts, admin: strings.TrimRight(opts["admin_url"], "/"),
		stop: make(chan struct{}), ch: make(chan batch, 8), now: spec.Now,
		dlq: map[string]pulsar.Producer{}, snaps: map[string]map[*partition]pulsar.MessageID{},
		chunk: chunk.New(len(spec.Schema), ChunkRows),
	}
	if r.now == nil {
		r.now = time.Now
	}
	// Every consuming job (view or sink) reads the source through its own
	// subscription: <subscription>-<job>, default sluice-<job>.
	base := opts["subscription"]
	if base == "" {
		base = "sluice"
	}
	switch {
	case spec.Job != "":
		r.sub = base + "-" + spec.Job
	case opts["subscription"] != "":
		r.sub = base
	default:
		r.sub = base + "-" + spec.Source
	}
	if err := r.open(ctx); err != nil {
		r.Close()
		return nil, err
	}
	return r, nil
}

func (r *Reader) open(ctx context.Context) error {
	opts := r.opts
	decOpts := map[string]string{"json_missing": opts["json_missing"], "avro_schema": opts["avro_schema"]}
	switch f := opts["format"]; f {
	case "json":
		d, err := format.NewDecoder("json", r.spec.Schema, decOpts)
		if err != nil {
			return fmt.Errorf("open pulsar source: %w", err)
		}
		r.dec = d
	case "avro", "pulsar_schema":
		// Decoder built below once the topic is known (pulsar_schema).
	}
	client, err := newClient(opts)
	if err != nil {
		return err
	}
	r.client = client
	topics, err := r.resolveTopics(ctx)
	if err != nil {
		return err
	}
	if len(topics) == 0 {
		return fmt.Errorf("open pulsar source: no topic matches %q", opts["topic_pattern"])
	}
	if opts["format"] != "json" {
		if opts["format"] == "pulsar_schema" {
			typ, text, err := r.fetchSchema(ctx, topics[0])
			if err != nil {
				return err
			}
			switch typ {
			case "AVRO":
				decOpts["avro_schema"] = text
				r.dec, err = format.NewDecoder("avro", r.spec.Schema, decOpts)
			case "JSON", "STRING", "BYTES", "NONE":
				r.dec, err = format.NewDecoder("json", r.spec.Schema, decOpts)
			default:
				err = fmt.Errorf("schema type %s is not supported (AVRO, JSON)", typ)
			}
			if err != nil {
				return fmt.Errorf("open pulsar source: topic %s: %w", topics[0], err)
			}
		} else {
			r.dec, err = format.NewDecoder("avro", r.spec.Schema, decOpts)
			if err != nil {
				return fmt.Errorf("open pulsar source: %w", err)
			}
		}
	}
	// Expand partitions.
	type pt struct {
		base, topic string
		n           int
	}
	var all []pt
	for _, t := range topics {
		ps, err := r.client.TopicPartitions(t)
		if err != nil {
			return fmt.Errorf("look up partitions of %s: %w", t, err)
		}
		for _, p := range ps {
			all = append(all, pt{base: t, topic: p, n: partitionNumber(p)})
		}
	}
	sort.Slice(all, func(i, j int) bool {
		if all[i].base != all[j].base {
			return all[i].base < all[j].base
		}
		return all[i].n < all[j].n
	})
	var stored position
	if r.spec.Position != nil {
		if err := json.Unmarshal(r.spec.Position, &stored); err != nil || stored.V != 1 {
			return fmt.Errorf("open pulsar source: bad position %q", r.spec.Position)
		}
	}
	subType := map[string]pulsar.SubscriptionType{"exclusive": pulsar.Exclusive, "failover": pulsar.Failover, "shared": pulsar.Shared, "key_shared": pulsar.KeyShared}[opts["subscription_type"]]
	r.cumulative = subType == pulsar.Exclusive || subType == pulsar.Failover
	r.exclusive = subType == pulsar.Exclusive
	initial := pulsar.SubscriptionPositionEarliest
	if opts["start"] == "latest" {
		initial = pulsar.SubscriptionPositionLatest
	}
	queue, _ := strconv.Atoi(opts["receiver_queue_size"])
	for i, t := range all {
		subscribe := func() (pulsar.Consumer, error) {
			cons, err := r.client.Subscribe(pulsar.ConsumerOptions{
				Topic:                       t.topic,
				SubscriptionName:            r.sub,
				Type:                        subType,
				SubscriptionInitialPosition: initial,
				ReceiverQueueSize:           queue,
				Name:                        fmt.Sprintf("%s-%d", r.sub, i),
				BackOffPolicyFunc:           newReconnectBackoff,
			})
			if err != nil {
				return nil, fmt.Errorf("subscribe to %s as %s: %w", t.topic, r.sub, err)
			}
			return cons, nil
		}
		cons, err := subscribe()
		if err != nil {
			return err
		}
		p := &partition{index: i, topic: t.topic, base: t.base, consumer: cons, subscribe: subscribe}
		r.parts = append(r.parts, p)
		moved := false
		if sp, ok := stored.Topics[t.topic]; ok {
			sp := sp
			p.skip = &sp
			if err := cons.Seek(pulsar.NewMessageID(sp.Ledger, sp.Entry, sp.Batch, 0)); err != nil {
				return fmt.Errorf("seek %s to %v: %w", t.topic, sp, err)
			}
			moved = true
		} else if moved, err = r.startPartition(p, opts["start"]); err != nil {
			return err
		}
		if moved {
			// The seek moved the subscription's cursor, which is what we
			// need; the consumer that sought is replaced by a new one.
			// pulsar-client-go (v0.19) keeps a sought consumer's seek
			// position as its start and, at each later reconnection (a
			// topic unload, a broker restart), discards what it takes for
			// already delivered: the messages its dispatcher held are
			// lost. A consumer that never sought has no start position and
			// only gets unacknowledged messages again, which readInto
			// drops as duplicates. TestSourceExactlyOnceAcrossReconnections
			// shows both.
			cons.Close()
			if p.consumer, err = subscribe(); err != nil {
				return err
			}
		}
	}
	if d := opts["dead_letter_topic"]; d != "none" {
		r.dlqTopic = d
	}
	for _, p := range r.parts {
		r.wg.Add(1)
		go r.forward(p, p.skip)
	}
	return nil
}

// startPartition places a partition without a stored message at the
// configured start. A partition that a stored Position does not mention
// had nothing read before that checkpoint, so it must start where the first
// run started (a Seek by an earlier run may have moved the shared cursor);
// earliest seeks to the earliest message, a timestamp seeks by time again,
// and latest remembers the topic's last message at the first open in the
// Position (p.initial) so that later runs skip exactly up to it.
//
// Without a Position the job's state is empty. An exclusive subscription
// (the default) is then the job's alone, but it may still hold the cursor
// an earlier job of the same name committed (a view dropped and created
// again): earliest seeks it back too. A shared, key_shared or failover
// subscription may have other consumers, whom a Seek would move as well:
// it keeps its cursor.
//
// It reports whether it moved the subscription's cursor (a seek).
func (r *Reader) startPartition(p *partition, start string) (bool, error) {
	switch {
	case start == "earliest":
		if r.spec.Position == nil && !r.exclusive {
			return false, nil
		}
		if err := p.consumer.SeekByTime(time.UnixMilli(0)); err != nil {
			return false, fmt.Errorf("seek %s to the earliest message: %w", p.topic, err)
		}
	case start == "latest":
		ids, err := p.consumer.GetLastMessageIDs()
		if err != nil {
			return false, fmt.Errorf("get the last message of %s: %w", p.topic, err)
		}
		if len(ids) == 1 && ids[0].EntryID() >= 0 {
			ip := posOf(ids[0])
			p.initial = &ip
			p.skip = &ip
		}
		return false, nil
	default:
		ts, _ := parseStart(start)
		if err := p.consumer.SeekByTime(ts); err != nil {
			return false, fmt.Errorf("seek %s to %s: %w", p.topic, ts, err)
		}
	}
	return true, nil
}

var partRE = regexp.MustCompile(`-partition-(\d+)$`)

func partitionNumber(topic string) int {
	if m := partRE.FindStringSubmatch(topic); m != nil {
		n, _ := strconv.Atoi(m[1])
		return n
	}
	return -1
}

func (r *Reader) resolveTopics(ctx context.Context) ([]string, error) {
	switch {
	case r.opts["topic"] != "":
		return []string{fullTopic(r.opts["topic"])}, nil
	case r.opts["topics"] != "":
		var out []string
		for _, t := range strings.Split(r.opts["topics"], ",") {
			if t = strings.TrimSpace(t); t != "" {
				out = append(out, fullTopic(t))
			}
		}
		return out, nil
	}
	pat := r.opts["topic_pattern"]
	re, err := regexp.Compile("^(?:" + pat + ")$")
	if err != nil {
		return nil, fmt.Errorf("%w: topic_pattern: %v", connectors.ErrBadOption, err)
	}
	if r.admin == "" {
		return nil, fmt.Errorf("%w: topic_pattern needs admin_url to list topics", connectors.ErrMissingOption)
	}
	full := fullTopic(strings.SplitN(pat, "(", 2)[0])
	tn := strings.TrimPrefix(full, "persistent://")
	parts := strings.SplitN(tn, "/", 3)
	if len(parts) < 2 {
		return nil, fmt.Errorf("%w: topic_pattern must name tenant/namespace", connectors.ErrBadOption)
	}
	var names []string
	for _, path := range []string{"/admin/v2/persistent/" + parts[0] + "/" + parts[1] + "/partitioned", "/admin/v2/persistent/" + parts[0] + "/" + parts[1]} {
		var got []string
		if err := r.adminGet(ctx, path, &got); err != nil {
			return nil, err
		}
		names = append(names, got...)
	}
	seen := map[string]bool{}
	var out []string
	for _, n := range names {
		if partRE.MatchString(n) {
			n = partRE.ReplaceAllString(n, "")
		}
		if seen[n] || !(re.MatchString(n) || re.MatchString(strings.TrimPrefix(n, "persistent://"))) {
			continue
		}
		seen[n] = true
		out = append(out, n)
	}
	sort.Strings(out)
	return out, nil
}

// fullTopic expands a short topic name to persistent://public/default/name.
func fullTopic(t string) string {
	if strings.Contains(t, "://") {
		return t
	}
	switch strings.Count(t, "/") {
	case 0:
		return "persistent://public/default/" + t
	case 2:
		return "persistent://" + t
	}
	return t
}

func (r *Reader) adminGet(ctx context.Context, path string, out any) error {
	if r.admin == "" {
		return fmt.Errorf("%w: admin_url is required for this", connectors.ErrMissingOption)
	}
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, r.admin+path, nil)
	if err != nil {
		return fmt.Errorf("pulsar admin request: %w", err)
	}
	if t := r.opts["auth_token"]; t != "" {
		req.Header.Set("Authorization", "Bearer "+t)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("pulsar admin GET %s: %w", path, err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 16<<20))
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("pulsar admin GET %s: %s: %s", path, resp.Status, strings.TrimSpace(string(body)))
	}
	if err := json.Unmarshal(body, out); err != nil {
		return fmt.Errorf("pulsar admin GET %s: decode: %w", path, err)
	}
	return nil
}

func adminPath(topic string) string {
	t := strings.Replace(topic, "://", "/", 1)
	parts := strings.Split(t, "/")
	for i := range parts {
		parts[i] = url.PathEscape(parts[i])
	}
	return strings.Join(parts, "/")
}

func (r *Reader) fetchSchema(ctx context.Context, topic string) (string, string, error) {
	var s struct {
		Type string `json:"type"`
		Data string `json:"data"`
	}
	tn := strings.TrimPrefix(strings.TrimPrefix(topic, "persistent://"), "non-persistent://")
	parts := strings.SplitN(tn, "/", 3)
	if len(parts) != 3 {
		return "", "", fmt.Errorf("fetch schema: bad topic %q", topic)
	}
	if err := r.adminGet(ctx, "/admin/v2/schemas/"+parts[0]+"/"+parts[1]+"/"+url.PathEscape(parts[2])+"/schema", &s); err != nil {
		return "", "", fmt.Errorf("fetch schema of %s: %w", topic, err)
	}
	return s.Type, s.Data, nil
}

// Stuck consumers: a consumer that received nothing for stuckAfter is
// checked; when the broker does not know it any more (pulsar-client-go
// v0.19 can believe itself reconnected after a topic unload while the
// broker has no consumer for it: the partition is never read again), or
// the partition has messages beyond the last one received and the next
// check, stuckAfter later, still finds none received, it is replaced by a
// new subscription. The new consumer gets what was not acknowledged again,
// which readInto drops as redelivered.
const stuckAfter = 3 * time.Second

// cons returns the partition's current consumer.
func (p *partition) cons() pulsar.Consumer {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.consumer
}

// forward moves the messages of one partition into r.ch in batches, and
// replaces the partition's consumer when it is stuck. from is where the
// partition starts (its stored position, or the last message when it
// starts at latest), if known.
func (r *Reader) forward(p *partition, from *msgPos) {
	defer r.wg.Done()
	in := p.cons().Chan()
	tick := time.NewTicker(stuckAfter / 2)
	defer tick.Stop()
	w := watch{active: time.Now()}
	if from != nil {
		w.recv, w.got = *from, true
	}
	for {
		var first pulsar.ConsumerMessage
		select {
		case <-r.stop:
			return
		case first = <-in:
		case <-tick.C:
			if time.Since(w.active) < stuckAfter {
				w.suspect = false
				continue
			}
			if !r.stuck(p, &w) {
				continue
			}
			if err := r.resubscribe(p); err != nil {
				continue // the next check tries again
			}
			in = p.cons().Chan()
			w.active, w.suspect = time.Now(), false
			continue
		}
		msgs := make([]pulsar.Message, 1, 64)
		msgs[0] = first.Message
	drain:
		for len(msgs) < ChunkRows {
			select {
			case m := <-in:
				msgs = append(msgs, m.Message)
			default:
				break drain
			}
		}
		if pos := posOf(msgs[len(msgs)-1].ID()); !w.got || pos.cmp(w.recv) > 0 {
			w.recv, w.got = pos, true
		}
		w.suspect = false
		select {
		case <-r.stop:
			return
		case r.ch <- batch{p: p, msgs: msgs}:
		}
		w.active = time.Now()
	}
}

// watch is what forward knows of its consumer's health.
type watch struct {
	active   time.Time // last message taken, or last batch handed over
	recv     msgPos    // the partition is read up to here (got)
	got      bool
	suspect  bool   // the last check found messages beyond recv
	tried    msgPos // the last message when the consumer was last replaced (hasTried)
	hasTried bool
}

// stuck reports whether p's consumer, silent for stuckAfter, should be
// replaced: the broker does not answer for it, or it has messages beyond
// what was received on two checks in a row. A partition whose last
// message stays out of reach after one replacement (an entry the client
// filters, such as a replicated-subscription marker) is left alone.
func (r *Reader) stuck(p *partition, w *watch) bool {
	// A stuck consumer may never get an answer (the client waits for it
	// without a timeout, even after Close): wait stuckAfter. The asking
	// goroutine is then left behind, blocked, one per stuck consumer
	// replaced; Close does not wait for it.
	type answer struct {
		ids []pulsar.TopicMessageID
		err error
	}
	ch := make(chan answer, 1)
	cons := p.cons()
	go func() {
		ids, err := cons.GetLastMessageIDs()
		ch <- answer{ids, err}
	}()
	var ids []pulsar.TopicMessageID
	select {
	case a := <-ch:
		if a.err != nil {
			return true
		}
		ids = a.ids
	case <-time.After(stuckAfter):
		return true
	case <-r.stop:
		return false
	}
	if len(ids) != 1 || ids[0].EntryID() < 0 {
		return false // an empty partition
	}
	last := posOf(ids[0])
	if (w.got && last.cmp(w.recv) <= 0) || (w.hasTried && last == w.tried) {
		w.suspect = false
		return false // everything received, or out of reach: quiet
	}
	if !w.suspect {
		w.suspect = true
		return false
	}
	w.tried, w.hasTried = last, true
	return true
}

// resubscribe replaces p's consumer by a new subscription and closes the
// old one (Close is idempotent).
func (r *Reader) resubscribe(p *partition) error {
	old := p.cons()
	cons, err := p.subscribe()
	if err != nil {
		// An exclusive subscription still held by the stuck consumer:
		// close that one first.
		old.Close()
		if cons, err = p.subscribe(); err != nil {
			return err
		}
	}
	p.mu.Lock()
	p.consumer = cons
	p.resubscribed++
	p.mu.Unlock()
	old.Close()
	return nil
}

// Read implements connectors.Reader.
func (r *Reader) Read(ctx context.Context) (*chunk.Chunk, error) {
	return r.readInto(ctx, r.chunk)
}

// ReadIntoN is Read decoding into c (emptied first), a chunk as wide as
// the source schema that the caller owns and may forward without a copy:
// the engine's source uses it. It returns c, or nil when no message
// arrived in time. A batch holds at most ChunkRows messages, so rows (the
// caller's bound) is not exceeded as long as it is at least that.
func (r *Reader) ReadIntoN(ctx context.Context, c *chunk.Chunk, rows int) (*chunk.Chunk, error) {
	if c.Width != len(r.spec.Schema) {
		return nil, fmt.Errorf("pulsar source %s: chunk of %d columns for %d", r.spec.Source, c.Width, len(r.spec.Schema))
	}
	return r.readInto(ctx, c)
}

func (r *Reader) readInto(ctx context.Context, c *chunk.Chunk) (*chunk.Chunk, error) {
	var b batch
	select {
	case b = <-r.ch:
	case <-ctx.Done():
		return nil, ctx.Err()
	default:
		t := time.NewTimer(100 * time.Millisecond)
		select {
		case b = <-r.ch:
			t.Stop()
		case <-ctx.Done():
			t.Stop()
			return nil, ctx.Err()
		case <-t.C:
			return nil, nil
		}
	}
	c.Reset()
	c.Partition = b.p.index
	p := b.p
	for _, m := range b.msgs {
		id := m.ID()
		pos := posOf(id)
		if p.skip != nil {
			if pos.cmp(*p.skip) <= 0 {
				// Already covered by the stored position; make sure the
				// subscription moves past it too.
				if !r.cumulative {
					p.pending = append(p.pending, id)
				}
				continue
			}
			p.skip = nil
		}
		if r.cumulative && p.last != nil {
			if pos.cmp(p.lastPos) <= 0 {
				// Redelivered after a reconnection (the broker sends
				// again what was not acknowledged): read already.
				p.dups++
				continue
			}
			if gapAfter(p.lastPos, p.last.BatchSize(), pos) {
				p.gaps++
				if p.gaps <= 10 {
					slog.Warn("pulsar source: messages missing between two read", "source", r.spec.Source, "job", r.spec.Job,
						"topic", p.topic, "after", p.lastPos, "batch_size", p.last.BatchSize(), "next", pos)
				}
			}
		}
		p.last, p.lastPos = id, pos
		if !r.cumulative {
			p.pending = append(p.pending, id)
		}
		row := c.AppendEmpty(chunk.Insert, chunk.NoTime)
		if err := r.dec.Decode(m.Payload(), row); err != nil {
			c.Truncate(c.Len() - 1)
			r.deadLetter(ctx, p, m, err)
		}
	}
	if c.Len() == 0 {
		return nil, nil
	}
	return c, nil
}

func (r *Reader) deadLetter(ctx context.Context, p *partition, m pulsar.Message, cause error) {
	if r.spec.DeadLetter != nil {
		r.spec.DeadLetter(connectors.DeadLetter{
			Source: r.spec.Source, Raw: append([]byte(nil), m.Payload()...), Reason: cause.Error(),
			Partition: p.index, Offset: p.topic + "@" + m.ID().String(), Replayable: true, Time: r.now(),
		})
	}
	if r.opts["dead_letter_topic"] == "none" {
		return
	}
	topic := r.dlqTopic
	if topic == "" {
		topic = p.base + "-dlq"
	}
	prod, ok := r.dlq[topic]
	if !ok {
		var err error
		prod, err = r.client.CreateProducer(pulsar.ProducerOptions{Topic: topic, BackOffPolicyFunc: newReconnectBackoff})
		if err != nil {
			// The dead letter still reached SourceSpec.DeadLetter.
			return
		}
		r.dlq[topic] = prod
	}
	prod.SendAsync(ctx, &pulsar.ProducerMessage{
		Payload: append([]byte(nil), m.Payload()...),
		Key:     m.Key(),
		Properties: map[string]string{
			"sluice_original_topic": p.topic,
			"sluice_message_id":     m.ID().String(),
			"sluice_publish_time":   m.PublishTime().UTC().Format(time.RFC3339Nano),
			"sluice_error":          cause.Error(),
			"sluice_source":         r.spec.Source,
		},
	}, func(pulsar.MessageID, *pulsar.ProducerMessage, error) {})
}

// Partitions implements connectors.Reader.
func (r *Reader) Partitions() int { return len(r.parts) }

// Progress implements connectors.Progress: the redelivered messages
// dropped and the stuck consumers replaced (see the package doc).
func (r *Reader) Progress() map[string]string {
	var n, re, gaps int64
	for _, p := range r.parts {
		n += p.dups
		gaps += p.gaps
		p.mu.Lock()
		re += p.resubscribed
		p.mu.Unlock()
	}
	return map[string]string{"redelivered_dropped": strconv.FormatInt(n, 10), "resubscribed": strconv.FormatInt(re, 10),
		"gaps": strconv.FormatInt(gaps, 10)}
}

// Position implements connectors.Reader.
func (r *Reader) Position() ([]byte, error) {
	pos := position{V: 1, Topics: map[string]msgPos{}}
	snap := map[*partition]pulsar.MessageID{}
	for _, p := range r.parts {
		switch {
		case p.last != nil:
			pos.Topics[p.topic] = posOf(p.last)
			snap[p] = p.last
		case p.skip != nil:
			pos.Topics[p.topic] = *p.skip
		case p.initial != nil:
			pos.Topics[p.topic] = *p.initial
		}
	}
	b, err := json.Marshal(pos)
	if err != nil {
		return nil, fmt.Errorf("encode pulsar position: %w", err)
	}
	if len(r.snaps) > 64 {
		clear(r.snaps)
	}
	r.snaps[string(b)] = snap
	return b, nil
}

// Commit implements connectors.Reader: it acknowledges every message up to
// pos on the subscription.
func (r *Reader) Commit(ctx context.Context, pos []byte) error {
	var stored position
	if err := json.Unmarshal(pos, &stored); err != nil {
		return fmt.Errorf("commit pulsar position: %w", err)
	}
	snap := r.snaps[string(pos)]
	delete(r.snaps, string(pos))
	var errs []error
	for _, p := range r.parts {
		sp, ok := stored.Topics[p.topic]
		if !ok {
			continue
		}
		if r.cumulative {
			id := snap[p]
			if id == nil {
				id = pulsar.NewMessageID(sp.Ledger, sp.Entry, sp.Batch, 0)
			}
			if err := p.cons().AckIDCumulative(id); err != nil {
				errs = append(errs, fmt.Errorf("acknowledge %s up to %v: %w", p.topic, sp, err))
			}
			continue
		}
		n := 0
		for n < len(p.pending) && posOf(p.pending[n]).cmp(sp) <= 0 {
			n++
		}
		if n > 0 {
			if err := p.cons().AckIDList(p.pending[:n]); err != nil {
				errs = append(errs, fmt.Errorf("acknowledge %d messages of %s: %w", n, p.topic, err))
			}
			p.pending = append(p.pending[:0], p.pending[n:]...)
		}
	}
	return errors.Join(errs...)
}

// Lag implements connectors.LagReporter from the admin topic stats.
func (r *Reader) Lag(ctx context.Context) ([]connectors.PartitionLag, error) {
	out := make([]connectors.PartitionLag, 0, len(r.parts))
	for _, p := range r.parts {
		var st struct {
			Subscriptions map[string]struct {
				MsgBacklog int64 `json:"msgBacklog"`
			} `json:"subscriptions"`
		}
		if err := r.adminGet(ctx, "/admin/v2/"+adminPath(p.topic)+"/stats", &st); err != nil {
			return nil, fmt.Errorf("pulsar lag: %w", err)
		}
		out = append(out, connectors.PartitionLag{Partition: p.index, Name: p.topic, Backlog: st.Subscriptions[r.sub].MsgBacklog, Unit: "messages"})
	}
	return out, nil
}

// Close implements connectors.Reader.
func (r *Reader) Close() error {
	r.shut(false)
	return nil
}

// Discard (connectors.Discarder) removes the job's subscription from every
// partition, so that a dropped view leaves no cursor behind and the broker
// no backlog kept for it, and closes the reader. A subscription that other
// consumers still use (shared, failover) stays; the error says so.
func (r *Reader) Discard(context.Context) error {
	return r.shut(true)
}

// shut stops the reader once; with unsubscribe, each partition's consumer
// unsubscribes (which closes it) instead of only closing.
func (r *Reader) shut(unsubscribe bool) error {
	var errs []error
	r.closeOnce.Do(func() {
		close(r.stop)
		r.wg.Wait()
		for _, p := range r.parts {
			if unsubscribe {
				if err := p.consumer.Unsubscribe(); err != nil {
					errs = append(errs, fmt.Errorf("unsubscribe %s from %s: %w", r.sub, p.topic, err))
				}
			}
			p.consumer.Close()
		}
		for _, d := range r.dlq {
			d.Flush()
			d.Close()
		}
		if r.client != nil {
			r.client.Close()
		}
	})
	return errors.Join(errs...)
}
