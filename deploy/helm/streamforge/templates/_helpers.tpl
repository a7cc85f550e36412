{{/* The chart's name, and the release-qualified prefix of every object. */}}
{{- define "streamforge.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "streamforge.fullname" -}}
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

{{/* Name of a component's objects: (dict "root" $ "component" "bulker"). */}}
{{- define "streamforge.component" -}}
{{- printf "%s-%s" (include "streamforge.fullname" .root) .component | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "streamforge.selectorLabels" -}}
app.kubernetes.io/name: {{ include "streamforge.name" .root }}
app.kubernetes.io/instance: {{ .root.Release.Name }}
app.kubernetes.io/component: {{ .component }}
{{- end }}

{{- define "streamforge.labels" -}}
{{ include "streamforge.selectorLabels" . }}
helm.sh/chart: {{ printf "%s-%s" .root.Chart.Name .root.Chart.Version | replace "+" "_" }}
app.kubernetes.io/version: {{ .root.Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .root.Release.Service }}
app.kubernetes.io/part-of: streamforge
{{- end }}

{{/* repository:tag, the tag defaulting to the chart's appVersion: (dict "root" $ "image" .Values.bulker.image). */}}
{{- define "streamforge.image" -}}
{{- printf "%s:%s" .image.repository (default .root.Chart.AppVersion .image.tag) }}
{{- end }}

{{/* Where both programs find the Kafka CA: the path the seed's manifests use. */}}
{{- define "streamforge.caPath" -}}
/usr/local/share/ca-certificates/ca.crt
{{- end }}

{{- define "streamforge.sasl" -}}
{{- has .Values.kafka.securityProtocol (list "SASL_SSL" "SASL_PLAINTEXT") }}
{{- end }}

{{/* Settings the chart derives itself must not be given again in a config map. */}}
{{- define "streamforge.reserved" -}}
{{- range $key := .reserved }}
{{- if hasKey $.config $key }}
{{- fail (printf "%s: %s is set by the chart; use the value that sets it (see README.md)" $.where $key) }}
{{- end }}
{{- end }}
{{- end }}
