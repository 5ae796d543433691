package user

import (
	"context"
	"fmt"
	"path/filepath"

	"go.uber.org/fx"

	userv1 "github.com/tremolo-dev/tremolo/gen/douyin/user/v1"
	"github.com/tremolo-dev/tremolo/platform/app"
	"github.com/tremolo-dev/tremolo/platform/sqldb"
	"github.com/tremolo-dev/tremolo/platform/token"
	"github.com/tremolo-dev/tremolo/services/user/internal/store"
)

// Module runs the user service: its store, token signer and id generator,
// and the generated UserService module. It needs app.Config, Config and
// token.Config supplied.
var Module = fx.Module("user",
	fx.Provide(
		fx.Private,
		OpenStore,
		NewSigner,
		app.IDs("user"),
	),
	userv1.UserServiceModule(New),
)

// DSN returns the database the service uses: cfg.DSN, or SQLite in the data
// directory.
func DSN(appCfg app.Config, cfg Config) string {
	if cfg.DSN != "" {
		return cfg.DSN
	}
	return "sqlite://" + filepath.Join(appCfg.DataDir, "user.db")
}

// OpenStore opens and migrates the user database, closing it when the app
// stops.
func OpenStore(lc fx.Lifecycle, appCfg app.Config, cfg Config) (*store.Store, error) {
	ctx := context.Background()
	db, err := sqldb.Open(ctx, DSN(appCfg, cfg))
	if err != nil {
		return nil, fmt.Errorf("user: %w", err)
	}
	st, err := store.New(ctx, db)
	if err != nil {
		_ = db.Close()
		return nil, fmt.Errorf("user: %w", err)
	}
	lc.Append(fx.StopHook(db.Close))
	return st, nil
}

// NewSigner loads the token key (by default <data-dir>/jwt.key, created on
// first start) and returns the signer.
func NewSigner(appCfg app.Config, cfg token.Config) (*token.Signer, error) {
	return token.NewSignerFromConfig(cfg, appCfg.DataDir)
}
