#!/bin/sh
# Builds orch's release (run by `make release`; see README "Building a release").
#
# For each platform in PLATFORMS (os-arch, as the npm `deno` package names its runtimes):
#   OUT/orch-VERSION-PLATFORM.tar.gz  the archive: launcher, runtime, bundle, units, examples,
#                                     completions, man page, INSTALL
#   OUT/orch-PLATFORM                 one executable: a sh header and that same archive
# and OUT/SHA256SUMS for them all. Reproducible: the same tree, Deno and tools give the same
# bytes (fixed times and owners, sorted names, gzip -n).
#
# Environment: DENO (the pinned deno), DENO_VERSION, PLATFORMS, OUT, RUNTIMES (where runtimes
# fetched from the npm registry are kept), TOOLS (the Makefile's .tools, whose deno package is
# used for this machine's platform), GZIP_LEVEL (1-9, default 6), SOURCE_DATE_EPOCH (default:
# the time of the last commit).
# Needs: GNU tar, gzip, sha256sum, npm (for runtimes not in TOOLS), find, sort, sed, awk.

set -eu

die() {
  printf 'make release: %s\n' "$1" >&2
  exit 1
}

: "${DENO:?}" "${DENO_VERSION:?}" "${PLATFORMS:?}" "${OUT:?}" "${RUNTIMES:?}" "${TOOLS:?}"
GZIP_LEVEL=${GZIP_LEVEL:-6}
case $GZIP_LEVEL in [1-9]) ;; *) die "GZIP_LEVEL=$GZIP_LEVEL is not a level from 1 to 9" ;; esac

root=$(cd -P -- "$(dirname -- "$0")/.." && pwd -P)
pkg=$root/packaging
version=$(sed -n 's/^ *"version": *"\([^"]*\)".*/\1/p' "$root/deno.json" | head -n 1)
[ -n "$version" ] || die "no version in $root/deno.json"
epoch=${SOURCE_DATE_EPOCH:-$(git -C "$root" log -1 --format=%ct 2>/dev/null || echo 0)}
case $epoch in '' | *[!0-9]*) die "SOURCE_DATE_EPOCH=$epoch is not a number of seconds" ;; esac

# os-arch → the npm package holding that runtime.
npm_name() {
  case $1 in
    linux-x64 | linux-arm64) echo "@deno/$1-glibc" ;;
    darwin-x64 | darwin-arm64) echo "@deno/$1" ;;
    win32-* | windows-*)
      die "$1: orch does not run on Windows (it needs Unix sockets, process groups and file modes)"
      ;;
    *) die "$1 is not a platform the npm deno package has (linux-x64, linux-arm64, darwin-x64, darwin-arm64)" ;;
  esac
}
for p in $PLATFORMS; do npm_name "$p" >/dev/null; done

