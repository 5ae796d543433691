// Package edge serves the Douyin app's HTTP API (docs: douyin-api.md in the
// shared material) on top of grpc-gateway: the routes are the
// google.api.http bindings of proto/douyin/edge/v1/edge.proto, and this
// package adds what the app's contract needs around them:
//
//   - routes with and without their trailing '/';
//   - parameters from the query string, a url-encoded form body, or both;
//     ids written in float notation ("1e+06") accepted when exact;
//   - the token from the query, the form or "Authorization: Bearer",
//     verified by platform/auth's middleware (public routes: feed,
//     register, login);
//   - JSON with the proto field names, int64 as numbers and lists never null;
//   - every failure as HTTP 200 with status_code (the error's business code
//     from the generated catalog, docs/errors.md) and status_msg;
//   - multipart publish streamed to the video service, never held in memory.
package edge
