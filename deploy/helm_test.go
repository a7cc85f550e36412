package deploy_test

import (
	"encoding/json"
	"io"
	"maps"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"

	"helm.sh/helm/v3/pkg/chart"
	"helm.sh/helm/v3/pkg/chart/loader"
	"helm.sh/helm/v3/pkg/chartutil"
	"helm.sh/helm/v3/pkg/engine"
	"helm.sh/helm/v3/pkg/lint"
	"helm.sh/helm/v3/pkg/lint/support"
	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/util/validation"
	"sigs.k8s.io/yaml"

	"github.com/streamforge/streamforge/internal/destination"
	"github.com/streamforge/streamforge/internal/dummy"
)

// The chart is rendered with Helm's own Go packages (the loader, the
// values schema, the template engine and the linter that `helm template`
// and `helm lint` use), and every rendered object is decoded strictly into
// the Kubernetes API types.

const (
	chartDir    = "helm/streamforge"
	releaseNS   = "streamforge"
	releaseName = "sf"
)

// serviceMonitor is the part of monitoring.coreos.com/v1 ServiceMonitor the
// chart writes; decoding rejects any other field.
type serviceMonitor struct {
	APIVersion string            `json:"apiVersion"`
	Kind       string            `json:"kind"`
	Metadata   metav1.ObjectMeta `json:"metadata"`
	Spec       struct {
		JobLabel          string               `json:"jobLabel"`
		Selector          metav1.LabelSelector `json:"selector"`
		NamespaceSelector struct {
			MatchNames []string `json:"matchNames"`
		} `json:"namespaceSelector"`
		Endpoints []struct {
			Port     string `json:"port"`
			Path     string `json:"path"`
			Interval string `json:"interval"`
		} `json:"endpoints"`
	} `json:"spec"`
}

// release is one rendering of the chart.
type release struct {
	values          map[string]any // as given, before the chart's defaults
	configMaps      map[string]*corev1.ConfigMap
	secrets         map[string]*corev1.Secret
	services        []*corev1.Service
	deployments     []*appsv1.Deployment
	jobs            []*batchv1.Job
	pdbs            []*policyv1.PodDisruptionBudget
	serviceMonitors []*serviceMonitor
}

func renderChart(t *testing.T, values map[string]any) (map[string]string, error) {
	t.Helper()
	chrt, err := loader.Load(chartDir)
	if err != nil {
		t.Fatalf("loading the chart: %v", err)
	}
	rv, err := chartutil.ToRenderValues(chrt, values,
		chartutil.ReleaseOptions{Name: releaseName, Namespace: releaseNS, Revision: 3, IsInstall: true},
		chartutil.DefaultCapabilities)
	if err != nil {
		return nil, err
	}
	return engine.Render(chrt, rv)
}

var docSep = regexp.MustCompile(`(?m)^---\s*$`)

