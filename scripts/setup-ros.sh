#!/usr/bin/env bash
# A ROS 2 for the ROS graph tests (test/ros-graph.test.ts) and for `csc node` on this machine,
# installed without internet. Idempotent; called by scripts/setup.sh.
#
#   1. ROS 2: a sourced one (ROS_DISTRO and AMENT_PREFIX_PATH set) is used as it is. Otherwise the
#      ROS 2 Jazzy core tarball in shared/ beside the checkout (../shared/ros2/, see its README) is
#      unpacked once to $CSC_ROS_CACHE/jazzy, after installing the Debian packages it needs.
#   2. colcon (not in the ROS core): a venv $CSC_ROS_CACHE/colcon with colcon-common-extensions.
#   3. rclnodejs 2.2.0, compiled against that ROS 2 (node headers from the local Node install, no
#      download) in its own folder $CSC_ROS_CACHE/rclnodejs-<distro>, and linked as
#      node_modules/rclnodejs, so package.json and `npm ci` stay free of it (an optional peer
#      dependency: users without ROS 2 never build it).
# Without a sourced ROS 2 and without the tarball it prints one line saying so and exits 0: the
# ROS graph tests then skip.
#
# Env: CSC_ROS_CACHE    where to unpack and build (default ~/.cache/csc_node/ros)
#      CSC_ROS_TARBALL  the ROS 2 tarball (default ../shared/ros2/jazzy-bookworm-amd64.tar.zst)
set -euo pipefail
cd "$(dirname "$0")/.."
root="$(pwd)"
cache="${CSC_ROS_CACHE:-$HOME/.cache/csc_node/ros}"
tarball="${CSC_ROS_TARBALL:-$(dirname "$root")/shared/ros2/jazzy-bookworm-amd64.tar.zst}"
rclnodejs_version=2.2.0
colcon_version=0.3.0 # colcon-common-extensions

say() { echo "setup-ros: $*" >&2; }

if [ -n "${ROS_DISTRO:-}" ] && [ -n "${AMENT_PREFIX_PATH:-}" ]; then
  say "using the sourced ROS 2 $ROS_DISTRO ($AMENT_PREFIX_PATH)"
  setup_bash=""
elif [ -f "$tarball" ]; then
  setup_bash="$cache/jazzy/setup.bash"
  sum="$(sha256sum "$tarball" | cut -d' ' -f1)"
  if [ ! -f "$setup_bash" ] || [ "$(cat "$cache/jazzy/.csc-stamp" 2>/dev/null)" != "$sum" ]; then
    # The Debian packages the tarball's README lists (its Python tools run on /usr/bin/python3).
    debs=(python3 libpython3.11 python3-yaml python3-numpy python3-lark python3-psutil python3-packaging
      python3-catkin-pkg python3-empy python3-argcomplete libspdlog1.10 libyaml-0-2 zstd cmake build-essential)
    missing=()
    for d in "${debs[@]}"; do dpkg -s "$d" >/dev/null 2>&1 || missing+=("$d"); done
    if [ "${#missing[@]}" -gt 0 ]; then
      if [ "$(id -u)" != 0 ]; then
        say "ROS 2 needs these Debian packages: ${missing[*]}; install them (sudo apt-get install ...) and rerun"
        exit 1
      fi
      say "installing ${missing[*]}"
      apt-get update -qq
      DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
    fi
    say "unpacking $tarball to $cache"
    rm -rf "$cache/jazzy"
    mkdir -p "$cache"
    tar --zstd -xf "$tarball" -C "$cache"
    echo "$sum" >"$cache/jazzy/.csc-stamp"
  fi
else
  say "no ROS 2: none is sourced and there is no $tarball; the ROS graph tests will skip"
  exit 0
fi

# shellcheck disable=SC1090
ros_env() { if [ -n "$setup_bash" ]; then set +u; source "$setup_bash"; set -u; fi; }

# colcon, in its own venv (any Python ≥ 3.8; it only drives cmake).
colcon="$cache/colcon/bin/colcon"
if [ ! -x "$colcon" ] || ! "$cache/colcon/bin/pip" show colcon-common-extensions 2>/dev/null | grep -q "^Version: $colcon_version$"; then
  say "installing colcon-common-extensions $colcon_version into $cache/colcon"
  rm -rf "$cache/colcon"
  python3 -m venv "$cache/colcon"
  "$cache/colcon/bin/pip" install -q "colcon-common-extensions==$colcon_version"
fi

# rclnodejs, built in its own folder against this ROS 2 and linked into node_modules.
distro="$(ros_env; echo "${ROS_DISTRO:-unknown}")"
rcl_dir="$cache/rclnodejs-$distro"
rcl_mod="$rcl_dir/node_modules/rclnodejs"
rcl_stamp="$rclnodejs_version $(ros_env; echo "$AMENT_PREFIX_PATH")"
if [ ! -f "$rcl_mod/build/Release/rclnodejs.node" ] || [ "$(cat "$rcl_dir/.csc-stamp" 2>/dev/null)" != "$rcl_stamp" ]; then
  say "compiling rclnodejs $rclnodejs_version against ROS 2 $distro (about a minute)"
  rm -rf "$rcl_dir"
  mkdir -p "$rcl_dir"
  echo '{ "name": "csc-rclnodejs", "private": true }' >"$rcl_dir/package.json"
  (
    ros_env
    cd "$rcl_dir"
    # nodedir: headers from the local Node install, no download; yes: its `npx rimraf` runs
    # without asking.
    export npm_config_nodedir="${npm_config_nodedir:-$(dirname "$(dirname "$(command -v node)")")}" npm_config_yes=true
    npm install --no-audit --no-fund --foreground-scripts "rclnodejs@$rclnodejs_version" >"$rcl_dir/install.log" 2>&1 ||
      { tail -30 "$rcl_dir/install.log" >&2; say "rclnodejs failed to build (log: $rcl_dir/install.log)"; exit 1; }
  )
  echo "$rcl_stamp" >"$rcl_dir/.csc-stamp"
fi
mkdir -p node_modules
if [ "$(readlink node_modules/rclnodejs 2>/dev/null)" != "$rcl_mod" ]; then
  rm -rf node_modules/rclnodejs
  ln -s "$rcl_mod" node_modules/rclnodejs
fi
say "ready: ROS 2 $distro${setup_bash:+ ($setup_bash)}, colcon $colcon, rclnodejs $rclnodejs_version"
