#!/bin/sh
# orch @VERSION@ for @PLATFORM@, in one file: this POSIX sh header, then the release archive
# orch-@VERSION@-@PLATFORM@.tar.gz (gzip'd tar, SHA-256 @SHA256@) holding the Deno runtime
# and the orch bundle.
#
# The first run checks the archive's SHA-256, unpacks it into a temporary folder of the cache
# and renames that folder to CACHE/@SHA256@ (a rename is atomic: two copies starting at once
# each unpack their own and one rename wins; a run that is killed leaves no half-made folder
# under that name). Every run checks that folder cheaply (one listing, no hashing): every file
# of the archive is there with its size and the archive's modification time, nothing else,
# nothing in it is a link, every entry is its user's and writable by nobody else; a folder
# that fails is moved aside and unpacked again. Then it runs bin/orch from it.
#
# CACHE is the first that is usable of: $ORCH_CACHE_DIR (alone when set), $CACHE_DIRECTORY
# (systemd's CacheDirectory=), $XDG_CACHE_HOME/orch, $HOME/.cache/orch, /var/cache/orch,
# ${TMPDIR:-/tmp}/orch-UID. A local user must not be able to plant code that another user
# (root) then runs, so CACHE and the folder in it must be owned by the user running this, and
# CACHE and every folder above it must be owned by root or that user and writable by nobody
# else (a sticky folder such as /tmp excepted above CACHE); a CACHE that is not is passed over.
#
# Tools it uses on every run: sh, ls, sort (and id where there is no /proc, tr for a message);
# to unpack, also mkdir, mktemp, tail, gzip, tar, mv, rm, find, uname, and sha256sum (or
# shasum, or openssl). A minimal Debian has them all.

orch_version=@VERSION@
orch_platform=@PLATFORM@
orch_sum=@SHA256@
orch_top=@TOP@
orch_skip=@SKIP@
orch_files='@MANIFEST@'

# Messages name paths from the environment: control characters are dropped on the way out.
orch_say() {
  printf 'orch: %s\n' "$1" | LC_ALL=C tr -d '\000-\010\013-\037\177' >&2
}
orch_die() {
  orch_say "$1"
  [ -z "${2:-}" ] || printf 'hint: %s\n' "$2" >&2
  exit 1
}

# This user's id: from the kernel's record of this shell (Linux), else from id.
orch_uid=
if [ -r /proc/self/status ]; then
  while read -r orch_k orch_v orch_rest; do
    [ "$orch_k" != Uid: ] || {
      orch_uid=$orch_v
      break
    }
  done </proc/self/status
fi
[ -n "$orch_uid" ] || orch_uid=$(id -u) || orch_die "cannot tell which user this is (id -u failed)"

# orch_mode_ok MODE OWNER [shared]: a folder or file whose owner is this user (or root, with
# "shared": a folder above the cache), writable by nobody else; with "shared", a sticky folder
# writable by others (/tmp) passes too.
orch_mode_ok() {
  case $1 in d* | -*) ;; *) return 1 ;; esac
  if [ -n "${3:-}" ]; then
    [ "$2" = "$orch_uid" ] || [ "$2" = 0 ] || return 1
    case $1 in ?????????[tT]*) return 0 ;; esac
  else
    [ "$2" = "$orch_uid" ] || return 1
  fi
  case $1 in ?????w* | ????????w*) return 1 ;; esac
  return 0
}