func render(t *testing.T, values map[string]any) release {
	t.Helper()
	out, err := renderChart(t, values)
	if err != nil {
		t.Fatalf("rendering: %v", err)
	}
	r := release{values: values, configMaps: map[string]*corev1.ConfigMap{}, secrets: map[string]*corev1.Secret{}}
	files := slices.Sorted(maps.Keys(out))
	for _, f := range files {
		if strings.HasSuffix(f, "NOTES.txt") {
			continue
		}
		for i, doc := range docSep.Split(out[f], -1) {
			if strings.TrimSpace(stripComments(doc)) == "" {
				continue
			}
			var head struct {
				APIVersion string `json:"apiVersion"`
				Kind       string `json:"kind"`
			}
			if err := yaml.Unmarshal([]byte(doc), &head); err != nil {
				t.Fatalf("%s document %d: %v\n%s", f, i, err, doc)
			}
			var obj any
			switch head.APIVersion + " " + head.Kind {
			case "v1 ConfigMap":
				obj = &corev1.ConfigMap{}
			case "v1 Secret":
				obj = &corev1.Secret{}
			case "v1 Service":
				obj = &corev1.Service{}
			case "apps/v1 Deployment":
				obj = &appsv1.Deployment{}
			case "batch/v1 Job":
				obj = &batchv1.Job{}
			case "policy/v1 PodDisruptionBudget":
				obj = &policyv1.PodDisruptionBudget{}
			case "monitoring.coreos.com/v1 ServiceMonitor":
				j, err := yaml.YAMLToJSON([]byte(doc))
				if err != nil {
					t.Fatalf("%s document %d: %v", f, i, err)
				}
				dec := json.NewDecoder(strings.NewReader(string(j)))
				dec.DisallowUnknownFields()
				sm := &serviceMonitor{}
				if err := dec.Decode(sm); err != nil {
					t.Fatalf("%s document %d (ServiceMonitor): %v", f, i, err)
				}
				r.serviceMonitors = append(r.serviceMonitors, sm)
				checkName(t, "ServiceMonitor", sm.Metadata.Name)
				continue
			default:
				t.Fatalf("%s document %d: unexpected %s %s", f, i, head.APIVersion, head.Kind)
			}
			if err := yaml.UnmarshalStrict([]byte(doc), obj); err != nil {
				t.Fatalf("%s document %d (%s): %v\n%s", f, i, head.Kind, err, doc)
			}
			switch o := obj.(type) {
			case *corev1.ConfigMap:
				r.configMaps[o.Name] = o
				checkName(t, "ConfigMap", o.Name)
			case *corev1.Secret:
				r.secrets[o.Name] = o
				checkName(t, "Secret", o.Name)
			case *corev1.Service:
				r.services = append(r.services, o)
				if errs := validation.IsDNS1035Label(o.Name); len(errs) > 0 {
					t.Errorf("Service name %q: %v", o.Name, errs)
				}
			case *appsv1.Deployment:
				r.deployments = append(r.deployments, o)
				checkName(t, "Deployment", o.Name)
			case *batchv1.Job:
				r.jobs = append(r.jobs, o)
				checkName(t, "Job", o.Name)
			case *policyv1.PodDisruptionBudget:
				r.pdbs = append(r.pdbs, o)
				checkName(t, "PodDisruptionBudget", o.Name)
			}
		}
	}
	return r
}

func checkName(t *testing.T, kind, name string) {
	t.Helper()
	if errs := validation.IsDNS1123Subdomain(name); len(errs) > 0 {
		t.Errorf("%s name %q: %v", kind, name, errs)
	}
}

// value reads a dotted path of the values as given, or def.
func value(values map[string]any, path string, def any) any {
	var cur any = values
	for _, k := range strings.Split(path, ".") {
		m, ok := cur.(map[string]any)
		if !ok {
			return def
		}
		if cur, ok = m[k]; !ok {
			return def
		}
	}
	return cur
}

func readValues(t *testing.T, file string, set map[string]any) map[string]any {
	t.Helper()
	v, err := chartutil.ReadValuesFile(file)
	if err != nil {
		t.Fatal(err)
	}
	for path, x := range set {
		keys := strings.Split(path, ".")
		m := v.AsMap()
		for _, k := range keys[:len(keys)-1] {
			next, ok := m[k].(map[string]any)
			if !ok {
				next = map[string]any{}
				m[k] = next
			}
			m = next
		}
		m[keys[len(keys)-1]] = x
	}
	return v.AsMap()
}

// helmCases are the renderings every chart test checks: the defaults, and
// values exercising the options with dummy-service as a Job and as a
// Deployment.
func helmCases(t *testing.T) map[string]map[string]any {
	return map[string]map[string]any{
		"defaults":    {},
		"options-job": readValues(t, "testdata/helm-values.yaml", nil),
		"options-deployment": readValues(t, "testdata/helm-values.yaml", map[string]any{
			"dummyService.kind": "Deployment",
			"dummyService.args": []any{"--simulate-loading", "--loading-interval", "5s"},
		}),
	}
}

// env gathers what a container's envFrom and env give it.
func (r release) env(t *testing.T, c corev1.Container) map[string]string {
	t.Helper()
	env := map[string]string{}
	var fromCM, fromSecret bool
	for _, ef := range c.EnvFrom {
		switch {
		case ef.ConfigMapRef != nil:
			cm, ok := r.configMaps[ef.ConfigMapRef.Name]
			if !ok {
				t.Fatalf("%s: envFrom ConfigMap %q is not rendered", c.Name, ef.ConfigMapRef.Name)
			}
			fromCM = true
			maps.Copy(env, cm.Data)
		case ef.SecretRef != nil:
			s, ok := r.secrets[ef.SecretRef.Name]
			if !ok {
				t.Fatalf("%s: envFrom Secret %q is not rendered", c.Name, ef.SecretRef.Name)
			}
			fromSecret = true
			maps.Copy(env, s.StringData)
		}
	}
	if !fromCM || !fromSecret {
		t.Errorf("%s: envFrom must use a ConfigMap and a Secret: %+v", c.Name, c.EnvFrom)
	}
	for _, e := range c.Env {
		env[e.Name] = e.Value
		if e.ValueFrom != nil {
			env[e.Name] = "from-" + e.Name
		}
	}
	return env
}

