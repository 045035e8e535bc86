#!/usr/bin/env python3
"""Check META.json (PGXN Meta Spec 1.0.0) and the dist archive of make dist.

Usage: check_meta.py META.json [ARCHIVE.zip]

The checks are those of the spec's required and typed fields (a schema
check written out, since Debian ships no PGXN validator): name, abstract,
version (semantic version), maintainer, license (one of the spec's
names), provides (each extension with file and version, files present),
meta-spec 1.0.0, prereqs phases and relations, release_status.  Beyond the
spec: each extension's version is the default_version of its control file.
With an archive: it has one top-level folder, holds META.json there and
every provided file, and pgxnclient (Debian's pgxnclient) reads the same
META.json from it.
"""

import json
import os
import re
import sys
import zipfile

SEMVER = re.compile(r"^(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)(-[0-9A-Za-z-]+)?$")
LICENSES = {"agpl_3", "apache_1_1", "apache_2_0", "artistic_1", "artistic_2", "bsd",
            "freebsd", "gfdl_1_2", "gfdl_1_3", "gpl_1", "gpl_2", "gpl_3", "lgpl_2_1",
            "lgpl_3_0", "mit", "mozilla_1_0", "mozilla_1_1", "openssl", "perl_5",
            "postgresql", "qpl_1_0", "ssleay", "sun", "zlib", "open_source",
            "restricted", "unrestricted", "unknown"}
PHASES = {"configure", "build", "test", "runtime", "develop"}
RELATIONS = {"requires", "recommends", "suggests", "conflicts"}
STATUS = {"stable", "testing", "unstable"}

errors = []


def err(msg):
    errors.append(msg)


def control_version(root, ext):
    for d in (root, os.path.join(root, "router")):
        p = os.path.join(d, ext + ".control")
        if os.path.exists(p):
            m = re.search(r"^\s*default_version\s*=\s*'([^']*)'", open(p).read(), re.M)
            return m.group(1) if m else None
    return None


def check_meta(meta, root):
    for key, kind in (("name", str), ("abstract", str), ("version", str),
                      ("maintainer", (str, list)), ("license", (str, list, dict)),
                      ("provides", dict), ("meta-spec", dict)):
        if key not in meta:
            err(f"required field {key!r} missing")
        elif not isinstance(meta[key], kind):
            err(f"field {key!r} has the wrong type")
    if errors:
        return
    if not re.match(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$", meta["name"]):
        err(f"name {meta['name']!r} is not a valid distribution name")
    if not SEMVER.match(meta["version"]):
        err(f"version {meta['version']!r} is not a semantic version")
    if meta["meta-spec"].get("version") != "1.0.0":
        err("meta-spec.version must be 1.0.0")
    lic = meta["license"]
    names = [lic] if isinstance(lic, str) else lic if isinstance(lic, list) else []
    for n in names:
        if n not in LICENSES:
            err(f"license {n!r} is not a name of the spec")
    if not meta["provides"]:
        err("provides is empty")
    for ext, p in meta["provides"].items():
        for key in ("file", "version"):
            if key not in p:
                err(f"provides.{ext}: {key!r} missing")
        if "version" in p and not SEMVER.match(p["version"]):
            err(f"provides.{ext}.version {p['version']!r} is not a semantic version")
        for key in ("file", "docfile"):
            if key in p and not os.path.exists(os.path.join(root, p[key])):
                err(f"provides.{ext}.{key} {p[key]!r} does not exist")
        cv = control_version(root, ext)
        if cv is None:
            err(f"provides.{ext}: no {ext}.control")
        elif p.get("version") != cv:
            err(f"provides.{ext}.version {p.get('version')!r} differs from the control file's {cv!r}")
    for phase, rels in meta.get("prereqs", {}).items():
        if phase not in PHASES:
            err(f"prereqs: unknown phase {phase!r}")
        for rel, deps in rels.items():
            if rel not in RELATIONS:
                err(f"prereqs.{phase}: unknown relation {rel!r}")
            for dep, ver in deps.items():
                if not (ver == 0 or isinstance(ver, str) and re.match(r"^[<>=!]*\s*\d", ver)):
                    err(f"prereqs.{phase}.{rel}.{dep}: bad version {ver!r}")
    if meta.get("release_status", "stable") not in STATUS:
        err(f"release_status {meta['release_status']!r} is not one of {sorted(STATUS)}")


def check_archive(path, meta):
    with zipfile.ZipFile(path) as z:
        names = z.namelist()
    tops = {n.split("/", 1)[0] for n in names}
    if len(tops) != 1:
        err(f"{path}: more than one top-level entry: {sorted(tops)[:5]}")
        return
    top = tops.pop()
    want = f"{meta['name']}-{meta['version']}"
    if top != want:
        err(f"{path}: top-level folder {top!r}, expected {want!r}")
    if f"{top}/META.json" not in names:
        err(f"{path}: no {top}/META.json")
    for ext, p in meta["provides"].items():
        if f"{top}/{p['file']}" not in names:
            err(f"{path}: provides.{ext}.file {p['file']!r} not in the archive")
    try:
        from pgxnclient.archive import from_file
    except ImportError:
        err("pgxnclient is missing (Debian: pgxnclient)")
        return
    got = from_file(path).get_meta()
    if got != meta:
        err(f"{path}: pgxnclient reads another META.json than the tree's")


def main(argv):
    if not argv:
        print(__doc__)
        return 2
    meta_path = argv[0]
    try:
        meta = json.load(open(meta_path))
    except ValueError as e:
        print(f"{meta_path}: not JSON: {e}")
        return 1
    check_meta(meta, os.path.dirname(os.path.abspath(meta_path)))
    if len(argv) > 1 and not errors:
        check_archive(argv[1], meta)
    for e in errors:
        print(f"META.json: {e}")
    if errors:
        return 1
    print(f"META.json: valid ({meta['name']} {meta['version']}"
          + (f", {argv[1]}" if len(argv) > 1 else "") + ")")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
