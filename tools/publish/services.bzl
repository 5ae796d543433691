"""The binaries `bazel run //:publish` images: name -> go_binary.

Keep in sync with the tree: every main package under services/*/cmd/* and
cmd/tremolo. tools/publish's tests (TestDeclaredServicesMatchTree) fail when
a service is missing here or listed without existing.
"""

SERVICES = {
    "comment": "//services/comment/cmd/comment",
    "edge": "//services/edge/cmd/edge",
    "favorite": "//services/favorite/cmd/favorite",
    "feed": "//services/feed/cmd/feed",
    "message": "//services/message/cmd/message",
    "relation": "//services/relation/cmd/relation",
    "user": "//services/user/cmd/user",
    "video": "//services/video/cmd/video",
}

# The all-in-one binary: imaged too, but not part of the distributed
# Kubernetes manifests (it gets its own, under allinone/).
ALL_IN_ONE = {
    "tremolo": "//cmd/tremolo",
}