// checkPod asserts what every StreamForge pod has: a non-root user, a
// read-only root file system, no capability, resources, a pinned image,
// and volumes whose Secrets exist.
func (r release) checkPod(t *testing.T, spec corev1.PodSpec, wantTag string) corev1.Container {
	t.Helper()
	if len(spec.Containers) != 1 {
		t.Fatalf("%d containers", len(spec.Containers))
	}
	c := spec.Containers[0]
	if spec.SecurityContext == nil || spec.SecurityContext.RunAsNonRoot == nil || !*spec.SecurityContext.RunAsNonRoot {
		t.Error("the pod does not require a non-root user")
	}
	sc := c.SecurityContext
	if sc == nil || sc.ReadOnlyRootFilesystem == nil || !*sc.ReadOnlyRootFilesystem ||
		sc.AllowPrivilegeEscalation == nil || *sc.AllowPrivilegeEscalation ||
		sc.Capabilities == nil || !slices.Equal(sc.Capabilities.Drop, []corev1.Capability{"ALL"}) {
		t.Errorf("container securityContext %+v: want a read-only root, no privilege escalation, every capability dropped", sc)
	}
	for _, res := range []corev1.ResourceName{corev1.ResourceCPU, corev1.ResourceMemory} {
		if _, ok := c.Resources.Requests[res]; !ok {
			t.Errorf("no %s request", res)
		}
		if _, ok := c.Resources.Limits[res]; !ok {
			t.Errorf("no %s limit", res)
		}
	}
	if _, tag, _ := strings.Cut(c.Image, ":"); tag != wantTag {
		t.Errorf("image %s, want tag %s", c.Image, wantTag)
	}
	caSecret := value(r.values, "kafka.ca.secretName", "kafka-ca")
	for _, v := range spec.Volumes {
		if v.Secret == nil {
			continue
		}
		// The CA Secret is rendered when its certificate is given, else it
		// is a prerequisite the chart's README names.
		if _, ok := r.secrets[v.Secret.SecretName]; !ok && v.Secret.SecretName != caSecret {
			t.Errorf("volume %s: Secret %s is neither rendered nor the CA Secret", v.Name, v.Secret.SecretName)
		}
	}
	return c
}

// mount returns the read-only mount at path and the volume behind it.
func mount(spec corev1.PodSpec, c corev1.Container, path string) (*corev1.VolumeMount, *corev1.Volume) {
	for i := range c.VolumeMounts {
		if m := &c.VolumeMounts[i]; m.MountPath == path {
			for j := range spec.Volumes {
				if spec.Volumes[j].Name == m.Name {
					return m, &spec.Volumes[j]
				}
			}
			return m, nil
		}
	}
	return nil, nil
}

func componentOf(l map[string]string) string { return l["app.kubernetes.io/component"] }

func (r release) selects(sel *metav1.LabelSelector, podLabels map[string]string) bool {
	s, err := metav1.LabelSelectorAsSelector(sel)
	return err == nil && !s.Empty() && s.Matches(labels.Set(podLabels))
}

func TestHelmChartRendersValidObjects(t *testing.T) {
	for name, values := range helmCases(t) {
		t.Run(name, func(t *testing.T) {
			r := render(t, values)
			appVersion := chartAppVersion(t)
			tag := func(component string) string {
				if v, _ := value(values, component+".image.tag", "").(string); v != "" {
					return v
				}
				return appVersion
			}
			t.Run("bulker", func(t *testing.T) { r.checkBulker(t, tag("bulker")) })
			t.Run("dummy-service", func(t *testing.T) { r.checkDummyService(t, tag("dummyService")) })
			t.Run("serviceMonitor", r.checkServiceMonitors)
			t.Run("dashboards", r.checkDashboards)
		})
	}
}

func chartAppVersion(t *testing.T) string {
	chrt, err := loader.Load(chartDir)
	if err != nil {
		t.Fatal(err)
	}
	return chrt.Metadata.AppVersion
}

