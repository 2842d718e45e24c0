package librato

import (
	"context"
	"errors"
	"fmt"
	"iter"
	"net/http"
	"strconv"
)

// ServicesService manages the notification services alerts send to (/v1/services).
type ServicesService service

// Service is a notification target for alerts (mail, slack, pagerduty, webhook, ...).
type Service struct {
	ID       ID             `json:"id,omitempty"`
	Type     string         `json:"type"`
	Title    string         `json:"title"`
	Settings map[string]any `json:"settings"`
}

func servicePath(id ID) string {
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

// List returns one page of services (orderby: title or updated_at).
func (svc *ServicesService) List(ctx context.Context, opts *ListOptions) (*Page[Service], error) {
	c := svc.client
	return listPage[Service](ctx, c, "services", "services", opts, nil)
}

// All iterates over every service, page after page.
func (svc *ServicesService) All(ctx context.Context, opts *ListOptions) iter.Seq2[*Service, error] {
	c := svc.client
	return listAll[Service](ctx, c, "services", "services", opts, nil)
}

// Get fetches one service.
func (svc *ServicesService) Get(ctx context.Context, id ID) (*Service, error) {
	c := svc.client
	return fetch[Service](ctx, c, http.MethodGet, servicePath(id), nil, nil)
}

// Create creates a service and returns it with its ID.
func (svc *ServicesService) Create(ctx context.Context, s Service) (*Service, error) {
	c := svc.client
	if err := s.validate(); err != nil {
		return nil, err
	}
	s.ID = 0
	return fetch[Service](ctx, c, http.MethodPost, "services", nil, s)
}

// Update replaces the service s.ID with s.
func (svc *ServicesService) Update(ctx context.Context, s Service) error {
	c := svc.client
	if s.ID == 0 {
		return errors.New("librato: service update: the service has no ID")
	}
	if err := s.validate(); err != nil {
		return err
	}
	_, err := c.do(ctx, http.MethodPut, servicePath(s.ID), nil, s, nil)
	return err
}

// Delete deletes a service; the API detaches it from every alert.
func (svc *ServicesService) Delete(ctx context.Context, id ID) error {
	c := svc.client
	_, err := c.do(ctx, http.MethodDelete, servicePath(id), nil, nil, nil)
	return err
}
