package k8s

import (
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
)

func digestRef(name string) string {
	return "registry.example.com/tremolo/" + name + "@sha256:" + strings.Repeat("c", 64)
}

func options() Options {
	return Options{
		Services: []Service{
			{Name: "user", Image: digestRef("user")},
			{Name: "video", Image: digestRef("video")},
			{Name: "edge", Image: digestRef("edge")},
		},
		AllInOne:     &Service{Name: "tremolo", Image: digestRef("tremolo")},
		Env:          map[string]string{"TREMOLO_LOG_FORMAT": "json"},
		EtcdEnv:      "TREMOLO_ETCD_ENDPOINTS",
		EtcdImage:    "registry.k8s.io/etcd:3.5.21-0",
		EtcdReplicas: 3,
		Volumes:      map[string]string{"video": "10Gi"},
		Header:       "test header\nsecond line",
	}
}

func TestGenerate(t *testing.T) {
	files, err := Generate(options())
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for n := range files {
		names = append(names, n)
	}
	want := map[string]bool{"tremolo-config.yaml": true, "etcd.yaml": true, "user.yaml": true, "video.yaml": true, "edge.yaml": true, "allinone/tremolo.yaml": true}
	if len(files) != len(want) {
		t.Fatalf("files %v", names)
	}
	kinds := map[string]int{}
	for name, data := range files {
		if !want[name] {
			t.Errorf("unexpected file %s", name)
		}
		if !strings.HasPrefix(string(data), "# test header\n# second line\n") {
			t.Errorf("%s: no header", name)
		}
		if err := Validate(name, data, files); err != nil {
			t.Errorf("%s: %v", name, err)
		}
		objs, err := Decode(name, data)
		if err != nil {
			t.Fatal(err)
		}
		for _, o := range objs {
			kinds[o.Kind]++
		}
		if strings.Contains(string(data), "status:") || strings.Contains(string(data), "creationTimestamp") {
			t.Errorf("%s: empty status/creationTimestamp left in", name)
		}
	}
	if kinds["Deployment"] != 4 || kinds["Service"] != 5 || kinds["StatefulSet"] != 1 || kinds["ConfigMap"] != 1 || kinds["PersistentVolumeClaim"] != 1 {
		t.Fatalf("kinds %v", kinds)
	}

	objs, _ := Decode("user.yaml", files["user.yaml"])
	d := objs[0].Obj.(*appsv1.Deployment)
	c := d.Spec.Template.Spec.Containers[0]
	if c.Image != digestRef("user") || c.ReadinessProbe.HTTPGet.Path != "/readyz" || c.LivenessProbe.HTTPGet.Path != "/healthz" {
		t.Errorf("container %+v", c)
	}
	if *d.Spec.Template.Spec.SecurityContext.RunAsUser != 65532 || !*c.SecurityContext.ReadOnlyRootFilesystem {
		t.Error("not run as the image's non-root user on a read-only root")
	}
	if d.Spec.Template.Spec.Volumes[0].EmptyDir == nil || d.Spec.Strategy.Type != appsv1.RollingUpdateDeploymentStrategyType {
		t.Errorf("user: data volume %+v, strategy %s", d.Spec.Template.Spec.Volumes[0], d.Spec.Strategy.Type)
	}
	videoObjs, _ := Decode("video.yaml", files["video.yaml"])
	vd := videoObjs[0].Obj.(*appsv1.Deployment)
	if v := vd.Spec.Template.Spec.Volumes[0]; v.PersistentVolumeClaim == nil || v.PersistentVolumeClaim.ClaimName != "video-data" || vd.Spec.Strategy.Type != appsv1.RecreateDeploymentStrategyType {
		t.Errorf("video: data volume %+v, strategy %s", v, vd.Spec.Strategy.Type)
	}
	if pvc := videoObjs[2].Obj.(*corev1.PersistentVolumeClaim); pvc.Spec.Resources.Requests.Storage().String() != "10Gi" {
		t.Errorf("video claim %+v", pvc.Spec)
	}
	all, _ := Decode("allinone/tremolo.yaml", files["allinone/tremolo.yaml"])
	if ef := all[0].Obj.(*appsv1.Deployment).Spec.Template.Spec.Containers[0].EnvFrom; len(ef) != 1 || ef[0].SecretRef == nil || !*ef[0].SecretRef.Optional {
		t.Errorf("all-in-one envFrom %+v", ef)
	}
	cms, _ := Decode("tremolo-config.yaml", files["tremolo-config.yaml"])
	data := cms[0].Obj.(*corev1.ConfigMap).Data
	// With etcd, services find each other there; the DNS names are the
	// static fallback, and each pod announces its own IP.
	if data["TREMOLO_REGISTRY"] != "etcd" || data["TREMOLO_DISCOVERY_STATIC"] != "edge=edge:9000,user=user:9000,video=video:9000" || data["TREMOLO_TARGET"] != "" {
		t.Errorf("discovery settings %q", data)
	}
	ud := c.Env
	if len(ud) != 1 || ud[0].Name != "TREMOLO_ADVERTISE_HOST" || ud[0].ValueFrom == nil || ud[0].ValueFrom.FieldRef.FieldPath != "status.podIP" {
		t.Errorf("user env %+v; want TREMOLO_ADVERTISE_HOST from status.podIP", ud)
	}
	if data["TREMOLO_ETCD_ENDPOINTS"] != "http://etcd-0.etcd:2379,http://etcd-1.etcd:2379,http://etcd-2.etcd:2379" {
		t.Errorf("etcd endpoints %q", data["TREMOLO_ETCD_ENDPOINTS"])
	}
	etcd, _ := Decode("etcd.yaml", files["etcd.yaml"])
	ss := etcd[1].Obj.(*appsv1.StatefulSet)
	if !strings.Contains(strings.Join(ss.Spec.Template.Spec.Containers[0].Command, " "), "--initial-cluster=etcd-0=http://etcd-0.etcd:2380,etcd-1=") {
		t.Errorf("etcd command %v", ss.Spec.Template.Spec.Containers[0].Command)
	}
	// Same input, same bytes.
	again, _ := Generate(options())
	for name := range files {
		if string(again[name]) != string(files[name]) {
			t.Errorf("%s: not deterministic", name)
		}
	}
}

