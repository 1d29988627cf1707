package app

import (
	"errors"

	"github.com/gitops-connector/gitops-connector/host/internal/config"
)

// kubeSource returns the Kubernetes GitOpsConfig source.
func kubeSource(opts Options, getenv func(string) string) (config.Source, bool, error) {
	return nil, false, errors.New("no configuration: set GIT_REPOSITORY_TYPE and the single-instance variables, or pass --config PATH")
}
