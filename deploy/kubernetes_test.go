package deploy_test

import (
	"bytes"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"sigs.k8s.io/yaml"

	"github.com/inferbench/inferbench/internal/bench"
	"github.com/inferbench/inferbench/internal/config"
	"github.com/inferbench/inferbench/internal/promexport"
	"github.com/inferbench/inferbench/internal/zcurve"
)

// kustomization is the part of kustomize's Kustomization this base uses;
// decoding it strictly rejects any other field.
type kustomization struct {
	APIVersion string `json:"apiVersion"`
	Kind       string `json:"kind"`
	Namespace  string `json:"namespace,omitempty"`
	Labels     []struct {
		Pairs            map[string]string `json:"pairs"`
		IncludeSelectors bool              `json:"includeSelectors,omitempty"`
	} `json:"labels,omitempty"`
	Resources []string `json:"resources"`
	Images    []struct {
		Name    string `json:"name"`
		NewName string `json:"newName,omitempty"`
		NewTag  string `json:"newTag,omitempty"`
	} `json:"images,omitempty"`
}

// manifests is the decoded base.
type manifests struct {
	kust        kustomization
	configMaps  map[string]*corev1.ConfigMap
	secrets     map[string]*corev1.Secret
	services    map[string]*corev1.Service
	pvcs        map[string]*corev1.PersistentVolumeClaim
	policies    []*networkingv1.NetworkPolicy
	coordinator *batchv1.Job
	worker      *batchv1.Job
}

const kustomizeDir = "kubernetes"

