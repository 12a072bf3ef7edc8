// Package datagen is the 'datagen' connector: synthetic streams for demos
// and benchmarks that need no broker.
//
//	CREATE SOURCE clicks (event_type TEXT, ts TIMESTAMP, user_id BIGINT, campaign TEXT,
//	    WATERMARK FOR ts AS ts - INTERVAL '10' SECOND)
//	WITH (connector = 'datagen', stream = 'clickstream', rate = '50', seed = '42');
//
// Streams (option stream):
//   - clickstream: a marketing clickstream simulated per session. Users
//     arrive through campaigns and channels (organic, direct, brand_search,
//     spring_sale by email and social, newsletter_weekly, retargeting,
//     influencer_collab, affiliate_deals), view pages, add to cart, start
//     checkout and purchase — or abandon; about 3% of events are email opens
//     and email campaigns start sessions with an email_click. Fields:
//     event_id, event_type, ts (aliases event_time, event_ts, timestamp,
//     time), user_id, session_id, campaign, channel, page (url, page_url),
//     referrer, product_id, category, price (amount, revenue), quantity,
//     order_id, device, country, email_id. Fields that do not apply to an
//     event are NULL.
//   - person, auction, bid: the Nexmark benchmark streams with the standard
//     fields (person: id, name, email_address, credit_card, city, state,
//     date_time, extra; auction: id, item_name, description, initial_bid,
//     reserve, date_time, expires, seller, category, extra; bid: auction,
//     bidder, price, channel, url, date_time, extra) in the reference
//     proportions 1:3:46 over one global event sequence, ids and hot
//     auctions/bidders as in the Beam/Flink generator.
//
// Columns are filled by name from the CREATE SOURCE schema (any subset, in
// any order, with conversions to compatible types: an integer field fills
// INT, NUMERIC, DOUBLE or TEXT; a timestamp fills TIMESTAMPTZ, DATE or
// BIGINT epoch milliseconds); an unknown column is an error at CREATE
// SOURCE (connectors.SchemaChecker).
//
// Time: event n is scheduled at start + n/rate, where start is start_time
// or the wall clock (SourceSpec.Now) at the first open minus backfill. With
// rate > 0 a row is produced once the clock reaches its scheduled time
// (after a backfill, the past is produced at full speed); with rate = 0
// rows are produced as fast as they are read, on a logical clock advancing
// logical_step per event. out_of_order and late_fraction/late_by disturb
// event times deterministically.
//
// Determinism and restart: everything depends on the seed and the event
// number only. Position stores the next event number, the rows emitted and
// start; a restart from it produces exactly the rows that would have
// followed (the clickstream simulation is replayed up to the position,
// Nexmark events are computed directly from their number).
//
// Goroutines: none; a Reader is used by one goroutine. Read waits on a
// timer at most 100 ms when no event is due.
package datagen
