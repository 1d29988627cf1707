package chart

import (
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"helm.sh/helm/v3/pkg/action"
	"helm.sh/helm/v3/pkg/chart/loader"
	"helm.sh/helm/v3/pkg/cli/values"
	"helm.sh/helm/v3/pkg/releaseutil"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	kjson "k8s.io/apimachinery/pkg/runtime/serializer/json"
	utilruntime "k8s.io/apimachinery/pkg/util/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	sigsjson "sigs.k8s.io/json"
	"sigs.k8s.io/yaml"
)

// Paths of the chart and of its example values (the seed's GitHub and Azure
// DevOps examples, multiple instances, and three replicas of multiple
// instances on NATS), relative to this package.
const (
	chartDir            = "../../../charts/gitops-connector"
	githubValues        = chartDir + "/ci/github-values.yaml"
	azdoValues          = chartDir + "/ci/azdo-values.yaml"
	multiInstanceValues = chartDir + "/ci/multi-instance-values.yaml"
	natsReplicasValues  = chartDir + "/ci/nats-replicas-values.yaml"
)

// readFile returns the contents of a file of the checkout, failing the test
// when it cannot be read.
func readFile(t *testing.T, path string) []byte {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return data
}

// decodeScheme knows every kind the chart renders except the ServiceMonitor,
// whose type lives in the Prometheus Operator.
var decodeScheme = func() *runtime.Scheme {
	s := runtime.NewScheme()
	utilruntime.Must(clientgoscheme.AddToScheme(s))
	utilruntime.Must(apiextensionsv1.AddToScheme(s))
	return s
}()

// strictDecoder decodes YAML into typed objects the way the API server's
// strict field validation does: unknown and duplicate fields are errors, and
// field names are case-sensitive.
var strictDecoder = kjson.NewSerializerWithOptions(kjson.DefaultMetaFactory, decodeScheme, decodeScheme,
	kjson.SerializerOptions{Yaml: true, Strict: true})

// install describes one `helm install`: release name and namespace, values
// files (-f) and inline values applied last, like a final -f.
type install struct {
	name      string
	namespace string
	files     []string
	values    string
	set       []string
}

// object is one rendered Kubernetes object.
type object struct {
	source string // template that rendered it
	raw    []byte
	obj    any // typed object, or *serviceMonitor
}

// rendered is a release as `helm install --dry-run` renders it.
type rendered struct {
	objects []object
	notes   string
}

// serviceMonitor is the part of the Prometheus Operator's ServiceMonitor the
// chart renders; decoding strictly into it rejects any other field.
type serviceMonitor struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata"`
	Spec              struct {
		Selector          metav1.LabelSelector `json:"selector"`
		NamespaceSelector struct {
			MatchNames []string `json:"matchNames"`
		} `json:"namespaceSelector"`
		Endpoints []struct {
			Port          string `json:"port"`
			Path          string `json:"path"`
			Interval      string `json:"interval,omitempty"`
			ScrapeTimeout string `json:"scrapeTimeout,omitempty"`
		} `json:"endpoints"`
	} `json:"spec"`
}

// valueOptions turns an install into Helm's command-line value options.
func valueOptions(t *testing.T, in install) *values.Options {
	t.Helper()
	opts := &values.Options{ValueFiles: append([]string(nil), in.files...), Values: in.set}
	if in.values != "" {
		path := filepath.Join(t.TempDir(), "values.yaml")
		if err := os.WriteFile(path, []byte(in.values), 0o600); err != nil {
			t.Fatal(err)
		}
		opts.ValueFiles = append(opts.ValueFiles, path)
	}
	return opts
}

