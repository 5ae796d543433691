package relation

import (
	"context"
	"fmt"
	"path/filepath"

	"go.uber.org/fx"

	relationv1 "github.com/tremolo-dev/tremolo/gen/douyin/relation/v1"
	userv1 "github.com/tremolo-dev/tremolo/gen/douyin/user/v1"
	"github.com/tremolo-dev/tremolo/platform/app"
	"github.com/tremolo-dev/tremolo/platform/changes"
	"github.com/tremolo-dev/tremolo/platform/sqldb"
	"github.com/tremolo-dev/tremolo/services/relation/internal/store"
)

// Module runs the relation service: its store, a client of the user service
// (private, so other services in the same process keep their own) and the
// generated RelationService module. It needs app.Config and Config supplied.
var Module = fx.Module("relation",
	fx.Provide(
		fx.Private,
		OpenStore,
		userv1.NewUserServiceConnClient,
	),
	relationv1.RelationServiceModule(func(st *store.Store, users userv1.UserServiceClient, c *changes.Counter) *Service {
		return New(st, users).ReportChanges(c)
	}),
)

// DSN returns the database the service uses: cfg.DSN, or SQLite in the data
// directory.
func DSN(appCfg app.Config, cfg Config) string {
	if cfg.DSN != "" {
		return cfg.DSN
	}
	return "sqlite://" + filepath.Join(appCfg.DataDir, "relation.db")
}

// OpenStore opens and migrates the relation database, closing it when the
// app stops.
func OpenStore(lc fx.Lifecycle, appCfg app.Config, cfg Config) (*store.Store, error) {
	ctx := context.Background()
	db, err := sqldb.Open(ctx, DSN(appCfg, cfg))
	if err != nil {
		return nil, fmt.Errorf("relation: %w", err)
	}
	st, err := store.New(ctx, db)
	if err != nil {
		_ = db.Close()
		return nil, fmt.Errorf("relation: %w", err)
	}
	lc.Append(fx.StopHook(db.Close))
	return st, nil
}
