module github.com/gitops-connector/gitops-connector/tests/kube

go 1.26.0
