// Package checkpoint is the on-disk checkpoint store of the streaming
// engine: for each job (a view or sink) and each checkpoint epoch, a
// manifest plus the state files it references.
//
// # Layout
//
//	<dir>/<job>/manifest-<epoch>        the manifest of one checkpoint
//	<dir>/<job>/state-<epoch>-<part>    one part (operator) written at epoch
//
// A job directory name is the job name when it is made of [A-Za-z0-9_],
// otherwise "x-" followed by its hex encoding.
//
// # Atomicity and integrity
//
// Every file is written to a temporary name, fsynced, renamed into place,
// and the directory fsynced. State files are written before the manifest,
// so a manifest that exists names only files that were complete when it
// was renamed. Every file ends with a trailer (CRC-32C of the payload,
// payload length, magic), so a torn or corrupt file is detected when it is
// read. Latest validates the newest manifest and every file it references
// and falls back to the next older checkpoint when anything is missing or
// corrupt.
//
// A part is given as bytes (Part.Data) or as a function that streams it
// (Part.Write) through a buffered writer that computes its size and
// checksum, so a large part never sits in memory as one buffer; a Write
// that fails leaves no file of the failed checkpoint.
//
// # Incremental checkpoints
//
// A part that did not change since the job's previous checkpoint is saved
// as Unchanged: the new manifest references the file written by an earlier
// epoch instead of rewriting it. Operators therefore split large state into
// parts that change independently (e.g. one part per open window) and only
// the parts that changed are written. There are no deltas to compact: a
// manifest always lists complete part files.
//
// # Garbage collection
//
// After each successful Save, manifests beyond the newest Options.Keep are
// deleted, then every state file no remaining manifest references and every
// leftover temporary file. Keeping more than one checkpoint is what lets a
// corrupt newest checkpoint fall back to an older one.
//
// # Concurrency and lifecycle
//
// A Store is safe for concurrent use; each JobStore serialises its own
// operations. The package starts no goroutines. Nothing here reads the
// clock.
package checkpoint
