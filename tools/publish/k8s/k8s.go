// Package k8s writes the Kubernetes manifests of a Tremolo deployment in
// distributed mode: one Deployment and Service per service, with images
// pinned by digest, probes on the health endpoints and resources; a
// ConfigMap with the settings every service shares (where the other
// services are, etcd's endpoints, log format, shutdown drain); and etcd as
// a StatefulSet. Validate checks the files against the Kubernetes API
// types and the API server's rules that matter for them.
package k8s

import (
	"bytes"
	"fmt"
	"sort"
	"strings"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"sigs.k8s.io/yaml"
)

// Ports, paths and names every Tremolo process shares.
const (
	HTTPPort      = 8080
	GRPCPort      = 9000
	HealthPath    = "/healthz"
	ReadyPath     = "/readyz"
	DataDir       = "/var/lib/tremolo"
	ConfigMapName = "tremolo-config"
	SecretName    = "tremolo-secrets"
	PartOf        = "tremolo"
	etcdName      = "etcd"
	etcdClient    = 2379
	etcdPeer      = 2380
	nonRoot       = 65532
)

// Service is one service to deploy.
type Service struct {
	Name  string // e.g. "user"; also its Kubernetes name and DNS name
	Image string // pinned: registry/repo/name@sha256:...
}

// Options say what to generate.
type Options struct {
	Services []Service // distributed services, each its own Deployment
	// AllInOne, when set, is written to allinone/<name>.yaml: the whole
	// backend in one Deployment, an alternative to Services.
	AllInOne *Service
	// Env is the shared configuration (TREMOLO_* variables) put in the
	// ConfigMap, besides TREMOLO_TARGET and the etcd endpoints made here.
	Env map[string]string
	// EtcdEnv names the variable that carries etcd's client endpoints
	// ("" leaves etcd out of the ConfigMap). EtcdImage and EtcdReplicas
	// describe the etcd StatefulSet (EtcdReplicas 0 leaves etcd out).
	EtcdEnv      string
	EtcdImage    string
	EtcdReplicas int
	Replicas     int32 // per service
	// Volumes gives services a PersistentVolumeClaim of that size (e.g.
	// "video": "10Gi") for their data directory instead of an emptyDir;
	// their Deployments then roll out with the Recreate strategy (a
	// ReadWriteOnce volume cannot be attached to two pods at once).
	Volumes map[string]string
	// Header is put at the top of every file (as # comments).
	Header string
}

// Generate returns the manifests by file name (sorted names, one or more
// YAML documents each). The result passes Validate.
func Generate(o Options) (map[string][]byte, error) {
	if len(o.Services) == 0 {
		return nil, fmt.Errorf("k8s: no services")
	}
	if o.Replicas <= 0 {
		o.Replicas = 1
	}
	files := map[string][]byte{}
	names := map[string]bool{}
	var targets []string
	for _, s := range o.Services {
		if names[s.Name] || s.Name == etcdName {
			return nil, fmt.Errorf("k8s: service name %q used twice", s.Name)
		}
		names[s.Name] = true
		targets = append(targets, fmt.Sprintf("%s=%s:%d", s.Name, s.Name, GRPCPort))
	}
	sort.Strings(targets)

	env := map[string]string{}
	for k, v := range o.Env {
		env[k] = v
	}
	if o.EtcdReplicas > 0 && o.EtcdEnv != "" {
		// Services register with etcd and find each other there (each pod
		// announces its own IP: TREMOLO_ADVERTISE_HOST); the Services' DNS
		// names are the static fallback for a cluster whose etcd is not up.
		var eps []string
		for i := 0; i < o.EtcdReplicas; i++ {
			eps = append(eps, fmt.Sprintf("http://%s-%d.%s:%d", etcdName, i, etcdName, etcdClient))
		}
		env[o.EtcdEnv] = strings.Join(eps, ",")
		env["TREMOLO_REGISTRY"] = "etcd"
		env["TREMOLO_DISCOVERY_STATIC"] = strings.Join(targets, ",")
	} else {
		env["TREMOLO_TARGET"] = strings.Join(targets, ",")
	}
	cm := &corev1.ConfigMap{
		TypeMeta:   metav1.TypeMeta{APIVersion: "v1", Kind: "ConfigMap"},
		ObjectMeta: meta(ConfigMapName, podLabels("config")),
		Data:       env,
	}
	var err error
	if files["tremolo-config.yaml"], err = render(o.Header, cm); err != nil {
		return nil, err
	}
	if o.EtcdReplicas > 0 {
		if files["etcd.yaml"], err = render(o.Header, etcdService(), etcdStatefulSet(o)); err != nil {
			return nil, err
		}
	}
	for _, s := range o.Services {
		d, svc := deployment(s, o.Replicas), service(s.Name, podLabels(s.Name))
		objs := []any{d, svc}
		if size, ok := o.Volumes[s.Name]; ok {
			pvc, err := claim(s.Name, size)
			if err != nil {
				return nil, err
			}
			spec := &d.Spec.Template.Spec
			spec.Volumes[0].VolumeSource = corev1.VolumeSource{PersistentVolumeClaim: &corev1.PersistentVolumeClaimVolumeSource{ClaimName: pvc.Name}}
			d.Spec.Strategy = appsv1.DeploymentStrategy{Type: appsv1.RecreateDeploymentStrategyType}
			objs = append(objs, pvc)
		}
		if files[s.Name+".yaml"], err = render(o.Header, objs...); err != nil {
			return nil, err
		}
	}
	for name := range o.Volumes {
		if !names[name] {
			return nil, fmt.Errorf("k8s: volume for unknown service %q", name)
		}
	}
	if a := o.AllInOne; a != nil {
		d := deployment(*a, 1)
		// One process runs every service in-process: no targets, no etcd,
		// and without the Secret it keeps a generated key in its data dir.
		optional := true
		ref := secretRef()
		ref.SecretRef.Optional = &optional
		d.Spec.Template.Spec.Containers[0].EnvFrom = []corev1.EnvFromSource{ref}
		d.Spec.Template.Spec.Containers[0].Env = []corev1.EnvVar{{Name: "TREMOLO_LOG_FORMAT", Value: "json"}}
		if files["allinone/"+a.Name+".yaml"], err = render(o.Header, d, service(a.Name, podLabels(a.Name))); err != nil {
			return nil, err
		}
	}
	for name, data := range files {
		if err := Validate(name, data, files); err != nil {
			return nil, fmt.Errorf("k8s: generated %s: %w", name, err)
		}
	}
	return files, nil
}

