// Package kubesource is the config source of multi-instance mode: it watches
// GitOpsConfig resources in Kubernetes, and the Secrets they name in
// spec.secretRef, spec.repositorySecretRef, spec.orchestratorSecretRef (the
// credentials) and spec.webhookSecretRef (the config's own
// webhook secret), with informers (no polling), and writes the outcome of
// validating each config to the resource's status subresource.
//
// Both kinds of resources are read through the dynamic client, as
// unstructured objects: the typed clients and informer factories of
// client-go would link every API group of k8s.io/api into the host.
//
// Configs are built by config.FromSpec, so a GitOpsConfig resource, a
// GitOpsConfig document in a --config file and the single-instance
// environment accept the same spec and report the same field errors.
//
// RBAC the connector needs (the chart grants it):
//
//   - get, list, watch on <group> gitopsconfigs;
//   - update, patch on <group> gitopsconfigs/status;
//   - get, list, watch on core secrets, in the namespaces whose configs name
//     a Secret. Only the Secrets named by a secretRef or webhookSecretRef are
//     listed and watched (one watch per Secret, selected by metadata.name),
//     so only those are held in memory.
package kubesource

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/dynamic"
	coordinationv1 "k8s.io/client-go/kubernetes/typed/coordination/v1"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/tools/clientcmd"
	"k8s.io/client-go/util/retry"
	"k8s.io/klog/v2"

	"github.com/gitops-connector/gitops-connector/host/internal/config"
	"github.com/gitops-connector/gitops-connector/sdk"
)

// Resource names of GitOpsConfig.
const (
	// DefaultGroup is the API group the chart installs and the seed's
	// examples use (example.com/v1).
	DefaultGroup = "example.com"
	Version      = "v1"
	Resource     = "gitopsconfigs"
	// ConditionReady is the status condition the connector writes.
	ConditionReady = "Ready"
	// ConditionDelivered is False while the connector has given up work of
	// the config (independent of Ready: the config is valid, the remote
	// API is not taking its statuses or notices).
	ConditionDelivered = "Delivered"
)

// secretsGVR is the core resource of Secrets.
var secretsGVR = schema.GroupVersionResource{Version: "v1", Resource: "secrets"}

// secretSyncGrace is how long a new snapshot waits for the first read of a
// newly referenced Secret. Within it the snapshot is held back, so a config
// whose Secret is merely not read yet is not reported invalid; after it the
// config is reported invalid with the reason the Secret cannot be read
// (e.g. RBAC), until it can.
const secretSyncGrace = 10 * time.Second

// Options configure a Source.
type Options struct {
	// Kubeconfig is the kubeconfig file to use (a list separated like
	// KUBECONFIG is merged); "" means the in-cluster config (the Pod's
	// service account). The caller resolves --kubeconfig and KUBECONFIG
	// into it.
	Kubeconfig string
	// Group is the API group of GitOpsConfig (CLUSTER_DOMAIN); "" means
	// DefaultGroup.
	Group string
	// Namespaces to watch; empty means all namespaces.
	Namespaces []string
	// Getenv gives the connector's environment: the global tokens of
	// configs that name no Secret (PAT, GIT_REPOSITORY_PAT,
	// CICD_ORCHESTRATOR_PAT) and the values of azureIdentity. nil means
	// os.Getenv.
	Getenv func(string) string
	// Logger receives the source's logs and client-go's; nil means
	// slog.Default().
	Logger *slog.Logger
}

// Source watches GitOpsConfig resources. It implements config.Source and
// config.StatusReporter.
type Source struct {
	gvr        schema.GroupVersionResource
	namespaces []string
	getenv     func(string) string
	log        *slog.Logger
	dynamic    dynamic.Interface
	rest       *rest.Config
	// secretGrace is secretSyncGrace (shorter in tests).
	secretGrace time.Duration

	mu        sync.Mutex
	informers []cache.SharedIndexInformer // GitOpsConfig informers, set by Run
}