// renderErr renders the chart as `helm install --dry-run` without a cluster
// and decodes every object strictly.
func renderErr(t *testing.T, in install) (rendered, error) {
	t.Helper()
	if in.name == "" {
		in.name = "gitops-connector"
	}
	if in.namespace == "" {
		in.namespace = "gitops"
	}
	chrt, err := loader.Load(chartDir)
	if err != nil {
		t.Fatalf("load chart: %v", err)
	}
	vals, err := valueOptions(t, in).MergeValues(nil)
	if err != nil {
		t.Fatalf("read values: %v", err)
	}
	client := action.NewInstall(&action.Configuration{Log: func(string, ...any) {}})
	client.ReleaseName = in.name
	client.Namespace = in.namespace
	client.DryRun = true
	client.ClientOnly = true
	rel, err := client.Run(chrt, vals)
	if err != nil {
		return rendered{}, err
	}
	r := rendered{notes: rel.Info.Notes}
	manifests := releaseutil.SplitManifests(rel.Manifest)
	keys := make([]string, 0, len(manifests))
	for k := range manifests {
		keys = append(keys, k)
	}
	sort.Sort(releaseutil.BySplitManifestsOrder(keys))
	for _, k := range keys {
		o, ok, err := decode(manifests[k])
		if err != nil {
			return rendered{}, err
		}
		if ok {
			r.objects = append(r.objects, o)
		}
	}
	return r, nil
}

// render is renderErr for installs that must succeed.
func render(t *testing.T, in install) rendered {
	t.Helper()
	r, err := renderErr(t, in)
	if err != nil {
		t.Fatalf("render: %v", err)
	}
	return r
}

// decode strictly decodes one manifest; ok is false for a manifest holding
// only comments.
func decode(manifest string) (o object, ok bool, err error) {
	source := ""
	if first, _, _ := strings.Cut(manifest, "\n"); strings.HasPrefix(first, "# Source: ") {
		source = strings.TrimPrefix(first, "# Source: ")
	}
	var meta metav1.TypeMeta
	if err := yaml.Unmarshal([]byte(manifest), &meta); err != nil {
		return o, false, fmt.Errorf("%s: %w", source, err)
	}
	if meta.Kind == "" && meta.APIVersion == "" {
		return o, false, nil
	}
	o = object{source: source, raw: []byte(manifest)}
	if meta.APIVersion == "monitoring.coreos.com/v1" && meta.Kind == "ServiceMonitor" {
		data, err := yaml.YAMLToJSON([]byte(manifest))
		if err != nil {
			return o, false, fmt.Errorf("%s: %w", source, err)
		}
		sm := &serviceMonitor{}
		strictErrs, err := sigsjson.UnmarshalStrict(data, sm)
		if err != nil {
			return o, false, fmt.Errorf("%s: %w", source, err)
		}
		if len(strictErrs) > 0 {
			return o, false, fmt.Errorf("%s: ServiceMonitor: %v", source, strictErrs)
		}
		o.obj = sm
		return o, true, nil
	}
	obj, _, err := strictDecoder.Decode([]byte(manifest), nil, nil)
	if err != nil {
		return o, false, fmt.Errorf("%s: %s %s: %w", source, meta.APIVersion, meta.Kind, err)
	}
	o.obj = obj
	return o, true, nil
}

// all returns the rendered objects of type T.
func all[T any](r rendered) []T {
	var out []T
	for _, o := range r.objects {
		if v, ok := o.obj.(T); ok {
			out = append(out, v)
		}
	}
	return out
}

// named is a typed object with a name.
type named interface{ GetName() string }

// find returns the rendered object of type T with the name, failing the test
// when there is none.
func find[T named](t *testing.T, r rendered, name string) T {
	t.Helper()
	for _, v := range all[T](r) {
		if v.GetName() == name {
			return v
		}
	}
	var zero T
	t.Fatalf("no %T named %q among %s", zero, name, r.kinds())
	return zero
}

// kinds lists "Kind/name" of every rendered object, for messages.
func (r rendered) kinds() []string {
	var out []string
	for _, o := range r.objects {
		out = append(out, kindName(o.obj))
	}
	return out
}

