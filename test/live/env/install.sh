#!/usr/bin/env bash
# Installs the Debian 12 packages the live suite needs, only those that are missing.
# Idempotent: when everything is present it never calls apt. Needs root (CI runs it as root).
set -euo pipefail
export PATH="$PATH:/usr/local/sbin:/usr/sbin:/sbin"

die() { echo "install.sh: $*" >&2; exit 1; }
[ "$(id -u)" = 0 ] || die "must run as root"

# package:probe; a probe is a command that package provides, or "dpkg" when only dpkg can tell
# (busybox-static and the dynamic busybox both provide /bin/busybox; the image needs the static one).
NEEDED=(
  docker.io:dockerd docker.io:docker docker-registry:docker-registry skopeo:skopeo
  containerd:containerd containerd:ctr runc:runc openssh-server:sshd openssh-client:ssh
  openssh-client:ssh-keygen busybox-static:dpkg iproute2:ip curl:curl openssl:openssl sudo:sudo
  util-linux:nsenter util-linux:unshare util-linux:setsid util-linux:flock procps:pkill python3:python3
  ca-certificates:update-ca-certificates apache2-utils:htpasswd shellcheck:shellcheck tar:tar etcd-server:etcd kubernetes-client:kubectl patch:patch git:git
  containernetworking-plugins:dpkg
)

missing=()
for entry in "${NEEDED[@]}"; do
  pkg=${entry%%:*} probe=${entry#*:}
  if [ "$probe" = dpkg ]; then
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'install ok installed' && continue
  else
    command -v "$probe" >/dev/null 2>&1 && continue
  fi
  [[ " ${missing[*]} " == *" $pkg "* ]] || missing+=("$pkg")
done

if [ ${#missing[@]} -eq 0 ]; then
  echo "install.sh: all live-suite packages already present"
  exit 0
fi

echo "install.sh: installing: ${missing[*]}"
# Keep package postinst scripts from starting system daemons (docker, containerd, ssh): the suite
# runs its own, and a system dockerd would add a docker0 bridge and iptables rules we do not want.
if [ ! -e /usr/sbin/policy-rc.d ]; then
  printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d
  chmod 755 /usr/sbin/policy-rc.d
  trap 'rm -f /usr/sbin/policy-rc.d' EXIT
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update || die "apt-get update failed"
apt-get install -y --no-install-recommends "${missing[@]}" || die "apt-get install failed: ${missing[*]}"
echo "install.sh: installed: ${missing[*]}"
