// Package slt runs sqllogictest-style script tests of the streaming engine:
// SQL goes through sql.Parse and the planner into an exec.Engine on a fake
// clock, and ad-hoc queries run on exec/batch over the engine's snapshots.
//
// A script is a sequence of records separated by blank lines; lines
// starting with # are comments. Verbs:
//
//	statement ok                 the SQL that follows must succeed
//	statement error <text>       ... must fail with <text> in the message or as its SQLSTATE
//	insert <table>               rows follow, one a line, comma-separated text values (NULL for null)
//	watermark <source> <time>    declare the watermark of a table/source ('2026-01-01 00:00:10')
//	advance <duration>           move the fake clock (Go duration: 10s, 1m)
//	flush                        wait until every job processed everything sent so far
//	query [nosort]               the SQL, then ----, then the expected rows
//	                             (values separated by one space, NULL for null; sorted unless nosort)
//	late <view> <n>              the view recorded exactly n late events
//	open <view> <n>              the view's operators hold exactly n open windows/sessions
//
// query flushes before it reads. Sources must use connector 'slt' (a push
// source registered by the runner that accepts idle_timeout and
// quiet_advance); tables need no connector. The clock starts at
// 2026-01-01 00:00:00 UTC.
//
// The runner starts no goroutines of its own beyond the engine's; each
// script gets a fresh engine that is closed when the script ends.
package slt
