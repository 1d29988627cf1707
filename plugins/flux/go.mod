module github.com/gitops-connector/gitops-connector/plugins/flux

go 1.26.0
