"""Fallback go_repository rules for repositories that rules_go itself declares as
http_archive (undownloadable here).

WORKSPACE calls go_bootstrap_dependencies() after go_dependencies() (deps.bzl,
written from go.mod by tools/gazelle.sh) and before go_rules_dependencies(), so:
  * when go.mod's module graph has the module, deps.bzl's rule wins and this is a no-op;
  * when it does not (e.g. the first `tools/gazelle.sh` run with an empty deps.bzl,
    or after `update-repos -prune` dropped it), these module-proxy fetches replace
    rules_go's http_archives. The gazelle binary needs @org_golang_x_tools (goyacc,
    for buildtools) and @org_golang_x_sys (fsnotify).
This file is not a gazelle repository_macro, so update-repos neither reads nor prunes it.
"""

load("@bazel_gazelle//:deps.bzl", "go_repository")

def _maybe(name, **kwargs):
    if not native.existing_rule(name):
        go_repository(name = name, build_file_proto_mode = "disable_global", **kwargs)

def go_bootstrap_dependencies():
    _maybe(
        name = "org_golang_x_tools",
        importpath = "golang.org/x/tools",
        sum = "h1:ryxg4U63oaUYk7uOLTF37n43f4qgtGvqV4Ioit1BaEs=",
        version = "v0.52.0",
    )
    _maybe(
        name = "org_golang_x_sys",
        importpath = "golang.org/x/sys",
        sum = "h1:XbzkgYJHdqh/8m2Uu0W/dQv8nktxx4BFHp1M0gROTXA=",
        version = "v0.49.0",
    )
    _maybe(
        name = "org_golang_x_xerrors",
        importpath = "golang.org/x/xerrors",
        sum = "h1:noIWHXmPHxILtqtCOPIhSt0ABwskkZKjD3bXGnZGpNY=",
        version = "v0.0.0-20240903120638-7835f813f4da",
    )
    _maybe(
        name = "org_golang_google_protobuf",
        importpath = "google.golang.org/protobuf",
        sum = "h1:pJOKDDOyeXErUroCihFAd5LQuwXBSpVnKGrj5o/fwxc=",
        version = "v1.36.12",
    )
    _maybe(
        name = "com_github_golang_protobuf",
        importpath = "github.com/golang/protobuf",
        sum = "h1:i7eJL8qZTpSEXOPTxNKhASYpMn+8e5Q6AdndVa1dWek=",
        version = "v1.5.4",
    )
