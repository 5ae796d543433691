package favorite

import (
	"context"
	"fmt"
	"path/filepath"

	"go.uber.org/fx"

	favoritev1 "github.com/tremolo-dev/tremolo/gen/douyin/favorite/v1"
	videov1 "github.com/tremolo-dev/tremolo/gen/douyin/video/v1"
	"github.com/tremolo-dev/tremolo/platform/app"
	"github.com/tremolo-dev/tremolo/platform/changes"
	"github.com/tremolo-dev/tremolo/platform/sqldb"
	"github.com/tremolo-dev/tremolo/services/favorite/internal/store"
)

// Module runs the favorite service: its store, a client of the video
// service, and the generated FavoriteService module. It needs app.Config and
// Config supplied. The video client is private, so that other services in
// the same process provide their own.
var Module = fx.Module("favorite",
	fx.Provide(
		fx.Private,
		OpenStore,
		videov1.NewVideoServiceConnClient,
	),
	favoritev1.FavoriteServiceModule(func(st *store.Store, videos videov1.VideoServiceClient, c *changes.Counter) *Service {
		return New(st, videos).ReportChanges(c)
	}),
)

// DSN returns the database the service uses: cfg.DSN, or SQLite in the data
// directory.
func DSN(appCfg app.Config, cfg Config) string {
	if cfg.DSN != "" {
		return cfg.DSN
	}
	return "sqlite://" + filepath.Join(appCfg.DataDir, "favorite.db")
}

// OpenStore opens and migrates the favorite database, closing it when the
// app stops.
func OpenStore(lc fx.Lifecycle, appCfg app.Config, cfg Config) (*store.Store, error) {
	ctx := context.Background()
	db, err := sqldb.Open(ctx, DSN(appCfg, cfg))
	if err != nil {
		return nil, fmt.Errorf("favorite: %w", err)
	}
	st, err := store.New(ctx, db)
	if err != nil {
		_ = db.Close()
		return nil, fmt.Errorf("favorite: %w", err)
	}
	lc.Append(fx.StopHook(db.Close))
	return st, nil
}