// New connects to the API server described by opts. It does not contact the
// server; Run does. New routes client-go's log output (klog) to opts.Logger,
// so the process logs in one format.
func New(opts Options) (*Source, error) {
	log := opts.Logger
	if log == nil {
		log = slog.Default()
	}
	var cfg *rest.Config
	var err error
	if opts.Kubeconfig == "" {
		cfg, err = rest.InClusterConfig()
	} else {
		rules := &clientcmd.ClientConfigLoadingRules{Precedence: filepath.SplitList(opts.Kubeconfig)}
		cfg, err = clientcmd.NewNonInteractiveDeferredLoadingClientConfig(rules, &clientcmd.ConfigOverrides{}).ClientConfig()
	}
	if err != nil {
		return nil, fmt.Errorf("kubernetes client config: %w", err)
	}
	cfg = rest.CopyConfig(cfg)
	cfg.UserAgent = "gitops-connector"
	dyn, err := dynamic.NewForConfig(cfg)
	if err != nil {
		return nil, fmt.Errorf("kubernetes dynamic client: %w", err)
	}
	klog.SetSlogLogger(log.With("component", "client-go"))
	s := newSource(opts, log, dyn)
	s.rest = cfg
	return s, nil
}

// Leases returns a client of the source's API server's Leases, for the
// leader election. It is the coordination/v1 client alone: the whole typed
// clientset would link every API group into the host and more than double
// the binary, whose mapped pages every replica's working set carries.
func (s *Source) Leases() (coordinationv1.CoordinationV1Interface, error) {
	if s.rest == nil {
		return nil, errors.New("no Kubernetes client configuration")
	}
	c, err := coordinationv1.NewForConfig(s.rest)
	if err != nil {
		return nil, fmt.Errorf("kubernetes client: %w", err)
	}
	return c, nil
}

func newSource(opts Options, log *slog.Logger, dyn dynamic.Interface) *Source {
	group := strings.TrimSpace(opts.Group)
	if group == "" {
		group = DefaultGroup
	}
	var namespaces []string
	for _, ns := range opts.Namespaces {
		if ns = strings.TrimSpace(ns); ns != "" && !slices.Contains(namespaces, ns) {
			namespaces = append(namespaces, ns)
		}
	}
	getenv := opts.Getenv
	if getenv == nil {
		getenv = os.Getenv
	}
	return &Source{
		gvr:         schema.GroupVersionResource{Group: group, Version: Version, Resource: Resource},
		namespaces:  namespaces,
		getenv:      getenv,
		log:         log,
		dynamic:     dyn,
		secretGrace: secretSyncGrace,
	}
}

// Run watches GitOpsConfig resources (and the Secrets they name) until ctx
// ends. It publishes the first snapshot once the caches are in sync, then a
// new one after every change that alters a config: a GitOpsConfig created,
// updated or deleted, a referenced Secret's token changed. Changes that do
// not alter any config (a status written, a resync) publish nothing.
//
// While the GitOpsConfig resource cannot be listed (the CRD is missing, RBAC
// forbids it) Run logs why and keeps retrying: nothing is published, so the
// host stays not ready.
func (s *Source) Run(ctx context.Context, publish func(config.Snapshot)) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	changed := make(chan struct{}, 1)
	signal := func() {
		select {
		case changed <- struct{}{}:
		default:
		}
	}
	namespaces := s.namespaces
	if len(namespaces) == 0 {
		namespaces = []string{metav1.NamespaceAll}
	}
	infs := make([]cache.SharedIndexInformer, 0, len(namespaces))
	synced := make([]cache.InformerSynced, 0, len(namespaces))
	for _, ns := range namespaces {
		inf := s.newInformer(s.gvr, ns, "")
		err := s.prepare(inf, signal, func(err error) {
			s.log.Warn("cannot watch GitOpsConfig; retrying", "namespace", namespaceName(ns), "error", err, "hint", watchHint(err))
		})
		if err != nil {
			return fmt.Errorf("watch GitOpsConfig resources: %w", err)
		}
		infs = append(infs, inf)
		synced = append(synced, inf.HasSynced)
	}
	s.mu.Lock()
	s.informers = infs
	s.mu.Unlock()
	for _, inf := range infs {
		go inf.RunWithContext(ctx)
	}
	s.log.Info("watching GitOpsConfig resources", "resource", s.gvr.String(), "namespaces", namespaceList(s.namespaces))
	if !cache.WaitForCacheSync(ctx.Done(), synced...) {
		return nil
	}

	secrets := &secretWatchers{source: s, signal: signal, byKey: map[string]*secretWatch{}}
	defer secrets.stopAll()
	var last *config.Snapshot
	signal()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-changed:
		}
		objs := s.objects()
		secrets.reconcile(ctx, referencedSecrets(objs))
		snap, complete := s.snapshot(objs, secrets)
		if !complete || (last != nil && sameSnapshot(*last, snap)) {
			continue
		}
		publish(snap)
		last = &snap
		// Logged after publish returns: the host has taken the snapshot.
		s.log.Info("GitOpsConfig resources loaded", "configs", len(snap.Configs), "invalid", len(snap.Invalid))
	}
}

