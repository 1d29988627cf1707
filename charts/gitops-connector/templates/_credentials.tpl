{{/*
Credentials of one integration each (values gitRepositoryPAT,
ciCdOrchestratorPAT, githubApp, azure). Secret values reach the pod only
through secretKeyRef or as files of Secret volumes, never as values in the
pod spec.
*/}}

{{- define "gitops-connector.githubAppKeyDir" -}}/etc/gitops-connector/github-app{{- end }}
{{- define "gitops-connector.azureCertificateDir" -}}/etc/gitops-connector/azure{{- end }}

{{/*
Whether the chart's Secret holds a credential of these values: "true" or "".
*/}}
{{- define "gitops-connector.credentialsInSecret" -}}
{{- if or .Values.gitRepositoryPAT .Values.ciCdOrchestratorPAT .Values.githubApp.privateKey .Values.azure.clientSecret }}true{{ end }}
{{- end }}

{{/*
Whether the values give a service principal of Microsoft Entra ID: "true" or "".
*/}}
{{- define "gitops-connector.azureServicePrincipal" -}}
{{- with .Values.azure }}
{{- if or .clientSecret .existingSecret .clientCertificateSecret }}true{{ end }}
{{- end }}
{{- end }}

{{/*
A token env var from an existing Secret or from the chart's Secret.
Arguments: list env existingSecret existingSecretKey inlineValue context.
*/}}
{{- define "gitops-connector.tokenEnv" -}}
{{- $env := index . 0 }}{{ $existing := index . 1 }}{{ $key := index . 2 }}{{ $inline := index . 3 }}{{ $ := index . 4 }}
{{- if $existing }}
- name: {{ $env }}
  valueFrom:
    secretKeyRef:
      name: {{ $existing }}
      key: {{ $key }}
{{- else if $inline }}
- name: {{ $env }}
  valueFrom:
    secretKeyRef:
      name: {{ include "gitops-connector.secretName" $ }}
      key: {{ $env }}
{{- end }}
{{- end }}

{{/*
Environment of the credentials. The GitHub App's and the service
principal's settings are read in single-instance mode only; the Azure
Workload Identity webhook sets its variables itself.
*/}}
{{- define "gitops-connector.credentialEnv" -}}
{{- include "gitops-connector.tokenEnv" (list "GIT_REPOSITORY_PAT" .Values.gitRepositoryExistingSecret .Values.gitRepositoryExistingSecretKey .Values.gitRepositoryPAT .) }}
{{- include "gitops-connector.tokenEnv" (list "CICD_ORCHESTRATOR_PAT" .Values.ciCdOrchestratorExistingSecret .Values.ciCdOrchestratorExistingSecretKey .Values.ciCdOrchestratorPAT .) }}
{{- with .Values.githubApp }}
{{- if .appId }}
- name: GITHUB_APP_ID
  value: {{ .appId | toString | quote }}
{{- with .installationId }}
- name: GITHUB_APP_INSTALLATION_ID
  value: {{ . | toString | quote }}
{{- end }}
- name: GITHUB_APP_PRIVATE_KEY_FILE
  value: {{ include "gitops-connector.githubAppKeyDir" $ }}/private-key.pem
{{- end }}
{{- end }}
{{- with .Values.azure }}
{{- if include "gitops-connector.azureServicePrincipal" $ }}
- name: AZURE_TENANT_ID
  value: {{ .tenantId | quote }}
- name: AZURE_CLIENT_ID
  value: {{ .clientId | quote }}
{{- include "gitops-connector.tokenEnv" (list "AZURE_CLIENT_SECRET" .existingSecret .existingSecretKey .clientSecret $) }}
{{- if .clientCertificateSecret }}
- name: AZURE_CLIENT_CERTIFICATE_PATH
  value: {{ include "gitops-connector.azureCertificateDir" $ }}/client-certificate.pem
{{- with .clientCertificatePasswordKey }}
- name: AZURE_CLIENT_CERTIFICATE_PASSWORD
  valueFrom:
    secretKeyRef:
      name: {{ $.Values.azure.clientCertificateSecret }}
      key: {{ . }}
{{- end }}
{{- end }}
{{- with .authorityHost }}
- name: AZURE_AUTHORITY_HOST
  value: {{ . | quote }}
{{- end }}
{{- else if .managedIdentity.enabled }}
- name: AZURE_IDENTITY
  value: managed
{{- with .clientId }}
- name: AZURE_CLIENT_ID
  value: {{ . | quote }}
{{- end }}
{{- end }}
{{- end }}
{{- end }}

{{/*
Secret volumes of the GitHub App's private key and the service principal's
certificate.
*/}}
{{- define "gitops-connector.credentialVolumes" -}}
{{- with .Values.githubApp }}
{{- if .appId }}
- name: github-app-key
  secret:
    secretName: {{ .existingSecret | default (include "gitops-connector.secretName" $) }}
    items:
      - key: {{ ternary .existingSecretKey "githubAppPrivateKey" (not (empty .existingSecret)) }}
        path: private-key.pem
{{- end }}
{{- end }}
{{- with .Values.azure.clientCertificateSecret }}
- name: azure-client-certificate
  secret:
    secretName: {{ . }}
    items:
      - key: {{ $.Values.azure.clientCertificateKey }}
        path: client-certificate.pem
{{- end }}
{{- end }}

