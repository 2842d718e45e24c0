// Package statsd is a StatsD server that forwards to Librato or AppOptics through a
// librato.Queue, so that what it sends has the queue's batching, retries, spool and accounting.
// `librato statsd` runs it; a Go program can embed it:
//
//	q, err := client.NewQueue(librato.QueueOptions{})
//	srv, err := statsd.New(q, statsd.Options{Tags: map[string]string{"host": "web-1"}})
//	conn, err := net.ListenPacket("udp", "127.0.0.1:8125")
//	go srv.ServeUDP(ctx, conn)
//	err = srv.Run(ctx) // flushes every 10 s, and once more when ctx ends
//
// # Protocol
//
// A packet (UDP) or a line (TCP, newline-framed) holds metric lines separated by newlines:
// name:value|type, with several value|type parts after one name separated by ':', an
// optional sample rate |@0.1 on counters, timers and histograms, and tags either as DogStatsD
// writes them (|#k:v,k2:v2 at the end) or as statsd-librato-backend reads them
// (name#k=v,k2=v2). Types: c (counter), g (gauge; +N and -N change it), ms (timer), h
// (histogram, as a timer), s (set).
//
// # What is sent, at every flush
//
// The measurements are those of statsd 0.9 with statsd-librato-backend 2.0.16 on the same
// packets, tagged measurements stamped with the flush time floored to the interval:
//
//	line                  | measurement (period = flush interval)
//	----------------------|----------------------------------------------------------------
//	name:v|c[|@r]         | gauge name = sum of v/r over the interval (countersAsGauges)
//	name:v|g, name:±v|g   | gauge name = the last level (deltas change it)
//	name:m|s              | gauge name = distinct members in the interval
//	name:v|ms, name:v|h   | summary name {count, sum, min, max, stddev} of the values; and for
//	                      | each percentile p a summary name.p of the lowest n-round((100-p)% n)
//	                      | values (p 99.9: name.99_9)
//	name#k=v:…            | tags k=v only (the global tags are replaced)
//	name:…|#k:v           | the global tags and k=v (k=v wins on a clash)
//
// Intended differences from statsd with statsd-librato-backend:
//   - Names go through librato.SanitizeMetricName (characters outside A-Z a-z 0-9 . : - _
//     become '-'), tag names and values through librato.SanitizeTagName and
//     SanitizeTagValue; statsd's keyNameSanitize removes such characters instead, and the
//     backend sends tags as they come (the API refuses a bad one, and the whole post with it).
//   - A series idle for an interval sends nothing (statsd's deleteIdleStats: true); a gauge
//     delta after an idle interval starts from 0. statsd's default sends idle counters as 0 and
//     idle gauges again.
//   - A malformed line adds nothing, not even its well-formed parts, and is counted in
//     Stats.BadLines; statsd counts it in its bad_lines_seen and may keep the parts before.
//   - No statsd.* metrics of its own are sent: Stats has them (the backend skips them too,
//     skipInternalMetrics).
//   - The API's refusal of a measurement is handled by the queue (the bad one is isolated and
//     reported, the rest delivered); the backend stop-lists a name refused for its type.
//   - DogStatsD tags and tags without a value (|#flag) are understood; a tag without a value is
//     left out (the API needs one) and counted in Stats.DroppedTags.
//
// # Bounds
//
// Memory is bounded by Options.MaxSeries series and Options.MaxValues timer values and set
// members an interval. What is lost is counted: malformed lines (BadLines), values past the
// limits (OverLimit), tags left out (DroppedTags), measurements the queue refused (Rejected),
// and the queue's own Stats for the rest. A flush waits for room in the queue rather than
// refusing.
package statsd
