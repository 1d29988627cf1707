package e2e

// progressingMessage is kustomize-controller's change set of a Progressing
// event: four objects of three kinds.
const progressingMessage = "Deployment/default/podinfo configured\nService/default/podinfo created\nHorizontalPodAutoscaler/default/podinfo unchanged\nDeployment/default/frontend configured"