// newInformer returns an informer (not started) of the resources gvr in
// namespace (metav1.NamespaceAll for all), held as unstructured objects. A
// fieldSelector other than "" limits what it lists and watches.
func (s *Source) newInformer(gvr schema.GroupVersionResource, namespace, fieldSelector string) cache.SharedIndexInformer {
	client := s.dynamic.Resource(gvr).Namespace(namespace)
	lw := &cache.ListWatch{
		ListWithContextFunc: func(ctx context.Context, opts metav1.ListOptions) (runtime.Object, error) {
			if fieldSelector != "" {
				opts.FieldSelector = fieldSelector
			}
			return client.List(ctx, opts)
		},
		WatchFuncWithContext: func(ctx context.Context, opts metav1.ListOptions) (watch.Interface, error) {
			if fieldSelector != "" {
				opts.FieldSelector = fieldSelector
			}
			return client.Watch(ctx, opts)
		},
	}
	// The wrapper tells the reflector whether the client can serve watch
	// lists (streamed initial lists): the test fakes cannot.
	return cache.NewSharedIndexInformerWithOptions(cache.ToListWatcherWithWatchListSemantics(lw, s.dynamic),
		&unstructured.Unstructured{}, cache.SharedIndexInformerOptions{ObjectDescription: gvr.String()})
}

// prepare sets an informer (not started) up to keep no managed fields in
// memory, to call changed on every add, update and delete, and to tell
// failed each list/watch failure that is not routine.
func (s *Source) prepare(inf cache.SharedIndexInformer, changed func(), failed func(error)) error {
	if err := inf.SetTransform(stripManagedFields); err != nil {
		return err
	}
	err := inf.SetWatchErrorHandlerWithContext(func(ctx context.Context, _ *cache.Reflector, err error) {
		if ctx.Err() == nil && !routineWatchEnd(err) {
			failed(err)
		}
	})
	if err != nil {
		return err
	}
	_, err = inf.AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    func(any) { changed() },
		UpdateFunc: func(any, any) { changed() },
		DeleteFunc: func(any) { changed() },
	})
	return err
}

// routineWatchEnd reports whether a watch ended the way watches do in
// normal operation (closed, or its resource version expired); the informer
// resumes without a word.
func routineWatchEnd(err error) bool {
	return errors.Is(err, context.Canceled) || errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) ||
		apierrors.IsResourceExpired(err) || apierrors.IsGone(err)
}

func watchHint(err error) string {
	switch {
	case apierrors.IsForbidden(err):
		return "grant the connector's service account get, list and watch (see the chart's RBAC)"
	case apierrors.IsNotFound(err):
		return "is the GitOpsConfig CRD installed, with the group CLUSTER_DOMAIN names?"
	}
	return ""
}

func stripManagedFields(obj any) (any, error) {
	if m, err := meta.Accessor(obj); err == nil {
		m.SetManagedFields(nil)
	}
	return obj, nil
}

// objects returns the GitOpsConfig resources in the caches, sorted by key.
func (s *Source) objects() []*unstructured.Unstructured {
	s.mu.Lock()
	infs := s.informers
	s.mu.Unlock()
	var out []*unstructured.Unstructured
	for _, inf := range infs {
		for _, o := range inf.GetStore().List() {
			if u, ok := o.(*unstructured.Unstructured); ok {
				out = append(out, u)
			}
		}
	}
	slices.SortFunc(out, func(a, b *unstructured.Unstructured) int {
		return strings.Compare(a.GetNamespace()+"/"+a.GetName(), b.GetNamespace()+"/"+b.GetName())
	})
	return out
}

