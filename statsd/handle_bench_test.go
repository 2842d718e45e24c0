package statsd_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/go-librato/librato"
	"github.com/go-librato/librato/libratotest"
	"github.com/go-librato/librato/statsd"
)

// BenchmarkHandle is one packet of one line, 3 tags, over 1000 series: the server's cost per
// packet without the socket.
func BenchmarkHandle(b *testing.B) {
	api := libratotest.NewUnstartedServer()
	c, err := api.Client()
	if err != nil {
		b.Fatal(err)
	}
	q, err := c.NewQueue(librato.QueueOptions{})
	if err != nil {
		b.Fatal(err)
	}
	defer q.Close(context.Background())
	srv, err := statsd.New(q, statsd.Options{Tags: map[string]string{"host": "h"}})
	if err != nil {
		b.Fatal(err)
	}
	kinds := []string{"c", "ms", "g"}
	lines := make([][]byte, 1000)
	for i := range lines {
		lines[i] = fmt.Appendf(nil, "app.metric%d#host=web-%d,region=eu-west-1,service=checkout:%d|%s", i%97, i%13, 1+i%250, kinds[i%3])
	}
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		srv.Handle(lines[i%len(lines)])
		if i%1_000_000 == 999_999 {
			srv.Flush(context.Background())
		}
	}
}
