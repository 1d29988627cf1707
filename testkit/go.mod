module github.com/gitops-connector/gitops-connector/testkit

go 1.26.0
