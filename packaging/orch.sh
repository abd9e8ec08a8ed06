#!/bin/sh
# orch: starts the Deno runtime shipped beside this launcher on the bundled orch.
#
# Installed as PREFIX/bin/orch, with the runtime and the bundle in PREFIX/lib/orch/;
# a symbolic link to it (/usr/local/bin/orch -> /opt/orch/bin/orch) works too.
# Needs only a POSIX sh, readlink when it is reached through a link, and tr for an error.
#
# DENO_DIR is where Deno keeps the V8 code cache that makes later starts faster;
# by default ~/.cache/deno. A service whose home is not writable (systemd with
# ProtectSystem=strict) points it at a folder it owns: the units set
# DENO_DIR=%C/orch-conductor (CacheDirectory=).

self=$0
# Follow the links to the real launcher, at most 40 (as the kernel does). Only readlink is run,
# once a link: no other program, so that the launcher costs about a millisecond.
hops=0
while [ -L "$self" ]; do
  hops=$((hops + 1))
  if [ "$hops" -gt 40 ]; then
    echo "orch: too many levels of symbolic links from $0" | tr -d '\000-\010\013-\037\177' >&2
    exit 1
  fi
  link=$(readlink -- "$self") || exit 1
  case $link in
    /*) self=$link ;;
    *) case $self in */*) self=${self%/*}/$link ;; *) self=$link ;; esac ;;
  esac
done
case $self in */*) here=${self%/*} ;; *) here=. ;; esac
# The physical folder: Deno reads "a/b/../c" as "a/c", which is another place when b is a link.
lib=$(cd -P -- "$here/../lib/orch" 2>/dev/null && pwd -P) || {
  echo "orch: no lib/orch beside $here: the launcher was moved out of its release folder" |
    tr -d '\000-\010\013-\037\177' >&2
  exit 1
}

# The runtime never fetches anything: the bundle holds every dependency.
export DENO_NO_UPDATE_CHECK=1
exec "$lib/deno" run --allow-all --no-config --no-lock --no-remote --no-npm --quiet --no-prompt \
  "$lib/main.js" "$@"
