package discovery

import (
	"testing"
)

func TestMemoryContract(t *testing.T) {
	testContract(t, func(t *testing.T) Registry {
		m := NewMemory()
		t.Cleanup(func() { m.Close() })
		return m
	})
}
