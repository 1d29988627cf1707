package app

import (
	"fmt"

	"github.com/gitops-connector/gitops-connector/host/internal/config"
	"github.com/gitops-connector/gitops-connector/host/internal/kubesource"
)

// kubeSource returns the Kubernetes GitOpsConfig source: multiple-instance
// mode, when neither --config nor the single-instance environment is given.
func kubeSource(opts Options, getenv func(string) string) (config.Source, bool, error) {
	src, err := kubesource.New(kubesource.Options{
		Kubeconfig: opts.Kubeconfig,
		Group:      opts.Group,
		Namespaces: opts.Namespaces,
		Getenv:     getenv,
		Logger:     opts.Logger,
	})
	if err != nil {
		return nil, false, fmt.Errorf("no configuration: set GIT_REPOSITORY_TYPE and the single-instance variables, pass --config PATH, or run in Kubernetes with GitOpsConfig resources (%w)", err)
	}
	return src, false, nil
}
