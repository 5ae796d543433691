package edge

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"path/filepath"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"
	"sigs.k8s.io/yaml"

	"github.com/tremolo-dev/tremolo/platform/ratelimit"

	"github.com/tremolo-dev/tremolo/platform/wasmchain"
	"github.com/tremolo-dev/tremolo/platform/wasmhost"
)

// plugins is the edge's WASM middleware: the host runtime, the chain file
// it follows, and the Redis client of the shared rate limits.
type plugins struct {
	file   string
	vars   map[string]string
	logger *slog.Logger
	reg    prometheus.Registerer

	rt    *wasmhost.Runtime
	redis *redis.Client // nil: buckets in the process
	chain *wasmchain.Chain

	stopWatch context.CancelFunc
	watching  chan struct{}
}

// ChainVars are the ${name} variables an edge chain file may use.
const (
	// VarJWTKeyBase64 is the token key (-jwt-key or -jwt-key-file), base64:
	// the jwt plugin's HS256 key, without copying it into the file.
	VarJWTKeyBase64 = "jwt_key_base64"
)

// chainVars are the variables the edge gives its chain file.
func chainVars(jwtKey []byte) map[string]string {
	return map[string]string{VarJWTKeyBase64: base64.StdEncoding.EncodeToString(jwtKey)}
}

// openPlugins prepares the WASM middleware of cfg: the runtime with its
// compilation cache (cfg.PluginsCacheDir, or dataDir/wasm-cache) and bucket
// store. The chain itself loads in front.
func openPlugins(cfg Config, dataDir string, jwtKey []byte, logger *slog.Logger, reg prometheus.Registerer) (*plugins, error) {
	if cfg.PluginsFile == "" {
		return nil, errors.New("edge: -edge-middleware=wasm needs a chain file (-edge-plugins)")
	}
	cacheDir := cfg.PluginsCacheDir
	if cacheDir == "" {
		cacheDir = filepath.Join(dataDir, "wasm-cache")
	}
	p := &plugins{
		file:   cfg.PluginsFile,
		vars:   chainVars(jwtKey),
		logger: logger,
		reg:    reg,
	}
	var buckets ratelimit.Store
	if cfg.RedisAddr != "" {
		p.redis = redis.NewClient(&redis.Options{Addr: cfg.RedisAddr})
		buckets = ratelimit.NewRedis(p.redis, ratelimit.RedisOptions{})
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		if err := p.redis.Ping(ctx).Err(); err != nil {
			// Not fatal: while Redis is away, rate limits let requests
			// through and count the failures (ABI.md, bucket_take).
			logger.Warn("edge: Redis for the plugins' rate limits does not answer; limits are not enforced until it does",
				slog.String("addr", cfg.RedisAddr), slog.Any("error", err))
		}
	}
	rt, err := wasmhost.NewRuntime(context.Background(), wasmhost.RuntimeOptions{
		CacheDir: cacheDir, Logger: logger, Registerer: reg, Buckets: buckets,
	})
	if err != nil {
		return nil, errors.Join(fmt.Errorf("edge: %w", err), p.closeRedis())
	}
	p.rt = rt
	return p, nil
}

// PluginsDocument is the dynamic configuration document of the edge's
// plugins: a mapping from plugin name to that plugin's config, replacing
// the chain file's config of each plugin it names (A/B rules, rate limits)
// while the edge runs:
//
//	abrouting: {versions: [{name: stable, weight: 90, label: v1}, {name: canary, weight: 10, label: v2}]}
//	ratelimit: {tiers: {normal: {user: {rate: 5, burst: 10}}}}
//
// Without it, or for plugins it leaves out, the chain file's configs hold.
const PluginsDocument = "plugins"

// setConfigs applies PluginsDocument to the chain.
func (p *plugins) setConfigs(data []byte, present bool) error {
	configs := map[string][]byte{}
	if present {
		var doc map[string]json.RawMessage
		raw, err := yaml.YAMLToJSON(data)
		if err == nil {
			err = json.Unmarshal(raw, &doc)
		}
		if err != nil {
			return fmt.Errorf("edge: %s document: want a mapping from plugin name to its config: %w", PluginsDocument, err)
		}
		for name, cfg := range doc {
			configs[name] = cfg
		}
	}
	if p.chain == nil {
		return errors.New("edge: the plugin chain is not loaded")
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	return p.chain.SetConfigs(ctx, configs)
}

// front loads the chain file in front of next (Middleware.Front).
func (p *plugins) front(next http.Handler) (http.Handler, error) {
	chain, err := wasmchain.New(context.Background(), next, wasmchain.Options{
		Path: p.file, Vars: p.vars, Runtime: p.rt, Deny: denyRequest, Logger: p.logger, Registerer: p.reg,
	})
	if err != nil {
		return nil, fmt.Errorf("edge: the plugin chain (-edge-plugins %s; -edge-middleware=native runs without it): %w", p.file, err)
	}
	p.chain = chain
	return chain, nil
}

// start follows the chain file: a change is loaded and swapped in.
func (p *plugins) start(context.Context) error {
	ctx, cancel := context.WithCancel(context.Background())
	p.stopWatch, p.watching = cancel, make(chan struct{})
	go func() {
		defer close(p.watching)
		p.chain.Watch(ctx)
	}()
	return nil
}

// stop ends the watch, then closes the chain, the runtime and Redis.
func (p *plugins) stop(ctx context.Context) error {
	if p.stopWatch != nil {
		p.stopWatch()
		<-p.watching
	}
	var errs []error
	if p.chain != nil {
		errs = append(errs, p.chain.Close(ctx))
	}
	errs = append(errs, p.rt.Close(ctx), p.closeRedis())
	return errors.Join(errs...)
}

func (p *plugins) closeRedis() error {
	if p.redis == nil {
		return nil
	}
	return p.redis.Close()
}
