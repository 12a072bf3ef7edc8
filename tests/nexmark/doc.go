// Package nexmark holds the Nexmark queries in their published forms
// (risingwave/, flink/), the sources in Sluice's dialect (ddl.sql) and a
// test that runs the join queries as continuous views over events of the
// datagen connector's Nexmark generator and compares them with the batch
// executor's answer over the same events. The test starts no goroutines of
// its own beyond the engine's.
package nexmark
