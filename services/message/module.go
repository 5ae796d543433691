package message

import (
	"context"
	"fmt"
	"path/filepath"

	"go.uber.org/fx"

	messagev1 "github.com/tremolo-dev/tremolo/gen/douyin/message/v1"
	userv1 "github.com/tremolo-dev/tremolo/gen/douyin/user/v1"
	"github.com/tremolo-dev/tremolo/platform/app"
	"github.com/tremolo-dev/tremolo/platform/sqldb"
	"github.com/tremolo-dev/tremolo/services/message/internal/store"
)

// Module runs the message service: its store, id generator, a client of
// the user service (private, so other services in the same process keep
// their own) and the generated MessageService module. It needs app.Config
// and Config supplied.
var Module = fx.Module("message",
	fx.Provide(
		fx.Private,
		OpenStore,
		userv1.NewUserServiceConnClient,
		app.IDs("message"),
	),
	messagev1.MessageServiceModule(New),
)

// DSN returns the database the service uses: cfg.DSN, or SQLite in the data
// directory.
func DSN(appCfg app.Config, cfg Config) string {
	if cfg.DSN != "" {
		return cfg.DSN
	}
	return "sqlite://" + filepath.Join(appCfg.DataDir, "message.db")
}

// OpenStore opens and migrates the message database, closing it when the
// app stops.
func OpenStore(lc fx.Lifecycle, appCfg app.Config, cfg Config) (*store.Store, error) {
	ctx := context.Background()
	db, err := sqldb.Open(ctx, DSN(appCfg, cfg))
	if err != nil {
		return nil, fmt.Errorf("message: %w", err)
	}
	st, err := store.New(ctx, db)
	if err != nil {
		_ = db.Close()
		return nil, fmt.Errorf("message: %w", err)
	}
	lc.Append(fx.StopHook(db.Close))
	return st, nil
}
