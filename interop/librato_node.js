// Drives the unmodified librato-node package for one scenario of
// interop_test.go against the API at $LIBRATO_URL (a librato serve), with
// $LIBRATO_USER and $LIBRATO_TOKEN. It prints one JSON line: {"ok":true,...}
// or {"error":"..."}; the test reads the data back through the REST API.
'use strict';
const librato = require('librato-node');

const scenario = process.argv[2];
const base = process.env.LIBRATO_URL;

function configure(extra) {
	librato.configure(Object.assign({
		email: process.env.LIBRATO_USER,
		token: process.env.LIBRATO_TOKEN,
		// requestOptions go to request/requestretry (README "Request Options"): the
		// endpoint is one of them; a short retry delay keeps the suite fast.
		requestOptions: {uri: base + '/v1/metrics', retryDelay: 20},
	}, extra));
}

function done(err, extra) {
	const out = err ? {error: String(err.message || err)} : Object.assign({ok: true}, extra);
	process.stdout.write(JSON.stringify(out) + '\n');
}

const errors = [];
librato.on('error', (err) => errors.push(String(err.message)));

const scenarios = {
	// increment by 1, by 2 and with a custom source, then one flush.
	increment() {
		configure();
		librato.increment('ln.hits');
		librato.increment('ln.hits', 2);
		librato.increment('ln.hits', 3, {source: 'web1'});
		librato.flush(done);
	},
	// measure: several values of one gauge become one complex gauge; one value a plain one.
	measure() {
		configure();
		for (const v of [10, 20, 30]) {
			librato.measure('ln.temp', v);
		}
		librato.measure('ln.one', 7);
		librato.measure('ln.src', 4, {source: 'db1'});
		librato.flush(done);
	},
	// timing of a synchronous function and of an asynchronous one with a callback.
	timing() {
		configure();
		const value = librato.timing('ln.work', () => 42);
		librato.timing('ln.work', (cb) => setTimeout(() => cb(null, 'late'), 50), (err, res) => {
			librato.flush((ferr) => done(ferr, {sync: value, async: res}));
		});
	},
	// flush sends what was collected: gauges are cleared, counters are running
	// totals (counter_cache.js keeps them), so a second flush sends the counter again.
	flush() {
		configure();
		librato.increment('ln.flushed', 5);
		librato.measure('ln.flushed.gauge', 1);
		librato.flush((err) => {
			if (err) {
				return done(err);
			}
			librato.flush(done);
		});
	},
	// start runs the worker (period 1 s): it flushes by itself; stop flushes the
	// rest and stops the worker, so the process exits by itself.
	stop() {
		configure({period: 1000});
		librato.start();
		librato.measure('ln.periodic', 1);
		setTimeout(() => {
			librato.measure('ln.periodic', 2);
			librato.stop((err) => done(err, {errors: errors}));
		}, 1600);
	},
	// a wrong token: the flush fails with the API's 401 and the error event fires.
	auth() {
		configure({token: 'wrong-token'});
		librato.increment('ln.denied');
		librato.flush((err) => done(null, {flushError: err ? String(err.message) : null, errors: errors}));
	},
	// a 5xx answer is retried (requestretry, 3 attempts by default).
	retry() {
		configure();
		librato.increment('ln.retried', 4);
		librato.flush(done);
	},
};

if (!scenarios[scenario]) {
	done(new Error('unknown scenario ' + scenario));
	process.exitCode = 2;
} else {
	scenarios[scenario]();
}
