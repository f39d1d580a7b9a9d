{{- define "edgesite-operator.name" -}}edgesite-operator{{- end -}}

{{- define "edgesite-operator.labels" -}}
app.kubernetes.io/name: edgesite-operator
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/part-of: edgesite
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
{{- end -}}

{{- define "edgesite-operator.selector" -}}
app.kubernetes.io/name: edgesite-operator
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}
