{{/*
Replicas on NATS JetStream: the host's queue settings (--queue and its files),
the volumes of the NATS Secrets, the pod's identity for the sweep's election,
and the checks of these values.
*/}}

{{/*
Whether the replicas share a NATS JetStream queue: "true" or "".
*/}}
{{- define "gitops-connector.nats" -}}
{{- if .Values.queue.nats.url }}true{{ end }}
{{- end }}

{{- define "gitops-connector.natsCredentialsDir" -}}/etc/gitops-connector/nats/credentials{{- end }}
{{- define "gitops-connector.natsTLSDir" -}}/etc/gitops-connector/nats/tls{{- end }}

{{/*
The NATS credential of queue.nats.credentials as a list of one
[key, file name, host variable], or empty.
*/}}
{{- define "gitops-connector.natsCredential" -}}
{{- with .Values.queue.nats.credentials }}
{{- if .credsKey }}{{ list .credsKey "user.creds" "GITOPS_CONNECTOR_QUEUE_CREDS_FILE" | toJson }}
{{- else if .nkeyKey }}{{ list .nkeyKey "seed.nk" "GITOPS_CONNECTOR_QUEUE_NKEY_FILE" | toJson }}
{{- else if .tokenKey }}{{ list .tokenKey "token" "GITOPS_CONNECTOR_QUEUE_TOKEN_FILE" | toJson }}
{{- end }}
{{- end }}
{{- end }}

{{/*
The files of queue.nats.tls: a list of [key, file name, host variable].
*/}}
{{- define "gitops-connector.natsTLSFiles" -}}
{{- $files := list }}
{{- with .Values.queue.nats.tls }}
{{- if .existingSecret }}
{{- if .caKey }}{{ $files = append $files (list .caKey "ca.crt" "GITOPS_CONNECTOR_QUEUE_TLS_CA_FILE") }}{{ end }}
{{- if .certKey }}{{ $files = append $files (list .certKey "tls.crt" "GITOPS_CONNECTOR_QUEUE_TLS_CERT_FILE") }}{{ end }}
{{- if .keyKey }}{{ $files = append $files (list .keyKey "tls.key" "GITOPS_CONNECTOR_QUEUE_TLS_KEY_FILE") }}{{ end }}
{{- end }}
{{- end }}
{{- toJson $files }}
{{- end }}

{{/*
ConfigMap entries of the queue: its URL, copies and the paths of its files
(paths only: the credentials stay in their Secrets).
*/}}
{{- define "gitops-connector.natsConfig" -}}
{{- if include "gitops-connector.nats" . }}
GITOPS_CONNECTOR_QUEUE: {{ .Values.queue.nats.url | quote }}
GITOPS_CONNECTOR_QUEUE_NAME: {{ include "gitops-connector.fullname" . | quote }}
GITOPS_CONNECTOR_QUEUE_REPLICAS: {{ .Values.queue.nats.streamReplicas | toString | quote }}
{{- with include "gitops-connector.natsCredential" . }}
{{- $c := fromJsonArray . }}
{{ index $c 2 }}: {{ printf "%s/%s" (include "gitops-connector.natsCredentialsDir" $) (index $c 1) | quote }}
{{- end }}
{{- range $f := fromJsonArray (include "gitops-connector.natsTLSFiles" .) }}
{{ index $f 2 }}: {{ printf "%s/%s" (include "gitops-connector.natsTLSDir" $) (index $f 1) | quote }}
{{- end }}
{{- end }}
{{- end }}

{{/*
Environment of the pod's identity: the sweep's leader election names the
replica by POD_NAME and, in multiple-instances mode, holds a Lease in
POD_NAMESPACE.
*/}}
{{- define "gitops-connector.natsEnv" -}}
{{- if include "gitops-connector.nats" . }}
- name: POD_NAME
  valueFrom:
    fieldRef:
      fieldPath: metadata.name
- name: POD_NAMESPACE
  valueFrom:
    fieldRef:
      fieldPath: metadata.namespace
{{- end }}
{{- end }}

{{- define "gitops-connector.natsVolumeMounts" -}}
{{- if include "gitops-connector.nats" . }}
{{- if include "gitops-connector.natsCredential" . }}
- name: nats-credentials
  mountPath: {{ include "gitops-connector.natsCredentialsDir" . }}
  readOnly: true
{{- end }}
{{- if fromJsonArray (include "gitops-connector.natsTLSFiles" .) }}
- name: nats-tls
  mountPath: {{ include "gitops-connector.natsTLSDir" . }}
  readOnly: true
{{- end }}
{{- end }}
{{- end }}

