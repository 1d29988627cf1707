// Package subscriber sends every commit status, as raw JSON, to the
// endpoints listed in the subscribers directory (the chart's
// singleInstance.subscribers: one file per subscriber whose first line is
// the URL).
package subscriber

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"
)

// Subscriber is one endpoint.
type Subscriber struct {
	Name string
	URL  string
}

// Load reads the subscribers of a directory. A directory that does not exist
// has none. Hidden entries (a ConfigMap mount's ..data) are skipped.
func Load(dir string) ([]Subscriber, error) {
	entries, err := os.ReadDir(dir)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read subscribers directory: %w", err)
	}
	var subs []Subscriber
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), ".") {
			continue
		}
		path := filepath.Join(dir, e.Name())
		if fi, err := os.Stat(path); err != nil || fi.IsDir() {
			continue
		}
		f, err := os.Open(path)
		if err != nil {
			return nil, fmt.Errorf("read subscriber %s: %w", e.Name(), err)
		}
		sc := bufio.NewScanner(f)
		var line string
		if sc.Scan() {
			line = strings.TrimSpace(sc.Text())
		}
		f.Close()
		u, err := url.Parse(line)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return nil, fmt.Errorf("subscriber %s: first line must be an http(s) URL", e.Name())
		}
		subs = append(subs, Subscriber{Name: e.Name(), URL: line})
	}
	slices.SortFunc(subs, func(a, b Subscriber) int { return strings.Compare(a.Name, b.Name) })
	return subs, nil
}

// Payload is the JSON a subscriber receives for one status, as the old
// connector sent it.
type Payload struct {
	CommitID string `json:"commit_id"`
	// StatusName is the status context.
	StatusName string `json:"status_name"`
	// State is the raw operator state.
	State   string `json:"state"`
	Message string `json:"message"`
	// CallbackURL is the config's gitOpsAppURL.
	CallbackURL string `json:"callback_url"`
	// GitOpsOperator is "Flux" or "ArgoCD".
	GitOpsOperator string `json:"gitops_operator"`
	// Genre is the Flux kind or "ArgoCD".
	Genre string `json:"genre"`
}

// Client posts payloads.
type Client struct {
	HTTP *http.Client
}

// NewClient returns a client whose requests time out after timeout.
func NewClient(timeout time.Duration) *Client {
	return &Client{HTTP: &http.Client{Timeout: timeout}}
}

// StatusError is a non-2xx answer.
type StatusError struct{ Code int }

func (e *StatusError) Error() string { return fmt.Sprintf("subscriber answered %d", e.Code) }

// Send posts one payload.
func (c *Client) Send(ctx context.Context, s Subscriber, p Payload) error {
	body, err := json.Marshal(p)
	if err != nil {
		return fmt.Errorf("encode subscriber payload: %w", err)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, s.URL, bytes.NewReader(body))
	if err != nil {
		return fmt.Errorf("subscriber %s: %w", s.Name, err)
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := c.HTTP.Do(req)
	if err != nil {
		return fmt.Errorf("subscriber %s: %w", s.Name, err)
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("subscriber %s: %w", s.Name, &StatusError{Code: resp.StatusCode})
	}
	return nil
}
