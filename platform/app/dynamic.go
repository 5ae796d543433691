package app

import (
	"fmt"

	"go.uber.org/fx"

	"github.com/tremolo-dev/tremolo/platform/breaker"
	"github.com/tremolo-dev/tremolo/platform/dynconfig"
	"github.com/tremolo-dev/tremolo/platform/faultinject"
	"github.com/tremolo-dev/tremolo/platform/shedding"
)

// The dynamic configuration documents every process follows
// (docs/configuration.md has the formats). The edge adds "plugins".
const (
	// BreakersDocument holds the circuit breakers' thresholds
	// (breaker.ParseSettings); absent: the defaults.
	BreakersDocument = "breakers"
	// FaultsDocument holds fault-injection rules (faultinject.Parse);
	// absent: none.
	FaultsDocument = "faults"
	// LimitsDocument holds "max_in_flight: N", the load-shedding limit;
	// absent: -max-in-flight.
	LimitsDocument = "limits"
)

// limits is LimitsDocument.
type limits struct {
	MaxInFlight *int `json:"max_in_flight"`
}

// DynamicParams are the inputs of followDynamic.
type DynamicParams struct {
	fx.In

	Config  Config
	Watcher *dynconfig.Watcher
	Callees *Callees
	Faults  *faultinject.Injector
	Shedder *shedding.Shedder
}

// followDynamic applies the governance documents as they change. A
// document that does not parse or validate is refused (logged, counted in
// tremolo_dynconfig_rejected_total) and what was in force stays.
func followDynamic(p DynamicParams) {
	p.Watcher.Subscribe(BreakersDocument, func(data []byte, present bool) error {
		s := breaker.DefaultSettings()
		if present {
			var err error
			if s, err = breaker.ParseSettings(data); err != nil {
				return err
			}
		}
		return p.Callees.SetBreakerSettings(s)
	})
	p.Watcher.Subscribe(FaultsDocument, func(data []byte, present bool) error {
		if !present {
			return p.Faults.Set(nil)
		}
		rules, err := faultinject.Parse(data)
		if err != nil {
			return err
		}
		return p.Faults.Set(rules)
	})
	p.Watcher.Subscribe(LimitsDocument, func(data []byte, present bool) error {
		limit := p.Config.MaxInFlight
		if present {
			l, err := dynconfig.DecodeYAML[limits](data)
			if err != nil {
				return err
			}
			if l.MaxInFlight != nil {
				limit = *l.MaxInFlight
			}
		}
		if err := p.Shedder.SetLimit(limit); err != nil {
			return fmt.Errorf("limits: max_in_flight: %w", err)
		}
		return nil
	})
}
