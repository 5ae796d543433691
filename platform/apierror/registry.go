package apierror

import (
	"fmt"
	"slices"
	"sync"
)

// Registry indexes specs by domain/reason and by business code, and refuses
// two specs that would be indistinguishable to a caller.
//
// Generated code registers its specs in Default from init functions, so a
// process knows every error of every service it links in, including the
// services it only calls: that is what lets FromError rebuild a typed error
// from a status received over the wire.
type Registry struct {
	mu         sync.RWMutex
	byKey      map[Key]*Spec
	byBusiness map[int32]*Spec
}

// NewRegistry returns an empty registry.
func NewRegistry() *Registry {
	return &Registry{byKey: map[Key]*Spec{}, byBusiness: map[int32]*Spec{}}
}

// Default is the process-wide registry generated code registers into. It
// starts with the platform's own specs.
var Default = func() *Registry {
	r := NewRegistry()
	for _, s := range platformSpecs {
		r.MustRegister(s)
	}
	return r
}()

// Register adds specs. Registering the same *Spec twice is a no-op; a
// different spec with the same domain/reason or business code is an error,
// and nothing is registered.
func (r *Registry) Register(specs ...*Spec) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	for i, s := range specs {
		if err := s.validate(); err != nil {
			return err
		}
		if prev, ok := r.byKey[s.Key()]; ok && prev != s {
			return fmt.Errorf("apierror: %s is registered twice", s)
		}
		if prev, ok := r.byBusiness[s.BusinessCode]; ok && prev != s {
			return fmt.Errorf("apierror: business code %d is used by both %s and %s", s.BusinessCode, prev, s)
		}
		for _, o := range specs[:i] {
			if o != s && (o.Key() == s.Key() || o.BusinessCode == s.BusinessCode) {
				return fmt.Errorf("apierror: %s and %s share a reason or business code", o, s)
			}
		}
	}
	for _, s := range specs {
		r.byKey[s.Key()] = s
		r.byBusiness[s.BusinessCode] = s
	}
	return nil
}

// MustRegister is Register for init functions: a conflict is a build defect
// (protoc-gen-go-errors refuses duplicate business codes across the
// repository), so it panics.
func (r *Registry) MustRegister(specs ...*Spec) {
	if err := r.Register(specs...); err != nil {
		panic(err)
	}
}

// Lookup returns the spec with the given domain and reason.
func (r *Registry) Lookup(domain, reason string) (*Spec, bool) {
	r.mu.RLock()
	defer r.mu.RUnlock()
	s, ok := r.byKey[Key{Domain: domain, Reason: reason}]
	return s, ok
}

// LookupBusinessCode returns the spec with the given business code.
func (r *Registry) LookupBusinessCode(code int32) (*Spec, bool) {
	r.mu.RLock()
	defer r.mu.RUnlock()
	s, ok := r.byBusiness[code]
	return s, ok
}

// Specs returns every registered spec, ordered by business code.
func (r *Registry) Specs() []*Spec {
	r.mu.RLock()
	defer r.mu.RUnlock()
	out := make([]*Spec, 0, len(r.byKey))
	for _, s := range r.byKey {
		out = append(out, s)
	}
	slices.SortFunc(out, func(a, b *Spec) int { return int(a.BusinessCode) - int(b.BusinessCode) })
	return out
}

// MustRegister registers specs in Default. Generated code calls it from init.
func MustRegister(specs ...*Spec) { Default.MustRegister(specs...) }
