// Command genbids writes newline-delimited JSON bids for the file-source
// benchmark: {"auction","bidder","price","channel","ts"} with event times
// one millisecond apart on average and up to -disorder out of order, keyed
// over -auctions auctions. The output is deterministic for a seed.
//
//	go run ./tests/bench/connectors/genbids -n 10000000 -o /tmp/bids.ndjson
package main

import (
	"bufio"
	"flag"
	"fmt"
	"math/rand/v2"
	"os"
	"strconv"
	"time"
)

func main() {
	n := flag.Int("n", 10_000_000, "number of bids")
	out := flag.String("o", "bids.ndjson", "output file")
	auctions := flag.Int("auctions", 1000, "number of distinct auctions")
	disorder := flag.Duration("disorder", 3*time.Second, "maximum lateness of an event time")
	seed := flag.Uint64("seed", 1, "random seed")
	flag.Parse()
	if err := run(*n, *out, *auctions, *disorder, *seed); err != nil {
		fmt.Fprintln(os.Stderr, "genbids:", err)
		os.Exit(1)
	}
}

func run(n int, path string, auctions int, disorder time.Duration, seed uint64) error {
	f, err := os.Create(path)
	if err != nil {
		return fmt.Errorf("create output: %w", err)
	}
	w := bufio.NewWriterSize(f, 1<<20)
	rng := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	base := time.Date(2026, 11, 29, 12, 0, 0, 0, time.UTC).UnixMilli()
	maxLate := disorder.Milliseconds()
	buf := make([]byte, 0, 256)
	for i := 0; i < n; i++ {
		ts := base + int64(i)
		if maxLate > 0 {
			ts -= rng.Int64N(maxLate + 1)
		}
		buf = buf[:0]
		buf = append(buf, `{"auction":`...)
		buf = strconv.AppendInt(buf, int64(1000+rng.IntN(auctions)), 10)
		buf = append(buf, `,"bidder":`...)
		buf = strconv.AppendInt(buf, int64(rng.IntN(100_000)), 10)
		buf = append(buf, `,"price":`...)
		buf = strconv.AppendInt(buf, int64(rng.IntN(100_000)), 10)
		buf = append(buf, '.')
		buf = strconv.AppendInt(buf, int64(rng.IntN(100)), 10)
		buf = append(buf, `,"channel":"channel-`...)
		buf = strconv.AppendInt(buf, int64(rng.IntN(8)), 10)
		buf = append(buf, `","ts":"`...)
		buf = time.UnixMilli(ts).UTC().AppendFormat(buf, "2006-01-02T15:04:05.000Z")
		buf = append(buf, "\"}\n"...)
		if _, err := w.Write(buf); err != nil {
			return fmt.Errorf("write: %w", err)
		}
	}
	if err := w.Flush(); err != nil {
		return fmt.Errorf("write: %w", err)
	}
	return f.Close()
}