var bulkerSecrets = regexp.MustCompile(`^BULKER_(KAFKA_SASL|RAW_AUTH_TOKENS|AUTH_TOKENS|TOKEN_SECRET|REDIS_URL|CONFIG_SOURCE_TOKEN|KAFKA_SSL_CA|DESTINATION_.*)$`)

func (r release) checkBulker(t *testing.T, wantTag string) {
	var d *appsv1.Deployment
	for _, x := range r.deployments {
		if componentOf(x.Labels) == "bulker" {
			d = x
		}
	}
	if d == nil {
		t.Fatal("no bulker Deployment")
	}
	spec := d.Spec.Template.Spec
	c := r.checkPod(t, spec, wantTag)
	if want := int32(toInt(value(r.values, "bulker.replicaCount", 2))); d.Spec.Replicas == nil || *d.Spec.Replicas != want {
		t.Errorf("replicas %v, want %d", d.Spec.Replicas, want)
	}
	if !r.selects(d.Spec.Selector, d.Spec.Template.Labels) {
		t.Error("the Deployment's selector does not match its pods")
	}

	env := r.env(t, c)
	known := bulkerEnvDoc(t)
	for k := range env {
		if !known.has(k) {
			t.Errorf("bulker is given %s, which its configuration table does not have", k)
		}
	}
	for _, cm := range r.configMaps {
		for k := range cm.Data {
			if bulkerSecrets.MatchString(k) {
				t.Errorf("%s is in ConfigMap %s, want it in a Secret", k, cm.Name)
			}
		}
	}

	// Probes on the port bulker listens on, at every interface.
	var port *corev1.ContainerPort
	for i := range c.Ports {
		if c.Ports[i].Name == "http" {
			port = &c.Ports[i]
		}
	}
	if port == nil || strconv.Itoa(int(port.ContainerPort)) != env["BULKER_HTTP_PORT"] || env["BULKER_HTTP_HOST"] != "0.0.0.0" {
		t.Fatalf("container port %+v, bulker listens on %s:%s", port, env["BULKER_HTTP_HOST"], env["BULKER_HTTP_PORT"])
	}
	for path, p := range map[string]*corev1.Probe{"/health": c.LivenessProbe, "/ready": c.ReadinessProbe} {
		if p == nil || p.HTTPGet == nil || p.HTTPGet.Path != path || p.HTTPGet.Port.String() != "http" {
			t.Errorf("probe %s: %+v", path, p)
		}
	}

	// The read-only root file system leaves bulker the data directory on
	// an emptyDir and the Kafka CA on a Secret volume.
	if m, v := mount(spec, c, env["BULKER_DATA_DIR"]); m == nil || v == nil || v.EmptyDir == nil {
		t.Errorf("BULKER_DATA_DIR %q is not an emptyDir mount", env["BULKER_DATA_DIR"])
	}
	if ca := env["BULKER_KAFKA_SSL_CA_FILE"]; ca != "" {
		if m, v := mount(spec, c, ca); m == nil || !m.ReadOnly || v == nil || v.Secret == nil {
			t.Errorf("BULKER_KAFKA_SSL_CA_FILE %s is not a read-only Secret mount", ca)
		}
	}
	shutdown := 10
	if s := env["BULKER_SHUTDOWN_TIMEOUT_SEC"]; s != "" {
		shutdown, _ = strconv.Atoi(s)
	}
	if spec.TerminationGracePeriodSeconds == nil || *spec.TerminationGracePeriodSeconds <= int64(shutdown) {
		t.Errorf("terminationGracePeriodSeconds %v must exceed BULKER_SHUTDOWN_TIMEOUT_SEC %d", spec.TerminationGracePeriodSeconds, shutdown)
	}

	// Kafka login and destinations, as bulker will read them.
	if strings.HasPrefix(env["BULKER_KAFKA_SECURITY_PROTOCOL"], "SASL") {
		var sasl map[string]string
		dec := json.NewDecoder(strings.NewReader(env["BULKER_KAFKA_SASL"]))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&sasl); err != nil || sasl["mechanism"] == "" || sasl["username"] == "" {
			t.Errorf("BULKER_KAFKA_SASL %q: %v", env["BULKER_KAFKA_SASL"], err)
		}
		if want := value(r.values, "kafka.password", ""); sasl["password"] != want {
			t.Errorf("BULKER_KAFKA_SASL password %q, want kafka.password %q", sasl["password"], want)
		}
	}
	wantDests, _ := value(r.values, "bulker.destinations", map[string]any{}).(map[string]any)
	var gotDests []string
	for k, raw := range env {
		if !strings.HasPrefix(k, "BULKER_DESTINATION_") {
			continue
		}
		var strict destination.Config
		dec := json.NewDecoder(strings.NewReader(raw))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&strict); err != nil {
			t.Errorf("%s: %v", k, err)
		}
		dc, err := destination.ParseJSON([]byte(raw), "")
		if err != nil {
			t.Errorf("bulker rejects %s: %v", k, err)
			continue
		}
		gotDests = append(gotDests, dc.ID)
		want, _ := wantDests[dc.ID].(map[string]any)
		creds, _ := want["credentials"].(map[string]any)
		if dc.Credentials.Password.Reveal() != value(creds, "password", "") {
			t.Errorf("%s: the password did not survive rendering", k)
		}
	}
	sort.Strings(gotDests)
	if want := slices.Sorted(maps.Keys(wantDests)); !slices.Equal(gotDests, want) {
		t.Errorf("destinations %v, want %v", gotDests, want)
	}
	if tokens, _ := value(r.values, "bulker.authTokens", []any{}).([]any); len(tokens) > 0 && len(strings.Split(env["BULKER_RAW_AUTH_TOKENS"], ",")) != len(tokens) {
		t.Errorf("BULKER_RAW_AUTH_TOKENS %q, want %d tokens", env["BULKER_RAW_AUTH_TOKENS"], len(tokens))
	}

	// The Service and the PodDisruptionBudget select bulker's pods.
	var svc *corev1.Service
	for _, s := range r.services {
		if r.selects(&metav1.LabelSelector{MatchLabels: s.Spec.Selector}, d.Spec.Template.Labels) {
			svc = s
		}
	}
	if svc == nil || len(svc.Spec.Ports) != 1 || svc.Spec.Ports[0].TargetPort.String() != "http" {
		t.Errorf("no Service sends traffic to bulker's http port: %+v", svc)
	}
	if len(r.pdbs) != 1 || !r.selects(r.pdbs[0].Spec.Selector, d.Spec.Template.Labels) || r.pdbs[0].Spec.MaxUnavailable == nil {
		t.Fatalf("want one PodDisruptionBudget with maxUnavailable over bulker's pods, got %+v", r.pdbs)
	}
	if want := toInt(value(r.values, "bulker.podDisruptionBudget.maxUnavailable", 1)); r.pdbs[0].Spec.MaxUnavailable.IntValue() != want {
		t.Errorf("maxUnavailable %s, want %d", r.pdbs[0].Spec.MaxUnavailable, want)
	}
}

