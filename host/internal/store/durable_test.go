package store

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/gitops-connector/gitops-connector/host/internal/config"
	"github.com/gitops-connector/gitops-connector/host/internal/pipeline"
	"github.com/gitops-connector/gitops-connector/sdk"
)

// The pipeline on a bolt store, restarted on the same directory.

const token = "ghp_durableTestToken0123456789abcdefABCD"

var cfg = config.Config{
	Name: "podinfo", Namespace: "flux-system", RepositoryType: "GITHUB", OrchestratorType: "GITHUB", Credentials: config.Credentials{Shared: config.CredentialSource{Credential: config.TokenCredential(token)}},
	Settings: map[string]string{config.FieldAppURL: "https://github.com/kaizentm/gitops-manifests/commit", "gitHubOrgUrl": "https://api.github.com/repos/kaizentm"},
}

// plugins records the statuses and notifications, and holds the posts of
// one status context until released.
type plugins struct {
	sdk.UnimplementedRepository
	sdk.UnimplementedOrchestrator

	mu       sync.Mutex
	posted   []string
	notified []string
	tokens   []string
	hold     string
	held     chan struct{} // receives when a post of hold starts
}

func (p *plugins) ValidateConfig(context.Context, sdk.Config) ([]sdk.FieldError, error) {
	return nil, nil
}

func (p *plugins) Repository(string) (sdk.Repository, error)     { return p, nil }
func (p *plugins) Orchestrator(string) (sdk.Orchestrator, error) { return p, nil }

func (p *plugins) PostStatus(ctx context.Context, req sdk.PostStatusRequest) error {
	if p.hold != "" && req.Status.Name == p.hold {
		p.held <- struct{}{}
		<-ctx.Done() // until shutdown interrupts it
		return sdk.Retryable(ctx.Err(), 0)
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.tokens = append(p.tokens, req.Config.Token)
	p.posted = append(p.posted, req.CommitID[:7]+"/"+req.Status.Name+"="+req.Status.RawState)
	return nil
}

func (p *plugins) NotifyCompletion(_ context.Context, c sdk.Completion, _ sdk.Repository) (sdk.NotifyResult, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.tokens = append(p.tokens, c.Config.Token)
	p.notified = append(p.notified, c.CommitID[:7])
	return sdk.NotifyResult{Notified: true}, nil
}

func (p *plugins) snapshot() ([]string, []string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return slices.Clone(p.posted), slices.Clone(p.notified)
}

func st(name, raw string) sdk.Status {
	return sdk.Status{Name: name, RawState: raw, State: sdk.StatePending, Description: raw, Genre: "Kustomization", Operator: "Flux"}
}

func newPipeline(t *testing.T, s *Bolt, p *plugins) *pipeline.Pipeline {
	t.Helper()
	pipe, err := pipeline.New(pipeline.Options{
		Plugins: p, Store: s, Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
		InitialBackoff: time.Millisecond, MaxBackoff: 5 * time.Millisecond,
		Resolve: func(key string) (config.Config, error) {
			if key != cfg.Key() {
				return config.Config{}, fmt.Errorf("no config named %q", key)
			}
			return cfg, nil
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	return pipe
}

func waitIdle(t *testing.T, p *pipeline.Pipeline) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for p.Pending() > 0 {
		if time.Now().After(deadline) {
			t.Fatalf("%d jobs still pending", p.Pending())
		}
		time.Sleep(time.Millisecond)
	}
}

func fileBytes(t *testing.T, dir string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir, FileName))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestAcceptedEventsSurviveARestartResumeInOrderAndNeverPutTheTokenOnDisk(t *testing.T) {
	dir := t.TempDir()
	s, err := Open(dir, Options{})
	if err != nil {
		t.Fatal(err)
	}
	p1 := &plugins{hold: "Slow", held: make(chan struct{}, 1)}
	pipe := newPipeline(t, s, p1)
	pipe.Start()
	jobs := []pipeline.Job{
		{ID: "a1", CommitID: commitA, Statuses: []sdk.Status{st("First", "Progressing"), st("Slow", "Progressing"), st("Last", "Progressing")}},
		{ID: "b1", CommitID: commitB, Finished: true, Successful: true, Statuses: []sdk.Status{st("Status", "ReconciliationSucceeded")}},
		{ID: "a2", CommitID: commitA, Statuses: []sdk.Status{st("Second", "Progressing")}},
		{ID: "a3", CommitID: commitA, Finished: true, Successful: true, Statuses: []sdk.Status{st("Third", "ReconciliationSucceeded")}},
	}
	for i, j := range jobs {
		j.Config = cfg
		if _, err := pipe.Submit(j); err != nil {
			t.Fatal(err)
		}
		if i == 0 {
			<-p1.held // a1 posted First and hangs in Slow
		}
	}
	for { // b1 is independent of commit A
		if _, n := p1.snapshot(); len(n) == 1 {
			break
		}
		time.Sleep(time.Millisecond)
	}
	if bytes.Contains(fileBytes(t, dir), []byte(token)) {
		t.Fatal("the token is in the store while events are pending")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	if err := pipe.Close(ctx); err != nil {
		t.Fatal(err)
	}
	s = reopen(t, s, dir)
	p2 := &plugins{}
	pipe = newPipeline(t, s, p2)
	pipe.Start()
	waitIdle(t, pipe)
	if err := pipe.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	posted1, notified1 := p1.snapshot()
	posted2, notified2 := p2.snapshot()
	if want := []string{"aaaaaaa/First=Progressing", "bbbbbbb/Status=ReconciliationSucceeded"}; !slices.Equal(slices.Sorted(slices.Values(posted1)), want) {
		t.Errorf("before the restart: posted %v, want %v", posted1, want)
	}
	// a1's progress is not recorded before its removal: it is posted
	// again from its first status, in order.
	if want := []string{"aaaaaaa/First=Progressing", "aaaaaaa/Slow=Progressing", "aaaaaaa/Last=Progressing", "aaaaaaa/Second=Progressing", "aaaaaaa/Third=ReconciliationSucceeded"}; !slices.Equal(posted2, want) {
		t.Errorf("after the restart: posted\n%v\nwant\n%v", posted2, want)
	}
	if !slices.Equal(notified1, []string{"bbbbbbb"}) || !slices.Equal(notified2, []string{"aaaaaaa"}) {
		t.Errorf("notified %v then %v: want each commit once", notified1, notified2)
	}
	for _, tok := range append(p1.tokens, p2.tokens...) {
		if tok != token {
			t.Fatalf("a call had token %q: resumed events must get the config's token from Resolve", tok)
		}
	}
	if left, _ := s.Pending(); len(left) != 0 {
		t.Fatalf("%d records left", len(left))
	}
	file := fileBytes(t, dir)
	if bytes.Contains(file, []byte(token)) {
		t.Fatal("the token is in the store")
	}
	if !bytes.Contains(file, []byte("flux-system/podinfo@"+commitA)) {
		t.Fatal("the store file does not hold the delivery state: the token check looked at the wrong bytes")
	}
}
