package ratelimit

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"
)

// RedisOptions configure NewRedis. The zero value is usable.
type RedisOptions struct {
	// Prefix is prepended to every key (default "tremolo:rl:"), so buckets
	// share a Redis with other data without colliding.
	Prefix string
}

// Redis is a Store that keeps each bucket in a Redis hash, refilled and
// taken by one Lua script so concurrent edges never race on a bucket, with
// the Redis server's clock (TIME) so edges with skewed clocks agree. A key
// expires once its bucket would have refilled: an idle limit costs Redis
// nothing.
type Redis struct {
	client redis.Scripter
	prefix string
}

// NewRedis returns a store using client, which may be a *redis.Client, a
// *redis.ClusterClient or a *redis.Ring (each bucket is one key). The caller
// owns client and closes it.
func NewRedis(client redis.Scripter, opts RedisOptions) *Redis {
	if opts.Prefix == "" {
		opts.Prefix = "tremolo:rl:"
	}
	return &Redis{client: client, prefix: opts.Prefix}
}

// takeScript refills and takes, returning {allowed, remaining, retry_us}.
// The hash holds tokens (a decimal string, as Lua numbers are doubles) and
// the microsecond of the last take. The arithmetic is refill's.
var takeScript = redis.NewScript(`
local rate = tonumber(ARGV[1])
local burst = tonumber(ARGV[2])
local cost = tonumber(ARGV[3])
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local state = redis.call('HMGET', KEYS[1], 'tokens', 'ts')
local tokens = tonumber(state[1])
local ts = tonumber(state[2])
if tokens == nil or ts == nil then
  tokens = burst
  ts = now
end
if now > ts then
  tokens = tokens + (now - ts) * rate / 1000000
end
if tokens > burst then
  tokens = burst
end
local allowed = 0
local retry = 0
if tokens >= cost then
  tokens = tokens - cost
  allowed = 1
else
  retry = math.ceil((cost - tokens) * 1000000 / rate)
  if retry < 1 then retry = 1 end
end
redis.call('HSET', KEYS[1], 'tokens', string.format('%.17g', tokens), 'ts', now)
redis.call('PEXPIRE', KEYS[1], math.ceil((burst - tokens) * 1000 / rate) + 1000)
return {allowed, math.floor(tokens), retry}
`)

// Take implements Store. Errors from Redis are returned wrapped, with the
// key, so a log line says which limit is unknown.
func (s *Redis) Take(ctx context.Context, key string, rate float64, burst int, cost int) (Result, error) {
	if err := Validate(key, rate, burst, cost); err != nil {
		return Result{}, err
	}
	vals, err := takeScript.Run(ctx, s.client, []string{s.prefix + key},
		strconv.FormatFloat(rate, 'g', -1, 64), burst, cost).Int64Slice()
	if err != nil {
		return Result{}, fmt.Errorf("ratelimit: redis take %q: %w", key, err)
	}
	if len(vals) != 3 {
		return Result{}, fmt.Errorf("ratelimit: redis take %q: script returned %d values, want 3", key, len(vals))
	}
	return Result{
		Allowed:    vals[0] == 1,
		Remaining:  int(vals[1]),
		RetryAfter: time.Duration(vals[2]) * time.Microsecond,
	}, nil
}