// snapshot builds the configs of objs. complete is false while a Secret a
// config names is being read for the first time (within secretSyncGrace).
func (s *Source) snapshot(objs []*unstructured.Unstructured, secrets *secretWatchers) (snap config.Snapshot, complete bool) {
	complete = true
	for _, o := range objs {
		key := o.GetNamespace() + "/" + o.GetName()
		spec, ok := o.Object["spec"].(map[string]any)
		if !ok {
			snap.Invalid = append(snap.Invalid, config.Invalid{Key: key, Generation: o.GetGeneration(),
				Errors: []sdk.FieldError{{Field: "spec", Message: "is required and must be an object"}}})
			continue
		}
		c, errs := config.FromSpec(o.GetName(), o.GetNamespace(), spec)
		c.Generation = o.GetGeneration()
		if len(errs) == 0 {
			var ok bool
			if errs, ok = s.resolveSecrets(&c, o.GetNamespace(), secrets); !ok {
				complete = false
			}
		}
		if len(errs) > 0 {
			snap.Invalid = append(snap.Invalid, config.Invalid{Key: key, Generation: c.Generation, Errors: errs})
			continue
		}
		snap.Configs = append(snap.Configs, c)
	}
	return snap, complete
}

// resolveSecrets reads the credentials and the webhook secret of c from the
// Secrets it names, and the Azure identities from the environment. ok is
// false while a Secret is being read for the first time.
func (s *Source) resolveSecrets(c *config.Config, namespace string, secrets *secretWatchers) (errs []sdk.FieldError, ok bool) {
	ok = true
	cs := &c.Credentials
	cs.SetGlobalTokens(s.getenv)
	for _, r := range []struct {
		field string
		src   *config.CredentialSource
	}{
		{config.FieldSecretRef, &cs.Shared},
		{config.FieldRepositorySecretRef, &cs.Repository},
		{config.FieldOrchestratorSecretRef, &cs.Orchestrator},
	} {
		if r.src.SecretRef == nil {
			continue
		}
		if ferrs := checkSecretRef(r.field, *r.src.SecretRef); len(ferrs) > 0 {
			errs = append(errs, ferrs...)
			continue
		}
		cred, pending, err := secrets.credential(namespace, *r.src.SecretRef)
		switch {
		case pending:
			ok = false
		case err != nil:
			errs = append(errs, sdk.FieldError{Field: r.field, Message: err.Error()})
		default:
			r.src.Credential = cred
		}
	}
	errs = append(errs, cs.ResolveAzureIdentities(s.getenv)...)
	if ref := c.WebhookSecretRef; ref != nil {
		if ferrs := checkSecretRef(config.FieldWebhookSecretRef, *ref); len(ferrs) > 0 {
			errs = append(errs, ferrs...)
		} else {
			value, pending, err := secrets.token(namespace, *ref)
			switch {
			case pending:
				ok = false
			case err != nil:
				errs = append(errs, sdk.FieldError{Field: config.FieldWebhookSecretRef, Message: err.Error()})
			default:
				c.WebhookSecret = value
			}
		}
	}
	return errs, ok
}

// checkSecretRef reports a Secret name or key (of the spec field) Kubernetes
// would not accept.
func checkSecretRef(field string, ref config.SecretRef) []sdk.FieldError {
	var errs []sdk.FieldError
	for _, msg := range validation.IsDNS1123Subdomain(ref.Name) {
		errs = append(errs, sdk.FieldError{Field: field + ".name", Message: msg})
	}
	for _, msg := range validation.IsConfigMapKey(ref.Key) {
		errs = append(errs, sdk.FieldError{Field: field + ".key", Message: msg})
	}
	return errs
}

// objects' credential Secret references and spec.webhookSecretRef name.
// objects' spec.secretRef and spec.webhookSecretRef name.
func referencedSecrets(objs []*unstructured.Unstructured) map[string]bool {
	refs := map[string]bool{}
	for _, o := range objs {
		for _, field := range []string{config.FieldSecretRef, config.FieldRepositorySecretRef, config.FieldOrchestratorSecretRef, config.FieldWebhookSecretRef} {
			name, _, _ := unstructured.NestedString(o.Object, "spec", field, "name")
			if name = strings.TrimSpace(name); name != "" && len(validation.IsDNS1123Subdomain(name)) == 0 {
				refs[o.GetNamespace()+"/"+name] = true
			}
		}
	}
	return refs
}

