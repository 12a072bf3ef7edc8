package pgwire_test

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/sluice-db/sluice/sql/types"
)

// TestTimeZoneMatchesPostgres sets TimeZone on Sluice and on PostgreSQL
// and compares, byte for byte, the text and binary encodings of
// timestamptz results (simple and extended protocol) and the reading of
// timestamptz parameters written without a zone offset, which both take
// as local time in the session's zone.
func TestTimeZoneMatchesPostgres(t *testing.T) {
	addr, _ := startDB(t, "")
	shost, sport, _ := net.SplitHostPort(addr)
	phost, pport := postgresForComparison(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	connect := func(host, port string) *pgconn.PgConn {
		c, err := pgconn.Connect(ctx, fmt.Sprintf("postgres://sluice@%s:%s/sluice?sslmode=disable", host, port))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close(context.Background()) })
		return c
	}
	pg, sl := connect(phost, pport), connect(shost, sport)

	literals := []string{
		"2024-06-01 12:00:00.5+00", "2024-01-15 23:59:59.999999-08", "2024-03-31 00:59:59+00",
		"2024-03-31 01:00:00+00", "2024-10-27 00:30:00+00", "2024-10-27 01:30:00+00",
		"1960-01-01 00:00:00+00", "1970-01-01 00:00:00+00", "2038-01-19 03:14:08+00", "2099-07-01 00:00:00+00", "1900-01-01 00:00:00+00", "1890-01-01 00:00:00+00",
	}
	params := []string{
		"2024-06-01 12:00:00", "2024-01-15 08:30:00.25", "2024-12-31 23:59:59.999999",
		"2024-06-01 12:00:00+03", "2024-06-01 12:00:00-07:30", "2024-10-27 03:30:00", "2024-10-27 02:30:00", "2024-03-31 02:30:00", "2024-11-03 01:30:00", "2024-03-10 02:30:00",
	}
	simple := func(c *pgconn.PgConn, q string) string {
		res, err := c.Exec(ctx, q).ReadAll()
		if err != nil {
			return "ERROR " + err.Error()
		}
		var b bytes.Buffer
		for _, r := range res {
			for _, row := range r.Rows {
				for _, v := range row {
					fmt.Fprintf(&b, "%q ", v)
				}
			}
			b.WriteString(r.CommandTag.String())
		}
		return b.String()
	}
	extended := func(c *pgconn.PgConn, q string, args [][]byte, oids []uint32, format int16) string {
		r := c.ExecParams(ctx, q, args, oids, nil, []int16{format}).Read()
		if r.Err != nil {
			return "ERROR " + r.Err.Error()
		}
		var b bytes.Buffer
		for _, f := range r.FieldDescriptions {
			fmt.Fprintf(&b, "%d/%d ", f.DataTypeOID, f.Format)
		}
		for _, row := range r.Rows {
			for _, v := range row {
				fmt.Fprintf(&b, "%x ", v)
			}
		}
		return b.String()
	}
	for _, zone := range []string{"Europe/Berlin", "Asia/Kolkata", "Asia/Kathmandu", "America/St_Johns",
		"America/Los_Angeles", "Australia/Lord_Howe", "UTC"} {
		t.Run(zone, func(t *testing.T) {
			set := fmt.Sprintf("SET TimeZone = '%s'", zone)
			if got, want := simple(sl, set), simple(pg, set); got != want {
				t.Fatalf("%s: sluice %s, postgresql %s", set, got, want)
			}
			if got, want := sl.ParameterStatus("TimeZone"), pg.ParameterStatus("TimeZone"); got != want {
				t.Errorf("ParameterStatus TimeZone: sluice %q, postgresql %q", got, want)
			}
			for _, lit := range literals {
				q := fmt.Sprintf("SELECT '%s'::timestamptz AS ts", lit)
				if got, want := simple(sl, q), simple(pg, q); got != want {
					t.Errorf("simple %s:\n sluice     %s\n postgresql %s", q, got, want)
				}
				for _, f := range []int16{0, 1} {
					if got, want := extended(sl, q, nil, nil, f), extended(pg, q, nil, nil, f); got != want {
						t.Errorf("extended %s format %d:\n sluice     %s\n postgresql %s", q, f, got, want)
					}
				}
			}
			for _, p := range params {
				for _, f := range []int16{0, 1} {
					const q = "SELECT $1::timestamptz AS ts"
					args, oids := [][]byte{[]byte(p)}, []uint32{types.OIDTimestampTZ}
					if got, want := extended(sl, q, args, oids, f), extended(pg, q, args, oids, f); got != want {
						t.Errorf("parameter %q format %d:\n sluice     %s\n postgresql %s", p, f, got, want)
					}
				}
			}
		})
	}
	// RESET returns to the server's zone.
	if got, want := simple(sl, "RESET TimeZone"), simple(pg, "RESET TimeZone"); got != want {
		t.Fatalf("RESET: sluice %s, postgresql %s", got, want)
	}
	q := "SELECT '2024-06-01 12:00:00+02'::timestamptz"
	if got, want := simple(sl, q), simple(pg, q); got != want {
		t.Errorf("after RESET: sluice %s, postgresql %s", got, want)
	}
}
