// Package deploy_test checks the deploy files: the Dockerfile, the
// Compose stack, the Helm chart and the plain Kubernetes manifests of
// dummy-service. Every Kubernetes object is decoded strictly into the
// Kubernetes API types (an unknown or misspelt field fails), and the facts
// the programs depend on are asserted. No Docker engine or cluster is
// needed: the files are checked statically, the chart is rendered with
// Helm's own Go packages.
package deploy_test

import (
	"io"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/yaml"

	"github.com/streamforge/streamforge/internal/dummy"
)

const caMountPath = "/usr/local/share/ca-certificates/ca.crt"

type manifests struct {
	configMaps  map[string]*corev1.ConfigMap
	secrets     map[string]*corev1.Secret
	pods        map[string]corev1.PodSpec // by "Kind/name"
	deployments []*appsv1.Deployment
	jobs        []*batchv1.Job
}

func load(t *testing.T) manifests {
	t.Helper()
	files, err := filepath.Glob("k8s/*.yaml")
	if err != nil || len(files) == 0 {
		t.Fatalf("no manifests: %v", err)
	}
	m := manifests{configMaps: map[string]*corev1.ConfigMap{}, secrets: map[string]*corev1.Secret{}, pods: map[string]corev1.PodSpec{}}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for i, doc := range regexp.MustCompile(`(?m)^---\s*$`).Split(string(b), -1) {
			if strings.TrimSpace(stripComments(doc)) == "" {
				continue
			}
			var head struct {
				APIVersion string `json:"apiVersion"`
				Kind       string `json:"kind"`
			}
			if err := yaml.Unmarshal([]byte(doc), &head); err != nil {
				t.Fatalf("%s document %d: %v", f, i, err)
			}
			var obj any
			switch head.APIVersion + " " + head.Kind {
			case "v1 ConfigMap":
				obj = &corev1.ConfigMap{}
			case "v1 Secret":
				obj = &corev1.Secret{}
			case "v1 Pod":
				obj = &corev1.Pod{}
			case "apps/v1 Deployment":
				obj = &appsv1.Deployment{}
			case "batch/v1 Job":
				obj = &batchv1.Job{}
			default:
				t.Fatalf("%s document %d: unexpected %s %s", f, i, head.APIVersion, head.Kind)
			}
			if err := yaml.UnmarshalStrict([]byte(doc), obj); err != nil {
				t.Fatalf("%s document %d (%s): %v", f, i, head.Kind, err)
			}
			switch o := obj.(type) {
			case *corev1.ConfigMap:
				m.configMaps[o.Name] = o
			case *corev1.Secret:
				m.secrets[o.Name] = o
			case *corev1.Pod:
				m.pods["Pod/"+o.Name] = o.Spec
			case *appsv1.Deployment:
				m.deployments = append(m.deployments, o)
				m.pods["Deployment/"+o.Name] = o.Spec.Template.Spec
			case *batchv1.Job:
				m.jobs = append(m.jobs, o)
				m.pods["Job/"+o.Name] = o.Spec.Template.Spec
			}
		}
	}
	return m
}

