module github.com/gitops-connector/gitops-connector/bench

go 1.26.0

require (
	github.com/prometheus/procfs v0.21.1
	golang.org/x/sys v0.48.0
)