func (r release) checkDummyService(t *testing.T, wantTag string) {
	kind := value(r.values, "dummyService.kind", "Deployment")
	var spec corev1.PodSpec
	var podLabels map[string]string
	switch kind {
	case "Deployment":
		var d *appsv1.Deployment
		for _, x := range r.deployments {
			if componentOf(x.Labels) == "dummy-service" {
				d = x
			}
		}
		if d == nil || len(r.jobs) != 0 {
			t.Fatalf("want a dummy-service Deployment and no Job, got %d Jobs", len(r.jobs))
		}
		if d.Spec.Replicas == nil || *d.Spec.Replicas != 1 {
			t.Errorf("replicas %v: a queue has one consumer group, want 1", d.Spec.Replicas)
		}
		if !r.selects(d.Spec.Selector, d.Spec.Template.Labels) {
			t.Error("the Deployment's selector does not match its pods")
		}
		spec, podLabels = d.Spec.Template.Spec, d.Spec.Template.Labels
	case "Job":
		if len(r.jobs) != 1 {
			t.Fatalf("want one dummy-service Job, got %d", len(r.jobs))
		}
		spec, podLabels = r.jobs[0].Spec.Template.Spec, r.jobs[0].Spec.Template.Labels
		if spec.RestartPolicy != corev1.RestartPolicyNever {
			t.Errorf("Job restartPolicy %q, want Never (backoffLimit decides retries)", spec.RestartPolicy)
		}
		if !strings.HasSuffix(r.jobs[0].Name, "-3") {
			t.Errorf("Job name %s does not carry the release revision", r.jobs[0].Name)
		}
	}
	c := r.checkPod(t, spec, wantTag)
	env := r.env(t, c)
	known := dummyEnvDoc(t)
	for k := range env {
		if !known.has(k) {
			t.Errorf("dummy-service is given %s, which the README does not list", k)
		}
	}
	for _, k := range []string{"K8S_NAMESPACE", "POD_NAME"} {
		if env[k] != "from-"+k {
			t.Errorf("%s is not taken from the pod (downward API)", k)
		}
	}
	for _, k := range []string{"KAFKA_PASSWORD", "KAFKA_USER"} {
		for name, cm := range r.configMaps {
			if _, ok := cm.Data[k]; ok {
				t.Errorf("%s is in ConfigMap %s, want it in a Secret", k, name)
			}
		}
	}

	// The seed's CA file, where KAFKA_CA_PATH points.
	m, v := mount(spec, c, caMountPath)
	if m == nil || !m.ReadOnly || v == nil || v.Secret == nil {
		t.Fatalf("no read-only Secret volume mounted at %s", caMountPath)
	}
	if len(v.Secret.Items) != 1 || v.Secret.Items[0].Path != m.SubPath {
		t.Errorf("CA volume items %+v do not provide subPath %s", v.Secret.Items, m.SubPath)
	}
	if s, ok := r.secrets[v.Secret.SecretName]; ok {
		if _, ok := s.StringData[v.Secret.Items[0].Key]; !ok {
			t.Errorf("CA Secret %s has no key %s", s.Name, v.Secret.Items[0].Key)
		}
	}

	// The service accepts its arguments (the image's CMD when there are
	// none) and this environment.
	args := c.Args
	if len(args) == 0 {
		args = dummyServiceCMD(t)
	}
	if want, _ := value(r.values, "dummyService.args", []any{}).([]any); len(want) > 0 && len(c.Args) != len(want) {
		t.Errorf("args %v, want the values' %v", c.Args, want)
	}
	environ := make([]string, 0, len(env))
	for k, v := range env {
		environ = append(environ, k+"="+v)
	}
	o, err := dummy.ParseArgs(args, environ, io.Discard)
	if err != nil {
		t.Fatalf("dummy-service rejects args %v with this environment: %v", args, err)
	}
	if o.Kafka.CAPath != caMountPath || len(o.Kafka.Brokers) == 0 {
		t.Errorf("kafka settings: CA %q, brokers %v", o.Kafka.CAPath, o.Kafka.Brokers)
	}
	if o.Kafka.Protocol() == "SASL_SSL" && (o.Kafka.User == "" || o.Kafka.SASLMechanism() != "SCRAM-SHA-512") {
		t.Errorf("SASL_SSL without a user or with mechanism %s", o.Kafka.SASLMechanism())
	}
	if kind == "Deployment" && (o.Service.ExitAfter != 0 || o.Service.FailAfter != 0 || o.Service.Noop) {
		t.Errorf("a Deployment running %v would end by itself and restart in a loop", args)
	}
	if o.MetricsAddr != ":8000" {
		t.Errorf("metrics on %s, want :8000", o.MetricsAddr)
	}
	var port *corev1.ContainerPort
	for i := range c.Ports {
		if c.Ports[i].Name == "metrics" {
			port = &c.Ports[i]
		}
	}
	if port == nil || port.ContainerPort != 8000 {
		t.Errorf("metrics port %+v, want 8000", port)
	}
	for path, p := range map[string]*corev1.Probe{"/healthz": c.LivenessProbe, "/readyz": c.ReadinessProbe} {
		if p == nil || p.HTTPGet == nil || p.HTTPGet.Path != path || p.HTTPGet.Port.String() != "metrics" {
			t.Errorf("probe %s: %+v", path, p)
		}
	}
	if spec.TerminationGracePeriodSeconds == nil || *spec.TerminationGracePeriodSeconds <= int64(dummy.DefaultShutdownTimeout.Seconds()) {
		t.Error("termination grace period must exceed the service's shutdown timeout")
	}
	if kind == "Deployment" {
		var found bool
		for _, s := range r.services {
			found = found || r.selects(&metav1.LabelSelector{MatchLabels: s.Spec.Selector}, podLabels)
		}
		if !found {
			t.Error("no Service selects the dummy-service Deployment (the ServiceMonitor needs one)")
		}
	}
}