func TestGenerateWithoutEtcd(t *testing.T) {
	o := options()
	o.EtcdReplicas = 0
	o.AllInOne = nil
	o.Volumes = nil
	files, err := Generate(o)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := files["etcd.yaml"]; ok {
		t.Error("etcd.yaml without etcd")
	}
	if strings.Contains(string(files["tremolo-config.yaml"]), "ETCD") {
		t.Error("etcd endpoints without etcd")
	}
	// The services then find each other by their Services' DNS names.
	cms, err := Decode("tremolo-config.yaml", files["tremolo-config.yaml"])
	if err != nil {
		t.Fatal(err)
	}
	data := cms[0].Obj.(*corev1.ConfigMap).Data
	if data["TREMOLO_TARGET"] != "edge=edge:9000,user=user:9000,video=video:9000" || data["TREMOLO_REGISTRY"] != "" {
		t.Errorf("config without etcd %q", data)
	}
}

func TestGenerateRefusesUnpinnedImages(t *testing.T) {
	o := options()
	o.Services[0].Image = "registry.example.com/tremolo/user:latest"
	if _, err := Generate(o); err == nil || !strings.Contains(err.Error(), "not pinned by digest") {
		t.Fatalf("err = %v", err)
	}
}

// TestValidateCatches feeds the schema check broken manifests: each must be
// refused, with an error that names the problem.
func TestValidateCatches(t *testing.T) {
	files, err := Generate(options())
	if err != nil {
		t.Fatal(err)
	}
	user := string(files["user.yaml"])
	for name, tc := range map[string]struct{ old, new, want string }{
		"unknown field (typo)": {"readinessProbe:", "readinesProbe:", "unknown field"},
		"wrong type":           {"replicas: 1", "replicas: one", "replicas"},
		"duplicate field":      {"  replicas: 1\n", "  replicas: 1\n  replicas: 2\n", "already set"},
		"probe on no port":     {"path: /readyz\n            port: http", "path: /readyz\n            port: admin", "not a container port"},
		"liveness elsewhere":   {"path: /healthz\n            port: http\n          periodSeconds: 10", "path: /live\n            port: http\n          periodSeconds: 10", "must poll /healthz"},
		"selector mismatch":    {"    matchLabels:\n      app.kubernetes.io/name: user", "    matchLabels:\n      app.kubernetes.io/name: users", "does not match"},
		"unpinned image":       {"@sha256:", ":v1-sha256:", "not pinned"},
		"service port":         {"targetPort: grpc", "targetPort: grpcs", "not a container port"},
		"request above limit":  {"memory: 128Mi", "memory: 1Gi", "above its limit"},
		"no memory limit":      {"limits:\n            memory: 512Mi\n          requests", "requests", "no memory limit"},
		"bad name":             {"  name: user\nspec:\n  replicas", "  name: User_1\nspec:\n  replicas", "name"},
		"undeclared volume":    {"name: data\n        - mountPath: /tmp", "name: cache\n        - mountPath: /tmp", "undeclared volume"},
		"unknown kind":         {"kind: Service", "kind: Servce", "unexpected object"},
	} {
		if !strings.Contains(user, tc.old) {
			t.Fatalf("%s: %q not in user.yaml:\n%s", name, tc.old, user)
		}
		broken := map[string][]byte{}
		for k, v := range files {
			broken[k] = v
		}
		broken["user.yaml"] = []byte(strings.Replace(user, tc.old, tc.new, 1))
		err := Validate("user.yaml", broken["user.yaml"], broken)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: err = %v, want one mentioning %q", name, err, tc.want)
		}
	}
	// A claim that is not there is caught across files.
	video := strings.Replace(string(files["video.yaml"]), "claimName: video-data", "claimName: video-media", 1)
	if err := Validate("video.yaml", []byte(video), files); err == nil || !strings.Contains(err.Error(), "video-media") {
		t.Errorf("missing claim: err = %v", err)
	}
	if _, err := Generate(Options{Services: []Service{{Name: "user", Image: digestRef("user")}}, Volumes: map[string]string{"nope": "1Gi"}}); err == nil {
		t.Error("volume for an unknown service accepted")
	}
	// A missing ConfigMap is caught across files.
	delete(files, "tremolo-config.yaml")
	if err := Validate("user.yaml", files["user.yaml"], files); err == nil || !strings.Contains(err.Error(), "ConfigMap") {
		t.Errorf("missing ConfigMap: err = %v", err)
	}
}
