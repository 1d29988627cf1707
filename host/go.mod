module github.com/gitops-connector/gitops-connector/host

go 1.26.0