// sameSnapshot reports whether publishing b after a would change nothing.
func sameSnapshot(a, b config.Snapshot) bool {
	return slices.EqualFunc(a.Configs, b.Configs, func(x, y config.Config) bool {
		return x.Key() == y.Key() && x.Equal(y)
	}) && slices.EqualFunc(a.Invalid, b.Invalid, func(x, y config.Invalid) bool {
		return x.Key == y.Key && x.Generation == y.Generation && slices.Equal(x.Errors, y.Errors)
	})
}

// ReportStatus writes the validation outcome of the GitOpsConfig at key
// ("namespace/name") to its status: observedGeneration and the Ready
// condition (metav1.Condition semantics: lastTransitionTime changes only
// when the status does). It writes nothing when the status already says
// so, or already describes a newer generation, or the resource is gone.
// A conflicting concurrent write is retried.
func (s *Source) ReportStatus(ctx context.Context, key string, generation int64, ready bool, reason, message string) error {
	cond := metav1.Condition{
		Type:               ConditionReady,
		Status:             metav1.ConditionFalse,
		ObservedGeneration: generation,
		Reason:             conditionReason(reason, ready),
		Message:            truncate(message, 32768),
	}
	if ready {
		cond.Status = metav1.ConditionTrue
	}
	return s.writeCondition(ctx, key, generation, cond)
}

// ReportGiveUp implements config.DeliveryReporter: it sets the Delivered
// condition to False with the reason and message of work given up, leaving
// Ready and observedGeneration as they are.
func (s *Source) ReportGiveUp(ctx context.Context, key, reason, message string) error {
	cond := metav1.Condition{
		Type:    ConditionDelivered,
		Status:  metav1.ConditionFalse,
		Reason:  conditionReason(reason, false),
		Message: truncate(message, 32768),
	}
	return s.writeCondition(ctx, key, -1, cond)
}

// writeCondition sets one condition in the status subresource. A generation
// of -1 keeps the observedGeneration the status has.
func (s *Source) writeCondition(ctx context.Context, key string, generation int64, cond metav1.Condition) error {
	namespace, name, ok := strings.Cut(key, "/")
	if !ok || namespace == "" || name == "" {
		return fmt.Errorf("report status: key %q is not namespace/name", key)
	}
	client := s.dynamic.Resource(s.gvr).Namespace(namespace)
	fromCache := true
	err := retry.RetryOnConflict(retry.DefaultRetry, func() error {
		var obj *unstructured.Unstructured
		if fromCache {
			obj = s.cached(key)
			fromCache = false
		}
		if obj == nil {
			var err error
			if obj, err = client.Get(ctx, name, metav1.GetOptions{}); err != nil {
				return err
			}
		}
		obj = obj.DeepCopy()
		gen := generation
		if gen < 0 {
			gen, _, _ = unstructured.NestedInt64(obj.Object, "status", "observedGeneration")
			cond.ObservedGeneration = gen
		}
		if !setStatus(obj, gen, cond) {
			return nil
		}
		_, err := client.UpdateStatus(ctx, obj, metav1.UpdateOptions{FieldManager: "gitops-connector"})
		return err
	})
	if apierrors.IsNotFound(err) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("write status of GitOpsConfig %s: %w", key, err)
	}
	return nil
}

// cached returns the GitOpsConfig at key from the informers' caches, or nil.
func (s *Source) cached(key string) *unstructured.Unstructured {
	s.mu.Lock()
	infs := s.informers
	s.mu.Unlock()
	for _, inf := range infs {
		if o, ok, err := inf.GetStore().GetByKey(key); err == nil && ok {
			if u, ok := o.(*unstructured.Unstructured); ok {
				return u
			}
		}
	}
	return nil
}

