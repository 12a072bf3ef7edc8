// Package chunk defines the batches (Chunk) and control messages (Message)
// that travel between operators, sources and sinks.
package chunk
