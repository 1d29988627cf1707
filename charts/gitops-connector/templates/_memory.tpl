{{/*
The container's memory limit for the host (GITOPS_CONNECTOR_MEMORY_LIMIT, in
bytes): it divides it into the soft limits (GOMEMLIMIT) of its own Go runtime
and of the plugins it starts (host/internal/memlimit). Without a limit the
downward API would give the node's memory, so nothing is set.
*/}}
{{- define "gitops-connector.memoryEnv" -}}
{{- if and .Values.goMemLimit.fromContainerLimit (dig "limits" "memory" "" (.Values.resources | default dict)) }}
- name: GITOPS_CONNECTOR_MEMORY_LIMIT
  valueFrom:
    resourceFieldRef:
      containerName: gitops-connector
      resource: limits.memory
      divisor: "1"
{{- end }}
{{- end }}
