#!/usr/bin/env bash
# Run a command under the two conditions of GitHub's ubuntu-24.04 runners that the offline tests depend on:
# a non-root user with passwordless sudo, and unprivileged user namespaces refused (`unshare -r` fails).
#
#   scripts/runner_conditions.sh [--expose DIR]... USER -- COMMAND [ARG...]      (as root)
#
# USER must exist and have passwordless sudo (e.g. a line `USER ALL=(ALL) NOPASSWD:ALL` in /etc/sudoers.d/USER).
# The refusal is confined to this command's process tree, so nothing else on the host changes: the command runs in a
# user namespace that maps every host id to itself, whose own user.max_user_namespaces is set to 0, so any attempt to
# create a further user namespace inside fails (ENOSPC, where the runner's AppArmor rule gives EPERM), while root
# (sudo) can still create network namespaces. --expose DIR makes DIR reachable for USER inside a private mount
# namespace when one of its parents is not traversable (an interpreter installed under root's home).
set -euo pipefail

if [ "${1:-}" = "--inside" ]; then
  # Stage 2, inside the identity-mapped user namespace (we are its root).
  shift
  user=$1 workdir=$2
  shift 2
  echo 0 >/proc/sys/user/max_user_namespaces
  exposes=()
  while [ "$1" != "--" ]; do exposes+=("$1"); shift; done
  shift
  for dir in "${exposes[@]}"; do
    # The topmost parent USER cannot traverse gets an empty tmpfs; DIR is bound back at its own path below it.
    blocked=""
    probe=$dir
    while [ "$probe" != "/" ]; do
      probe=$(dirname "$probe")
      if ! setpriv --reuid="$user" --regid="$(id -g "$user")" --init-groups test -x "$probe"; then blocked=$probe; fi
    done
    [ -n "$blocked" ] || continue
    stash=$(mktemp -d)
    mount --bind "$dir" "$stash"
    mount -t tmpfs -o mode=0755 tmpfs "$blocked"
    mkdir -p "$dir"
    mount --bind "$stash" "$dir"
  done
  home=$(getent passwd "$user" | cut -d: -f6)
  cd "$workdir"
  exec setpriv --reuid="$user" --regid="$(id -g "$user")" --init-groups -- \
    env -i HOME="$home" USER="$user" LOGNAME="$user" LANG=C.UTF-8 \
    PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin "$@"
fi

exposes=()
while [ "${1:-}" = "--expose" ]; do exposes+=("$2"); shift 2; done
user=${1:?usage: runner_conditions.sh [--expose DIR]... USER -- COMMAND [ARG...]}
shift
[ "${1:-}" = "--" ] && shift
[ "$(id -u)" = 0 ] || { echo "runner_conditions.sh: run as root (it creates the namespaces)" >&2; exit 2; }
id "$user" >/dev/null || exit 2
setpriv --reuid="$user" --regid="$(id -g "$user")" --init-groups -- sudo -n true ||
  { echo "runner_conditions.sh: $user needs passwordless sudo" >&2; exit 2; }

# Stage 1: a user namespace with an identity map of the first 65536 ids, written by us (root) from outside.
fifo=$(mktemp -u)
mkfifo "$fifo"
trap 'rm -f "$fifo"' EXIT
unshare --user --mount -- bash -c 'read -r _ <"$0"; exec "$@"' "$fifo" \
  bash "$(readlink -f "$0")" --inside "$user" "$PWD" "${exposes[@]}" -- "$@" &
child=$!
while [ "$(readlink /proc/$child/ns/user)" = "$(readlink /proc/self/ns/user)" ]; do sleep 0.01; done
echo "0 0 65536" >/proc/$child/uid_map
echo "0 0 65536" >/proc/$child/gid_map
echo go >"$fifo"
wait $child