func stripComments(doc string) string {
	var out []string
	for _, l := range strings.Split(doc, "\n") {
		if !strings.HasPrefix(strings.TrimSpace(l), "#") {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}

func TestManifestsParseStrictly(t *testing.T) {
	m := load(t)
	for _, kind := range []string{"Job/dummy-service", "Pod/dummy-service", "Deployment/dummy-service"} {
		if _, ok := m.pods[kind]; !ok {
			t.Errorf("no %s manifest", kind)
		}
	}
	if len(m.configMaps) == 0 || len(m.secrets) == 0 {
		t.Fatal("no ConfigMap or Secret example")
	}
}

func TestWorkloadsRunTheServiceAsConfigured(t *testing.T) {
	m := load(t)
	for name, spec := range m.pods {
		t.Run(name, func(t *testing.T) {
			if len(spec.Containers) != 1 {
				t.Fatalf("%d containers", len(spec.Containers))
			}
			c := spec.Containers[0]
			if !strings.Contains(c.Image, "dummy-service") {
				t.Errorf("image %q", c.Image)
			}
			if len(c.Command) != 0 {
				t.Errorf("command %v overrides the image's ENTRYPOINT", c.Command)
			}

			// envFrom: a ConfigMap and a Secret that exist here.
			env := map[string]string{}
			var fromCM, fromSecret bool
			for _, ef := range c.EnvFrom {
				switch {
				case ef.ConfigMapRef != nil:
					cm, ok := m.configMaps[ef.ConfigMapRef.Name]
					if !ok {
						t.Fatalf("envFrom ConfigMap %q is not defined", ef.ConfigMapRef.Name)
					}
					fromCM = true
					for k, v := range cm.Data {
						env[k] = v
					}
				case ef.SecretRef != nil:
					s, ok := m.secrets[ef.SecretRef.Name]
					if !ok {
						t.Fatalf("envFrom Secret %q is not defined", ef.SecretRef.Name)
					}
					fromSecret = true
					for k, v := range s.StringData {
						env[k] = v
					}
				}
			}
			if !fromCM || !fromSecret {
				t.Fatalf("envFrom must use a ConfigMap and a Secret: %+v", c.EnvFrom)
			}
			for _, e := range c.Env {
				if e.ValueFrom == nil || e.ValueFrom.FieldRef == nil {
					t.Errorf("env %s: want a downward-API field", e.Name)
				}
				env[e.Name] = "from-" + e.Name
			}
			for _, k := range []string{"K8S_NAMESPACE", "POD_NAME"} {
				if _, ok := env[k]; !ok {
					t.Errorf("%s not set", k)
				}
			}

			// The CA file is mounted where KAFKA_CA_PATH points.
			var mount *corev1.VolumeMount
			for i := range c.VolumeMounts {
				if c.VolumeMounts[i].MountPath == caMountPath {
					mount = &c.VolumeMounts[i]
				}
			}
			if mount == nil || !mount.ReadOnly {
				t.Fatalf("no read-only volume mounted at %s: %+v", caMountPath, c.VolumeMounts)
			}
			var vol *corev1.Volume
			for i := range spec.Volumes {
				if spec.Volumes[i].Name == mount.Name {
					vol = &spec.Volumes[i]
				}
			}
			if vol == nil || vol.Secret == nil {
				t.Fatalf("volume %q is not a Secret volume", mount.Name)
			}
			ca, ok := m.secrets[vol.Secret.SecretName]
			if !ok {
				t.Fatalf("CA Secret %q is not defined", vol.Secret.SecretName)
			}
			if _, ok := ca.StringData[mount.SubPath]; !ok {
				t.Fatalf("CA Secret has no key %q", mount.SubPath)
			}

			// The service accepts the configuration and the arguments.
			environ := make([]string, 0, len(env))
			for k, v := range env {
				environ = append(environ, k+"="+v)
			}
			o, err := dummy.ParseArgs(c.Args, environ, io.Discard)
			if err != nil {
				t.Fatalf("dummy-service rejects args %v with this env: %v", c.Args, err)
			}
			if o.Kafka.Protocol() != "SASL_SSL" || o.Kafka.SASLMechanism() != "SCRAM-SHA-512" || o.Kafka.CAPath != caMountPath ||
				o.Kafka.User == "" || len(o.Kafka.Brokers) == 0 {
				t.Errorf("kafka settings: protocol %s, mechanism %s, CA %s, user %q, brokers %v",
					o.Kafka.Protocol(), o.Kafka.SASLMechanism(), o.Kafka.CAPath, o.Kafka.User, o.Kafka.Brokers)
			}
			for _, k := range []string{"KAFKA_PASSWORD", "KAFKA_USER"} {
				for cmName, cm := range m.configMaps {
					if _, ok := cm.Data[k]; ok {
						t.Errorf("%s is in ConfigMap %s, want it in a Secret", k, cmName)
					}
				}
			}

			// Metrics port and probes.
			_, port, err := net.SplitHostPort(o.MetricsAddr)
			if err != nil {
				t.Fatal(err)
			}
			var metricsPort *corev1.ContainerPort
			for i := range c.Ports {
				if c.Ports[i].Name == "metrics" {
					metricsPort = &c.Ports[i]
				}
			}
			if metricsPort == nil || metricsPort.ContainerPort != 8000 || port != "8000" {
				t.Fatalf("metrics port: container %+v, service listens on %s", metricsPort, o.MetricsAddr)
			}
			for probe, p := range map[string]*corev1.Probe{"/healthz": c.LivenessProbe, "/readyz": c.ReadinessProbe} {
				if p == nil || p.HTTPGet == nil || p.HTTPGet.Path != probe ||
					(p.HTTPGet.Port.String() != "metrics" && p.HTTPGet.Port.IntValue() != 8000) {
					t.Errorf("probe %s: %+v", probe, p)
				}
			}

			for _, r := range []corev1.ResourceName{corev1.ResourceCPU, corev1.ResourceMemory} {
				if _, ok := c.Resources.Requests[r]; !ok {
					t.Errorf("no %s request", r)
				}
				if _, ok := c.Resources.Limits[r]; !ok {
					t.Errorf("no %s limit", r)
				}
			}
			if spec.SecurityContext == nil || spec.SecurityContext.RunAsNonRoot == nil || !*spec.SecurityContext.RunAsNonRoot {
				t.Error("pod does not require a non-root user")
			}
			if spec.TerminationGracePeriodSeconds == nil || *spec.TerminationGracePeriodSeconds <= int64(dummy.DefaultShutdownTimeout.Seconds()) {
				t.Error("termination grace period must exceed the service's shutdown timeout")
			}
		})
	}
	for _, j := range m.jobs {
		if rp := j.Spec.Template.Spec.RestartPolicy; rp != corev1.RestartPolicyNever && rp != corev1.RestartPolicyOnFailure {
			t.Errorf("Job restartPolicy %q", rp)
		}
		if want := dummyServiceCMD(t); !slices.Equal(j.Spec.Template.Spec.Containers[0].Args, want) {
			t.Errorf("Job args %v, want the image's CMD %v", j.Spec.Template.Spec.Containers[0].Args, want)
		}
	}
	for _, d := range m.deployments {
		sel := d.Spec.Selector.MatchLabels
		for k, v := range sel {
			if d.Spec.Template.Labels[k] != v {
				t.Errorf("Deployment selector %s=%s does not match the template", k, v)
			}
		}
		if slices.Contains(d.Spec.Template.Spec.Containers[0].Args, "--exit-after") {
			t.Error("a Deployment must not exit by itself: it would restart in a loop")
		}
	}
}