func (r release) checkServiceMonitors(t *testing.T) {
	if value(r.values, "serviceMonitor.enabled", false) != true {
		if len(r.serviceMonitors) > 0 {
			t.Fatalf("%d ServiceMonitors rendered while serviceMonitor.enabled is off: they would fail without the Prometheus Operator's CRDs", len(r.serviceMonitors))
		}
		return
	}
	want := []string{"bulker"}
	if value(r.values, "dummyService.kind", "Deployment") == "Deployment" {
		want = append(want, "dummy-service")
	}
	var got []string
	for _, sm := range r.serviceMonitors {
		job := componentOf(sm.Metadata.Labels)
		got = append(got, job)
		extra, _ := value(r.values, "serviceMonitor.labels", map[string]any{}).(map[string]any)
		for k, v := range extra {
			if sm.Metadata.Labels[k] != v {
				t.Errorf("ServiceMonitor %s lacks label %s=%v (how Prometheus finds it)", sm.Metadata.Name, k, v)
			}
		}
		if !slices.Equal(sm.Spec.NamespaceSelector.MatchNames, []string{releaseNS}) || len(sm.Spec.Endpoints) != 1 {
			t.Errorf("ServiceMonitor %s: namespaces %v, endpoints %+v", sm.Metadata.Name, sm.Spec.NamespaceSelector.MatchNames, sm.Spec.Endpoints)
			continue
		}
		ep := sm.Spec.Endpoints[0]
		if ep.Path != "/metrics" || ep.Interval != value(r.values, "serviceMonitor.interval", "30s") {
			t.Errorf("ServiceMonitor %s endpoint %+v", sm.Metadata.Name, ep)
		}
		var svc *corev1.Service
		for _, s := range r.services {
			if r.selects(&sm.Spec.Selector, s.Labels) {
				svc = s
			}
		}
		if svc == nil {
			t.Errorf("ServiceMonitor %s selects no Service", sm.Metadata.Name)
			continue
		}
		if !slices.ContainsFunc(svc.Spec.Ports, func(p corev1.ServicePort) bool { return p.Name == ep.Port }) {
			t.Errorf("Service %s has no port %q", svc.Name, ep.Port)
		}
		// The job label is the component, as the Compose stack's job names.
		if svc.Labels[sm.Spec.JobLabel] != job {
			t.Errorf("ServiceMonitor %s: job would be %q, want %q", sm.Metadata.Name, svc.Labels[sm.Spec.JobLabel], job)
		}
	}
	if slices.Sort(got); !slices.Equal(got, want) {
		t.Errorf("ServiceMonitors for %v, want %v", got, want)
	}
}

