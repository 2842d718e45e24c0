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

func ExampleAlertsService_New() {
	srv := libratotest.NewServer()
	defer srv.Close()
	c, err := srv.Client()
	if err != nil {
		log.Fatal(err)
	}
	ctx := context.Background()

	al := c.Alerts.New("api.latency.high").Description("API too slow").RunbookURL("https://wiki.example.com/runbooks/latency")
	al.AddConditionFor("api.latency").Above(200).SummaryFunction("max").Duration(5 * time.Minute)
	al.AddConditionFor("api.heartbeat").StopsReportingFor(10 * time.Minute)
	if err := al.Save(ctx); err != nil { // POST: the alert gets its ID
		log.Fatal(err)
	}

	// Later: fetch it, change it, save it. Save sends every condition, so none is lost.
	got, err := c.Alerts.GetByName(ctx, "api.latency.high")
	if err != nil {
		log.Fatal(err)
	}
	got.Active(false)
	if err := got.Save(ctx); err != nil { // PUT
		log.Fatal(err)
	}
	got, _ = c.Alerts.Get(ctx, al.ID)
	fmt.Println(got.Name, "active:", got.AlertData.Active, "conditions:", len(got.Conditions))
	for _, cd := range got.Conditions {
		fmt.Println(cd.Type, cd.MetricName, cd.Duration)
	}

	// Invalid alerts are refused before any request.
	bad := c.Alerts.New("api.errors")
	bad.AddConditionFor("api.errors").Above(5).Duration(90 * time.Second)
	err = bad.Save(ctx)
	fmt.Println(errors.Is(err, librato.ErrInvalid))
	fmt.Println(err)
	// Output:
	// api.latency.high active: false conditions: 2
	// above api.latency 5m0s
	// absent api.heartbeat 10m0s
	// true
	// librato: alert "api.errors": condition 0 (api.errors) duration "1m30s": must be 1 to 60 whole minutes (the API takes 60-3600 seconds)
}
