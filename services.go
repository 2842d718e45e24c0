package librato

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"iter"
	"net/http"
	"strconv"
)

// Service is a notification target for alerts (mail, slack, pagerduty, webhook, ...).
type Service struct {
	ID       ServiceID      `json:"id,omitempty"`
	Type     string         `json:"type"`
	Title    string         `json:"title"`
	Settings map[string]any `json:"settings"`
}

// ServiceID is a service's ID. The API documents it as a string ("145") and serves it as a number;
// both decode.
type ServiceID int64

// UnmarshalJSON accepts 145 and "145".
func (id *ServiceID) UnmarshalJSON(b []byte) error {
	b = bytes.Trim(b, `"`)
	if string(b) == "null" || len(b) == 0 {
		*id = 0
		return nil
	}
	n, err := strconv.ParseInt(string(b), 10, 64)
	if err != nil {
		return fmt.Errorf("librato: service id %s is not an integer", b)
	}
	*id = ServiceID(n)
	return nil
}

func servicePath(id ServiceID) string {
	return escapePath("services", strconv.FormatInt(int64(id), 10))
}

func (s *Service) validate() error {
	var errs []error
	if s.Type == "" {
		errs = append(errs, errors.New("empty type"))
	}
	if s.Title == "" {
		errs = append(errs, errors.New("empty title"))
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("librato: invalid service: %w", err)
	}
	return nil
}

// ListServices returns one page of services (orderby: title or updated_at).
func (c *Client) ListServices(ctx context.Context, opts *ListOptions) ([]Service, PageInfo, error) {
	return listPage[Service](ctx, c, "services", "services", opts, nil)
}

// Services iterates over every service, page after page.
func (c *Client) Services(ctx context.Context, opts *ListOptions) iter.Seq2[Service, error] {
	return listAll[Service](ctx, c, "services", "services", opts, nil)
}

// GetService fetches one service.
func (c *Client) GetService(ctx context.Context, id ServiceID) (*Service, error) {
	return fetch[Service](ctx, c, http.MethodGet, servicePath(id), nil, nil)
}

// CreateService creates a service and returns it with its ID.
func (c *Client) CreateService(ctx context.Context, s Service) (*Service, error) {
	if err := s.validate(); err != nil {
		return nil, err
	}
	s.ID = 0
	return fetch[Service](ctx, c, http.MethodPost, "services", nil, s)
}

// UpdateService replaces the service s.ID with s.
func (c *Client) UpdateService(ctx context.Context, s Service) error {
	if s.ID == 0 {
		return errors.New("librato: UpdateService: service has no ID")
	}
	if err := s.validate(); err != nil {
		return err
	}
	_, err := c.do(ctx, http.MethodPut, servicePath(s.ID), nil, s, nil)
	return err
}

// DeleteService deletes a service; the API detaches it from every alert.
func (c *Client) DeleteService(ctx context.Context, id ServiceID) error {
	_, err := c.do(ctx, http.MethodDelete, servicePath(id), nil, nil, nil)
	return err
}

// MarshalJSON writes the ID as a number.
func (id ServiceID) MarshalJSON() ([]byte, error) {
	return json.Marshal(int64(id))
}
