package edge

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http/httputil"
	"net/url"
	"os"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"go.opentelemetry.io/otel/trace"
	"go.uber.org/fx"

	commentv1 "github.com/tremolo-dev/tremolo/gen/douyin/comment/v1"
	edgev1 "github.com/tremolo-dev/tremolo/gen/douyin/edge/v1"
	favoritev1 "github.com/tremolo-dev/tremolo/gen/douyin/favorite/v1"
	feedv1 "github.com/tremolo-dev/tremolo/gen/douyin/feed/v1"
	messagev1 "github.com/tremolo-dev/tremolo/gen/douyin/message/v1"
	relationv1 "github.com/tremolo-dev/tremolo/gen/douyin/relation/v1"
	userv1 "github.com/tremolo-dev/tremolo/gen/douyin/user/v1"
	videov1 "github.com/tremolo-dev/tremolo/gen/douyin/video/v1"
	"github.com/tremolo-dev/tremolo/platform/app"
	"github.com/tremolo-dev/tremolo/platform/client"
	"github.com/tremolo-dev/tremolo/platform/dynconfig"
	"github.com/tremolo-dev/tremolo/platform/server"
	"github.com/tremolo-dev/tremolo/platform/token"
	"github.com/tremolo-dev/tremolo/platform/tracing"
)

// ClientsParams are the edge's fx inputs.
type ClientsParams struct {
	fx.In

	Config    Config
	Users     userv1.UserServiceClient
	Videos    videov1.VideoServiceClient
	Feed      feedv1.FeedServiceClient
	Favorites favoritev1.FavoriteServiceClient
	Comments  commentv1.CommentServiceClient
	Relations relationv1.RelationServiceClient
	Messages  messagev1.MessageServiceClient
}

// HandlerParams are the inputs of the app's HTTP API.
type HandlerParams struct {
	fx.In

	Config     Config
	App        app.Config
	Conns      *client.Conns
	Videos     videov1.VideoServiceClient
	Token      token.Config
	Logger     *slog.Logger
	Registerer prometheus.Registerer
	Tracer     trace.TracerProvider
	Dynamic    *dynconfig.Watcher `optional:"true"`
	Lifecycle  fx.Lifecycle
}

// HandlerResult adds the app's routes (and a /media/ proxy when the video
// service is elsewhere) to the server's HTTP handlers.
type HandlerResult struct {
	fx.Out

	Handlers []server.Handler `group:"tremolo.http.handlers,flatten"`
}

// Module runs the edge: the DouyinService and the app's HTTP API on the
// server's HTTP port under /douyin/. It needs Config and token.Config.
var Module = fx.Module("edge",
	fx.Provide(
		fx.Private,
		userv1.NewUserServiceConnClient,
		videov1.NewVideoServiceConnClient,
		feedv1.NewFeedServiceConnClient,
		favoritev1.NewFavoriteServiceConnClient,
		commentv1.NewCommentServiceConnClient,
		relationv1.NewRelationServiceConnClient,
		messagev1.NewMessageServiceConnClient,
	),
	edgev1.DouyinServiceModule(func(p ClientsParams) (*Service, error) {
		cfg, err := p.Config.resolve()
		if err != nil {
			return nil, err
		}
		return New(cfg, Clients{Users: p.Users, Videos: p.Videos, Feed: p.Feed, Favorites: p.Favorites,
			Comments: p.Comments, Relations: p.Relations, Messages: p.Messages}), nil
	}),
	fx.Provide(NewHTTP),
)

// resolve checks the configuration and loads the time zone.
func (c Config) resolve() (Config, error) {
	if c.TimeZone != "" {
		loc, err := time.LoadLocation(c.TimeZone)
		if err != nil {
			return c, fmt.Errorf("edge: -edge-time-zone %q: %w", c.TimeZone, err)
		}
		c.loc = loc
	}
	if c.MaxUploadBytes <= 0 {
		return c, fmt.Errorf("edge: -edge-max-upload-bytes must be positive")
	}
	return c, nil
}

// NewHTTP builds the app's HTTP API, calling the DouyinService through the
// process's client connections (so REST calls pass the same interceptors as
// gRPC ones), behind the middleware of Config.Middleware.
func NewHTTP(p HandlerParams) (HandlerResult, error) {
	signer, err := token.NewSignerFromConfig(p.Token, p.App.DataDir)
	if err != nil {
		return HandlerResult{}, err
	}
	cc, err := p.Conns.Gateway(edgev1.DouyinServiceName, edgev1.DouyinServiceMethods)
	if err != nil {
		return HandlerResult{}, err
	}
	gw := NewGateway()
	if err := edgev1.RegisterDouyinServiceHandlerClient(context.Background(), gw, edgev1.NewDouyinServiceClient(cc)); err != nil {
		return HandlerResult{}, fmt.Errorf("edge: registering routes: %w", err)
	}
	var res HandlerResult
	if p.Config.MediaOrigin != "" {
		origin, err := url.Parse(p.Config.MediaOrigin)
		if err != nil || origin.Host == "" {
			return HandlerResult{}, fmt.Errorf("edge: -media-origin %q is not an http URL", p.Config.MediaOrigin)
		}
		res.Handlers = append(res.Handlers, server.Handler{Pattern: "GET /media/", Handler: httputil.NewSingleHostReverseProxy(origin)})
	}
	pub := &publisher{videos: p.Videos, verifier: signer, maxBytes: p.Config.MaxUploadBytes, tempDir: os.TempDir(), spools: make(chan struct{}, maxSpools)}

	var (
		mw      Middleware
		plugins *plugins
	)
	switch p.Config.Middleware {
	case MiddlewareNative:
		mw = NativeMiddleware(signer)
	case MiddlewareWasm:
		key, err := token.KeyFor(p.Token, p.App.DataDir)
		if err != nil {
			return HandlerResult{}, err
		}
		if plugins, err = openPlugins(p.Config, p.App.DataDir, key, p.Logger, p.Registerer); err != nil {
			return HandlerResult{}, err
		}
		mw = WasmMiddleware(plugins.front)
	case MiddlewareGo:
		key, err := token.KeyFor(p.Token, p.App.DataDir)
		if err != nil {
			return HandlerResult{}, err
		}
		mw = WasmMiddleware(nativeChain(p.Config.PluginsFile, chainVars(key)))
	default:
		return HandlerResult{}, fmt.Errorf("edge: -edge-middleware %q: want %s, %s or %s", p.Config.Middleware, MiddlewareWasm, MiddlewareNative, MiddlewareGo)
	}
	h, err := Handler(gw, pub, mw)
	if err != nil {
		if plugins != nil {
			err = errors.Join(err, plugins.stop(context.Background()))
		}
		return HandlerResult{}, err
	}
	if plugins != nil {
		var unsubscribe func()
		if p.Dynamic != nil {
			unsubscribe = p.Dynamic.Subscribe(PluginsDocument, plugins.setConfigs)
		}
		p.Lifecycle.Append(fx.Hook{OnStart: plugins.start, OnStop: func(ctx context.Context) error {
			if unsubscribe != nil {
				unsubscribe() // no configs applied to a chain being closed
			}
			return plugins.stop(ctx)
		}})
	}
	// A request's trace starts here (or continues the app's traceparent),
	// before the plugin chain, so the chain's time is in it.
	res.Handlers = append(res.Handlers, server.Handler{Pattern: "/douyin/", Handler: tracing.Middleware(p.Tracer, h)})
	return res, nil
}
