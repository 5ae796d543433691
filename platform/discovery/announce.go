package discovery

import (
	"context"
	"errors"
	"fmt"
	"sync"
)

// Announce registers every instance in insts and returns the function that
// deregisters them all, for a process that serves several services from one
// gRPC port: it announces them together at start and withdraws them together
// at stop. If one registration fails, the ones already made are withdrawn
// and the error names the instance that failed.
//
// The returned function deregisters every instance even when some fail,
// returns their errors joined, and does nothing when called again.
func Announce(ctx context.Context, reg Registry, insts ...Instance) (func(context.Context) error, error) {
	if reg == nil {
		return nil, errors.New("discovery: Announce needs a registry, got nil")
	}
	regs := make([]Registration, 0, len(insts))
	withdraw := func(ctx context.Context) error {
		var errs []error
		for _, r := range regs {
			if err := r.Deregister(ctx); err != nil {
				errs = append(errs, err)
			}
		}
		return errors.Join(errs...)
	}
	// Concurrently: each registration may wait for an unreachable
	// registry, and a process serving eight services must not wait eight
	// times as long to start.
	got := make([]Registration, len(insts))
	errs := make([]error, len(insts))
	var wg sync.WaitGroup
	for i, inst := range insts {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r, err := reg.Register(ctx, inst)
			if err != nil {
				err = fmt.Errorf("discovery: announcing %s/%s: %w", inst.Service, inst.ID, err)
			}
			got[i], errs[i] = r, err
		}()
	}
	wg.Wait()
	for _, r := range got {
		if r != nil {
			regs = append(regs, r)
		}
	}
	if err := errors.Join(errs...); err != nil {
		return nil, errors.Join(err, withdraw(context.WithoutCancel(ctx)))
	}
	var once sync.Once
	var err error
	return func(ctx context.Context) error {
		once.Do(func() { err = withdraw(ctx) })
		return err
	}, nil
}
