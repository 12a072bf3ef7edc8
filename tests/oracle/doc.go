// Package oracle checks the streaming engine against a batch oracle: a
// generated stream with disorder and late events is fed through windowed
// views, and once every window has closed their contents must equal the
// same aggregation computed directly over the events that were on time
// (judged, like the engine, in arrival order against the watermark of the
// rows before them).
package oracle
