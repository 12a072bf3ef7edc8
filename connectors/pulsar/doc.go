// Package pulsar is the `connector = 'pulsar'` source and sink, on
// github.com/apache/pulsar-client-go.
//
// # Source
//
// Options (the names are the SQL interface): service_url, topic | topics |
// topic_pattern, subscription (each consuming view or sink subscribes as
// "<subscription>-<job>", default "sluice-<job>"), subscription_type
// exclusive|failover|shared|key_shared (default exclusive), start
// earliest|latest|<timestamp> (default earliest), format json|avro|
// pulsar_schema, auth_token, tls_trust_certs_file; and, documented here:
// admin_url (the broker's HTTP admin URL; needed for topic_pattern,
// format pulsar_schema and Lag), avro_schema (writer schema for format
// avro), dead_letter_topic (default "<topic>-dlq"; 'none' disables),
// receiver_queue_size (default 1000), plus the decoder options of package
// format (json_missing).
//
// Every partition topic ("t-partition-0", ...) is read by its own consumer
// on the subscription and gets its own Partition index (sorted by topic
// name, then partition number), so the engine keeps one watermark per
// partition. A forwarding goroutine per partition batches received
// messages (up to 1024) onto one channel that Read drains; each chunk holds
// the messages of one partition.
//
// Position is JSON: for each partition topic the (ledger, entry, batch
// index) of the last message Read returned. On restart with a Position the
// reader seeks each partition's consumer to the stored message and drops
// every message at or before it, so a restart resumes exactly after it
// (Seek moves the subscription cursor: consumers sharing the subscription
// are moved too). Partitions without a stored message start at the
// configured start; so does every partition of a job without a Position
// (its state is empty) on an exclusive subscription, whatever cursor it
// kept from an earlier job of the same name (a view dropped and created
// again). Shared, key_shared and failover subscriptions, whose other
// consumers a Seek would move too, start such a job from their cursor.
// A consumer that sought is closed and the partition subscribed again:
// the seek moved the cursor, and pulsar-client-go v0.19 loses messages at
// the later reconnections of a consumer that sought (it discards up to a
// start position it keeps from the seek, dropping what its dispatcher
// held). Without a seek a reconnection only brings back what was not
// acknowledged; on exclusive and failover subscriptions, which deliver a
// partition in order, a message at or before the last one read is such a
// redelivery and is dropped (Progress shows how many as
// redelivered_dropped). Shared and key_shared subscriptions may deliver
// out of order and keep redeliveries: their exactly-once holds only while
// no consumer reconnects. A consumer reconnects at most 2 s apart (the
// client's default backs off to a minute). A consumer that received
// nothing for 3 s is checked (GetLastMessageIDs): when the broker does not
// answer for it (after an unload the client can believe itself
// reconnected while the broker has no such consumer, and the partition is
// never read again) or has messages beyond the last received on two checks
// in a row, the partition is subscribed again (Progress: resubscribed;
// once per last message, so an entry the client filters, such as a
// replicated-subscription marker, does not cause a replacement at every
// check). Within a ledger a partition's entries and batch indices come
// consecutively: a jump between two messages read is logged and counted
// (Progress: gaps; filtered marker entries count too).
// TestSourceExactlyOnceAcrossReconnections reads a topic that the broker
// unloads twelve times, 200 ms apart; TestQuietPartitionKeepsItsConsumer
// checks that a partition with nothing new keeps its consumer.
// Dropping the consuming view or sink unsubscribes (Reader.Discard,
// connectors.Discarder), so it leaves neither a cursor nor a backlog the
// broker would retain for it; a subscription other consumers still use
// stays, and the engine logs why.
// Commit acknowledges up to the committed position:
// cumulatively for exclusive and failover subscriptions, message by message
// (IDs kept in memory until committed) for shared and key_shared ones. The
// subscription cursor therefore never passes a checkpoint.
//
// A message that does not decode is published (asynchronously, at least
// once) to the dead-letter topic with its raw payload and the properties
// sluice_original_topic, sluice_message_id, sluice_publish_time and
// sluice_error, and reported to SourceSpec.DeadLetter; reading goes on.
// Lag (connectors.LagReporter) is msgBacklog of the subscription per
// partition from the admin topic stats.
//
// # Sink
//
// Options: service_url, topic, format json, key (column whose text is the
// message key), producer_name (default "sluice-<sink>"), auth_token,
// tls_trust_certs_file. Rows are encoded with format.JSONEncoder (retracted
// rows carry the property sluice_op = "-"); the topic is a changelog of the
// view. Exactly-once uses broker deduplication (brokerDeduplicationEnabled,
// or the namespace policy, must be on; tests/services/pulsar.sh turns it
// on): the sink buffers an epoch and sends it at Commit(epoch) under a fixed
// producer name with sequence IDs epoch<<24 | i, every message carrying
// sluice_epoch and sluice_index, the last of an epoch using i = 0xFFFFFF and
// sluice_epoch_end. The broker drops any message whose sequence ID is not
// above the last it persisted for the producer name, so an epoch the engine
// writes again after a crash (from its checkpoint, the same rows) is not
// written twice. Batching is off: the Go client does not send a batch's
// highest sequence ID, so the broker would deduplicate a batch by its first
// ID only.
//
// LastCommitted reads the last message of each partition. Unpartitioned
// topic: the last epoch with its end marker; an epoch cut short by a crash
// is completed when the engine commits that epoch number again — with the
// same leading rows (a rewrite from the checkpoint) the broker drops the
// repeated prefix; with other rows (the engine rebuilt a sink reading a view
// from the view's contents) they are numbered after the prefix, which stays.
// Partitioned topic: the highest epoch seen on any partition, so an epoch
// number that reached the broker is never reused for other rows; the tail of
// an epoch cut short by a crash is then not rewritten (known limitation).
// An epoch holds at most 2^24-1 rows. Pulsar transactions were tried
// (4.0.8 with the Go client v0.19.0): messages of an aborted transaction
// were still delivered to a consumer, so they are not used.
//
// Goroutines: one forwarder per source partition, ended by Close; the
// client's own goroutines, ended by Close; and, per stuck consumer
// replaced, the one that asked it for the last message ID and may never
// get an answer (left blocked).
package pulsar