func podLabels(name string) map[string]string {
	return map[string]string{
		"app.kubernetes.io/name":    name,
		"app.kubernetes.io/part-of": PartOf,
	}
}

func meta(name string, l map[string]string) metav1.ObjectMeta {
	return metav1.ObjectMeta{Name: name, Labels: l}
}

func secretRef() corev1.EnvFromSource {
	// Required: every replica of every service must share the token key
	// (TREMOLO_JWT_KEY); database DSNs (TREMOLO_<SERVICE>_DB) go here too.
	return corev1.EnvFromSource{SecretRef: &corev1.SecretEnvSource{LocalObjectReference: corev1.LocalObjectReference{Name: SecretName}}}
}

func httpProbe(path string, period, failures int32) *corev1.Probe {
	return &corev1.Probe{
		ProbeHandler:     corev1.ProbeHandler{HTTPGet: &corev1.HTTPGetAction{Path: path, Port: intstr.FromString("http")}},
		PeriodSeconds:    period,
		TimeoutSeconds:   2,
		FailureThreshold: failures,
	}
}

func deployment(s Service, replicas int32) *appsv1.Deployment {
	l := podLabels(s.Name)
	l["app.kubernetes.io/component"] = "service"
	selector := podLabels(s.Name)
	f := false
	t := true
	uid := int64(nonRoot)
	grace := int64(30) // shutdown drain (5 s) + shutdown timeout (10 s) + margin
	return &appsv1.Deployment{
		TypeMeta:   metav1.TypeMeta{APIVersion: "apps/v1", Kind: "Deployment"},
		ObjectMeta: meta(s.Name, l),
		Spec: appsv1.DeploymentSpec{
			Replicas: &replicas,
			Selector: &metav1.LabelSelector{MatchLabels: selector},
			Strategy: appsv1.DeploymentStrategy{
				Type: appsv1.RollingUpdateDeploymentStrategyType,
				RollingUpdate: &appsv1.RollingUpdateDeployment{
					MaxUnavailable: ptr(intstr.FromInt32(0)),
					MaxSurge:       ptr(intstr.FromInt32(1)),
				},
			},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{
					Labels: l,
					Annotations: map[string]string{
						"prometheus.io/scrape": "true",
						"prometheus.io/port":   fmt.Sprint(HTTPPort),
						"prometheus.io/path":   "/metrics",
					},
				},
				Spec: corev1.PodSpec{
					AutomountServiceAccountToken:  &f,
					TerminationGracePeriodSeconds: &grace,
					SecurityContext: &corev1.PodSecurityContext{
						RunAsNonRoot:   &t,
						RunAsUser:      &uid,
						RunAsGroup:     &uid,
						FSGroup:        &uid,
						SeccompProfile: &corev1.SeccompProfile{Type: corev1.SeccompProfileTypeRuntimeDefault},
					},
					Containers: []corev1.Container{{
						Name:            s.Name,
						Image:           s.Image,
						ImagePullPolicy: corev1.PullIfNotPresent,
						Ports: []corev1.ContainerPort{
							{Name: "http", ContainerPort: HTTPPort, Protocol: corev1.ProtocolTCP},
							{Name: "grpc", ContainerPort: GRPCPort, Protocol: corev1.ProtocolTCP},
						},
						EnvFrom: []corev1.EnvFromSource{
							{ConfigMapRef: &corev1.ConfigMapEnvSource{LocalObjectReference: corev1.LocalObjectReference{Name: ConfigMapName}}},
							secretRef(),
						},
						// The address other pods reach this one on, for
						// its registration in etcd.
						Env: []corev1.EnvVar{{Name: "TREMOLO_ADVERTISE_HOST", ValueFrom: &corev1.EnvVarSource{
							FieldRef: &corev1.ObjectFieldSelector{APIVersion: "v1", FieldPath: "status.podIP"},
						}}},
						Resources: corev1.ResourceRequirements{
							Requests: corev1.ResourceList{
								corev1.ResourceCPU:    resource.MustParse("100m"),
								corev1.ResourceMemory: resource.MustParse("128Mi"),
							},
							Limits: corev1.ResourceList{
								corev1.ResourceMemory: resource.MustParse("512Mi"),
							},
						},
						StartupProbe:   httpProbe(HealthPath, 2, 30),
						LivenessProbe:  httpProbe(HealthPath, 10, 3),
						ReadinessProbe: httpProbe(ReadyPath, 5, 2),
						SecurityContext: &corev1.SecurityContext{
							AllowPrivilegeEscalation: &f,
							ReadOnlyRootFilesystem:   &t,
							Capabilities:             &corev1.Capabilities{Drop: []corev1.Capability{"ALL"}},
						},
						VolumeMounts: []corev1.VolumeMount{
							{Name: "data", MountPath: DataDir},
							{Name: "tmp", MountPath: "/tmp"},
						},
					}},
					Volumes: []corev1.Volume{
						{Name: "data", VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}},
						{Name: "tmp", VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}},
					},
				},
			},
		},
	}
}