// The chart ships the one copy of the dashboards, deploy/grafana/dashboards,
// byte for byte, in ConfigMaps the Grafana sidecar picks up.
func (r release) checkDashboards(t *testing.T) {
	label, _ := value(r.values, "dashboards.label", "grafana_dashboard").(string)
	shipped := map[string]string{}
	for _, cm := range r.configMaps {
		if cm.Labels[label] == "" {
			continue
		}
		if cm.Labels[label] != "1" {
			t.Errorf("ConfigMap %s: %s=%q, want \"1\"", cm.Name, label, cm.Labels[label])
		}
		if len(cm.Data) != 1 {
			t.Errorf("ConfigMap %s holds %d files, want one dashboard", cm.Name, len(cm.Data))
		}
		for k, v := range cm.Data {
			shipped[k] = v
		}
		if folder := value(r.values, "dashboards.annotations.grafana_folder", ""); folder != "" && cm.Annotations["grafana_folder"] != folder {
			t.Errorf("ConfigMap %s: annotations %v", cm.Name, cm.Annotations)
		}
	}
	files := dashboardFiles(t)
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		got, ok := shipped[filepath.Base(f)]
		if !ok {
			t.Errorf("%s is not shipped", f)
			continue
		}
		if got != string(b) {
			t.Errorf("the chart's %s differs from %s", filepath.Base(f), f)
		}
	}
	if len(shipped) != len(files) {
		t.Errorf("%d dashboards shipped, %d in deploy/grafana/dashboards", len(shipped), len(files))
	}
}

func toInt(v any) int {
	switch n := v.(type) {
	case int:
		return n
	case int64:
		return int(n)
	case float64:
		return int(n)
	}
	return -1
}

