// Command fileread reads an NDJSON bid file through the Sluice file source
// (connector 'file', format json, on_eof close) to the end and prints the
// rows read. filebench.sh measures it as the connector-only baseline of the
// file benchmark.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"

	"github.com/sluice-db/sluice/connectors"
	_ "github.com/sluice-db/sluice/connectors/file"
	"github.com/sluice-db/sluice/sql/types"
)

func main() {
	path := flag.String("path", "bids.ndjson", "NDJSON file of bids")
	flag.Parse()
	schema := types.Schema{
		{Name: "auction", Type: types.TInt64},
		{Name: "bidder", Type: types.TInt64},
		{Name: "price", Type: types.TFloat64},
		{Name: "channel", Type: types.TText, Nullable: true},
		{Name: "ts", Type: types.TTimestamp},
	}
	c, err := connectors.Lookup("file")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	var dead int
	r, err := c.OpenSource(context.Background(), connectors.SourceSpec{
		Source: "bids", Schema: schema, Options: map[string]string{"path": *path},
		DeadLetter: func(connectors.DeadLetter) { dead++ },
	})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	defer r.Close()
	rows := 0
	var sum int64
	for {
		ch, err := r.Read(context.Background())
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		if ch == nil {
			continue
		}
		rows += ch.Len()
		for i := 0; i < ch.Len(); i++ {
			sum += ch.Row(i)[0].I
		}
	}
	fmt.Printf("rows=%d dead_letters=%d auction_sum=%d\n", rows, dead, sum)
}
