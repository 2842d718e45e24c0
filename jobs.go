package librato

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// JobsService follows the asynchronous jobs some calls start (/v1/jobs).
type JobsService service

// Job states the API reports.
const (
	JobQueued   = "queued"
	JobWorking  = "working"
	JobComplete = "complete"
	JobFailed   = "failed"
	JobCanceled = "canceled"
)

// Job is a long-running server task, named by a 202 answer's Location header.
type Job struct {
	ID       ID              `json:"id"`
	State    string          `json:"state"`
	Progress float64         `json:"progress,omitempty"`
	Output   json.RawMessage `json:"output,omitempty"`
	Errors   json.RawMessage `json:"errors,omitempty"`
}

// Done reports whether the job has stopped, one way or another.
func (j *Job) Done() bool {
	return j.State == JobComplete || j.State == JobFailed || j.State == JobCanceled
}

// Get fetches a job's state.
func (svc *JobsService) Get(ctx context.Context, id ID) (*Job, error) {
	c := svc.client
	return fetch[Job](ctx, c, http.MethodGet, escapePath("jobs", strconv.FormatInt(int64(id), 10)), nil, nil)
}

// Wait polls a job until it stops or ctx ends. It returns the final job, and a *JobError when the
// job failed or was canceled. Polls start at 250ms and back off to 5s.
func (svc *JobsService) Wait(ctx context.Context, id ID) (*Job, error) {
	c := svc.client
	wait := 250 * time.Millisecond
	for {
		j, err := c.Jobs.Get(ctx, id)
		if err != nil {
			return nil, err
		}
		switch j.State {
		case JobComplete:
			return j, nil
		case JobFailed, JobCanceled:
			return j, &JobError{ID: j.ID, State: j.State, Message: jobErrorMessage(j.Errors)}
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return j, fmt.Errorf("librato: waiting for job %d: %w", id, ctx.Err())
		case <-t.C:
		}
		wait = min(wait*2, 5*time.Second)
	}
}

// waitAccepted waits for the job a 202 answer names in its Location header (".../jobs/<id>").
// Any other answer needs no waiting.
func (c *Client) waitAccepted(ctx context.Context, resp *response) error {
	if resp == nil || resp.StatusCode != http.StatusAccepted {
		return nil
	}
	loc := resp.Header.Get("Location")
	i := strings.LastIndex(loc, "/jobs/")
	if i < 0 {
		return nil // accepted without a job to follow: nothing to wait for
	}
	id, err := strconv.ParseInt(strings.TrimRight(loc[i+len("/jobs/"):], "/"), 10, 64)
	if err != nil {
		return fmt.Errorf("librato: unreadable job location %q", loc)
	}
	_, err = c.Jobs.Wait(ctx, ID(id))
	return err
}

// jobErrorMessage renders a job's "errors" value readably.
func jobErrorMessage(raw json.RawMessage) string {
	if len(raw) == 0 || string(raw) == "null" {
		return ""
	}
	msg, _ := errorMessageFromJSON([]byte(`{"errors":` + string(raw) + `}`))
	return msg
}
