#!/usr/bin/env bash
# Installs what the test suite needs (Debian packages via apt-get, only when missing), then runs
# the whole suite. Tests that need a tool fail, never skip, when it is missing.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")"

# command (or file) -> Debian package that provides it
declare -A needs=(
  [java]=openjdk-17-jdk-headless
  [javac]=openjdk-17-jdk-headless
  [mvn]=maven
  [qemu-img]=qemu-utils
  [qemu-io]=qemu-utils
  [qemu-nbd]=qemu-utils
  [nbdinfo]=libnbd-bin
  [nbdcopy]=libnbd-bin
  [nbdfuse]=libnbd-bin
  [nbdsh]=python3-libnbd
  [nbdkit]=nbdkit
  [fio]=fio
  [fusermount3]=fuse3
  [/usr/lib/python3/dist-packages/_pyfuse3.py]=python3-pyfuse3
  [mkfs.ext4]=e2fsprogs
  [losetup]=mount
  [curl]=curl
  [fsfreeze]=util-linux
  [runuser]=util-linux
  [/usr/lib/postgresql/15/bin/postgres]=postgresql-15
  [/usr/lib/postgresql/15/bin/initdb]=postgresql-15
  [/usr/lib/postgresql/15/bin/pg_ctl]=postgresql-15
  [/usr/share/postgresql/15/extension/amcheck.control]=postgresql-15
  [/usr/lib/postgresql/15/bin/psql]=postgresql-client-15
  [/usr/lib/postgresql/15/bin/pgbench]=postgresql-15
  [chromium]=chromium
  [chromedriver]=chromium-driver
)

missing=()
for cmd in "${!needs[@]}"; do
  command -v "$cmd" >/dev/null 2>&1 || [[ -f $cmd ]] || missing+=("${needs[$cmd]}")
done
if ((${#missing[@]})); then
  packages=$(printf '%s\n' "${missing[@]}" | sort -u | tr '\n' ' ')
  echo "test.sh: installing $packages" >&2
  sudo_cmd=""
  [[ $(id -u) -ne 0 ]] && sudo_cmd="sudo"
  $sudo_cmd apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -qq $packages
fi

exec mvn -B verify "$@"