mkdir -p "$OUT" "$RUNTIMES"
OUT=$(cd -P -- "$OUT" && pwd -P)
work=$(mktemp -d "${TMPDIR:-/tmp}/orch-release.XXXXXXXX")
trap 'rm -rf "$work"' EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# An npm package's file: from TOOLS when the Makefile installed that version there, else from
# the registry (npm checks the package's integrity) into RUNTIMES.
npm_file() { # PACKAGE FILE → path
  have=$TOOLS/deno/node_modules/$1
  if [ -f "$have/$2" ] && grep -q "\"version\": *\"$DENO_VERSION\"" "$have/package.json"; then
    echo "$have/$2"
    return
  fi
  kept=$RUNTIMES/$(echo "$1" | tr / _)-$DENO_VERSION
  if [ ! -f "$kept/$2" ]; then
    fetch=$work/npm/$(echo "$1" | tr / _)
    mkdir -p "$fetch"
    echo "fetching $1@$DENO_VERSION from the npm registry" >&2
    (cd "$fetch" && npm pack --loglevel=error "$1@$DENO_VERSION" >/dev/null 2>"$fetch.err") || die \
      "cannot fetch $1@$DENO_VERSION from the npm registry: $(grep -v -e '^npm error code' \
        -e '^npm error A complete log' "$fetch.err" | head -n 1 | sed 's/^npm error [a-z0-9]* *//')
make release: give PLATFORMS= the platforms it has (this machine's: PLATFORMS=$(uname -s | tr A-Z a-z)-$(uname -m | sed 's/x86_64/x64/; s/aarch64/arm64/'))"
    tar -xzf "$fetch"/*.tgz -C "$fetch" "package/$2" || die "$1@$DENO_VERSION holds no $2"
    mkdir -p "$kept.tmp.$$"
    cp -p "$fetch/package/$2" "$kept.tmp.$$/$2"
    rm -rf "$kept" && mv "$kept.tmp.$$" "$kept"
  fi
  echo "$kept/$2"
}

# The bundle: main.js and one chunk per module loaded lazily (deno reads deno.json from the
# current folder).
echo "bundling main.ts" >&2
(cd "$root" && "$DENO" bundle --quiet --code-splitting --outdir "$work/bundle" main.ts)
[ -f "$work/bundle/main.js" ] || die "deno bundle wrote no main.js"
# The bundle names each npm module by its path in Deno's cache (in comments and in the keys of
# its module table, never to load it): name them from the registry instead, so that the bundle
# does not depend on where this machine keeps its cache (nor say whose home it is in).
npm_cache=$("$DENO" info --json 2>/dev/null | sed -n 's/^ *"npmCache": *"\([^"]*\)".*/\1/p')
[ -n "$npm_cache" ] || die "deno info does not say where Deno keeps npm packages"
FROM=$(realpath -m --relative-to="$root" "$npm_cache")/ TO=npm/ DIR=$work/bundle "$DENO" eval '
  const [from, to, dir] = ["FROM", "TO", "DIR"].map((k) => Deno.env.get(k)!);
  for (const e of Deno.readDirSync(dir)) {
    const f = `${dir}/${e.name}`;
    Deno.writeTextFileSync(f, Deno.readTextFileSync(f).replaceAll(from, to));
  }'
# Its require() reaches node:module only when a CommonJS package first asks (see the script).
"$DENO" run --quiet --allow-read --allow-write "$root/packaging/lazy_require.ts" "$work/bundle"/*.js ||
  die "cannot make the bundle's require lazy"
# Nothing in it may point into this machine: the source tree, the temp folder, Deno's cache.
for where in "$root" "$work" "$npm_cache" "$(realpath -m --relative-to="$root" "$npm_cache")"; do
  if grep -lF -- "$where" "$work/bundle"/*.js >"$work/leak" 2>/dev/null; then
    die "the bundle names $where, a path of this machine, in: $(tr '\n' ' ' <"$work/leak")"
  fi
done

# The licences of the npm packages the bundle holds (each module it holds is named
# npm/registry.npmjs.org/NAME/VERSION/... in it), for share/doc/orch/THIRD-PARTY-NOTICES.
DIR=$work/bundle CACHE=$npm_cache OUT_FILE=$work/THIRD-PARTY-NOTICES "$DENO" eval '
  const [dir, cache, out] = ["DIR", "CACHE", "OUT_FILE"].map((k) => Deno.env.get(k)!);
  const found = new Set<string>();
  const named = /npm\/registry\.npmjs\.org\/((?:@[^/"\x27\s]+\/)?[^/@"\x27\s]+)\/(\d[^/"\x27\s]*)\//g;
  for (const e of Deno.readDirSync(dir)) {
    if (!e.name.endsWith(".js")) continue;
    for (const m of Deno.readTextFileSync(`${dir}/${e.name}`).matchAll(named)) {
      found.add(`${m[1]}@${m[2]}`);
    }
  }
  if (found.size === 0) throw new Error("the bundle names no npm package");
  let text = "Software bundled in lib/orch/*.js, each with the licence it comes with.\n";
  for (const id of [...found].sort()) {
    const at = id.lastIndexOf("@");
    const [name, version] = [id.slice(0, at), id.slice(at + 1)];
    const pkgDir = `${cache}/registry.npmjs.org/${name}/${version}`;
    const pkg = JSON.parse(Deno.readTextFileSync(`${pkgDir}/package.json`));
    const file = [...Deno.readDirSync(pkgDir)].map((e) => e.name)
      .filter((n) => /^(licen[cs]e|copying)(\.(md|txt))?$/i.test(n)).sort()[0];
    const author = typeof pkg.author === "string" ? pkg.author : pkg.author?.name ?? "not named";
    text += `\n${"=".repeat(72)}\n${name} ${version} (${pkg.license ?? "licence not named"})\n\n`;
    text += file
      ? Deno.readTextFileSync(`${pkgDir}/${file}`).trim() + "\n"
      : `The package holds no licence file; its package.json names the licence ${pkg.license} and the author ${author}.\n`;
  }
  Deno.writeTextFileSync(out, text);'

orch() {
  "$DENO" run --allow-all --no-config --no-lock --no-remote --no-npm --quiet --no-prompt \
    "$work/bundle/main.js" "$@"
}
said=$(orch --version) || die "the bundle does not run: orch --version failed"
case $said in *"$version"*) ;; *) die "deno.json says version $version, orch --version says $said" ;; esac

# Completions and the man page, from the built orch (the same declarations as --help).
gen=$work/share
mkdir -p "$gen/completions" "$gen/man/man1"
orch completion bash >"$gen/completions/orch.bash"
orch completion zsh >"$gen/completions/_orch"
orch completion fish >"$gen/completions/orch.fish"
SOURCE_DATE_EPOCH=$epoch orch man >"$gen/man/man1/orch.1"

# Every runtime first: a platform the registry lacks stops the build before anything is written.
deno_license=$(npm_file deno LICENSE)
for p in $PLATFORMS; do
  runtime=$(npm_file "$(npm_name "$p")" deno)
  eval "runtime_$(echo "$p" | tr - _)=\$runtime"
done

sums=
for p in $PLATFORMS; do
  top=orch-$version-$p
  st=$work/stage/$top
  echo "packing $top" >&2
  eval "runtime=\$runtime_$(echo "$p" | tr - _)"
  mkdir -p "$st/bin" "$st/lib/orch" "$st/share/systemd" "$st/share/sysusers.d" \
    "$st/share/examples" "$st/share/doc/orch"
  cp "$pkg/orch.sh" "$st/bin/orch"
  cp "$runtime" "$st/lib/orch/deno"
  cp "$work/bundle"/*.js "$st/lib/orch/"
  cp "$pkg/systemd/orch-conductor.service" "$pkg/systemd/orch-player.service" "$st/share/systemd/"
  cp "$pkg/sysusers.d/orch.conf" "$st/share/sysusers.d/"
  cp "$pkg/examples/conductor.yaml" "$pkg/examples/player.yaml" "$pkg/examples/client.yaml" \
    "$pkg/examples/grants.yaml" "$st/share/examples/"
  if [ -s "$gen/man/man1/orch.1" ]; then
    mkdir -p "$st/share/completions" "$st/share/man/man1"
    cp "$gen/completions"/* "$st/share/completions/"
    cp "$gen/man/man1/orch.1" "$st/share/man/man1/"
  fi
  sed "s/@VERSION@/$version/g; s/@PLATFORM@/$p/g" "$pkg/INSTALL" >"$st/INSTALL"
  cp "$deno_license" "$st/share/doc/orch/LICENSE.deno"
  cp "$work/THIRD-PARTY-NOTICES" "$st/share/doc/orch/THIRD-PARTY-NOTICES"
  [ ! -f "$root/LICENSE" ] || cp "$root/LICENSE" "$st/LICENSE"
  chmod 755 "$st/bin/orch" "$st/lib/orch/deno"

  tar -C "$work/stage" --sort=name --format=ustar --mtime="@$epoch" \
    --owner=0 --group=0 --numeric-owner --mode=u=rwX,go=rX -cf - "$top" |
    gzip -n "-$GZIP_LEVEL" >"$work/$top.tar.gz"

  # The single file: the header, then the archive. Its manifest is what the header checks in
  # the cache on every run: each file with its size.
  sum=$(sha256sum "$work/$top.tar.gz" | cut -d ' ' -f 1)
  manifest=$(cd "$st" && find . -type f | while IFS= read -r f; do
    echo "$f $(wc -c <"$f" | tr -d ' ')"
  done | LC_ALL=C sort)
  fill() { # SKIP → the header with every placeholder filled
    MANIFEST=$manifest awk -v version="$version" -v platform="$p" -v sum="$sum" -v top="$top" \
      -v skip="$1" '{
        gsub(/@VERSION@/, version); gsub(/@PLATFORM@/, platform); gsub(/@SHA256@/, sum)
        gsub(/@TOP@/, top); gsub(/@SKIP@/, skip)
        if (index($0, "@MANIFEST@")) { sub(/@MANIFEST@/, ENVIRON["MANIFEST"]) }
        print
      }' "$pkg/selfextract.sh"
  }
  # The header's length is in the header: a field of fixed width.
  skip=$(fill XXXXXXXXXX | wc -c | tr -d ' ')
  fill "$(printf '%-10s' "$skip")" >"$work/orch-$p"
  [ "$(wc -c <"$work/orch-$p" | tr -d ' ')" = "$skip" ] || die "the header of orch-$p changed length"
  cat "$work/$top.tar.gz" >>"$work/orch-$p"
  chmod 755 "$work/orch-$p"

  mv "$work/$top.tar.gz" "$OUT/$top.tar.gz"
  mv "$work/orch-$p" "$OUT/orch-$p"
  sums="$sums $top.tar.gz orch-$p"
done

# shellcheck disable=SC2086 # the names hold no spaces
(cd "$OUT" && sha256sum $sums) >"$OUT/SHA256SUMS"
echo "wrote, in $OUT:" >&2
(cd "$OUT" && ls -l $sums SHA256SUMS) >&2
