// Package chart tests the Helm chart in charts/gitops-connector and the
// Dockerfile that builds the image it deploys. The tests render the chart with
// Helm's own library, decode every object strictly into its Kubernetes type,
// and read the Dockerfile with BuildKit's parser, so that a change to either
// that would break an installation fails here rather than in a cluster.
package chart