// kindName describes a decoded object as "Kind/name".
func kindName(obj any) string {
	switch v := obj.(type) {
	case *serviceMonitor:
		return "ServiceMonitor/" + v.Name
	case runtime.Object:
		name := ""
		if n, ok := obj.(named); ok {
			name = n.GetName()
		}
		kinds, _, err := decodeScheme.ObjectKinds(v)
		if err != nil || len(kinds) == 0 {
			return fmt.Sprintf("%T/%s", obj, name)
		}
		return kinds[0].Kind + "/" + name
	}
	return fmt.Sprintf("%T", obj)
}

// deployment returns the release's one Deployment.
func (r rendered) deployment(t *testing.T) *appsv1.Deployment {
	t.Helper()
	ds := all[*appsv1.Deployment](r)
	if len(ds) != 1 {
		t.Fatalf("rendered %d Deployments, want 1: %s", len(ds), r.kinds())
	}
	return ds[0]
}

// connector returns the connector container of the Deployment.
func (r rendered) connector(t *testing.T) corev1.Container {
	t.Helper()
	cs := r.deployment(t).Spec.Template.Spec.Containers
	if len(cs) != 1 || cs[0].Name != "gitops-connector" {
		t.Fatalf("containers = %v, want one named gitops-connector", cs)
	}
	return cs[0]
}

// environment resolves the connector container's environment as the kubelet
// does: envFrom sources in order, then env. Values from the release's
// ConfigMaps are resolved; Secret references read "secret:<name>/<key>", with
// a trailing "?" when optional; downward API references read
// "field:<path>" and "resource:<resource>/<divisor>".
func (r rendered) environment(t *testing.T) map[string]string {
	t.Helper()
	c := r.connector(t)
	env := map[string]string{}
	for _, from := range c.EnvFrom {
		if from.ConfigMapRef == nil {
			continue
		}
		cm := find[*corev1.ConfigMap](t, r, from.ConfigMapRef.Name)
		for k, v := range cm.Data {
			env[from.Prefix+k] = v
		}
	}
	for _, e := range c.Env {
		switch {
		case e.ValueFrom == nil:
			env[e.Name] = e.Value
		case e.ValueFrom.SecretKeyRef != nil:
			ref := e.ValueFrom.SecretKeyRef
			v := "secret:" + ref.Name + "/" + ref.Key
			if ref.Optional != nil && *ref.Optional {
				v += "?"
			}
			env[e.Name] = v
		case e.ValueFrom.FieldRef != nil:
			env[e.Name] = "field:" + e.ValueFrom.FieldRef.FieldPath
		case e.ValueFrom.ResourceFieldRef != nil:
			ref := e.ValueFrom.ResourceFieldRef
			env[e.Name] = "resource:" + ref.Resource + "/" + ref.Divisor.String()
		case e.ValueFrom.ConfigMapKeyRef != nil:
			ref := e.ValueFrom.ConfigMapKeyRef
			env[e.Name] = find[*corev1.ConfigMap](t, r, ref.Name).Data[ref.Key]
		default:
			t.Fatalf("env %s: unexpected source %+v", e.Name, e.ValueFrom)
		}
	}
	return env
}

// mounts maps the connector container's mount paths to volume names.
func (r rendered) mounts(t *testing.T) map[string]corev1.VolumeMount {
	t.Helper()
	out := map[string]corev1.VolumeMount{}
	for _, m := range r.connector(t).VolumeMounts {
		if _, dup := out[m.MountPath]; dup {
			t.Fatalf("two mounts at %s", m.MountPath)
		}
		out[m.MountPath] = m
	}
	return out
}

// volume returns the pod's volume with the name.
func (r rendered) volume(t *testing.T, name string) corev1.Volume {
	t.Helper()
	for _, v := range r.deployment(t).Spec.Template.Spec.Volumes {
		if v.Name == name {
			return v
		}
	}
	t.Fatalf("no volume %q in the pod", name)
	return corev1.Volume{}
}
