package app

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/gitops-connector/gitops-connector/host/internal/config"
	"github.com/gitops-connector/gitops-connector/host/internal/configset"
	"github.com/gitops-connector/gitops-connector/host/internal/routing"
)

// ReplayLine is what replay prints for one event file.
type ReplayLine struct {
	Source     string         `json:"source"`
	Config     string         `json:"config"`
	Handled    bool           `json:"handled"`
	Reason     string         `json:"reason"`
	Commit     string         `json:"commit"`
	Finished   bool           `json:"finished"`
	Successful bool           `json:"successful"`
	Statuses   []ReplayStatus `json:"statuses"`
}

// ReplayStatus is one status of a replayed event.
type ReplayStatus struct {
	Name        string `json:"name"`
	State       string `json:"state"`
	RawState    string `json:"raw_state"`
	Description string `json:"description"`
	Genre       string `json:"genre"`
}

// Replay runs each event file through the real operator plugins, routed as
// the server would route it, and prints one JSON line per file. It sends
// nothing anywhere. Without a config it offers each event to every operator.
func Replay(ctx context.Context, opts Options, files []string, w io.Writer) error {
	plugins, err := discoverPlugins(ctx, opts, opts.Logger)
	if err != nil {
		return err
	}
	defer plugins.Close()

	getenv := opts.getenv()
	var snap config.Snapshot
	single := false
	switch {
	case opts.ConfigPath != "":
		if snap, err = (config.FileSource{Path: opts.ConfigPath}).Load(); err != nil {
			return err
		}
	case config.SingleInstanceEnabled(getenv):
		single = true
		snap = config.EnvSource{Getenv: getenv}.Load()
	}
	set, results := configset.Build(ctx, snap, plugins, single)
	for _, r := range results {
		if !r.Valid {
			opts.Logger.Warn("config invalid", "config", r.Key, "message", r.Message)
		}
	}
	router := &routing.Router{
		Operators:        plugins,
		Configs:          func() *configset.Set { return set },
		AllOperatorTypes: operatorTypes(plugins),
	}
	enc := json.NewEncoder(w)
	var failed []error
	for _, f := range files {
		line := ReplayLine{Source: f, Statuses: []ReplayStatus{}}
		body, err := os.ReadFile(f)
		if err != nil {
			return fmt.Errorf("replay: %w", err)
		}
		d, err := router.Route(ctx, routing.Request{Body: body})
		switch {
		case errors.Is(err, routing.ErrBadInput):
			line.Reason = err.Error()
		case err != nil:
			line.Reason = err.Error()
			failed = append(failed, fmt.Errorf("%s: %w", f, err))
		default:
			line.Config = d.Config.Key()
			line.Handled = d.Handled
			line.Reason = d.Reason
			if d.Handled {
				line.Commit = d.Result.CommitID
				line.Finished = d.Result.Finished
				line.Successful = d.Result.Successful
				for _, s := range d.Result.Statuses {
					line.Statuses = append(line.Statuses, ReplayStatus{
						Name: s.Name, State: s.State.String(), RawState: s.RawState, Description: s.Description, Genre: s.Genre,
					})
				}
			}
		}
		if err := enc.Encode(line); err != nil {
			return fmt.Errorf("replay: write: %w", err)
		}
	}
	return errors.Join(failed...)
}