{{- define "gitops-connector.natsVolumes" -}}
{{- if include "gitops-connector.nats" . }}
{{- with include "gitops-connector.natsCredential" . }}
{{- $c := fromJsonArray . }}
- name: nats-credentials
  secret:
    secretName: {{ $.Values.queue.nats.credentials.existingSecret }}
    items:
      - key: {{ index $c 0 }}
        path: {{ index $c 1 }}
{{- end }}
{{- with fromJsonArray (include "gitops-connector.natsTLSFiles" .) }}
- name: nats-tls
  secret:
    secretName: {{ $.Values.queue.nats.tls.existingSecret }}
    items:
      {{- range $f := . }}
      - key: {{ index $f 0 }}
        path: {{ index $f 1 }}
      {{- end }}
{{- end }}
{{- end }}
{{- end }}

{{/*
Default pod anti-affinity of several replicas: preferably one per node.
*/}}
{{- define "gitops-connector.affinity" -}}
{{- if .Values.affinity }}
{{- toYaml .Values.affinity }}
{{- else if and (gt (int .Values.replicaCount) 1) .Values.podAntiAffinity.enabled }}
podAntiAffinity:
  preferredDuringSchedulingIgnoredDuringExecution:
    - weight: 100
      podAffinityTerm:
        topologyKey: {{ .Values.podAntiAffinity.topologyKey }}
        labelSelector:
          matchLabels:
            {{- include "gitops-connector.selectorLabels" . | nindent 12 }}
{{- end }}
{{- end }}

{{/*
Whether the release runs the Lease Role: replicas on NATS in multiple-instances
mode elect the sweep's leader with a Lease (the host's leader package); in
single-instance mode they use a JetStream lock and need no Kubernetes access.
*/}}
{{- define "gitops-connector.leaseRBAC" -}}
{{- if and (include "gitops-connector.nats" .) (not (include "gitops-connector.singleInstance" .)) .Values.multipleInstances.rbac.create }}true{{ end }}
{{- end }}

{{/*
Name of the sweep's Lease: the host names it after its queue (the release's
full name, GITOPS_CONNECTOR_QUEUE_NAME) with "-sweep".
*/}}
{{- define "gitops-connector.leaseName" -}}{{ include "gitops-connector.fullname" . }}-sweep{{- end }}

{{/*
Problems of the replica and queue values, one a line.
*/}}
{{- define "gitops-connector.natsErrors" -}}
{{- $errs := list }}
{{- $n := .Values.queue.nats }}
{{- $nats := include "gitops-connector.nats" . }}
{{- /* values.schema.json refuses several replicas without NATS. */}}
{{- if and $nats .Values.persistence.enabled }}
{{- $errs = append $errs "persistence.enabled and queue.nats.url are both set: with NATS JetStream the connector keeps no data directory; set persistence.enabled: false" }}
{{- end }}
{{- if regexMatch "://[^/,]*@" ($n.url | toString) }}
{{- $errs = append $errs "queue.nats.url carries credentials: put them in a Secret and name it in queue.nats.credentials.existingSecret" }}
{{- end }}
{{- $c := $n.credentials }}
{{- $keys := list }}
{{- range $k := list "credsKey" "nkeyKey" "tokenKey" }}{{ if index $c $k }}{{ $keys = append $keys (printf "queue.nats.credentials.%s" $k) }}{{ end }}{{ end }}
{{- if gt (len $keys) 1 }}
{{- $errs = append $errs (printf "%s are all set: NATS takes one credential, name one key" (join " and " $keys)) }}
{{- end }}
{{- if and $c.existingSecret (not $keys) }}
{{- $errs = append $errs "queue.nats.credentials.existingSecret is set without a key: set credsKey, nkeyKey or tokenKey" }}
{{- end }}
{{- if and $keys (not $c.existingSecret) }}
{{- $errs = append $errs (printf "%s is set without queue.nats.credentials.existingSecret" (first $keys)) }}
{{- end }}
{{- $t := $n.tls }}
{{- if ne (empty $t.certKey) (empty $t.keyKey) }}
{{- $errs = append $errs "queue.nats.tls.certKey and queue.nats.tls.keyKey go together: a client certificate needs its key" }}
{{- end }}
{{- if and $t.existingSecret (not (or $t.caKey $t.certKey)) }}
{{- $errs = append $errs "queue.nats.tls.existingSecret is set without caKey or certKey: name the keys to mount" }}
{{- end }}
{{- if and (not $t.existingSecret) $t.certKey }}
{{- $errs = append $errs "queue.nats.tls.certKey is set without queue.nats.tls.existingSecret" }}
{{- end }}
{{- if and (not $nats) (or $c.existingSecret $t.existingSecret) }}
{{- $errs = append $errs "queue.nats.credentials or queue.nats.tls is set without queue.nats.url" }}
{{- end }}
{{- join "\n" $errs }}
{{- end }}
