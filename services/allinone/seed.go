package allinone

import (
	"context"
	"crypto/rand"
	_ "embed"
	"encoding/hex"
	"fmt"
	"log/slog"

	"go.uber.org/fx"

	userv1 "github.com/tremolo-dev/tremolo/gen/douyin/user/v1"
	videov1 "github.com/tremolo-dev/tremolo/gen/douyin/video/v1"
	"github.com/tremolo-dev/tremolo/platform/auth"
	"github.com/tremolo-dev/tremolo/platform/client"
)

// DemoUser is the account that owns the demo video.
const DemoUser = "tremolo-demo"

// demoVideo is a 3-second 360x640 H.264/AAC clip (ffmpeg's test pattern
// and a 440 Hz tone), small enough to embed and playable by any client.
//
//go:embed demo/demo.mp4
var demoVideo []byte

// seedModule publishes the demo video once the servers listen, when the
// video store is empty.
var seedModule = fx.Module("seed",
	fx.Invoke(func(lc fx.Lifecycle, conns *client.Conns, logger *slog.Logger) {
		lc.Append(fx.StartHook(func(ctx context.Context) error {
			return Seed(ctx, conns, logger)
		}))
	}),
)

// Seed publishes the demo video by DemoUser if no video exists. Running it
// again, or on a store with videos, changes nothing.
func Seed(ctx context.Context, conns *client.Conns, logger *slog.Logger) error {
	vc, err := conns.Conn(videov1.VideoServiceName, videov1.VideoServiceMethods)
	if err != nil {
		return err
	}
	uc, err := conns.Conn(userv1.UserServiceName, userv1.UserServiceMethods)
	if err != nil {
		return err
	}
	videos, users := videov1.NewVideoServiceClient(vc), userv1.NewUserServiceClient(uc)
	latest, err := videos.ListLatest(ctx, &videov1.ListLatestRequest{Limit: 1})
	if err != nil {
		return fmt.Errorf("seed: looking for videos: %w", err)
	}
	if len(latest.GetVideos()) > 0 {
		return nil
	}
	var pw [16]byte
	_, _ = rand.Read(pw[:])
	reg, err := users.Register(ctx, &userv1.RegisterRequest{Username: DemoUser, Password: hex.EncodeToString(pw[:])})
	var id int64
	switch {
	case err == nil:
		id = reg.GetUserId()
	case userv1.IsNameTaken(err):
		// A previous seed registered the user but failed to publish. Its
		// random password is lost and the user service has no lookup by
		// name, so publish under a fresh demo account instead.
		reg, err = users.Register(ctx, &userv1.RegisterRequest{Username: DemoUser + "-" + hex.EncodeToString(pw[:3]), Password: hex.EncodeToString(pw[:])})
		if err != nil {
			return fmt.Errorf("seed: registering the demo user: %w", err)
		}
		id = reg.GetUserId()
	default:
		return fmt.Errorf("seed: registering the demo user: %w", err)
	}
	stream, err := videos.Publish(auth.WithUser(ctx, id))
	if err != nil {
		return fmt.Errorf("seed: publishing: %w", err)
	}
	msgs := []*videov1.PublishRequest{{Part: &videov1.PublishRequest_Metadata{Metadata: &videov1.PublishMetadata{Title: "Welcome to Tremolo"}}}}
	for off := 0; off < len(demoVideo); off += 256 << 10 {
		msgs = append(msgs, &videov1.PublishRequest{Part: &videov1.PublishRequest_Chunk{Chunk: demoVideo[off:min(off+256<<10, len(demoVideo))]}})
	}
	for _, m := range msgs {
		if err := stream.Send(m); err != nil {
			break // the reason comes from CloseAndRecv
		}
	}
	resp, err := stream.CloseAndRecv()
	if err != nil {
		return fmt.Errorf("seed: publishing the demo video: %w", err)
	}
	logger.InfoContext(ctx, "seeded demo content on an empty store", slog.Int64("video_id", resp.GetVideo().GetId()), slog.Int64("user_id", id))
	return nil
}
