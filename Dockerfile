# syntax=docker/dockerfile:1

# The gitops-connector image: the host at /app/gitops-connector and the bundled
# plugins in /app/plugins, the directory the host loads plugins from by default.
#
#   docker build --build-arg VERSION=0.1.0 -t ghcr.io/gitops-connector/gitops-connector:0.1.0 .
#
# Keep GO_VERSION at the go directive of go.work, and the plugins built below
# equal to the plugins/<name> directories with a main package (a test in
# tests/kube/chart checks both).

ARG GO_VERSION=1.26

FROM --platform=$BUILDPLATFORM golang:${GO_VERSION}-bookworm AS build
ARG TARGETOS
ARG TARGETARCH
ARG VERSION=dev
ENV CGO_ENABLED=0 GOOS=${TARGETOS} GOARCH=${TARGETARCH}
WORKDIR /src
# The whole workspace: go.work names every module, so each go.mod must be here.
COPY . .
RUN --mount=type=cache,target=/go/pkg/mod \
    --mount=type=cache,target=/root/.cache/go-build \
    go build -trimpath -ldflags "-s -w -X main.version=${VERSION}" -o /out/gitops-connector ./host/cmd/gitops-connector && \
    go build -trimpath -ldflags "-s -w -X main.version=${VERSION}" -o /out/plugins/argocd ./plugins/argocd && \
    go build -trimpath -ldflags "-s -w -X main.version=${VERSION}" -o /out/plugins/azdo ./plugins/azdo && \
    go build -trimpath -ldflags "-s -w -X main.version=${VERSION}" -o /out/plugins/flux ./plugins/flux && \
    go build -trimpath -ldflags "-s -w -X main.version=${VERSION}" -o /out/plugins/gitea ./plugins/gitea && \
    go build -trimpath -ldflags "-s -w -X main.version=${VERSION}" -o /out/plugins/github ./plugins/github

FROM gcr.io/distroless/static-debian12:nonroot
ARG VERSION=dev
LABEL org.opencontainers.image.title="gitops-connector" \
      org.opencontainers.image.description="Reports GitOps deployments to GitHub, Azure DevOps and Gitea commit statuses and pipelines" \
      org.opencontainers.image.source="https://github.com/gitops-connector/gitops-connector" \
      org.opencontainers.image.version="${VERSION}"
COPY --from=build /out/gitops-connector /app/gitops-connector
COPY --from=build /out/plugins/ /app/plugins/
# distroless "nonroot", numeric so that Kubernetes can check runAsNonRoot.
USER 65532:65532
EXPOSE 8080
ENTRYPOINT ["/app/gitops-connector"]
