package comment

import (
	"context"
	"fmt"
	"path/filepath"

	"go.uber.org/fx"

	commentv1 "github.com/tremolo-dev/tremolo/gen/douyin/comment/v1"
	videov1 "github.com/tremolo-dev/tremolo/gen/douyin/video/v1"
	"github.com/tremolo-dev/tremolo/platform/app"
	"github.com/tremolo-dev/tremolo/platform/changes"
	"github.com/tremolo-dev/tremolo/platform/ids"
	"github.com/tremolo-dev/tremolo/platform/sqldb"
	"github.com/tremolo-dev/tremolo/services/comment/internal/store"
)

// Module runs the comment service: its store, id generator, a client of the
// video service, and the generated CommentService module. It needs
// app.Config and Config supplied. Its providers are private, so that other
// services in the same process provide their own.
var Module = fx.Module("comment",
	fx.Provide(
		fx.Private,
		OpenStore,
		videov1.NewVideoServiceConnClient,
		app.IDs("comment"),
	),
	commentv1.CommentServiceModule(func(st *store.Store, videos videov1.VideoServiceClient, gen ids.Issuer, c *changes.Counter) *Service {
		return New(st, videos, gen).ReportChanges(c)
	}),
)

// DSN returns the database the service uses: cfg.DSN, or SQLite in the data
// directory.
func DSN(appCfg app.Config, cfg Config) string {
	if cfg.DSN != "" {
		return cfg.DSN
	}
	return "sqlite://" + filepath.Join(appCfg.DataDir, "comment.db")
}

// OpenStore opens and migrates the comment database, closing it when the app
// stops.
func OpenStore(lc fx.Lifecycle, appCfg app.Config, cfg Config) (*store.Store, error) {
	ctx := context.Background()
	db, err := sqldb.Open(ctx, DSN(appCfg, cfg))
	if err != nil {
		return nil, fmt.Errorf("comment: %w", err)
	}
	st, err := store.New(ctx, db)
	if err != nil {
		_ = db.Close()
		return nil, fmt.Errorf("comment: %w", err)
	}
	lc.Append(fx.StopHook(db.Close))
	return st, nil
}