# orch_safe_folder DIR [shared]: DIR (a physical path) is this user's and writable by nobody
# else (with "shared": root's or this user's, or sticky, as for the folders above it), and
# every folder above it is root's or this user's and writable by nobody else, or sticky.
orch_safe_folder() {
  orch_p=$1
  orch_last=${2:-}
  set --
  while :; do
    set -- "$orch_p" "$@"
    [ "$orch_p" = / ] && break
    orch_p=${orch_p%/*}
    [ -n "$orch_p" ] || orch_p=/
  done
  orch_n=$#
  orch_ls=$(LC_ALL=C ls -ldn -- "$@" 2>/dev/null) || return 1
  orch_i=0
  # ls sorts its operands; each is a prefix of the next, so DIR comes last.
  while read -r orch_mode orch_links orch_owner orch_rest; do
    orch_i=$((orch_i + 1))
    if [ "$orch_i" -lt "$orch_n" ]; then
      orch_mode_ok "$orch_mode" "$orch_owner" shared || return 1
    else
      orch_mode_ok "$orch_mode" "$orch_owner" $orch_last || return 1
    fi
  done <<EOF
$orch_ls
EOF
  [ "$orch_i" -eq "$orch_n" ]
}

# orch_intact DIR: DIR holds exactly the archive's files with their sizes, nothing else but
# folders, none a link, DIR and every entry in it this user's and writable by nobody else (a
# folder others may write could have a file swapped between this check and its use), every file
# with the one modification time the archive gives them all (a file written since has
# another, unless written in the very minute the release was built).
orch_intact() {
  [ -f "$1/lib/orch/deno" ] && [ -f "$1/bin/orch" ] || return 1
  orch_d=$1
  # -a: "." is each folder itself (checked like the rest), and no hidden entry goes unseen.
  orch_ls=$(LC_ALL=C ls -lnaR -- "$orch_d" 2>/dev/null) || return 1
  orch_found=
  orch_rel=.
  orch_when=
  set -f
  while IFS= read -r orch_line; do
    case $orch_line in
      "$orch_d":) orch_rel=. ;;
      "$orch_d"/*:)
        orch_rel=.${orch_line#"$orch_d"}
        orch_rel=${orch_rel%:}
        ;;
      '' | 'total '*) ;;
      *)
        # mode links owner group size month day time-or-year name
        set -- $orch_line
        if [ "${9:-}" = .. ]; then
          : # the folder above: checked as "." in its own listing, or as the cache
        elif [ $# -ne 9 ]; then
          orch_found="$orch_found${orch_found:+
}unexpected: $orch_line"
        elif ! orch_mode_ok "$1" "$3"; then
          orch_found="$orch_found${orch_found:+
}bad: $orch_rel/$9"
        elif [ "${1%"${1#?}"}" = - ]; then
          orch_found="$orch_found${orch_found:+
}$orch_rel/$9 $5"
          [ -n "$orch_when" ] || orch_when="$6 $7 $8"
          [ "$orch_when" = "$6 $7 $8" ] || orch_found="$orch_found
changed: $orch_rel/$9"
        fi
        ;;
    esac
  done <<EOF
$orch_ls
EOF
  set +f
  [ "$(printf '%s\n' "$orch_found" | LC_ALL=C sort)" = "$orch_files" ]
}

orch_sha256() {
  if command -v sha256sum >/dev/null 2>&1; then
    orch_h=$(sha256sum <"$1")
  elif command -v shasum >/dev/null 2>&1; then
    orch_h=$(shasum -a 256 <"$1")
  elif command -v openssl >/dev/null 2>&1; then
    orch_h=$(openssl dgst -sha256 <"$1")
  else
    orch_die "cannot check the archive in $0: no sha256sum, shasum or openssl on PATH"
  fi
  for orch_w in $orch_h; do
    case $orch_w in *[!0-9a-f]*) ;; *) [ ${#orch_w} -ne 64 ] || {
      echo "$orch_w"
      return 0
    } ;; esac
  done
  return 1
}

# orch_try DIR: DIR is (made) the cache; sets orch_cache to its physical path. Nothing is made
# under a folder that fails the check (another user's home, say).
orch_why=
orch_try() {
  case $1 in /*) orch_c=$1 ;; *) orch_c=$PWD/$1 ;; esac
  # A link named like the cache, in a folder others may write (/tmp), may be anyone's: it could
  # send what is unpacked, and what is cleaned up, into a folder of this user's they chose.
  if [ -L "$orch_c" ]; then
    orch_e=$(cd -P -- "${orch_c%/*}/" 2>/dev/null && pwd -P) && orch_safe_folder "$orch_e" || {
      orch_why="$orch_why; $1: is a symbolic link in a folder others may write"
      return 1
    }
  fi
  if [ ! -d "$orch_c" ]; then
    orch_e=$orch_c
    while [ ! -d "$orch_e" ]; do
      orch_e=${orch_e%/*}
      [ -n "$orch_e" ] || orch_e=/
    done
    orch_e=$(cd -P -- "$orch_e" 2>/dev/null && pwd -P) && orch_safe_folder "$orch_e" shared || {
      orch_why="$orch_why; $1: $orch_e is writable by another user or not owned by this user or root"
      return 1
    }
    (umask 077 && mkdir -p -- "$orch_c") 2>/dev/null || {
      orch_why="$orch_why; $1: cannot be made"
      return 1
    }
  fi
  orch_cache=$(cd -P -- "$orch_c" 2>/dev/null && pwd -P) || {
    orch_why="$orch_why; $1: cannot be entered"
    return 1
  }
  orch_safe_folder "$orch_cache" && return 0
  orch_why="$orch_why; $1: it, or a folder above it, is writable by another user or not owned by this user (or root, above it)"
  return 1
}

orch_pick_cache() {
  if [ -n "${ORCH_CACHE_DIR:-}" ]; then
    orch_try "$ORCH_CACHE_DIR" && return 0
    orch_die "ORCH_CACHE_DIR=$ORCH_CACHE_DIR cannot hold orch's runtime: ${orch_why#; }" \
      "give a folder that only this user can write, in folders only it or root can write"
  fi
  if [ -n "${CACHE_DIRECTORY:-}" ]; then orch_try "${CACHE_DIRECTORY%%:*}" && return 0; fi
  case ${XDG_CACHE_HOME:-} in /*) orch_try "$XDG_CACHE_HOME/orch" && return 0 ;; esac
  case ${HOME:-} in /*) orch_try "$HOME/.cache/orch" && return 0 ;; esac
  orch_try /var/cache/orch && return 0
  orch_try "${TMPDIR:-/tmp}/orch-$orch_uid" && return 0
  orch_die "no folder to unpack orch's runtime into: ${orch_why#; }" \
    "set ORCH_CACHE_DIR to a folder that only this user can write"
}

orch_unpack() {
  [ -w "$orch_cache" ] || orch_die "cannot unpack orch into $orch_cache: not writable by this user"
  orch_tmp=$(mktemp -d "$orch_cache/.tmp.XXXXXXXX") ||
    orch_die "cannot make a temporary folder in $orch_cache"
  trap 'rm -rf "$orch_tmp"' EXIT
  trap 'exit 129' HUP
  trap 'exit 130' INT
  trap 'exit 143' TERM
  # One copy, checked, then unpacked: the file may change while it runs.
  tail -c +$((orch_skip + 1)) -- "$0" >"$orch_tmp/archive.tar.gz" ||
    orch_die "cannot copy the archive out of $0 into $orch_tmp"
  orch_got=$(orch_sha256 "$orch_tmp/archive.tar.gz") || orch_got="(none)"
  [ "$orch_got" = "$orch_sum" ] ||
    orch_die "$0 is damaged: its archive has SHA-256 $orch_got, not $orch_sum" \
      "copy the file again (whole, in binary mode)"
  (cd "$orch_tmp" && gzip -dc archive.tar.gz | tar -xf -) ||
    orch_die "cannot unpack the archive of $0 into $orch_tmp (disk full?)"
  rm -f "$orch_tmp/archive.tar.gz"
  orch_intact "$orch_tmp/$orch_top" ||
    orch_die "what was unpacked into $orch_tmp is not the archive's files"
  "$orch_tmp/$orch_top/lib/orch/deno" --version >/dev/null 2>&1 ||
    orch_die "cannot run the Deno runtime unpacked into $orch_tmp (built for $orch_platform; this is $(uname -sm 2>/dev/null))" \
      "a folder on a noexec mount cannot hold it: set ORCH_CACHE_DIR to another"
  # Publish. A folder there now is another copy's (or a bad one): keep a good one, move a
  # bad one aside; never remove a folder in place, a running orch may still load from it.
  if [ -e "$orch_dir" ] && ! orch_intact "$orch_dir"; then
    orch_old=$(mktemp -d "$orch_cache/.old.XXXXXXXX") && mv -- "$orch_dir" "$orch_old/" 2>/dev/null
  fi
  if [ ! -e "$orch_dir" ]; then
    mv -- "$orch_tmp/$orch_top" "$orch_dir" 2>/dev/null
    # Another copy renamed first: mv put ours inside that folder.
    [ ! -e "$orch_dir/$orch_top" ] || rm -rf -- "$orch_dir/$orch_top"
  fi
  rm -rf -- "$orch_tmp" ${orch_old:+"$orch_old"}
  trap - EXIT HUP INT TERM
  # Folders left by runs that were killed while unpacking.
  find "$orch_cache/." ! -name . -prune \( -name '.tmp.*' -o -name '.old.*' \) -mtime +0 \
    -exec rm -rf {} + 2>/dev/null
  orch_intact "$orch_dir" || orch_die "$orch_dir does not hold orch $orch_version after unpacking"
}

orch_pick_cache
orch_dir=$orch_cache/$orch_sum
if ! orch_intact "$orch_dir"; then
  if [ -e "$orch_dir" ]; then
    orch_say "$orch_dir is not as unpacked (an entry changed, went or was added, or others may write it); unpacking again"
  fi
  orch_unpack
  orch_say "unpacked orch $orch_version ($orch_platform) into $orch_dir"
fi
# Deno's code cache, in the checked cache folder.
if [ -z "${DENO_DIR:-}" ]; then
  if [ -d "$orch_cache/deno" ] || (umask 077 && mkdir -- "$orch_cache/deno") 2>/dev/null; then
    DENO_DIR=$orch_cache/deno
    export DENO_DIR
  fi
fi
exec "$orch_dir/bin/orch" "$@"
exit 1
