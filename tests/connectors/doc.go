// Package connectors holds the end-to-end connector tests: continuous SQL
// from a real Pulsar topic, through a windowed view, into a real ClickHouse
// table and a Pulsar topic, with the database process killed (SIGKILL)
// mid-stream and restarted from its data directory; the outputs are
// compared row by row with the result computed independently in the test.
//
// The database runs in a child process: the test binary re-executes itself
// with SLUICE_CONNECTORS_CHILD set, opens exec/db on a data directory (with
// the file, pulsar and clickhouse connectors linked in) and runs until it
// is killed. Services come from tests/services/*.sh (PULSAR_URL,
// PULSAR_ADMIN_URL, CLICKHOUSE_ADDR); without them the tests skip, or fail
// under CI=true.
package connectors
