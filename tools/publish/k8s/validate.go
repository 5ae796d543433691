package k8s

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"regexp"
	"strings"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/util/validation"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"sigs.k8s.io/yaml"
)

// Object is one decoded manifest document.
type Object struct {
	File string
	Kind string
	Name string
	Obj  any // *appsv1.Deployment, *appsv1.StatefulSet, *corev1.Service, *corev1.ConfigMap, *corev1.PersistentVolumeClaim
}

var pinned = regexp.MustCompile(`^[^@\s]+@sha256:[0-9a-f]{64}$`)

// Decode splits a YAML file into documents and decodes each strictly into
// its Kubernetes API type (apiVersion and kind must be one Tremolo writes;
// unknown or duplicate fields and wrong types are errors). This is the
// schema check: the k8s.io/api types are the schema the API server uses.
func Decode(file string, data []byte) ([]Object, error) {
	var out []Object
	r := utilyaml.NewYAMLReader(bufioReader(data))
	for {
		doc, err := r.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("%s: %w", file, err)
		}
		if len(bytes.TrimSpace(stripComments(doc))) == 0 {
			continue
		}
		var tm metav1.TypeMeta
		if err := yaml.Unmarshal(doc, &tm); err != nil {
			return nil, fmt.Errorf("%s: %w", file, err)
		}
		var obj any
		switch tm.APIVersion + " " + tm.Kind {
		case "apps/v1 Deployment":
			obj = &appsv1.Deployment{}
		case "apps/v1 StatefulSet":
			obj = &appsv1.StatefulSet{}
		case "v1 Service":
			obj = &corev1.Service{}
		case "v1 ConfigMap":
			obj = &corev1.ConfigMap{}
		case "v1 PersistentVolumeClaim":
			obj = &corev1.PersistentVolumeClaim{}
		default:
			return nil, fmt.Errorf("%s: unexpected object %s %s", file, tm.APIVersion, tm.Kind)
		}
		if err := yaml.UnmarshalStrict(doc, obj); err != nil {
			return nil, fmt.Errorf("%s: %s: %w", file, tm.Kind, err)
		}
		om := objectMeta(obj)
		out = append(out, Object{File: file, Kind: tm.Kind, Name: om.Name, Obj: obj})
	}
	return out, nil
}

func stripComments(doc []byte) []byte {
	var b bytes.Buffer
	for _, line := range strings.Split(string(doc), "\n") {
		if !strings.HasPrefix(strings.TrimSpace(line), "#") {
			b.WriteString(line + "\n")
		}
	}
	return b.Bytes()
}

func objectMeta(obj any) metav1.ObjectMeta {
	switch o := obj.(type) {
	case *appsv1.Deployment:
		return o.ObjectMeta
	case *appsv1.StatefulSet:
		return o.ObjectMeta
	case *corev1.Service:
		return o.ObjectMeta
	case *corev1.ConfigMap:
		return o.ObjectMeta
	case *corev1.PersistentVolumeClaim:
		return o.ObjectMeta
	}
	return metav1.ObjectMeta{}
}

// Validate checks one manifest file: the schema check of Decode, then the
// API server's validation rules these objects rely on (names, selectors
// that match their pod templates, named ports that exist, probes on
// existing ports, resources with requests no larger than limits, volume
// mounts of declared volumes), and Tremolo's own: every Tremolo image is
// pinned by digest. all, when given, holds every file of the set, so a
// Service's ports and ConfigMap references are checked across files.
func Validate(file string, data []byte, all map[string][]byte) error {
	objs, err := Decode(file, data)
	if err != nil {
		return err
	}
	if len(objs) == 0 {
		return fmt.Errorf("%s: no objects", file)
	}
	var set []Object
	for name, d := range all {
		if name == file {
			set = append(set, objs...)
			continue
		}
		o, err := Decode(name, d)
		if err != nil {
			return err
		}
		set = append(set, o...)
	}
	if all == nil {
		set = objs
	}
	var errs []error
	for _, o := range objs {
		errs = append(errs, validateObject(o, set)...)
	}
	return errors.Join(errs...)
}

