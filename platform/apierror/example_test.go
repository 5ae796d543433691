package apierror_test

import (
	"fmt"
	"log/slog"

	"google.golang.org/grpc/codes"

	"github.com/tremolo-dev/tremolo/platform/apierror"
)

// Generated code declares specs like this one from ErrorRule options and
// registers them; handlers return errors made from them.
func Example() {
	videoNotFound := &apierror.Spec{
		Domain: "video.example", Reason: "VIDEO_NOT_FOUND", Code: codes.NotFound, HTTPStatus: 404,
		BusinessCode: 20001, LogLevel: slog.LevelInfo, Message: "the video does not exist",
	}
	reg := apierror.NewRegistry()
	if err := reg.Register(videoNotFound); err != nil {
		panic(err)
	}

	err := videoNotFound.Errorf("video %d does not exist", 42)
	st := apierror.ToStatus(err, "")
	fmt.Println(st.Code(), st.Message())
	fmt.Println(apierror.HTTPStatus(err), apierror.BusinessCode(err))
	// Output:
	// NotFound video 42 does not exist
	// 404 20001
}