func service(name string, selector map[string]string) *corev1.Service {
	h2c := "kubernetes.io/h2c"
	return &corev1.Service{
		TypeMeta:   metav1.TypeMeta{APIVersion: "v1", Kind: "Service"},
		ObjectMeta: meta(name, podLabels(name)),
		Spec: corev1.ServiceSpec{
			Type:     corev1.ServiceTypeClusterIP,
			Selector: selector,
			Ports: []corev1.ServicePort{
				{Name: "http", Port: HTTPPort, TargetPort: intstr.FromString("http"), Protocol: corev1.ProtocolTCP},
				{Name: "grpc", Port: GRPCPort, TargetPort: intstr.FromString("grpc"), Protocol: corev1.ProtocolTCP, AppProtocol: &h2c},
			},
		},
	}
}

func etcdService() *corev1.Service {
	return &corev1.Service{
		TypeMeta:   metav1.TypeMeta{APIVersion: "v1", Kind: "Service"},
		ObjectMeta: meta(etcdName, podLabels(etcdName)),
		Spec: corev1.ServiceSpec{
			// Headless: every member gets a stable name etcd-N.etcd.
			ClusterIP:                corev1.ClusterIPNone,
			PublishNotReadyAddresses: true,
			Selector:                 podLabels(etcdName),
			Ports: []corev1.ServicePort{
				{Name: "client", Port: etcdClient, TargetPort: intstr.FromString("client"), Protocol: corev1.ProtocolTCP},
				{Name: "peer", Port: etcdPeer, TargetPort: intstr.FromString("peer"), Protocol: corev1.ProtocolTCP},
			},
		},
	}
}