// setStatus puts observedGeneration and cond into obj's status. It reports
// false when that changes nothing, or when the status already describes a
// newer generation (a stale report must not overwrite a newer one).
func setStatus(obj *unstructured.Unstructured, generation int64, cond metav1.Condition) bool {
	status, _, _ := unstructured.NestedMap(obj.Object, "status")
	if status == nil {
		status = map[string]any{}
	}
	observed, _, _ := unstructured.NestedInt64(status, "observedGeneration")
	if observed > generation {
		return false
	}
	// Conditions someone else wrote unreadably are dropped.
	var conds []metav1.Condition
	raw, _ := status["conditions"].([]any)
	for _, r := range raw {
		m, ok := r.(map[string]any)
		var c metav1.Condition
		if ok && runtime.DefaultUnstructuredConverter.FromUnstructured(m, &c) == nil {
			conds = append(conds, c)
		}
	}
	before := slices.Clone(conds)
	cond.LastTransitionTime = metav1.NewTime(time.Now().UTC().Truncate(time.Second))
	meta.SetStatusCondition(&conds, cond)
	if observed == generation && slices.EqualFunc(before, conds, sameCondition) {
		return false
	}
	list := make([]any, 0, len(conds))
	for _, c := range conds {
		u, err := runtime.DefaultUnstructuredConverter.ToUnstructured(&c)
		if err != nil {
			continue
		}
		list = append(list, u)
	}
	status["conditions"] = list
	status["observedGeneration"] = generation
	obj.Object["status"] = status
	return true
}

func sameCondition(a, b metav1.Condition) bool {
	return a.Type == b.Type && a.Status == b.Status && a.Reason == b.Reason && a.Message == b.Message &&
		a.ObservedGeneration == b.ObservedGeneration && a.LastTransitionTime.Equal(&b.LastTransitionTime)
}

// conditionReason returns reason if it is a valid condition reason
// (CamelCase), else a generic one.
func conditionReason(reason string, ready bool) string {
	valid := reason != "" && len(reason) <= 1024
	for i, r := range reason {
		letter := r >= 'A' && r <= 'Z' || r >= 'a' && r <= 'z'
		if !letter && (i == 0 || !(r >= '0' && r <= '9' || r == '_' || r == ',' || r == ':')) {
			valid = false
		}
	}
	switch {
	case valid:
		return reason
	case ready:
		return "Valid"
	}
	return "Invalid"
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n-3] + "..."
}

func namespaceList(ns []string) string {
	if len(ns) == 0 {
		return "all"
	}
	return strings.Join(ns, ",")
}

func namespaceName(ns string) string {
	if ns == "" {
		return "all"
	}
	return ns
}

// secretWatchers watches each referenced Secret, selected by name, and
// stops watching Secrets no config names any more.
type secretWatchers struct {
	source *Source
	signal func()
	byKey  map[string]*secretWatch // "namespace/name"
}

type secretWatch struct {
	inf    cache.SharedIndexInformer
	cancel context.CancelFunc

	mu      sync.Mutex
	gaveUp  bool  // secretSyncGrace passed before the first read
	lastErr error // the last list/watch error
}

// reconcile starts watching the Secrets in want not watched yet and stops
// watching those not in want.
func (w *secretWatchers) reconcile(ctx context.Context, want map[string]bool) {
	for key, sw := range w.byKey {
		if !want[key] {
			sw.cancel()
			delete(w.byKey, key)
		}
	}
	for key := range want {
		if _, ok := w.byKey[key]; ok {
			continue
		}
		namespace, name, _ := strings.Cut(key, "/")
		sw, err := w.start(ctx, namespace, name)
		if err != nil {
			w.source.log.Error("cannot watch Secret", "secret", key, "error", err)
			continue
		}
		w.byKey[key] = sw
	}
}

func (w *secretWatchers) start(ctx context.Context, namespace, name string) (*secretWatch, error) {
	selector := fields.OneTermEqualSelector("metadata.name", name).String()
	inf := w.source.newInformer(secretsGVR, namespace, selector)
	ctx, cancel := context.WithCancel(ctx)
	sw := &secretWatch{inf: inf, cancel: cancel}
	err := w.source.prepare(inf, w.signal, func(err error) {
		sw.mu.Lock()
		sw.lastErr = err
		sw.mu.Unlock()
		w.source.log.Warn("cannot watch Secret; retrying", "secret", namespace+"/"+name, "error", err, "hint", watchHint(err))
	})
	if err != nil {
		cancel()
		return nil, err
	}
	go inf.RunWithContext(ctx)
	go func() {
		grace := time.NewTimer(w.source.secretGrace)
		defer grace.Stop()
		synced := make(chan struct{})
		go func() {
			if cache.WaitForCacheSync(ctx.Done(), inf.HasSynced) {
				close(synced)
			}
		}()
		select {
		case <-synced:
			w.signal()
			return
		case <-grace.C:
			sw.mu.Lock()
			sw.gaveUp = true
			sw.mu.Unlock()
			w.signal()
		case <-ctx.Done():
			return
		}
		select {
		case <-synced:
			w.signal()
		case <-ctx.Done():
		}
	}()
	return sw, nil
}

