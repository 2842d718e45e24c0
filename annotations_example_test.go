package librato_test

import (
	"context"
	"errors"
	"fmt"
	"log"

	"github.com/go-librato/librato"
	"github.com/go-librato/librato/libratotest"
)

func ExampleAnnotationsService_Record() {
	srv := libratotest.NewServer()
	defer srv.Close()
	c, err := srv.Client()
	if err != nil {
		log.Fatal(err)
	}
	ctx := context.Background()

	deploy := func(ctx context.Context) error { return errors.New("health check failed") }
	err = c.Annotations.Record(ctx, "deploys", librato.Annotation{Title: "api v1.2.3", Source: "ci"}, deploy)
	fmt.Println("deploy:", err)

	s, err := c.Annotations.GetStream(ctx, "deploys", &librato.AnnotationQuery{Count: 1})
	if err != nil {
		log.Fatal(err)
	}
	ev := s.Events["ci"][0]
	fmt.Printf("%s: %q, has end time: %v\n", ev.Title, ev.Description, !ev.EndTime.IsZero())
	// Output:
	// deploy: health check failed
	// api v1.2.3: "failed: health check failed", has end time: true
}
