package config

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/gitops-connector/gitops-connector/sdk"
	"go.yaml.in/yaml/v3"
)

// Kind is the kind of a GitOpsConfig document or resource.
const Kind = "GitOpsConfig"

// FileSource reads GitOpsConfig documents from a YAML file or from every
// .yaml/.yml/.json file of a directory, and reloads them when they change.
type FileSource struct {
	// Path is a file or a directory.
	Path string
	// Getenv gives the connector's environment: the global tokens of
	// configs that name no secret (PAT, GIT_REPOSITORY_PAT,
	// CICD_ORCHESTRATOR_PAT) and the values of azureIdentity. nil means
	// os.Getenv.
	Getenv func(string) string
	// Interval between checks for changes; 0 means 2 s.
	Interval time.Duration
	// OnError is told about a read that failed; the previous snapshot stays.
	OnError func(error)
}

// Load reads the documents once.
func (s FileSource) Load() (Snapshot, error) {
	files, err := s.files()
	if err != nil {
		return Snapshot{}, err
	}
	var snap Snapshot
	seen := map[string]string{}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			return Snapshot{}, fmt.Errorf("read config file: %w", err)
		}
		configs, invalid, err := ParseDocuments(b, f)
		if err != nil {
			return Snapshot{}, err
		}
		for _, c := range configs {
			if prev, dup := seen[c.Key()]; dup {
				snap.Invalid = append(snap.Invalid, Invalid{Key: c.Key(), Errors: []sdk.FieldError{{
					Field: "metadata.name", Message: fmt.Sprintf("%q is defined twice (%s and %s)", c.Key(), prev, f)}}})
				continue
			}
			seen[c.Key()] = f
			if c.WebhookSecretRef != nil {
				// Failing closed: a config that asks for its own webhook
				// secret must not receive unauthenticated events.
				snap.Invalid = append(snap.Invalid, Invalid{Key: c.Key(), Errors: []sdk.FieldError{{
					Field: FieldWebhookSecretRef, Message: "names a Kubernetes Secret, which only GitOpsConfig resources in Kubernetes can use; " +
						"outside Kubernetes use the global webhook secret (GITOPS_CONNECTOR_WEBHOOK_HMAC_SECRET, --webhook-hmac-secret-file)"}}})
				continue
			}
			if errs := s.resolveCredentials(&c); len(errs) > 0 {
				snap.Invalid = append(snap.Invalid, Invalid{Key: c.Key(), Errors: errs})
				continue
			}
			snap.Configs = append(snap.Configs, c)
		}
		snap.Invalid = append(snap.Invalid, invalid...)
	}
	return snap, nil
}

// resolveCredentials gives configs that name no secret the PAT and takes
// Azure identities from the environment. Secrets need Kubernetes.
func (s FileSource) resolveCredentials(c *Config) []sdk.FieldError {
	var errs []sdk.FieldError
	for _, r := range []struct {
		field string
		ref   *SecretRef
	}{{FieldRepositorySecretRef, c.Credentials.Repository.SecretRef}, {FieldOrchestratorSecretRef, c.Credentials.Orchestrator.SecretRef}} {
		if r.ref != nil {
			errs = append(errs, sdk.FieldError{Field: r.field, Message: "names a Kubernetes Secret, which only GitOpsConfig resources in Kubernetes can use; " +
				"outside Kubernetes set " + EnvRepositoryPAT + " or " + EnvOrchestratorPAT + " in the connector's environment"})
		}
	}
	getenv := s.Getenv
	if getenv == nil {
		getenv = os.Getenv
	}
	c.Credentials.SetGlobalTokens(getenv)
	return append(errs, c.Credentials.ResolveAzureIdentities(getenv)...)
}

func (s FileSource) files() ([]string, error) {
	fi, err := os.Stat(s.Path)
	if err != nil {
		return nil, fmt.Errorf("config path: %w", err)
	}
	if !fi.IsDir() {
		return []string{s.Path}, nil
	}
	entries, err := os.ReadDir(s.Path)
	if err != nil {
		return nil, fmt.Errorf("config directory: %w", err)
	}
	var files []string
	for _, e := range entries {
		ext := strings.ToLower(filepath.Ext(e.Name()))
		if e.IsDir() || strings.HasPrefix(e.Name(), ".") || (ext != ".yaml" && ext != ".yml" && ext != ".json") {
			continue
		}
		files = append(files, filepath.Join(s.Path, e.Name()))
	}
	slices.Sort(files)
	return files, nil
}

// digest hashes the files' names and contents, to notice changes.
func (s FileSource) digest() ([]byte, error) {
	files, err := s.files()
	if err != nil {
		return nil, err
	}
	h := sha256.New()
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			return nil, err
		}
		fmt.Fprintf(h, "%s\x00%d\x00", f, len(b))
		h.Write(b)
	}
	return h.Sum(nil), nil
}

// Run publishes the documents, then again whenever a file changes. A first
// read that fails is returned; later failures keep the last good snapshot.
func (s FileSource) Run(ctx context.Context, publish func(Snapshot)) error {
	snap, err := s.Load()
	if err != nil {
		return err
	}
	last, _ := s.digest()
	publish(snap)
	interval := s.Interval
	if interval <= 0 {
		interval = 2 * time.Second
	}
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
		d, err := s.digest()
		if err == nil && bytes.Equal(d, last) {
			continue
		}
		snap, lerr := s.Load()
		if err = errors.Join(err, lerr); err != nil {
			if s.OnError != nil {
				s.OnError(err)
			}
			continue
		}
		last = d
		publish(snap)
	}
}

// ParseDocuments decodes YAML (or JSON) GitOpsConfig documents. Documents of
// another kind are an error; a document with a bad spec is returned as
// Invalid. where names the input in messages.
func ParseDocuments(b []byte, where string) ([]Config, []Invalid, error) {
	dec := yaml.NewDecoder(bytes.NewReader(b))
	var configs []Config
	var invalid []Invalid
	for i := 0; ; i++ {
		var doc map[string]any
		err := dec.Decode(&doc)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, nil, fmt.Errorf("%s: document %d: %w", where, i+1, err)
		}
		if doc == nil {
			continue
		}
		if kind, _ := doc["kind"].(string); kind != Kind {
			return nil, nil, fmt.Errorf("%s: document %d: kind %q, want %s", where, i+1, doc["kind"], Kind)
		}
		meta, _ := doc["metadata"].(map[string]any)
		name, _ := meta["name"].(string)
		namespace, _ := meta["namespace"].(string)
		spec, ok := doc["spec"].(map[string]any)
		if !ok {
			invalid = append(invalid, Invalid{Key: keyOr(name, namespace, where, i), Errors: []sdk.FieldError{{Field: "spec", Message: "is required and must be an object"}}})
			continue
		}
		c, errs := FromSpec(name, namespace, spec)
		if len(errs) > 0 {
			invalid = append(invalid, Invalid{Key: keyOr(name, namespace, where, i), Errors: errs})
			continue
		}
		configs = append(configs, c)
	}
	return configs, invalid, nil
}

func keyOr(name, namespace, where string, i int) string {
	switch {
	case name == "":
		return fmt.Sprintf("%s#%d", where, i+1)
	case namespace == "":
		return name
	}
	return namespace + "/" + name
}
