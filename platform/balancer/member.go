package balancer

import (
	"cmp"
	"strings"

	"google.golang.org/grpc/balancer"
	"google.golang.org/grpc/resolver"

	"github.com/tremolo-dev/tremolo/platform/discovery"
)

// The instance labels the policy reads.
const (
	// trackLabel marks gray instances: any value but "stable".
	trackLabel = "track"
	// stableTrack is the track of instances that take ordinary traffic.
	stableTrack = "stable"
	// versionLabel is matched against a call's version, besides
	// Instance.Version.
	versionLabel = "version"
)

// member is one READY SubConn with what the policy routes on.
type member struct {
	sc         balancer.SubConn
	addr       string // the ring identity, host:port
	serverName string
	version    string // Instance.Version without a leading "v"
	labels     map[string]string
	cell       string
	weight     int // 1..MaxWeight
	gray       bool
}

// memberOf describes sc, connected to addr. inst is the address's Instance
// as the resolver last reported it, nil for a static target.
func memberOf(sc balancer.SubConn, addr resolver.Address, inst *discovery.Instance) member {
	m := member{sc: sc, addr: addr.Addr, serverName: addr.ServerName, weight: 1}
	if inst == nil {
		return m
	}
	m.version = stripV(inst.Version)
	m.labels = inst.Labels
	m.cell = inst.Cell
	m.weight = min(max(inst.Weight, 1), MaxWeight)
	if t := inst.Labels[trackLabel]; t != "" && t != stableTrack {
		m.gray = true
	}
	return m
}

// servesVersion reports whether m serves calls asking for version v.
func (m *member) servesVersion(v string) bool {
	if v == "" {
		return false
	}
	if m.version != "" && m.version == stripV(v) {
		return true
	}
	return m.labels[versionLabel] == v
}

// versionKeys are the call versions m serves, so that a picker can map
// each to its instances up front.
func (m *member) versionKeys() []string {
	var keys []string
	if m.version != "" {
		keys = append(keys, m.version, "v"+m.version)
	}
	if v := m.labels[versionLabel]; v != "" {
		keys = append(keys, v)
	}
	return keys
}

// experimentKeys are the "experiment=variant" assignments m is labelled
// for: every label but the ones with a meaning of their own.
func (m *member) experimentKeys() []string {
	var keys []string
	for k, v := range m.labels {
		if k == trackLabel || k == versionLabel || k == "" || v == "" {
			continue
		}
		keys = append(keys, k+"="+v)
	}
	return keys
}

// compareMembers orders members by address, so that every client lists a
// set's instances, and so builds its ring, the same way.
func compareMembers(a, b member) int {
	return cmp.Or(cmp.Compare(a.addr, b.addr), cmp.Compare(a.serverName, b.serverName))
}

func stripV(v string) string { return strings.TrimPrefix(v, "v") }