func validateObject(o Object, set []Object) []error {
	var errs []error
	fail := func(format string, args ...any) {
		errs = append(errs, fmt.Errorf("%s: %s %s: %s", o.File, o.Kind, o.Name, fmt.Sprintf(format, args...)))
	}
	for _, msg := range validation.IsDNS1123Subdomain(o.Name) {
		fail("name: %s", msg)
	}
	switch obj := o.Obj.(type) {
	case *appsv1.Deployment:
		if obj.Spec.Replicas == nil || *obj.Spec.Replicas < 1 {
			fail("replicas must be set and at least 1")
		}
		errs = append(errs, validatePods(o, obj.Spec.Selector, obj.Spec.Template, set)...)
	case *appsv1.StatefulSet:
		if obj.Spec.ServiceName == "" {
			fail("serviceName is required")
		}
		errs = append(errs, validatePods(o, obj.Spec.Selector, obj.Spec.Template, set)...)
		for _, pvc := range obj.Spec.VolumeClaimTemplates {
			if _, ok := pvc.Spec.Resources.Requests[corev1.ResourceStorage]; !ok || len(pvc.Spec.AccessModes) == 0 {
				fail("volume claim %s: storage request and access modes are required", pvc.Name)
			}
		}
	case *corev1.Service:
		for _, msg := range validation.IsDNS1123Label(o.Name) {
			fail("service name: %s", msg)
		}
		if len(obj.Spec.Selector) == 0 || len(obj.Spec.Ports) == 0 {
			fail("selector and ports are required")
			break
		}
		pods := podsSelectedBy(labels.SelectorFromSet(obj.Spec.Selector), set)
		if len(pods) == 0 {
			fail("selector %v matches no pod template", obj.Spec.Selector)
		}
		seen := map[string]bool{}
		for _, p := range obj.Spec.Ports {
			if seen[p.Name] {
				fail("port name %q twice", p.Name)
			}
			seen[p.Name] = true
			if p.Port < 1 || p.Port > 65535 {
				fail("port %d out of range", p.Port)
			}
			if p.TargetPort.StrVal == "" {
				continue
			}
			for _, pod := range pods {
				if !hasPort(pod.Spec.Containers, p.TargetPort.StrVal) {
					fail("targetPort %q is not a container port of its pods", p.TargetPort.StrVal)
				}
			}
		}
	case *corev1.PersistentVolumeClaim:
		if _, ok := obj.Spec.Resources.Requests[corev1.ResourceStorage]; !ok || len(obj.Spec.AccessModes) == 0 {
			fail("storage request and access modes are required")
		}
	case *corev1.ConfigMap:
		for k := range obj.Data {
			for _, msg := range validation.IsConfigMapKey(k) {
				fail("key %q: %s", k, msg)
			}
		}
	}
	return errs
}

func podsSelectedBy(sel labels.Selector, set []Object) []corev1.PodTemplateSpec {
	var pods []corev1.PodTemplateSpec
	for _, o := range set {
		var t corev1.PodTemplateSpec
		switch obj := o.Obj.(type) {
		case *appsv1.Deployment:
			t = obj.Spec.Template
		case *appsv1.StatefulSet:
			t = obj.Spec.Template
		default:
			continue
		}
		if sel.Matches(labels.Set(t.Labels)) {
			pods = append(pods, t)
		}
	}
	return pods
}

func hasPort(cs []corev1.Container, name string) bool {
	for _, c := range cs {
		for _, p := range c.Ports {
			if p.Name == name {
				return true
			}
		}
	}
	return false
}

