// Package librato is a client for the Librato Metrics API and for the AppOptics API, which has the
// same shape.
//
// Connect once and share the client; it is safe for concurrent use:
//
//	c, err := librato.Connect(user, token)            // Librato: account email and API token
//	c, err := librato.ConnectAppOptics(token)          // AppOptics: token only, tagged API only
//
// # Sending measurements
//
// Submit sends measurements at once. It validates all of them before any I/O, routes measurements
// with tags (or any measurement of a client with default tags) to the tagged API and the rest to the
// legacy source-based API, and sends them in chunks of 300.
//
// On a hot path, use a Queue or an Aggregator. Queue.Add and Aggregator.Add do no I/O, never block
// and allocate nothing in the steady state, and keep nothing of the caller's: maps and strings may be
// reused as soon as they return. A Queue flushes in the background (FlushInterval, AutoSubmitCount)
// and on Close, keeps only what was not accepted after a failure, isolates measurements the API
// rejects, writes ahead to a spool when given a SpoolDir, and counts and reports whatever it has to
// drop. Submit, Queue flushes, the spool and the Aggregator deliver through one engine, so the same
// bad measurement gives the same *RejectedError whichever way it went:
//
//	q, err := c.NewQueue(librato.QueueOptions{FlushInterval: 10 * time.Second})
//	defer q.Close(ctx)
//	q.Add(librato.Measurement{Name: "api.latency", Value: 12.5, Tags: map[string]string{"host": "web1"}})
//
// # Reading and managing
//
// Everything else is grouped by area of the API, one service per area, each a field of the client:
// c.Metrics, c.Measurements (tagged reads and composite queries), c.Alerts, c.Annotations,
// c.Spaces (with their charts), c.Services and c.Jobs. The services share their verbs: Get reads
// one item, List one page (a *Page with the cursor of the next), All iterates over every page, past
// the API's 100-item pages, and Create, Update and Delete change things. IDs are of type ID.
//
// # Errors
//
// Every non-2xx answer is an *Error carrying the status, the redacted URL and the API's message in
// python-librato's format ("[400] params: measure_time: is too far in the past"). Test for kinds with
// errors.Is (ErrNotFound, ErrUnauthorized, ErrRateLimited, ...) and inspect with errors.As. Transport
// errors, 429 and 5xx are retried with capped, jittered exponential backoff; other 4xx never are.
// The token never appears in an error or a log line.
//
// # Testing
//
// Package libratotest is an in-memory Librato-compatible server for tests: libratotest.NewServer()
// and srv.Client() give a connected client with no account.
package librato
