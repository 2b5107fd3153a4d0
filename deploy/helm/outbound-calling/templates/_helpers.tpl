{{/* Names and labels. */}}
{{- define "oc.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "oc.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" }}
{{- else if contains (include "oc.name" .) .Release.Name }}
{{- .Release.Name | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name (include "oc.name" .) | trunc 63 | trimSuffix "-" }}
{{- end }}
{{- end }}

{{/* A component's resource name: oc.component (dict "root" $ "component" "control-plane"). */}}
{{- define "oc.component" -}}
{{- printf "%s-%s" (include "oc.fullname" .root) .component | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "oc.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" }}
app.kubernetes.io/name: {{ include "oc.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end }}

{{/* Selector labels of one component: oc.selector (dict "root" $ "component" "agent-worker"). */}}
{{- define "oc.selector" -}}
app.kubernetes.io/name: {{ include "oc.name" .root }}
app.kubernetes.io/instance: {{ .root.Release.Name }}
app.kubernetes.io/component: {{ .component }}
{{- end }}

{{- define "oc.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "oc.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{- define "oc.image" -}}
{{- printf "%s:%s" .image.repository (default .root.Chart.AppVersion .image.tag) }}
{{- end }}

{{/* The Secret every secret comes from. */}}
{{- define "oc.secretName" -}}
{{- default (include "oc.fullname" .) .Values.secrets.existingSecret }}
{{- end }}

{{/* One env entry from the Secret: oc.secretEnv (dict "root" $ "env" "NAME" "key" "jwtSecret" "optional" false). */}}
{{- define "oc.secretEnv" -}}
- name: {{ .env }}
  valueFrom:
    secretKeyRef:
      name: {{ include "oc.secretName" .root }}
      key: {{ index .root.Values.secrets.keys .key }}
      {{- if .optional }}
      optional: true
      {{- end }}
{{- end }}

{{/* The public Media Streams URL: set, or derived from the worker Ingress, or empty. */}}
{{- define "oc.mediaStreamUrl" -}}
{{- if .Values.twilio.mediaStreamUrl }}
{{- .Values.twilio.mediaStreamUrl }}
{{- else if .Values.agentWorker.ingress.enabled }}
{{- printf "wss://%s/twilio/media" .Values.agentWorker.ingress.host }}
{{- end }}
{{- end }}

{{/* The worker pod's grace period: it must outlast the drain. */}}
{{- define "oc.workerGrace" -}}
{{- add .Values.agentWorker.preStopSleepSec .Values.agentWorker.drainTimeoutSec .Values.agentWorker.terminationGraceMarginSec }}
{{- end }}

{{/* Volumes for recordings, shared by both services. */}}
{{- define "oc.recordingsVolume" -}}
- name: recordings
  {{- if .Values.recordings.existingClaim }}
  persistentVolumeClaim:
    claimName: {{ .Values.recordings.existingClaim }}
  {{- else }}
  emptyDir: {}
  {{- end }}
{{- end }}