// readBase reads every file of the base directory.
func readBase(t *testing.T) map[string][]byte {
	t.Helper()
	entries, err := os.ReadDir(kustomizeDir)
	if err != nil {
		t.Fatal(err)
	}
	files := map[string][]byte{}
	for _, e := range entries {
		if e.IsDir() || !strings.HasSuffix(e.Name(), ".yaml") {
			continue
		}
		b, err := os.ReadFile(filepath.Join(kustomizeDir, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		files[e.Name()] = b
	}
	return files
}

// decode decodes the base strictly (unknown or duplicate fields are
// errors) into the k8s.io/api types.
func decode(files map[string][]byte) (*manifests, error) {
	m := &manifests{
		configMaps: map[string]*corev1.ConfigMap{}, secrets: map[string]*corev1.Secret{},
		services: map[string]*corev1.Service{}, pvcs: map[string]*corev1.PersistentVolumeClaim{},
	}
	k, ok := files["kustomization.yaml"]
	if !ok {
		return nil, errors.New("no kustomization.yaml")
	}
	if err := yaml.UnmarshalStrict(k, &m.kust); err != nil {
		return nil, fmt.Errorf("kustomization.yaml: %w", err)
	}
	if m.kust.APIVersion != "kustomize.config.k8s.io/v1beta1" || m.kust.Kind != "Kustomization" {
		return nil, fmt.Errorf("kustomization.yaml: %s %s", m.kust.APIVersion, m.kust.Kind)
	}
	for name := range files {
		if name != "kustomization.yaml" && !slices.Contains(m.kust.Resources, name) {
			return nil, fmt.Errorf("%s is not listed in kustomization.yaml resources", name)
		}
	}
	for _, res := range m.kust.Resources {
		b, ok := files[res]
		if !ok {
			return nil, fmt.Errorf("kustomization.yaml lists %s, which does not exist", res)
		}
		if regexp.MustCompile(`(?m)^---`).Match(b) {
			return nil, fmt.Errorf("%s: one object per file, please", res)
		}
		var tm struct {
			APIVersion string `json:"apiVersion"`
			Kind       string `json:"kind"`
		}
		if err := yaml.Unmarshal(b, &tm); err != nil {
			return nil, fmt.Errorf("%s: %w", res, err)
		}
		var obj any
		switch tm.APIVersion + " " + tm.Kind {
		case "v1 ConfigMap":
			o := &corev1.ConfigMap{}
			obj = o
			defer func() { m.configMaps[o.Name] = o }()
		case "v1 Secret":
			o := &corev1.Secret{}
			obj = o
			defer func() { m.secrets[o.Name] = o }()
		case "v1 Service":
			o := &corev1.Service{}
			obj = o
			defer func() { m.services[o.Name] = o }()
		case "v1 PersistentVolumeClaim":
			o := &corev1.PersistentVolumeClaim{}
			obj = o
			defer func() { m.pvcs[o.Name] = o }()
		case "networking.k8s.io/v1 NetworkPolicy":
			o := &networkingv1.NetworkPolicy{}
			obj = o
			defer func() { m.policies = append(m.policies, o) }()
		case "batch/v1 Job":
			o := &batchv1.Job{}
			obj = o
			defer func() {
				if len(o.Spec.Template.Spec.Containers) == 0 {
					return
				}
				switch args := o.Spec.Template.Spec.Containers[0].Args; {
				case len(args) > 0 && args[0] == "benchmark":
					m.coordinator = o
				case len(args) > 0 && args[0] == "worker":
					m.worker = o
				}
			}()
		default:
			return nil, fmt.Errorf("%s: unexpected %s %s", res, tm.APIVersion, tm.Kind)
		}
		if err := yaml.UnmarshalStrict(b, obj); err != nil {
			return nil, fmt.Errorf("%s: %w", res, err)
		}
	}
	return m, nil
}

// flags reads --name=value and --name value arguments.
func flags(args []string) map[string]string {
	f := map[string]string{}
	for i := 0; i < len(args); i++ {
		a, ok := strings.CutPrefix(args[i], "--")
		if !ok {
			continue
		}
		if k, v, ok := strings.Cut(a, "="); ok {
			f[k] = v
		} else if i+1 < len(args) && !strings.HasPrefix(args[i+1], "--") {
			f[a] = args[i+1]
			i++
		} else {
			f[a] = ""
		}
	}
	return f
}

// hostPort splits tcp://HOST:PORT.
func hostPort(ep string) (string, int, error) {
	rest, ok := strings.CutPrefix(ep, "tcp://")
	if !ok {
		return "", 0, fmt.Errorf("%q is not tcp://HOST:PORT", ep)
	}
	h, p, err := net.SplitHostPort(rest)
	if err != nil {
		return "", 0, fmt.Errorf("%q: %w", ep, err)
	}
	n, err := strconv.Atoi(p)
	if err != nil {
		return "", 0, fmt.Errorf("%q: port %q", ep, p)
	}
	return h, n, nil
}

// mountOf returns the volume mounted at the directory holding path (or at
// path itself).
func mountOf(pod *corev1.PodSpec, c *corev1.Container, path string) (*corev1.Volume, string) {
	for _, vm := range c.VolumeMounts {
		if path == vm.MountPath || strings.HasPrefix(path, strings.TrimSuffix(vm.MountPath, "/")+"/") {
			for i := range pod.Volumes {
				if pod.Volumes[i].Name == vm.Name {
					return &pod.Volumes[i], strings.TrimPrefix(strings.TrimPrefix(path, vm.MountPath), "/")
				}
			}
		}
	}
	return nil, ""
}

var varRef = regexp.MustCompile(`\$\(([A-Za-z_][A-Za-z0-9_]*)\)`)

// check returns every broken cross-reference of the base.
func check(m *manifests) []error {
	var errs []error
	bad := func(format string, a ...any) { errs = append(errs, fmt.Errorf(format, a...)) }
	if m.coordinator == nil || m.worker == nil {
		return []error{errors.New("want a coordinator Job (args: benchmark ...) and a worker Job (args: worker ...)")}
	}
	cPod, wPod := &m.coordinator.Spec.Template.Spec, &m.worker.Spec.Template.Spec
	cc, wc := &cPod.Containers[0], &wPod.Containers[0]
	cf, wf := flags(cc.Args), flags(wc.Args)

	// Fleet size = worker parallelism = completions, Indexed.
	size, err := strconv.Atoi(cf["fleet-size"])
	if err != nil || size < 1 {
		bad("coordinator --fleet-size %q: want a positive number", cf["fleet-size"])
	}
	w := m.worker.Spec
	if w.Parallelism == nil || int(*w.Parallelism) != size {
		bad("worker Job parallelism %v != coordinator --fleet-size %d", deref(w.Parallelism), size)
	}
	if w.Completions == nil || int(*w.Completions) != size {
		bad("worker Job completions %v != coordinator --fleet-size %d", deref(w.Completions), size)
	}
	if w.CompletionMode == nil || *w.CompletionMode != batchv1.IndexedCompletion {
		bad("worker Job: completionMode is not Indexed")
	}
	if _, ok := wf["once"]; !ok {
		bad("worker: without --once a worker never exits and its Job never completes")
	}
	// Cores of its own (static CPU manager): the Guaranteed class with
	// whole CPUs.
	req, lim := wc.Resources.Requests, wc.Resources.Limits
	if cpu := lim.Cpu(); cpu.IsZero() || cpu.MilliValue()%1000 != 0 || !cpu.Equal(*req.Cpu()) || !lim.Memory().Equal(*req.Memory()) || lim.Memory().IsZero() {
		bad("worker: resources %v / limits %v: want whole CPUs, limits = requests (Guaranteed class)", req, lim)
	}

	// The coordinator listens on a port its Service targets.
	_, listenPort, err := hostPort(cf["fleet-listen"])
	if err != nil {
		bad("coordinator --fleet-listen: %v", err)
	}
	if len(m.services) != 1 {
		bad("want one Service, have %d", len(m.services))
	}
	var svc *corev1.Service
	for _, s := range m.services {
		svc = s
	}
	svcPort := -1
	if svc != nil {
		labels := m.coordinator.Spec.Template.Labels
		for k, v := range svc.Spec.Selector {
			if labels[k] != v {
				bad("Service %s selects %s=%s, which the coordinator pod lacks", svc.Name, k, v)
			}
		}
		if selects(svc.Spec.Selector, m.worker.Spec.Template.Labels) {
			bad("Service %s selects the worker pods too", svc.Name)
		}
		for _, p := range svc.Spec.Ports {
			if targetPort(p.TargetPort, p.Port, cc) == listenPort {
				svcPort = int(p.Port)
			}
		}
		if svcPort < 0 {
			bad("Service %s has no port whose targetPort is the coordinator's --fleet-listen port %d", svc.Name, listenPort)
		}
		if !slices.ContainsFunc(cc.Ports, func(p corev1.ContainerPort) bool { return int(p.ContainerPort) == listenPort }) {
			bad("coordinator container does not declare port %d", listenPort)
		}

		// Workers dial tcp://<service>[.<namespace>[.svc[.<domain>]]]:<port>.
		host, port, err := hostPort(wf["coordinator"])
		switch {
		case err != nil:
			bad("worker --coordinator: %v", err)
		default:
			labels := strings.Split(host, ".")
			if labels[0] != svc.Name {
				bad("worker --coordinator host %s is not the Service %s", host, svc.Name)
			}
			if len(labels) >= 3 && labels[2] != "svc" {
				bad("worker --coordinator host %s: want <service>.<namespace>.svc[.<cluster domain>]", host)
			}
			if len(labels) >= 2 && m.kust.Namespace != "" && labels[1] != m.kust.Namespace && !varRef.MatchString(labels[1]) {
				bad("worker --coordinator namespace %s != kustomization namespace %s", labels[1], m.kust.Namespace)
			}
			if port != svcPort {
				bad("worker --coordinator port %d != Service %s port %d", port, svc.Name, svcPort)
			}
			if !zcurve.NeedsCurve(wf["coordinator"]) {
				bad("worker --coordinator %s is loopback: the fleet would run without CURVE", wf["coordinator"])
			}
		}
	}

	metricsPort := checkMetrics(m, svc, bad)

	// A NetworkPolicy, if any, admits the workers to the fleet port and
	// nobody else, and admits scrapes to the metrics port.
	for _, np := range m.policies {
		if !selects(np.Spec.PodSelector.MatchLabels, m.coordinator.Spec.Template.Labels) {
			continue
		}
		admitted, scraped := false, false
		for _, in := range np.Spec.Ingress {
			fromWorkers, onlyWorkers := len(in.From) == 0, len(in.From) > 0
			for _, f := range in.From {
				w := f.PodSelector != nil && f.NamespaceSelector == nil && f.IPBlock == nil &&
					selects(f.PodSelector.MatchLabels, m.worker.Spec.Template.Labels) && len(f.PodSelector.MatchExpressions) == 0
				fromWorkers = fromWorkers || w
				onlyWorkers = onlyWorkers && w
			}
			onPort, onMetrics := len(in.Ports) == 0, len(in.Ports) == 0
			for _, p := range in.Ports {
				if p.Port == nil {
					onPort, onMetrics = true, true
					continue
				}
				onPort = onPort || targetPort(*p.Port, 0, cc) == listenPort
				onMetrics = onMetrics || targetPort(*p.Port, 0, cc) == metricsPort
			}
			admitted = admitted || (fromWorkers && onPort)
			scraped = scraped || onMetrics
			if onPort && !onlyWorkers {
				bad("NetworkPolicy %s admits more than the worker pods to the coordinator's fleet port %d", np.Name, listenPort)
			}
		}
		if !admitted {
			bad("NetworkPolicy %s does not admit the worker pods to the coordinator's port %d", np.Name, listenPort)
		}
		if metricsPort > 0 && !scraped {
			bad("NetworkPolicy %s does not admit scrapes to the coordinator's metrics port %d", np.Name, metricsPort)
		}
	}

	// Keys: the coordinator's --fleet-keys holds key.secret, key.public and
	// allowed/*.public; a worker's holds key.secret, key.public and
	// coordinator.public, all from an existing Secret's keys.
	for _, side := range []struct {
		who  string
		pod  *corev1.PodSpec
		c    *corev1.Container
		dir  string
		want []string
	}{
		{"coordinator", cPod, cc, cf["fleet-keys"], []string{zcurve.SecretFile, zcurve.PublicFile, zcurve.AllowedDir + "/*" + zcurve.PublicSuffix}},
		{"worker", wPod, wc, wf["fleet-keys"], []string{zcurve.SecretFile, zcurve.PublicFile, zcurve.CoordinatorFile}},
	} {
		if side.dir == "" {
			bad("%s: no --fleet-keys", side.who)
			continue
		}
		v, sub := mountOf(side.pod, side.c, side.dir)
		if v == nil || v.Secret == nil || sub != "" {
			bad("%s --fleet-keys %s is not the mount point of a Secret volume", side.who, side.dir)
			continue
		}
		sec, ok := m.secrets[v.Secret.SecretName]
		if !ok {
			bad("%s: Secret %s does not exist", side.who, v.Secret.SecretName)
			continue
		}
		if v.Secret.DefaultMode == nil || *v.Secret.DefaultMode&0o007 != 0 {
			bad("%s: Secret volume %s: defaultMode must deny other users (inferbench refuses a world-readable key.secret)", side.who, v.Name)
		}
		paths := map[string]bool{}
		for _, it := range v.Secret.Items {
			if _, ok := sec.StringData[it.Key]; !ok {
				if _, ok := sec.Data[it.Key]; !ok {
					bad("%s: Secret %s has no key %s", side.who, sec.Name, it.Key)
				}
			}
			paths[it.Path] = true
		}
		for _, want := range side.want {
			found := false
			for p := range paths {
				if ok, _ := filepath.Match(want, p); ok {
					found = true
				}
			}
			if !found {
				bad("%s: the keys volume lays out no %s", side.who, want)
			}
		}
	}

	// The configuration comes from an existing ConfigMap key, and parses
	// with inferbench's own strict loader.
	cfgPath := cf["config"]
	v, sub := mountOf(cPod, cc, cfgPath)
	switch {
	case v == nil || v.ConfigMap == nil:
		bad("coordinator --config %s is not in a ConfigMap volume", cfgPath)
	default:
		cm, ok := m.configMaps[v.ConfigMap.Name]
		if !ok {
			bad("ConfigMap %s does not exist", v.ConfigMap.Name)
			break
		}
		text, ok := cm.Data[sub]
		if !ok {
			bad("ConfigMap %s has no key %s (for --config %s)", cm.Name, sub, cfgPath)
			break
		}
		if err := checkConfig(text, cc); err != nil {
			bad("ConfigMap %s key %s: %v", cm.Name, sub, err)
		}
	}

	// Results go to a volume: a PVC that exists, or an emptyDir.
	v, _ = mountOf(cPod, cc, cf["report-dir"])
	switch {
	case v == nil:
		bad("coordinator --report-dir %q is not on a volume", cf["report-dir"])
	case v.PersistentVolumeClaim != nil:
		if _, ok := m.pvcs[v.PersistentVolumeClaim.ClaimName]; !ok {
			bad("PersistentVolumeClaim %s does not exist", v.PersistentVolumeClaim.ClaimName)
		}
	case v.EmptyDir == nil:
		bad("coordinator --report-dir is on volume %s, neither a PVC nor an emptyDir", v.Name)
	}

	// Each pod: $(VARS) defined, required Secrets present, non-root, image
	// named in the kustomization.
	for _, j := range []*batchv1.Job{m.coordinator, m.worker} {
		pod := &j.Spec.Template.Spec
		c := &pod.Containers[0]
		env := map[string]bool{}
		for _, e := range c.Env {
			env[e.Name] = true
			if r := e.ValueFrom; r != nil && r.SecretKeyRef != nil && (r.SecretKeyRef.Optional == nil || !*r.SecretKeyRef.Optional) {
				if _, ok := m.secrets[r.SecretKeyRef.Name]; !ok {
					bad("Job %s: env %s needs Secret %s, which does not exist", j.Name, e.Name, r.SecretKeyRef.Name)
				}
			}
		}
		for _, a := range c.Args {
			for _, ref := range varRef.FindAllStringSubmatch(a, -1) {
				if !env[ref[1]] {
					bad("Job %s: argument %q uses $(%s), which the container's env does not define", j.Name, a, ref[1])
				}
			}
		}
		if sc := pod.SecurityContext; sc == nil || sc.RunAsNonRoot == nil || !*sc.RunAsNonRoot {
			bad("Job %s: pod securityContext.runAsNonRoot is not true", j.Name)
		}
		if !slices.ContainsFunc(m.kust.Images, func(i struct {
			Name    string `json:"name"`
			NewName string `json:"newName,omitempty"`
			NewTag  string `json:"newTag,omitempty"`
		}) bool {
			return i.Name == c.Image
		}) {
			bad("Job %s: image %q is not in kustomization.yaml images", j.Name, c.Image)
		}
	}
	return errs
}

// checkMetrics checks the coordinator's Prometheus endpoint: served on a
// port every pod address reaches (not loopback), declared as the container
// port named metrics, exposed as the Service port named metrics, announced
// by the prometheus.io pod annotations, and kept up after the run
// (--prometheus-linger) so that the last scrape sees the final values. It
// returns the port (-1 when there is none).
func checkMetrics(m *manifests, svc *corev1.Service, bad func(string, ...any)) int {
	cc := &m.coordinator.Spec.Template.Spec.Containers[0]
	cf := flags(cc.Args)
	addr, ok := cf["prometheus-addr"]
	if !ok {
		bad("coordinator: no --prometheus-addr: Prometheus cannot scrape the run")
		return -1
	}
	host, p, err := net.SplitHostPort(addr)
	port, perr := strconv.Atoi(p)
	if err != nil || perr != nil || port <= 0 {
		bad("coordinator --prometheus-addr %q: want HOST:PORT", addr)
		return -1
	}
	if ip := net.ParseIP(host); host == "localhost" || ip != nil && ip.IsLoopback() {
		bad("coordinator --prometheus-addr %s is loopback: Prometheus cannot reach it from outside the pod", addr)
	}
	if d, err := time.ParseDuration(cf["prometheus-linger"]); err != nil || d <= 0 {
		bad("coordinator --prometheus-linger %q: want a positive duration, or the last scrape misses the final values", cf["prometheus-linger"])
	}
	if i := slices.IndexFunc(cc.Ports, func(cp corev1.ContainerPort) bool { return cp.Name == metricsPortName }); i < 0 {
		bad("coordinator container declares no port named %s", metricsPortName)
	} else if int(cc.Ports[i].ContainerPort) != port {
		bad("coordinator container port %s is %d, --prometheus-addr port %d", metricsPortName, cc.Ports[i].ContainerPort, port)
	}
	if svc != nil {
		i := slices.IndexFunc(svc.Spec.Ports, func(sp corev1.ServicePort) bool { return sp.Name == metricsPortName })
		switch {
		case i < 0:
			bad("Service %s has no port named %s", svc.Name, metricsPortName)
		case targetPort(svc.Spec.Ports[i].TargetPort, svc.Spec.Ports[i].Port, cc) != port:
			bad("Service %s port %s does not target the --prometheus-addr port %d", svc.Name, metricsPortName, port)
		}
	}
	ann := m.coordinator.Spec.Template.Annotations
	for k, want := range map[string]string{"prometheus.io/scrape": "true", "prometheus.io/port": strconv.Itoa(port), "prometheus.io/path": promexport.Path} {
		if ann[k] != want {
			bad("coordinator pod annotation %s is %q, want %q", k, ann[k], want)
		}
	}
	return port
}

// metricsPortName names the coordinator's Prometheus port, in the
// container and in the Service.
const metricsPortName = "metrics"

func deref(p *int32) any {
	if p == nil {
		return "unset"
	}
	return *p
}

func selects(sel, labels map[string]string) bool {
	for k, v := range sel {
		if labels[k] != v {
			return false
		}
	}
	return len(sel) > 0
}

// targetPort resolves a Service port's target in container c.
func targetPort(tp intstr.IntOrString, port int32, c *corev1.Container) int {
	switch {
	case tp.Type == intstr.String:
		for _, p := range c.Ports {
			if p.Name == tp.StrVal {
				return int(p.ContainerPort)
			}
		}
		return -1
	case tp.IntVal == 0:
		return int(port)
	}
	return int(tp.IntVal)
}

// checkConfig runs an embedded run configuration through config.Load (the
// strict loader behind --config) and bench.Validate, and checks that the
// API key variable it names is set in the container.
func checkConfig(text string, c *corev1.Container) error {
	dir, err := os.MkdirTemp("", "inferbench-deploy-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, "run.yaml")
	if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
		return err
	}
	cfg, err := config.Load(path)
	if err != nil {
		return err
	}
	if err := bench.Validate(&cfg); err != nil {
		return err
	}
	if k := cfg.Endpoint.APIKeyEnv; k != "" && !slices.ContainsFunc(c.Env, func(e corev1.EnvVar) bool { return e.Name == k }) {
		return fmt.Errorf("api_key_env %s is not set in the coordinator container", k)
	}
	return nil
}

// TestKubernetes_Manifests decodes the base strictly and checks its
// cross-references.
func TestKubernetes_Manifests(t *testing.T) {
	m, err := decode(readBase(t))
	if err != nil {
		t.Fatal(err)
	}
	for _, err := range check(m) {
		t.Error(err)
	}
	// The run as shipped: 4 workers, the Dockerfile's non-root uid.
	uid := dockerfileUID(t)
	for _, j := range []*batchv1.Job{m.coordinator, m.worker} {
		if sc := j.Spec.Template.Spec.SecurityContext; sc == nil || sc.RunAsUser == nil || *sc.RunAsUser != uid {
			t.Errorf("Job %s: runAsUser is not the Dockerfile's USER %d", j.Name, uid)
		}
	}
}

// dockerfileUID is the numeric USER of the Dockerfile's runtime stage.
func dockerfileUID(t *testing.T) int64 {
	t.Helper()
	stages := parseDockerfile(t, filepath.Join("..", "Dockerfile"))
	for _, in := range stages[len(stages)-1].body {
		if in.cmd == "USER" {
			uid, _, _ := strings.Cut(in.args, ":")
			n, err := strconv.ParseInt(uid, 10, 64)
			if err != nil {
				t.Fatalf("Dockerfile USER %q", in.args)
			}
			return n
		}
	}
	t.Fatal("Dockerfile: no USER")
	return 0
}

// TestKubernetes_CheckCatchesBreakage: each edit of one manifest breaks a
// cross-reference or the strict decoding, and the checks must say so.
func TestKubernetes_CheckCatchesBreakage(t *testing.T) {
	base := readBase(t)
	for _, tc := range []struct {
		name, file, old, new, want string
	}{
		{"parallelism", "worker-job.yaml", "parallelism: 4", "parallelism: 3", "parallelism 3 != coordinator --fleet-size 4"},
		{"fleet size", "coordinator-job.yaml", "--fleet-size=4", "--fleet-size=8", "completions 4 != coordinator --fleet-size 8"},
		{"service name", "worker-job.yaml", "tcp://inferbench-coordinator.", "tcp://coordinator.", "is not the Service inferbench-coordinator"},
		{"service port", "worker-job.yaml", ".svc:5557", ".svc:5558", "port 5558 != Service"},
		{"listen port", "coordinator-job.yaml", "tcp://0.0.0.0:5557", "tcp://0.0.0.0:6000", "--fleet-listen port 6000"},
		{"secret name", "worker-job.yaml", "secretName: inferbench-curve", "secretName: curve-keys", "Secret curve-keys does not exist"},
		{"secret key", "secret.yaml", "  worker.public:", "  worker.pub:", "has no key worker.public"},
		{"configmap name", "coordinator-job.yaml", "name: inferbench-config", "name: run-config", "ConfigMap run-config does not exist"},
		{"config key unknown", "configmap.yaml", "      max_tokens: 256", "      max_token: 256", "max_token"},
		{"config invalid", "configmap.yaml", "target_qps: 200", "target_qps: -1", "ConfigMap inferbench-config"},
		{"unknown manifest field", "worker-job.yaml", "  backoffLimit: 8", "  backoffLimit: 8\n  backofLimit: 8", "unknown field"},
		{"unlisted resource", "kustomization.yaml", "  - results-pvc.yaml\n", "", "results-pvc.yaml is not listed"},
		{"missing resource", "kustomization.yaml", "  - secret.yaml\n", "  - secret.yaml\n  - extra.yaml\n", "extra.yaml, which does not exist"},
		{"undefined variable", "worker-job.yaml", "--name=worker-$(WORKER_INDEX)", "--name=worker-$(JOB_INDEX)", "$(JOB_INDEX)"},
		{"world-readable keys", "coordinator-job.yaml", "defaultMode: 0400", "defaultMode: 0444", "defaultMode"},
		{"no allow-list", "coordinator-job.yaml", "path: allowed/worker.public", "path: worker.public", "allowed/*.public"},
		{"network policy port", "networkpolicy.yaml", "port: 5557", "port: 5558", "NetworkPolicy inferbench-coordinator does not admit"},
		{"network policy peers", "networkpolicy.yaml", "component: worker", "component: other", "NetworkPolicy inferbench-coordinator does not admit"},
		{"worker cpu not whole", "worker-job.yaml", "limits:\n              cpu: \"4\"", "limits:\n              cpu: 3500m", "want whole CPUs"},
		{"loopback coordinator", "worker-job.yaml", "tcp://inferbench-coordinator.$(POD_NAMESPACE).svc:5557", "tcp://127.0.0.1:5557", "is not the Service"},
		{"no metrics", "coordinator-job.yaml", "            - --prometheus-addr=:9464\n", "", "no --prometheus-addr"},
		{"metrics on loopback", "coordinator-job.yaml", "--prometheus-addr=:9464", "--prometheus-addr=127.0.0.1:9464", "is loopback"},
		{"metrics port in args", "coordinator-job.yaml", "--prometheus-addr=:9464", "--prometheus-addr=:9465", "container port metrics is 9464, --prometheus-addr port 9465"},
		{"metrics container port", "coordinator-job.yaml", "containerPort: 9464", "containerPort: 9465", "container port metrics is 9465"},
		{"metrics container port name", "coordinator-job.yaml", "- name: metrics\n", "- name: prom\n", "declares no port named metrics"},
		{"metrics service port name", "coordinator-service.yaml", "- name: metrics", "- name: prom", "has no port named metrics"},
		{"metrics service target", "coordinator-service.yaml", "targetPort: metrics", "targetPort: 9000", "does not target the --prometheus-addr port 9464"},
		{"scrape annotation", "coordinator-job.yaml", "prometheus.io/scrape: \"true\"", "prometheus.io/scrape: \"false\"", "prometheus.io/scrape"},
		{"port annotation", "coordinator-job.yaml", "prometheus.io/port: \"9464\"", "prometheus.io/port: \"9090\"", "prometheus.io/port is \"9090\", want \"9464\""},
		{"path annotation", "coordinator-job.yaml", "prometheus.io/path: /metrics", "prometheus.io/path: /prom", "prometheus.io/path"},
		{"no linger", "coordinator-job.yaml", "            - --prometheus-linger=90s\n", "", "--prometheus-linger"},
		{"network policy metrics port", "networkpolicy.yaml", "port: 9464", "port: 9465", "does not admit scrapes to the coordinator's metrics port 9464"},
		{"network policy opens the fleet port", "networkpolicy.yaml", "        - protocol: TCP\n          port: 9464", "        - protocol: TCP\n          port: 9464\n        - protocol: TCP\n          port: 5557", "admits more than the worker pods"},
		{"network policy fleet rule widened", "networkpolicy.yaml", "    - from:\n", "    - from:\n        - namespaceSelector: {}\n", "admits more than the worker pods"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			files := map[string][]byte{}
			for k, v := range base {
				files[k] = v
			}
			if !bytes.Contains(files[tc.file], []byte(tc.old)) {
				t.Fatalf("%s no longer contains %q: update this case", tc.file, tc.old)
			}
			files[tc.file] = bytes.Replace(files[tc.file], []byte(tc.old), []byte(tc.new), 1)
			var all []string
			m, err := decode(files)
			if err != nil {
				all = append(all, err.Error())
			} else {
				for _, e := range check(m) {
					all = append(all, e.Error())
				}
			}
			if !strings.Contains(strings.Join(all, "\n"), tc.want) {
				t.Errorf("want an error containing %q, got %q", tc.want, all)
			}
		})
	}
}
