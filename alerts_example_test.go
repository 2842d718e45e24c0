package librato_test

import (
	"context"
	"errors"
	"fmt"
	"log"
	"time"

	"github.com/go-librato/librato"
	"github.com/go-librato/librato/libratotest"
)

func ExampleAlertsService_Create() {
	srv := libratotest.NewServer()
	defer srv.Close()
	c, err := srv.Client()
	if err != nil {
		log.Fatal(err)
	}
	ctx := context.Background()

	latency := librato.Above("api.latency", 200)
	latency.SummaryFunction, latency.Duration = "max", 5*time.Minute
	al, err := c.Alerts.Create(ctx, librato.Alert{
		Name:        "api.latency.high",
		Description: "API too slow",
		Attributes:  map[string]any{"runbook_url": "https://wiki.example.com/runbooks/latency"},
		Conditions:  []librato.Condition{latency, librato.Absent("api.heartbeat", 10*time.Minute)},
	})
	if err != nil {
		log.Fatal(err)
	}

	// Later: fetch it, change it, update it. Update sends every condition, so none is lost.
	got, err := c.Alerts.GetByName(ctx, "api.latency.high")
	if err != nil {
		log.Fatal(err)
	}
	got.Disabled = true
	if err := c.Alerts.Update(ctx, *got); err != nil {
		log.Fatal(err)
	}
	got, _ = c.Alerts.Get(ctx, al.ID)
	fmt.Println(got.Name, "disabled:", got.Disabled, "conditions:", len(got.Conditions))
	for _, cd := range got.Conditions {
		fmt.Println(cd.Type, cd.MetricName, cd.Duration)
	}

	// Invalid alerts are refused before any request.
	errorsAbove := librato.Above("api.errors", 5)
	errorsAbove.Duration = 90 * time.Second
	_, err = c.Alerts.Create(ctx, librato.Alert{Name: "api.errors", Conditions: []librato.Condition{errorsAbove}})
	fmt.Println(errors.Is(err, librato.ErrInvalid))
	fmt.Println(err)
	// Output:
	// api.latency.high disabled: true conditions: 2
	// above api.latency 5m0s
	// absent api.heartbeat 10m0s
	// true
	// librato: alert "api.errors": condition 0 (api.errors) duration "1m30s": must be 1 to 60 whole minutes (the API takes 60-3600 seconds)
}
