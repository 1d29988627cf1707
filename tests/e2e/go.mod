module github.com/gitops-connector/gitops-connector/tests/e2e

go 1.26.0
