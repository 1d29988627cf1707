module github.com/gitops-connector/gitops-connector/plugins/github

go 1.26.0
