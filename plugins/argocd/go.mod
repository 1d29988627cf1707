module github.com/gitops-connector/gitops-connector/plugins/argocd

go 1.26.0
