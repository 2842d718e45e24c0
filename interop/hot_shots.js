// Sends StatsD metrics with the unmodified hot-shots package (a DogStatsD client) to the UDP
// address $STATSD_HOST:$STATSD_PORT (a librato statsd), for statsd_parity_test.go, then prints
// one JSON line: {"ok":true} or {"error":"..."}. The test reads the result back through the
// REST API of the librato serve the server forwards to.
'use strict';
const StatsD = require('hot-shots');

const client = new StatsD({
	host: process.env.STATSD_HOST,
	port: Number(process.env.STATSD_PORT),
	globalTags: {service: 'checkout'},
	errorHandler: (err) => done(err),
});

let finished = false;
function done(err) {
	if (finished) return;
	finished = true;
	process.stdout.write(JSON.stringify(err ? {error: String(err.message || err)} : {ok: true}) + '\n');
}

client.increment('hs.orders', 3, {route: 'pay'});
client.increment('hs.orders', 1, {route: 'pay'});
client.increment('hs.orders', 2, {route: 'cart'}); // no sample rate: hot-shots would drop half at random
client.gauge('hs.queue', 7);
client.timing('hs.latency', 120);
client.timing('hs.latency', 80);
client.histogram('hs.size', 512);
client.set('hs.users', 'alice');
client.set('hs.users', 'bob');
client.set('hs.users', 'alice');
client.close((err) => done(err));
