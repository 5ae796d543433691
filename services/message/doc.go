// Package message is the Douyin message service: chat between two users.
//
// It owns the messages (services/message/internal/store) and asks the user
// service, in one BatchGetUsers call, whether a user it is told about
// exists. Its contract is proto/douyin/message/v1/message.proto; the
// generated code in gen/douyin/message/v1 registers it on the platform's
// servers (Module).
//
// Behaviour beyond the contract's comments:
//   - Every method acts for the verified caller (auth.Require). Ids must be
//     positive (INVALID_ID); a chat with oneself is SELF_MESSAGE; a peer who
//     is not a user is USER_NOT_FOUND (the user service is asked only when
//     the two have no messages yet: earlier messages prove the peer exists).
//   - Content is 1 to MaxContentLen characters (Unicode code points) of
//     valid UTF-8, not only white space and without NUL (INVALID_CONTENT);
//     it is stored as sent.
//   - A message's id comes from platform/ids and its created_at (Unix
//     milliseconds) is the id's own timestamp, so a chat ordered by
//     (created_at, id) is in sending order, and two messages of one
//     millisecond both appear, in order.
//   - Chat returns at most MaxChatMessages messages (oldest first), more only
//     when one millisecond holds more, and never splits a millisecond: a
//     client that asks again with after_time set to the last created_at it
//     got receives the rest. This bounds a response (1000 characters may be
//     4000 bytes) below gRPC's default 4 MiB message limit. after_time <= 0
//     means from the start.
//   - BatchLatest takes at most 500 distinct peers (TOO_MANY_IDS), all
//     positive (INVALID_ID); peers without messages, unknown users and the
//     caller are absent. One query.
package message
