{{/* Names and labels shared by every object of the release. */}}
{{- define "ai-router.fullname" -}}
{{- if contains .Chart.Name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name .Chart.Name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{- define "ai-router.selectorLabels" -}}
app.kubernetes.io/name: {{ .Chart.Name }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{- define "ai-router.labels" -}}
{{ include "ai-router.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version }}
{{- end -}}

{{- define "ai-router.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}
{{- default (include "ai-router.fullname" .) .Values.serviceAccount.name -}}
{{- else -}}
{{- default "default" .Values.serviceAccount.name -}}
{{- end -}}
{{- end -}}

{{/* preStop + drain + margin: the kubelet must never SIGKILL a draining router. */}}
{{- define "ai-router.terminationGrace" -}}
{{- add .Values.lifecycle.preStopSleepSeconds .Values.lifecycle.shutdownGraceSeconds .Values.lifecycle.terminationMarginSeconds -}}
{{- end -}}