func etcdStatefulSet(o Options) *appsv1.StatefulSet {
	n := int32(o.EtcdReplicas)
	var members []string
	for i := 0; i < o.EtcdReplicas; i++ {
		members = append(members, fmt.Sprintf("%s-%d=http://%s-%d.%s:%d", etcdName, i, etcdName, i, etcdName, etcdPeer))
	}
	f := false
	probe := func(period, failures int32) *corev1.Probe {
		return &corev1.Probe{
			ProbeHandler:     corev1.ProbeHandler{HTTPGet: &corev1.HTTPGetAction{Path: "/health", Port: intstr.FromString("client")}},
			PeriodSeconds:    period,
			TimeoutSeconds:   5,
			FailureThreshold: failures,
		}
	}
	return &appsv1.StatefulSet{
		TypeMeta:   metav1.TypeMeta{APIVersion: "apps/v1", Kind: "StatefulSet"},
		ObjectMeta: meta(etcdName, podLabels(etcdName)),
		Spec: appsv1.StatefulSetSpec{
			ServiceName:         etcdName,
			Replicas:            &n,
			PodManagementPolicy: appsv1.ParallelPodManagement,
			Selector:            &metav1.LabelSelector{MatchLabels: podLabels(etcdName)},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: podLabels(etcdName)},
				Spec: corev1.PodSpec{
					AutomountServiceAccountToken: &f,
					Containers: []corev1.Container{{
						Name:  etcdName,
						Image: o.EtcdImage,
						Command: []string{"etcd",
							"--name=$(POD_NAME)",
							"--data-dir=/var/lib/etcd",
							fmt.Sprintf("--listen-client-urls=http://0.0.0.0:%d", etcdClient),
							fmt.Sprintf("--advertise-client-urls=http://$(POD_NAME).%s:%d", etcdName, etcdClient),
							fmt.Sprintf("--listen-peer-urls=http://0.0.0.0:%d", etcdPeer),
							fmt.Sprintf("--initial-advertise-peer-urls=http://$(POD_NAME).%s:%d", etcdName, etcdPeer),
							"--initial-cluster=" + strings.Join(members, ","),
							"--initial-cluster-state=new",
							"--initial-cluster-token=tremolo",
						},
						Env: []corev1.EnvVar{{Name: "POD_NAME", ValueFrom: &corev1.EnvVarSource{FieldRef: &corev1.ObjectFieldSelector{FieldPath: "metadata.name"}}}},
						Ports: []corev1.ContainerPort{
							{Name: "client", ContainerPort: etcdClient, Protocol: corev1.ProtocolTCP},
							{Name: "peer", ContainerPort: etcdPeer, Protocol: corev1.ProtocolTCP},
						},
						Resources: corev1.ResourceRequirements{
							Requests: corev1.ResourceList{
								corev1.ResourceCPU:    resource.MustParse("100m"),
								corev1.ResourceMemory: resource.MustParse("256Mi"),
							},
							Limits: corev1.ResourceList{corev1.ResourceMemory: resource.MustParse("1Gi")},
						},
						StartupProbe:  probe(2, 30),
						LivenessProbe: probe(10, 3),
						VolumeMounts:  []corev1.VolumeMount{{Name: "data", MountPath: "/var/lib/etcd"}},
					}},
				},
			},
			VolumeClaimTemplates: []corev1.PersistentVolumeClaim{{
				TypeMeta:   metav1.TypeMeta{APIVersion: "v1", Kind: "PersistentVolumeClaim"},
				ObjectMeta: metav1.ObjectMeta{Name: "data"},
				Spec: corev1.PersistentVolumeClaimSpec{
					AccessModes: []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOnce},
					Resources: corev1.VolumeResourceRequirements{
						Requests: corev1.ResourceList{corev1.ResourceStorage: resource.MustParse("1Gi")},
					},
				},
			}},
		},
	}
}

// claim is a service's data volume.
func claim(service, size string) (*corev1.PersistentVolumeClaim, error) {
	q, err := resource.ParseQuantity(size)
	if err != nil {
		return nil, fmt.Errorf("k8s: volume size of %s: %w", service, err)
	}
	return &corev1.PersistentVolumeClaim{
		TypeMeta:   metav1.TypeMeta{APIVersion: "v1", Kind: "PersistentVolumeClaim"},
		ObjectMeta: meta(service+"-data", podLabels(service)),
		Spec: corev1.PersistentVolumeClaimSpec{
			AccessModes: []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOnce},
			Resources:   corev1.VolumeResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceStorage: q}},
		},
	}, nil
}

func ptr[T any](v T) *T { return &v }

// render writes objects as YAML documents, without the empty "status" and
// "creationTimestamp" fields the API types marshal.
func render(header string, objs ...any) ([]byte, error) {
	var buf bytes.Buffer
	for _, line := range strings.Split(strings.TrimSpace(header), "\n") {
		if line != "" {
			buf.WriteString("# " + line + "\n")
		}
	}
	for i, obj := range objs {
		y, err := yaml.Marshal(obj)
		if err != nil {
			return nil, err
		}
		var m map[string]any
		if err := yaml.Unmarshal(y, &m); err != nil {
			return nil, err
		}
		clean(m)
		if y, err = yaml.Marshal(m); err != nil {
			return nil, err
		}
		if i > 0 {
			buf.WriteString("---\n")
		}
		buf.Write(y)
	}
	return buf.Bytes(), nil
}

// clean drops status blocks and null/empty creationTimestamp fields.
func clean(v any) {
	switch t := v.(type) {
	case map[string]any:
		delete(t, "status")
		if ts, ok := t["creationTimestamp"]; ok && ts == nil {
			delete(t, "creationTimestamp")
		}
		for k, c := range t {
			clean(c)
			if m, ok := c.(map[string]any); ok && len(m) == 0 && (k == "metadata" || k == "resources" || k == "strategy") {
				delete(t, k)
			}
		}
	case []any:
		for _, c := range t {
			clean(c)
		}
	}
}
