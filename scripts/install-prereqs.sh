#!/usr/bin/env bash
# Installs the real parts the test bench, the sandbox command and the benchmarks use:
# Docker engine + Compose v2 (and v1 as the legacy path), a registry, sshd, busybox for
# base images, debootstrap (and Debian's keyring) for Debian-based images such as the nginx
# proxy, hyperfine, pnpm 10, and shellcheck for the lint step. Idempotent: a second run only
# checks and exits.
# Targets Debian 12 / Ubuntu with Node 20+; needs root (re-execs itself through sudo).
set -euo pipefail

if [[ $EUID -ne 0 ]]; then
  command -v sudo >/dev/null || { echo "install-prereqs: run as root (sudo is not installed)" >&2; exit 1; }
  exec sudo -E bash "$0" "$@"
fi

export DEBIAN_FRONTEND=noninteractive
# Others may run apt on this machine at the same time: wait for the dpkg lock, don't fail.
apt_get() { apt-get -o DPkg::Lock::Timeout=300 "$@"; }
log() { echo "install-prereqs: $*"; }
# Runs a noisy command silently; shows its output only when it fails.
quietly() {
  local output
  if ! output=$("$@" 2>&1); then
    echo "$output" >&2
    echo "install-prereqs: failed: $*" >&2
    return 1
  fi
}
warn() { echo "install-prereqs: warning: $*" >&2; }

required_packages=(docker.io iptables openssh-server docker-registry apache2-utils busybox-static debootstrap debian-archive-keyring git ca-certificates docker-compose shellcheck)
optional_packages=(hyperfine)
compose_plugin_dir=/usr/local/lib/docker/cli-plugins

# Capture before matching: with pipefail, `grep -q` closing the pipe early fails the pipeline.
is_installed() { [[ $(dpkg-query -W -f='${Status}' "$1" 2>/dev/null) == 'install ok installed' ]]; }
has_candidate() { [[ $(apt-cache policy "$1" 2>/dev/null) =~ Candidate:\ [^\(] ]]; }

apt_updated=false
apt_update_once() {
  $apt_updated && return
  log "apt-get update"
  # An unreachable third-party source must not stop us; a missing package is caught below.
  apt_get update -qq >/dev/null 2>&1 || warn "apt-get update reported errors; continuing with the indexes it got"
  apt_updated=true
}

# --- apt packages -----------------------------------------------------------------------
# A machine that already has a Docker engine (Docker CE on GitHub's Ubuntu runners) keeps it:
# docker.io would conflict with its containerd.io package (Compose v1, docker-compose, does not).
if command -v dockerd >/dev/null && ! is_installed docker.io; then
  log "using the Docker engine already installed ($(dockerd --version 2>/dev/null | cut -d, -f1))"
  required_packages=("${required_packages[@]/docker.io}")
fi

missing=()
for pkg in "${required_packages[@]}" "${optional_packages[@]}"; do
  [[ -n $pkg ]] || continue
  is_installed "$pkg" || missing+=("$pkg")
done
if ((${#missing[@]})); then
  apt_update_once
  to_install=()
  for pkg in "${missing[@]}"; do
    if has_candidate "$pkg"; then
      to_install+=("$pkg")
    elif [[ " ${optional_packages[*]} " == *" $pkg "* ]]; then
      warn "optional package $pkg is not available from apt; skipping it"
    else
      echo "install-prereqs: required package $pkg is not available from apt; check /etc/apt/sources.list" >&2
      exit 1
    fi
  done
  if ((${#to_install[@]})); then
    log "installing ${to_install[*]}"
    quietly apt_get install -y -qq --no-install-recommends "${to_install[@]}"
  fi
fi

# --- Docker Compose v2 ------------------------------------------------------------------
# Debian 12 ships only Compose v1. Ubuntu has docker-compose-v2; on Debian the static
# binary from trixie's docker-compose package (v2.26) runs fine on bookworm's libc.
install_compose_from_trixie() {
  local sources=/etc/apt/sources.list.d/gitops-lite-trixie.sources
  local pin=/etc/apt/preferences.d/gitops-lite-trixie
  if [[ ! -f $sources ]]; then
    log "adding a trixie apt source (pinned at priority 100, so nothing else upgrades from it)"
    cat >"$sources" <<'EOF'
Types: deb
URIs: http://deb.debian.org/debian
Suites: trixie
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
EOF
    cat >"$pin" <<'EOF'
Package: *
Pin: release n=trixie
Pin-Priority: 100
EOF
    apt_updated=false
  fi
  apt_update_once
  local work
  work=$(mktemp -d)
  (cd "$work" && quietly apt_get download -qq docker-compose/trixie)
  dpkg -x "$work"/docker-compose_*.deb "$work/root"
  mkdir -p "$compose_plugin_dir"
  install -m 0755 "$work/root/usr/libexec/docker/cli-plugins/docker-compose" "$compose_plugin_dir/docker-compose"
  rm -rf "$work"
}

if docker compose version >/dev/null 2>&1; then
  :
else
  apt_update_once
  if has_candidate docker-compose-v2; then
    log "installing docker-compose-v2"
    quietly apt_get install -y -qq --no-install-recommends docker-compose-v2
  elif grep -q '^ID=debian' /etc/os-release; then
    log "installing Compose v2 from Debian trixie's docker-compose package"
    install_compose_from_trixie
  else
    echo "install-prereqs: no source for Compose v2 on this system; install the docker-compose-plugin package yourself" >&2
    exit 1
  fi
  docker compose version >/dev/null || { echo "install-prereqs: 'docker compose version' still fails after installing Compose v2" >&2; exit 1; }
fi

# --- pnpm -------------------------------------------------------------------------------
if ! command -v pnpm >/dev/null; then
  command -v npm >/dev/null || { echo "install-prereqs: npm not found; install Node 20+ first" >&2; exit 1; }
  log "installing pnpm 10"
  quietly npm install -g --silent pnpm@10
fi

log "ready: $(docker compose version --short 2>/dev/null | sed 's/^/compose /'), $(/usr/sbin/sshd -V 2>&1 | head -n1 | cut -d, -f1), pnpm $(pnpm --version)"
