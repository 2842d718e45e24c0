package libratotest_test

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/go-librato/librato"
	"github.com/go-librato/librato/libratotest"
)

// A test starts a fake server, talks to it through a real client and looks
// at what the server stored.
func Example() {
	ctx := context.Background()
	srv := libratotest.NewServer()
	defer srv.Close()
	c, err := srv.Client()
	if err != nil {
		panic(err)
	}
	t := time.Now().Add(-time.Minute).Truncate(time.Second)
	err = c.Submit(ctx,
		librato.Measurement{Name: "temperature", Value: 22.5, Source: "upstairs", Time: t},
		librato.Measurement{Name: "temperature", Value: 19, Tags: map[string]string{"room": "cellar"}, Time: t},
	)
	if err != nil {
		panic(err)
	}
	for _, p := range srv.Measurements("temperature") {
		fmt.Println(p.Name, p.Source, p.Tags, p.Value, p.Time.Equal(t))
	}
	// Output:
	// temperature upstairs map[] 22.5 true
	// temperature  map[room:cellar] 19 true
}

// Fault injection: the next request fails as the API does during maintenance.
func ExampleServer_AddFault() {
	ctx := context.Background()
	srv := libratotest.NewServer()
	defer srv.Close()
	c, err := srv.Client(librato.WithRetry(librato.RetryPolicy{MaxAttempts: 1}))
	if err != nil {
		panic(err)
	}
	// The next request is answered 503; an empty Body would be the real API's body for it.
	if err := srv.AddFault(libratotest.Fault{Status: 503, Count: 1,
		Body: `{"errors":{"system":["The API is down for maintenance"]}}`}); err != nil {
		panic(err)
	}
	err = c.Ping(ctx)
	fmt.Println(errors.Is(err, librato.ErrServer))
	fmt.Println(c.Ping(ctx))
	// Output:
	// true
	// <nil>
}