// The chart has one copy of the dashboards: a symbolic link into
// deploy/grafana/dashboards, which Helm's loader follows, so a packaged
// chart carries the files.
func TestHelmChartLinksTheDashboards(t *testing.T) {
	link := filepath.Join(chartDir, "dashboards")
	fi, err := os.Lstat(link)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode()&os.ModeSymlink == 0 {
		t.Fatalf("%s is a copy, want a link to deploy/grafana/dashboards", link)
	}
	target, err := filepath.EvalSymlinks(link)
	if err != nil {
		t.Fatal(err)
	}
	want, err := filepath.Abs("grafana/dashboards")
	if err != nil {
		t.Fatal(err)
	}
	if abs, _ := filepath.Abs(target); abs != want {
		t.Errorf("%s points at %s, want %s", link, abs, want)
	}

	// What `helm package` does: load the directory, write the archive.
	// The archive holds the dashboards themselves, not the link.
	chrt, err := loader.Load(chartDir)
	if err != nil {
		t.Fatal(err)
	}
	archive, err := chartutil.Save(chrt, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	packaged, err := loader.Load(archive)
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range dashboardFiles(t) {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		name := "dashboards/" + filepath.Base(f)
		i := slices.IndexFunc(packaged.Files, func(pf *chart.File) bool { return pf.Name == name })
		if i < 0 || string(packaged.Files[i].Data) != string(b) {
			t.Errorf("the packaged chart lacks %s or holds another version of it", name)
		}
	}
}

// helm lint on the defaults and on the options: no error, no warning.
func TestHelmLint(t *testing.T) {
	for name, values := range helmCases(t) {
		linter := lint.All(chartDir, values, releaseNS, false)
		for _, m := range linter.Messages {
			if m.Severity >= support.WarningSev {
				t.Errorf("%s: %s", name, m)
			}
		}
	}
}

// values.schema.json catches a misspelt or mistyped value before anything
// is rendered.
func TestHelmValuesSchema(t *testing.T) {
	for _, bad := range []map[string]any{
		{"bulker": map[string]any{"replicas": 3}},
		{"bulker": map[string]any{"replicaCount": 0}},
		{"bulker": map[string]any{"config": map[string]any{"BULKER_HTTP_PORT": 3042}}},
		{"dummyService": map[string]any{"kind": "CronJob"}},
		{"kafka": map[string]any{"securityProtocol": "SSL_SASL"}},
		{"bulker": map[string]any{"image": map[string]any{"repository": "streamforge/bulker", "tag": "latest"}}},
		{"serviceMonitor": map[string]any{"enabeld": true}},
	} {
		if _, err := renderChart(t, bad); err == nil {
			t.Errorf("values %v rendered, want a schema error", bad)
		}
	}
	// A setting the chart derives itself cannot be given twice.
	_, err := renderChart(t, map[string]any{"bulker": map[string]any{"config": map[string]any{"BULKER_HTTP_PORT": "8080"}}})
	if err == nil || !strings.Contains(err.Error(), "BULKER_HTTP_PORT is set by the chart") {
		t.Errorf("bulker.config.BULKER_HTTP_PORT: err = %v, want one naming it", err)
	}
}

// Every value of values.yaml is documented in the chart's README.
func TestHelmChartREADMEDocumentsEveryValue(t *testing.T) {
	v, err := chartutil.ReadValuesFile(filepath.Join(chartDir, "values.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	readme, err := os.ReadFile(filepath.Join(chartDir, "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	var paths []string
	var walk func(prefix string, m map[string]any)
	walk = func(prefix string, m map[string]any) {
		for k, x := range m {
			p := prefix + k
			// Maps the user fills in (settings, labels) are documented as
			// a whole; sections are documented key by key.
			if sub, ok := x.(map[string]any); ok && len(sub) > 0 && !strings.HasSuffix(p, "config") && !strings.HasSuffix(p, "resources") && !strings.HasSuffix(p, "SecurityContext") && p != "securityContext" {
				walk(p+".", sub)
				continue
			}
			paths = append(paths, p)
		}
	}
	walk("", v.AsMap())
	if len(paths) < 20 {
		t.Fatalf("only %d values found: %v", len(paths), paths)
	}
	for _, p := range paths {
		if !strings.Contains(string(readme), "`"+p+"`") {
			t.Errorf("README.md does not document `%s`", p)
		}
	}
}
