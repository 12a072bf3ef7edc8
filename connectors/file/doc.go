// Package file is the `connector = 'file'` source: newline-delimited JSON or
// CSV read from a local file, for replay, backfill and benchmarks.
//
// Options: path (required), format 'json'|'csv' (default json), on_eof
// 'close'|'follow' (default close), poll_interval (follow mode, default
// 100ms), and the decoder options of package format (csv_header,
// csv_delimiter, csv_null, json_missing).
//
// The reader reads the file in 1 MiB blocks and decodes one line per row,
// up to ChunkRows (65536) rows and 256K values per chunk, all in partition
// 0: the engine's source emits one watermark per chunk, so large chunks
// mean few intermediate updates in an updating view downstream (a read
// returns early when the file has no more data, so following a live file
// adds no delay). ReadInto decodes into a chunk the caller owns, which the
// engine forwards without a copy; ReadIntoN does so for at most a given
// number of rows and sets chunk.More when it stopped at that number with
// another line ready, so the engine reads one batch as several small
// chunks and emits its watermark once per batch. A line that does not
// decode goes to SourceSpec.DeadLetter with its raw bytes and its byte
// offset; reading goes on. Position is the byte offset just after the last
// line returned (decimal text), so a restart resumes at the next line. With
// on_eof = 'close' the reader returns io.EOF at the end of the file (a last
// line without a newline still counts); with 'follow' it polls for appended
// lines and holds back an unterminated last line until its newline arrives.
// A followed file that shrinks below the position is an error (truncation
// is not supported). Progress reports bytes read, the file size and whether
// the end was reached; Lag reports the bytes not yet read.
//
// The reader owns one open file and no goroutines; Close closes the file.
package file
