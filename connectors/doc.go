// Package connectors defines how Sluice talks to the outside world: the
// Connector registry with option validation, the Reader contract of sources
// (positions that checkpoints store, per-partition chunks, dead letters) and
// the Sink contract (writes committed per checkpoint epoch). Implementations
// live in subpackages and register themselves in init.
package connectors