{{- define "gitops-connector.credentialMounts" -}}
{{- if .Values.githubApp.appId }}
- name: github-app-key
  mountPath: {{ include "gitops-connector.githubAppKeyDir" . }}
  readOnly: true
{{- end }}
{{- if .Values.azure.clientCertificateSecret }}
- name: azure-client-certificate
  mountPath: {{ include "gitops-connector.azureCertificateDir" . }}
  readOnly: true
{{- end }}
{{- end }}

{{/*
ServiceAccount annotations of Azure Workload Identity.
*/}}
{{- define "gitops-connector.workloadIdentityAnnotations" -}}
{{- with .Values.azure }}
{{- if .workloadIdentity.enabled }}
{{- with .clientId }}
azure.workload.identity/client-id: {{ . | quote }}
{{- end }}
{{- with .tenantId }}
azure.workload.identity/tenant-id: {{ . | quote }}
{{- end }}
{{- end }}
{{- end }}
{{- end }}

{{/*
Contradictions among the credential values, one per line, each naming the
values to change.
*/}}
{{- define "gitops-connector.credentialErrors" -}}
{{- $errs := list }}
{{- $single := include "gitops-connector.singleInstance" . }}
{{- $types := list }}
{{- if $single }}
{{- $types = list (upper (toString (.Values.singleInstance.gitRepositoryType | default ""))) (upper (toString (.Values.singleInstance.ciCdOrchestratorType | default ""))) }}
{{- end }}
{{- range $name := list "gitRepository" "ciCdOrchestrator" }}
{{- if and (index $.Values (printf "%sPAT" $name)) (index $.Values (printf "%sExistingSecret" $name)) }}
{{- $errs = append $errs (printf "%sPAT and %sExistingSecret are both set: set one of them" $name $name) }}
{{- end }}
{{- end }}
{{- with .Values.githubApp }}
{{- if and .privateKey .existingSecret }}
{{- $errs = append $errs "githubApp.privateKey and githubApp.existingSecret are both set: set one of them" }}
{{- end }}
{{- if and .appId (not (or .privateKey .existingSecret)) }}
{{- $errs = append $errs "githubApp.appId is set without the app's private key: set githubApp.privateKey or githubApp.existingSecret" }}
{{- end }}
{{- if and (not .appId) (or .privateKey .existingSecret .installationId) }}
{{- $errs = append $errs "githubApp.appId is required with githubApp.privateKey, githubApp.existingSecret or githubApp.installationId" }}
{{- end }}
{{- if .appId }}
{{- if not $single }}
{{- $errs = append $errs "githubApp is read in single-instance mode only: GitOpsConfigs name a Secret holding the app (githubAppID, githubAppInstallationID, githubAppPrivateKey) in spec.secretRef" }}
{{- else if not (has "GITHUB" $types) }}
{{- $errs = append $errs "githubApp.appId is set but neither singleInstance.gitRepositoryType nor singleInstance.ciCdOrchestratorType is GITHUB: the app serves GITHUB integrations only" }}
{{- end }}
{{- end }}
{{- end }}
{{- with .Values.azure }}
{{- $sp := include "gitops-connector.azureServicePrincipal" $ }}
{{- if and .clientSecret .existingSecret }}
{{- $errs = append $errs "azure.clientSecret and azure.existingSecret are both set: set one of them" }}
{{- end }}
{{- if and (or .clientSecret .existingSecret) .clientCertificateSecret }}
{{- $errs = append $errs "azure.clientCertificateSecret is set together with a client secret (azure.clientSecret or azure.existingSecret): a service principal authenticates with one of them" }}
{{- end }}
{{- if and $sp (not (and .tenantId .clientId)) }}
{{- $errs = append $errs "azure.tenantId and azure.clientId are required with a service principal (azure.clientSecret, azure.existingSecret or azure.clientCertificateSecret)" }}
{{- end }}
{{- $kinds := list }}
{{- if $sp }}{{ $kinds = append $kinds "a service principal (azure.clientSecret, azure.existingSecret or azure.clientCertificateSecret)" }}{{ end }}
{{- if .workloadIdentity.enabled }}{{ $kinds = append $kinds "azure.workloadIdentity.enabled" }}{{ end }}
{{- if .managedIdentity.enabled }}{{ $kinds = append $kinds "azure.managedIdentity.enabled" }}{{ end }}
{{- if gt (len $kinds) 1 }}
{{- $errs = append $errs (printf "choose one Azure credential; set are: %s" (join ", " $kinds)) }}
{{- end }}
{{- if and .workloadIdentity.enabled $.Values.serviceAccount.create (not .clientId) }}
{{- $errs = append $errs "azure.clientId is required with azure.workloadIdentity.enabled: the ServiceAccount's azure.workload.identity/client-id annotation names the identity" }}
{{- end }}
{{- if and .authorityHost (not $sp) }}
{{- $errs = append $errs "azure.authorityHost is used with a service principal only (with workload identity the webhook sets AZURE_AUTHORITY_HOST)" }}
{{- end }}
{{- if and $sp (not $single) }}
{{- $errs = append $errs "azure.clientSecret, azure.existingSecret and azure.clientCertificateSecret are read in single-instance mode only: GitOpsConfigs name a Secret holding the service principal (tenantId, clientId, clientSecret or clientCertificate) in spec.secretRef" }}
{{- end }}
{{- if and $single (or $sp .workloadIdentity.enabled .managedIdentity.enabled) (not (has "AZDO" $types)) }}
{{- $errs = append $errs "an Azure credential is set but neither singleInstance.gitRepositoryType nor singleInstance.ciCdOrchestratorType is AZDO: it serves AZDO integrations only" }}
{{- end }}
{{- end }}
{{- join "\n" $errs }}
{{- end }}
