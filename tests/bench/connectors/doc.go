// Package connectors holds the connector benchmarks that need real services
// and report a ratio against the bare client library measured in the same
// run:
//
//   - BenchmarkPulsarSourceVsBareConsumer: events/s of the Sluice Pulsar
//     source (decoding JSON into rows) next to a bare pulsar-client-go
//     consumer reading the same topic (target ratio >= 0.8).
//   - BenchmarkClickHouseSinkVsPrepareBatch: rows/s of the Sluice ClickHouse
//     sink (exactly-once bookkeeping included) next to clickhouse-go's own
//     PrepareBatch/Append/Send loop writing the same rows (target >= 0.8).
//
// Run (services from tests/services/*.sh):
//
//	eval $(tests/services/pulsar.sh start); eval $(tests/services/clickhouse.sh start)
//	export PULSAR_URL PULSAR_ADMIN_URL CLICKHOUSE_ADDR
//	go test ./tests/bench/connectors/ -run '^$' -bench . -benchtime 1x
//
// filebench.sh and the genbids, fileread and filequery commands measure
// the file source over a generated NDJSON file of bids (filequery
// -cpuprofile profiles the whole process, -memprofile writes its
// allocations; run it with GODEBUG=asyncpreemptoff=1 for the profile: on
// the 2-core VM about 15% of the samples otherwise land in
// runtime.asyncPreempt, and with async preemption off they go back to the
// functions they belong to while the process's CPU time stays the same).
// BenchmarkFileTumble runs the filequery query in the test process and
// reports events/s and events per CPU-second (getrusage); it needs no
// service:
//
//	SLUICE_BIDS_FILE=/tmp/bids.ndjson go test ./tests/bench/connectors/ -run '^$' \
//	    -bench FileTumble -benchtime 1x -cpuprofile /tmp/cpu.out
package connectors
