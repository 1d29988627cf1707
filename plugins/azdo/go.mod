module github.com/gitops-connector/gitops-connector/plugins/azdo

go 1.26.0