func validatePods(o Object, selector *metav1.LabelSelector, t corev1.PodTemplateSpec, set []Object) []error {
	var errs []error
	fail := func(format string, args ...any) {
		errs = append(errs, fmt.Errorf("%s: %s %s: %s", o.File, o.Kind, o.Name, fmt.Sprintf(format, args...)))
	}
	if selector == nil || (len(selector.MatchLabels) == 0 && len(selector.MatchExpressions) == 0) {
		fail("selector is required")
	} else if sel, err := metav1.LabelSelectorAsSelector(selector); err != nil {
		fail("selector: %v", err)
	} else if !sel.Matches(labels.Set(t.Labels)) {
		fail("selector %v does not match the pod template's labels %v", selector.MatchLabels, t.Labels)
	}
	if len(t.Spec.Containers) == 0 {
		fail("no containers")
	}
	tremolo := t.Labels["app.kubernetes.io/part-of"] == PartOf && o.Name != etcdName
	volumes := map[string]bool{}
	for _, v := range t.Spec.Volumes {
		volumes[v.Name] = true
	}
	if ss, ok := o.Obj.(*appsv1.StatefulSet); ok {
		for _, pvc := range ss.Spec.VolumeClaimTemplates {
			volumes[pvc.Name] = true
		}
	}
	configMaps, claims := map[string]bool{}, map[string]bool{}
	for _, x := range set {
		switch x.Kind {
		case "ConfigMap":
			configMaps[x.Name] = true
		case "PersistentVolumeClaim":
			claims[x.Name] = true
		}
	}
	for _, v := range t.Spec.Volumes {
		if pvc := v.PersistentVolumeClaim; pvc != nil && !claims[pvc.ClaimName] {
			fail("volume %s: PersistentVolumeClaim %q is not part of the manifests", v.Name, pvc.ClaimName)
		}
	}
	for _, c := range t.Spec.Containers {
		for _, msg := range validation.IsDNS1123Label(c.Name) {
			fail("container name %q: %s", c.Name, msg)
		}
		if c.Image == "" {
			fail("container %s: no image", c.Name)
		} else if tremolo && !pinned.MatchString(c.Image) {
			fail("container %s: image %q is not pinned by digest (name@sha256:...)", c.Name, c.Image)
		}
		ports := map[string]bool{}
		for _, p := range c.Ports {
			for _, msg := range validation.IsValidPortName(p.Name) {
				fail("container %s: port name %q: %s", c.Name, p.Name, msg)
			}
			if ports[p.Name] {
				fail("container %s: port name %q twice", c.Name, p.Name)
			}
			ports[p.Name] = true
			for _, msg := range validation.IsValidPortNum(int(p.ContainerPort)) {
				fail("container %s: port %d: %s", c.Name, p.ContainerPort, msg)
			}
		}
		for kind, pr := range map[string]*corev1.Probe{"startup": c.StartupProbe, "liveness": c.LivenessProbe, "readiness": c.ReadinessProbe} {
			if pr == nil {
				if kind == "liveness" || (tremolo && kind == "readiness") {
					fail("container %s: no %s probe", c.Name, kind)
				}
				continue
			}
			if pr.HTTPGet == nil {
				fail("container %s: %s probe is not an HTTP GET", c.Name, kind)
				continue
			}
			if !strings.HasPrefix(pr.HTTPGet.Path, "/") {
				fail("container %s: %s probe path %q", c.Name, kind, pr.HTTPGet.Path)
			}
			if name := pr.HTTPGet.Port.StrVal; name != "" && !ports[name] {
				fail("container %s: %s probe port %q is not a container port", c.Name, kind, name)
			}
			if pr.PeriodSeconds < 1 || pr.TimeoutSeconds < 1 || pr.FailureThreshold < 1 {
				fail("container %s: %s probe period, timeout and failure threshold must be positive", c.Name, kind)
			}
		}
		if tremolo {
			if c.ReadinessProbe != nil && c.ReadinessProbe.HTTPGet != nil && c.ReadinessProbe.HTTPGet.Path != ReadyPath {
				fail("container %s: readiness probe must poll %s", c.Name, ReadyPath)
			}
			if c.LivenessProbe != nil && c.LivenessProbe.HTTPGet != nil && c.LivenessProbe.HTTPGet.Path != HealthPath {
				fail("container %s: liveness probe must poll %s", c.Name, HealthPath)
			}
		}
		for _, r := range []corev1.ResourceName{corev1.ResourceCPU, corev1.ResourceMemory} {
			req, ok := c.Resources.Requests[r]
			if !ok {
				fail("container %s: no %s request", c.Name, r)
				continue
			}
			if lim, ok := c.Resources.Limits[r]; ok && req.Cmp(lim) > 0 {
				fail("container %s: %s request %s above its limit %s", c.Name, r, req.String(), lim.String())
			}
		}
		if _, ok := c.Resources.Limits[corev1.ResourceMemory]; !ok {
			fail("container %s: no memory limit", c.Name)
		}
		for _, m := range c.VolumeMounts {
			if !volumes[m.Name] {
				fail("container %s: mount of undeclared volume %q", c.Name, m.Name)
			}
		}
		for _, e := range c.EnvFrom {
			if e.ConfigMapRef != nil && !configMaps[e.ConfigMapRef.Name] && (e.ConfigMapRef.Optional == nil || !*e.ConfigMapRef.Optional) {
				fail("container %s: ConfigMap %q is not part of the manifests", c.Name, e.ConfigMapRef.Name)
			}
		}
	}
	return errs
}