// token returns the value ref names in namespace (a token or a webhook
// secret), without surrounding whitespace. pending is true while the Secret
// is being read for the first time.
func (w *secretWatchers) token(namespace string, ref config.SecretRef) (token string, pending bool, err error) {
	get, pending, err := w.secret(namespace, ref.Name)
	if pending || err != nil {
		return "", pending, err
	}
	value, ok, err := get(ref.Key)
	if err != nil {
		return "", false, err
	}
	if !ok {
		return "", false, fmt.Errorf("the Secret %q has no key %q", namespace+"/"+ref.Name, ref.Key)
	}
	if token = strings.TrimSpace(value); token == "" {
		return "", false, fmt.Errorf("key %q of the Secret %q is empty", ref.Key, namespace+"/"+ref.Name)
	}
	return token, false, nil
}

// credential reads the credential the Secret of ref holds
// (config.CredentialFromSecret).
func (w *secretWatchers) credential(namespace string, ref config.SecretRef) (cred sdk.Credential, pending bool, err error) {
	get, pending, err := w.secret(namespace, ref.Name)
	if pending || err != nil {
		return sdk.Credential{}, pending, err
	}
	var badKey error
	ref.Name = namespace + "/" + ref.Name // errors name the Secret by its key
	cred, err = config.CredentialFromSecret(ref, func(k string) (string, bool) {
		v, ok, err := get(k)
		if err != nil && badKey == nil {
			badKey = err
		}
		return v, ok
	})
	if badKey != nil {
		return sdk.Credential{}, false, badKey
	}
	return cred, false, err
}

// secret returns a lookup of the keys of a watched Secret; pending while
// its first read is within secretSyncGrace.
func (w *secretWatchers) secret(namespace, name string) (get func(key string) (string, bool, error), pending bool, err error) {
	key := namespace + "/" + name
	sw, ok := w.byKey[key]
	if !ok {
		return nil, false, fmt.Errorf("cannot watch the Secret %q", key)
	}
	if !sw.inf.HasSynced() {
		sw.mu.Lock()
		gaveUp, lastErr := sw.gaveUp, sw.lastErr
		sw.mu.Unlock()
		if !gaveUp {
			return nil, true, nil
		}
		if lastErr != nil {
			return nil, false, fmt.Errorf("cannot read the Secret %q: %v", key, lastErr)
		}
		return nil, false, fmt.Errorf("cannot read the Secret %q yet", key)
	}
	obj, exists, err := sw.inf.GetStore().GetByKey(key)
	if err != nil || !exists {
		return nil, false, fmt.Errorf("the Secret %q does not exist", key)
	}
	secret, ok := obj.(*unstructured.Unstructured)
	if !ok {
		return nil, false, fmt.Errorf("the Secret %q does not exist", key)
	}
	return func(k string) (string, bool, error) {
		value, ok, err := secretData(secret, k)
		if err != nil {
			return "", ok, fmt.Errorf("key %q of the Secret %q: %w", k, key, err)
		}
		return string(value), ok, nil
	}, false, nil
}

// secretData returns the value of key in the Secret's data (base64 in the
// API's JSON, as for any []byte field; null reads as empty). ok is false
// when the Secret has no such key.
func secretData(secret *unstructured.Unstructured, key string) (value []byte, ok bool, err error) {
	data, _ := secret.Object["data"].(map[string]any)
	raw, ok := data[key]
	if !ok {
		return nil, false, nil
	}
	if raw == nil {
		return nil, true, nil
	}
	encoded, isString := raw.(string)
	if !isString {
		return nil, true, fmt.Errorf("is not base64 data but %T", raw)
	}
	value, err = base64.StdEncoding.DecodeString(encoded)
	if err != nil {
		return nil, true, fmt.Errorf("is not base64 data: %w", err)
	}
	return value, true, nil
}

func (w *secretWatchers) stopAll() {
	for key, sw := range w.byKey {
		sw.cancel()
		delete(w.byKey, key)
	}
}
