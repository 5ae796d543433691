"""image_binaries: every service binary for every image platform, for the publisher.

A split transition builds each go_binary (the public //services/<name>/cmd/<name>
targets, unchanged) once per platform, as pure Go (static, no cgo) and stripped
of DWARF (-w), inside any normal build: `bazel build //tools/publish:binaries`.
The rule writes <name>.json, the publisher's input: for each service and
platform the binary and the list of Go packages linked into it (from
rules_go's GoArchive provider; the publisher maps them to modules with
deps.bzl for the SBOM, as rules_go 0.34 embeds no module information).
"""

load("@io_bazel_rules_go//go:def.bzl", "GoArchive")

# Split key -> (OCI platform, rules_go platform).
PLATFORMS = {
    "linux_amd64": ("linux/amd64", "@io_bazel_rules_go//go/toolchain:linux_amd64"),
    "linux_arm64": ("linux/arm64", "@io_bazel_rules_go//go/toolchain:linux_arm64"),
}

_SETTINGS = [
    "//command_line_option:platforms",
    "@io_bazel_rules_go//go/config:pure",
    "@io_bazel_rules_go//go/config:race",
    "@io_bazel_rules_go//go/config:msan",
    "@io_bazel_rules_go//go/config:strip",
    "@io_bazel_rules_go//go/config:debug",
    "@io_bazel_rules_go//go/config:linkmode",
]

def _image_platforms_impl(settings, attr):
    return {
        key: {
            "//command_line_option:platforms": platform,
            "@io_bazel_rules_go//go/config:pure": True,
            "@io_bazel_rules_go//go/config:race": False,
            "@io_bazel_rules_go//go/config:msan": False,
            "@io_bazel_rules_go//go/config:strip": True,
            "@io_bazel_rules_go//go/config:debug": False,
            "@io_bazel_rules_go//go/config:linkmode": "normal",
        }
        for key, (_, platform) in PLATFORMS.items()
    }

_image_platforms = transition(
    implementation = _image_platforms_impl,
    inputs = [],
    outputs = _SETTINGS,
)

def _short(f):
    return f.short_path

def _image_binaries_impl(ctx):
    outputs = []
    services = []
    for index, name in enumerate(ctx.attr.names):
        binaries = {}
        importpath = ""
        for key, (oci_platform, _) in PLATFORMS.items():
            target = ctx.split_attr.binaries[key][index]
            exe = target[DefaultInfo].files_to_run.executable
            if exe == None:
                fail("{} is not an executable".format(target.label))
            out = ctx.actions.declare_file("{}/{}_{}".format(ctx.label.name, name, key))
            ctx.actions.symlink(output = out, target_file = exe)
            archive = target[GoArchive]
            importpath = archive.data.importpath
            lines = sorted(["{}\t{}".format(d.importpath, d.label.workspace_name) for d in archive.transitive.to_list()])
            deps = ctx.actions.declare_file("{}/{}_{}.deps".format(ctx.label.name, name, key))
            ctx.actions.write(deps, "\n".join(lines) + "\n")
            outputs += [out, deps]
            binaries[oci_platform] = {"path": out.short_path, "deps": deps.short_path}
        services.append({
            "name": name,
            "label": str(ctx.attr.binaries[index].label),
            "importpath": importpath,
            "allinone": name in ctx.attr.allinone,
            "binaries": binaries,
        })
    manifest = ctx.actions.declare_file(ctx.label.name + ".json")
    ctx.actions.write(manifest, json.encode({
        "services": services,
        "deps_bzl": ctx.file.deps_bzl.short_path,
        "zoneinfo": ctx.file.zoneinfo.short_path,
    }))
    outputs.append(manifest)
    inputs = [ctx.file.deps_bzl, ctx.file.zoneinfo]
    return [DefaultInfo(
        files = depset(outputs),
        runfiles = ctx.runfiles(files = outputs + inputs),
    )]

_image_binaries = rule(
    implementation = _image_binaries_impl,
    attrs = {
        "binaries": attr.label_list(cfg = _image_platforms, providers = [GoArchive]),
        "names": attr.string_list(),
        "allinone": attr.string_list(),
        "deps_bzl": attr.label(allow_single_file = True),
        "zoneinfo": attr.label(allow_single_file = True),
        "_allowlist_function_transition": attr.label(
            default = "@bazel_tools//tools/allowlists/function_transition_allowlist",
        ),
    },
)

def image_binaries(name, services, allinone = {}, **kwargs):
    """Builds every binary of services (name -> go_binary label) for PLATFORMS."""
    everything = dict(services)
    everything.update(allinone)
    names = sorted(everything.keys())
    _image_binaries(
        name = name,
        names = names,
        binaries = [everything[n] for n in names],
        allinone = sorted(allinone.keys()),
        deps_bzl = "//:deps.bzl",
        zoneinfo = "@go_sdk//:lib/time/zoneinfo.zip",
        **kwargs
    )
