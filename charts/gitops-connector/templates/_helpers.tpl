{{/*
Chart name, truncated to 63 characters (the limit of a DNS label).
*/}}
{{- define "gitops-connector.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/*
Fully qualified name of the release's namespaced objects, truncated to 63
characters. It contains the release name unless fullnameOverride is set.
*/}}
{{- define "gitops-connector.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- $name := default .Chart.Name .Values.nameOverride }}
{{- if contains $name .Release.Name }}
{{- .Release.Name | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" }}
{{- end }}
{{- end }}
{{- end }}

{{/*
Name of the release's cluster-scoped objects and of the RoleBindings it puts in
other namespaces: "<release namespace>:<fullname>". Releases are unique per
namespace, so two releases never share it (a ':' cannot occur in either part).
*/}}
{{- define "gitops-connector.clusterName" -}}
{{- printf "%s:%s" .Release.Namespace (include "gitops-connector.fullname" .) }}
{{- end }}

{{- define "gitops-connector.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "gitops-connector.labels" -}}
helm.sh/chart: {{ include "gitops-connector.chart" . }}
{{ include "gitops-connector.selectorLabels" . }}
{{- /* A label value: an image digest's "@" and ":" are not allowed. */}}
app.kubernetes.io/version: {{ regexReplaceAll "[^-A-Za-z0-9_.]" (.Values.image.tag | default .Chart.AppVersion) "_" | trunc 63 | trimAll "-_." | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end }}

{{- define "gitops-connector.selectorLabels" -}}
app.kubernetes.io/name: {{ include "gitops-connector.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{- define "gitops-connector.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "gitops-connector.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{- define "gitops-connector.image" -}}
{{- printf "%s:%s" .Values.image.repository (.Values.image.tag | default .Chart.AppVersion) }}
{{- end }}

{{/*
Whether the release runs in single-instance mode: "true" or "". Users select
multiple instances with `singleInstance: null`, which removes the key.
*/}}
{{- define "gitops-connector.singleInstance" -}}
{{- if .Values.singleInstance }}true{{ end }}
{{- end }}

{{/*
Name of the Secret the chart creates for the tokens given inline.
*/}}
{{- define "gitops-connector.secretName" -}}
{{- include "gitops-connector.fullname" . }}
{{- end }}

{{/*
Whether the chart creates its Secret: "true" when any token is given inline.
*/}}
{{- define "gitops-connector.createSecret" -}}
{{- if or .Values.orchestratorPAT .Values.webhookAuth.hmacSecret .Values.webhookAuth.bearerToken (include "gitops-connector.credentialsInSecret" .) }}true{{ end }}
{{- end }}

{{/*
Subscribers mounted as files: only in single-instance mode, where they are set.
*/}}
{{- define "gitops-connector.subscribers" -}}
{{- if include "gitops-connector.singleInstance" . }}
{{- with .Values.singleInstance.subscribers }}{{ toYaml . }}{{ end }}
{{- end }}
{{- end }}

{{- define "gitops-connector.dataDir" -}}/var/lib/gitops-connector{{- end }}
{{- define "gitops-connector.subscribersDir" -}}/subscribers{{- end }}
{{- define "gitops-connector.bundledPluginDir" -}}/app/plugins{{- end }}
{{- define "gitops-connector.extraPluginDir" -}}/app/plugins-extra{{- end }}

{{/* Where the checksum list of plugins.checksums is mounted. */}}
{{- define "gitops-connector.pluginChecksumsDir" -}}/etc/gitops-connector/plugin-checksums{{- end }}

{{/*
Container security context: the user's securityContext merged over a secure
baseline, so every field stays overridable.
*/}}
{{- define "gitops-connector.securityContext" -}}
{{- $baseline := dict
  "runAsNonRoot" true
  "readOnlyRootFilesystem" true
  "allowPrivilegeEscalation" false
  "capabilities" (dict "drop" (list "ALL"))
  "seccompProfile" (dict "type" "RuntimeDefault") }}
{{- toYaml (mergeOverwrite $baseline (deepCopy (.Values.securityContext | default dict))) }}
{{- end }}

{{/*
Pod security context: the user's podSecurityContext merged over a secure
baseline.
*/}}
{{- define "gitops-connector.podSecurityContext" -}}
{{- $baseline := dict
  "runAsNonRoot" true
  "seccompProfile" (dict "type" "RuntimeDefault") }}
{{- toYaml (mergeOverwrite $baseline (deepCopy (.Values.podSecurityContext | default dict))) }}
{{- end }}

{{/*
Renders a tpl/... value: the value as YAML, run through tpl.
*/}}
{{- define "gitops-connector.tpl" -}}
{{- $value := index . 0 }}
{{- $context := index . 1 }}
{{- if typeIs "string" $value }}
{{- tpl $value $context }}
{{- else }}
{{- tpl (toYaml $value) $context }}
{{- end }}
{{- end }}

{{/*
Checks the values the JSON schema cannot express and fails with every problem
at once, each naming the value to set.
*/}}
{{- define "gitops-connector.validate" -}}
{{- $errs := list }}
{{- $hint := "" }}
{{- if include "gitops-connector.singleInstance" . }}
{{- $si := .Values.singleInstance }}
{{- $repo := upper (toString ($si.gitRepositoryType | default "")) }}
{{- $orch := upper (toString ($si.ciCdOrchestratorType | default "")) }}
{{- $missing := false }}
{{- /* ciCdOrchestratorType is optional: left out (or NONE) the connector posts statuses only. */}}
{{- range $key := list "gitRepositoryType" "gitOpsOperatorType" "gitOpsAppURL" }}
{{- if not (index $si $key) }}
{{- $errs = append $errs (printf "singleInstance.%s is required" $key) }}
{{- $missing = true }}
{{- end }}
{{- end }}
{{- $needs := list }}
{{- if eq $repo "AZDO" }}
{{- $needs = append $needs (list "azdoGitOpsRepoName" "gitRepositoryType is AZDO") }}
{{- $needs = append $needs (list "azdoOrgUrl" "gitRepositoryType is AZDO") }}
{{- else if eq $orch "AZDO" }}
{{- $needs = append $needs (list "azdoOrgUrl" "ciCdOrchestratorType is AZDO") }}
{{- end }}
{{- if eq $repo "GITHUB" }}
{{- $needs = append $needs (list "gitHubGitOpsManifestsRepoName" "gitRepositoryType is GITHUB") }}
{{- $needs = append $needs (list "gitHubOrgUrl" "gitRepositoryType is GITHUB") }}
{{- else if eq $orch "GITHUB" }}
{{- $needs = append $needs (list "gitHubOrgUrl" "ciCdOrchestratorType is GITHUB") }}
{{- end }}
{{- if eq $orch "GITHUB" }}
{{- $needs = append $needs (list "gitHubGitOpsRepoName" "ciCdOrchestratorType is GITHUB") }}
{{- end }}
{{- if has $repo (list "GITEA" "FORGEJO") }}
{{- $needs = append $needs (list "giteaUrl" (printf "gitRepositoryType is %s" $repo)) }}
{{- $needs = append $needs (list "giteaOwner" (printf "gitRepositoryType is %s" $repo)) }}
{{- $needs = append $needs (list "giteaGitOpsManifestsRepoName" (printf "gitRepositoryType is %s" $repo)) }}
{{- else if has $orch (list "GITEA" "FORGEJO") }}
{{- $needs = append $needs (list "giteaUrl" (printf "ciCdOrchestratorType is %s" $orch)) }}
{{- $needs = append $needs (list "giteaOwner" (printf "ciCdOrchestratorType is %s" $orch)) }}
{{- end }}
{{- if has $orch (list "GITEA" "FORGEJO") }}
{{- $needs = append $needs (list "giteaGitOpsAppRepoName" (printf "ciCdOrchestratorType is %s" $orch)) }}
{{- $needs = append $needs (list "giteaWorkflow" (printf "ciCdOrchestratorType is %s" $orch)) }}
{{- end }}
{{- range $need := $needs }}
{{- if not (index $si (index $need 0)) }}
{{- $errs = append $errs (printf "singleInstance.%s is required when %s" (index $need 0) (index $need 1)) }}
{{- end }}
{{- end }}
{{- if and $si.requiredEnvironments (not $si.statusContext) }}
{{- $errs = append $errs "singleInstance.statusContext is required when requiredEnvironments is set: this cluster's own environment is one of them" }}
{{- end }}
{{- if $missing }}
{{- $hint = "\nTo configure GitOpsConfig resources instead of a single instance, set singleInstance: null." }}
{{- end }}
{{- end }}
{{- range include "gitops-connector.credentialErrors" . | splitList "\n" }}
{{- if . }}{{ $errs = append $errs . }}{{ end }}
{{- end }}
{{- if and .Values.orchestratorPAT .Values.existingSecret }}
{{- $errs = append $errs "orchestratorPAT and existingSecret are both set: set one of them" }}
{{- end }}
{{- if and .Values.webhookAuth.existingSecret (or .Values.webhookAuth.hmacSecret .Values.webhookAuth.bearerToken) }}
{{- $errs = append $errs "webhookAuth.existingSecret is set together with webhookAuth.hmacSecret or webhookAuth.bearerToken: set the secrets in one place" }}
{{- end }}
{{- if and .Values.persistence.enabled (not .Values.persistence.existingClaim) (not .Values.persistence.size) }}
{{- $errs = append $errs "persistence.size is required when persistence.enabled is true and persistence.existingClaim is empty" }}
{{- end }}
{{- with include "gitops-connector.natsErrors" . }}
{{- $errs = concat $errs (splitList "\n" .) }}
{{- end }}
{{- $pluginNames := dict }}
{{- range $i, $p := .Values.plugins.extra }}
{{- if hasKey $pluginNames $p.name }}
{{- $errs = append $errs (printf "plugins.extra[%d].name %q is used twice: names must be unique" $i $p.name) }}
{{- end }}
{{- $_ := set $pluginNames $p.name true }}
{{- end }}
{{- if $errs }}
{{- fail (printf "invalid values:\n- %s%s" (join "\n- " $errs) $hint) }}
{{- end }}
{{- end }}

{{/*
Environment of the connector container beyond its ConfigMap: tokens from
Secrets, then the user's env (which may override them).
*/}}
{{- define "gitops-connector.env" -}}
{{- if .Values.existingSecret }}
- name: PAT
  valueFrom:
    secretKeyRef:
      name: {{ .Values.existingSecret }}
      key: {{ .Values.existingSecretKey }}
{{- else if .Values.orchestratorPAT }}
- name: PAT
  valueFrom:
    secretKeyRef:
      name: {{ include "gitops-connector.secretName" . }}
      key: PAT
{{- end }}
{{- include "gitops-connector.credentialEnv" . }}
{{- with .Values.webhookAuth }}
{{- if .existingSecret }}
- name: GITOPS_CONNECTOR_WEBHOOK_HMAC_SECRET
  valueFrom:
    secretKeyRef:
      name: {{ .existingSecret }}
      key: {{ .hmacSecretKey }}
      optional: true
- name: GITOPS_CONNECTOR_WEBHOOK_BEARER_TOKEN
  valueFrom:
    secretKeyRef:
      name: {{ .existingSecret }}
      key: {{ .bearerTokenKey }}
      optional: true
{{- end }}
{{- if .hmacSecret }}
- name: GITOPS_CONNECTOR_WEBHOOK_HMAC_SECRET
  valueFrom:
    secretKeyRef:
      name: {{ include "gitops-connector.secretName" $ }}
      key: WEBHOOK_HMAC_SECRET
{{- end }}
{{- if .bearerToken }}
- name: GITOPS_CONNECTOR_WEBHOOK_BEARER_TOKEN
  valueFrom:
    secretKeyRef:
      name: {{ include "gitops-connector.secretName" $ }}
      key: WEBHOOK_BEARER_TOKEN
{{- end }}
{{- end }}
{{- with include "gitops-connector.natsEnv" . }}
{{ . }}
{{- end }}
{{- with include "gitops-connector.memoryEnv" . }}
{{ . }}
{{- end }}
{{- if .Values.plugins.checksums }}
- name: GITOPS_CONNECTOR_PLUGIN_CHECKSUMS
  value: {{ include "gitops-connector.pluginChecksumsDir" . }}/sha256sums
{{- end }}
{{- with .Values.env }}
{{ include "gitops-connector.tpl" (list . $) }}
{{- end }}
{{- end }}
