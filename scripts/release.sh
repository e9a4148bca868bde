#!/usr/bin/env bash
# Cut a release of authgate's modules:
#
#	scripts/release.sh [-n|--dry-run] [--set-only] VERSION
#
# Sets every module's requirement of its sibling modules to VERSION, commits
# that, and tags each released module the way Go multi-module repositories
# do: <dir>/VERSION (core/v0.3.0, ginauth/v0.3.0, cmd/authgate/v0.3.0, ...).
# -n (or --dry-run) prints what it would do and changes nothing.
# --set-only edits the go.mod files and stops: no commit, no tags (for the
# release pull request). It never pushes: it prints the push command.
# See RELEASING.md.
set -euo pipefail

usage() { echo "usage: $0 [-n|--dry-run] [--set-only] vX.Y.Z" >&2; exit 2; }

dry=0
setonly=0
version=""
for a in "$@"; do
  case "$a" in
    -n|--dry-run) dry=1 ;;
    --set-only) setonly=1 ;;
    -h|--help) usage ;;
    -*) echo "unknown flag $a" >&2; usage ;;
    *) [ -z "$version" ] || usage; version="$a" ;;
  esac
done
[ -n "$version" ] || usage
# Semantic version with the v Go requires; a pre-release (v0.3.0-rc.1) is
# allowed, build metadata is not (Go ignores it in module versions).
if ! [[ "$version" =~ ^v(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)(-[0-9A-Za-z-]+(\.[0-9A-Za-z-]+)*)?$ ]]; then
  echo "release: $version is not a semantic version vMAJOR.MINOR.PATCH[-pre]" >&2
  exit 2
fi
major="${BASH_REMATCH[1]}"
if [ "$major" -ge 2 ]; then
  # v2+ needs /vN module paths (and import paths) first; this script does not do that.
  echo "release: $version needs /v$major module paths, which the modules do not have" >&2
  exit 2
fi

cd "$(dirname "$0")/.."
prefix=github.com/authgate/authgate

# The released modules (libraries and the operator tool): each gets a tag.
released=(core nethttpauth ginauth echoauth fiberauth redisstore otelauth cmd/authgate)
# Modules of the workspace that are never a user's dependency: their
# requirements of the released modules are set too, but they get no tag.
untagged=(examples bench soak idptest installtest)

# Every module of go.work must be in one of the lists, so a new module is
# not left at an old version.
for use in $(sed -n 's#^[[:space:]]*\./\([^[:space:]]*\).*#\1#p' go.work); do
  found=0
  for m in "${released[@]}" "${untagged[@]}"; do [ "$m" = "$use" ] && found=1; done
  if [ "$found" = 0 ]; then
    echo "release: go.work uses ./$use, which is in neither list of $0" >&2
    exit 1
  fi
done

run() {
  if [ "$dry" = 1 ]; then echo "would run: $*"; else "$@"; fi
}

if [ "$dry" = 0 ] && [ "$setonly" = 0 ]; then
  if [ -n "$(git status --porcelain)" ]; then
    echo "release: the working tree has changes; commit or stash them first" >&2
    exit 1
  fi
fi
for m in "${released[@]}"; do
  if git rev-parse -q --verify "refs/tags/$m/$version" >/dev/null; then
    echo "release: tag $m/$version exists already" >&2
    exit 1
  fi
done

echo "== requirements of sibling modules -> $version"
changed=0
for m in "${released[@]}" "${untagged[@]}"; do
  [ -f "$m/go.mod" ] || continue
  for dep in "${released[@]}"; do
    [ "$dep" = "$m" ] && continue
    path="$prefix/$dep"
    # The version required now, from a require line or block.
    have=$(awk -v p="$path" '
      $1 == "require" && $2 == p { print $3; exit }
      $1 == "require" && $2 == "(" { inblock = 1; next }
      inblock && $1 == ")" { inblock = 0; next }
      inblock && $1 == p { print $2; exit }' "$m/go.mod")
    [ -n "$have" ] || continue
    if [ "$have" != "$version" ]; then
      echo "$m/go.mod: $path $have -> $version"
      run go mod edit -require="$path@$version" "$m/go.mod"
      changed=1
    fi
  done
done
[ "$changed" = 1 ] || echo "(every requirement already names $version)"

if [ "$setonly" = 1 ]; then
  echo "== --set-only: go.mod files edited; nothing committed, no tag made"
  exit 0
fi

if [ "$changed" = 1 ]; then
  run git commit -q -am "release $version: modules require each other at $version"
fi

echo "== tags"
tags=()
for m in "${released[@]}"; do
  tags+=("$m/$version")
  run git tag -a "$m/$version" -m "$prefix/$m $version"
done

echo "== not pushed. To publish:"
echo "git push origin HEAD ${tags[*]}"
