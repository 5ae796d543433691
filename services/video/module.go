package video

import (
	"context"
	"fmt"
	"log/slog"
	"path/filepath"

	"go.uber.org/fx"

	videov1 "github.com/tremolo-dev/tremolo/gen/douyin/video/v1"
	"github.com/tremolo-dev/tremolo/platform/app"
	"github.com/tremolo-dev/tremolo/platform/changes"
	"github.com/tremolo-dev/tremolo/platform/ids"
	"github.com/tremolo-dev/tremolo/platform/server"
	"github.com/tremolo-dev/tremolo/platform/sqldb"
	"github.com/tremolo-dev/tremolo/services/video/internal/cover"
	"github.com/tremolo-dev/tremolo/services/video/internal/store"
)

// Module runs the video service: its store, media directory, cover maker and
// id generator, the generated VideoService module, and the GET /media/
// handler on the platform's HTTP server. It needs app.Config and Config
// supplied.
var Module = fx.Module("video",
	fx.Provide(
		fx.Private,
		OpenStore,
		func(appCfg app.Config, cfg Config, logger *slog.Logger) (*Media, error) {
			return OpenMedia(MediaDir(appCfg, cfg), logger)
		},
		cover.Detect,
		app.IDs("video"),
	),
	fx.Provide(NewMediaRoute),
	videov1.VideoServiceModule(func(st *store.Store, gen ids.Issuer, media *Media, covers *cover.Maker, cfg Config, logger *slog.Logger, c *changes.Counter) *Service {
		return New(st, gen, media, covers, cfg, logger).ReportChanges(c)
	}),
)

// DSN returns the database the service uses: cfg.DSN, or SQLite in the data
// directory.
func DSN(appCfg app.Config, cfg Config) string {
	if cfg.DSN != "" {
		return cfg.DSN
	}
	return "sqlite://" + filepath.Join(appCfg.DataDir, "video.db")
}

// MediaDir returns the media directory the service uses: cfg.MediaDir, or
// media in the data directory.
func MediaDir(appCfg app.Config, cfg Config) string {
	if cfg.MediaDir != "" {
		return cfg.MediaDir
	}
	return filepath.Join(appCfg.DataDir, "media")
}

// OpenStore opens and migrates the video database, closing it when the app
// stops.
func OpenStore(lc fx.Lifecycle, appCfg app.Config, cfg Config) (*store.Store, error) {
	ctx := context.Background()
	db, err := sqldb.Open(ctx, DSN(appCfg, cfg))
	if err != nil {
		return nil, fmt.Errorf("video: %w", err)
	}
	st, err := store.New(ctx, db)
	if err != nil {
		_ = db.Close()
		return nil, fmt.Errorf("video: %w", err)
	}
	lc.Append(fx.StopHook(db.Close))
	return st, nil
}

// MediaRouteResult adds the media handler to the platform's HTTP server.
type MediaRouteResult struct {
	fx.Out

	Handler server.Handler `group:"tremolo.http.handlers"`
}

// NewMediaRoute serves m under GET /media/ (see MediaHandler).
func NewMediaRoute(m *Media, logger *slog.Logger) MediaRouteResult {
	return MediaRouteResult{Handler: server.Handler{Pattern: "GET " + MediaRoute, Handler: MediaHandler(m, logger)}}
}
