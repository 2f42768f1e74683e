"""The repository as a ROS 2 ament package: package.xml against the format-3 rules, CMakeLists.txt
configured and installed by a real cmake (ament_cmake stood in, see ros_standin/README.md), the
launch files evaluated into the command line `ros2 launch` runs and that command run through the
installed `csc_node` wrapper, and the parameter files checked against the parameters the node
declares (docs/ros-packaging.md)."""
from __future__ import annotations

import importlib
import json
import os
import re
import shutil
import stat
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
STANDIN = Path(__file__).resolve().parent / "ros_standin"
PACKAGE = "csc_node"
ROBOTS = ("panda", "laikago")
LAUNCH_ARGS = {"checkpoint", "profile", "params_file"}


# --- package.xml ----------------------------------------------------------------------------

# REP 149 (format 3): name, version, description, maintainer+, license+, url*, author*, then any
# dependency tags, `export` last.
OPTIONAL_AFTER_LEADING = {"url", "author"}
DEPENDENCY_TAGS = {
    "depend", "build_depend", "build_export_depend", "buildtool_depend", "buildtool_export_depend",
    "exec_depend", "test_depend", "doc_depend", "conflict", "replace", "group_depend", "member_of_group",
}


def package_xml() -> ET.Element:
    return ET.parse(REPO / "package.xml").getroot()


def test_package_xml_follows_format_3():
    root = package_xml()
    assert root.tag == "package" and root.get("format") == "3"
    tags = [c.tag for c in root if isinstance(c.tag, str)]
    # name, version, description once each, then one or more maintainer and license, in order.
    i = 0
    for tag in ("name", "version", "description"):
        assert tags[i] == tag, f"expected <{tag}> at position {i}, found <{tags[i]}>"
        i += 1
    for tag in ("maintainer", "license"):
        assert tags[i] == tag, f"expected <{tag}> at position {i}, found <{tags[i]}>"
        while i < len(tags) and tags[i] == tag:
            i += 1
    rest = tags[i:]
    while rest and rest[0] in OPTIONAL_AFTER_LEADING:
        rest = rest[1:]
    if rest and rest[-1] == "export":
        rest = rest[:-1]
    assert set(rest) <= DEPENDENCY_TAGS, f"unexpected tags {set(rest) - DEPENDENCY_TAGS}"

    assert root.findtext("name") == PACKAGE
    assert re.fullmatch(r"[a-z][a-z0-9_]*[a-z0-9]", PACKAGE)
    npm_version = json.loads((REPO / "package.json").read_text())["version"]
    assert root.findtext("version") == npm_version, "package.xml and package.json versions differ"
    assert re.fullmatch(r"\d+\.\d+\.\d+", npm_version)
    assert (root.findtext("description") or "").strip()
    for m in root.findall("maintainer"):
        assert "@" in (m.get("email") or ""), "every <maintainer> needs an email attribute"
        assert (m.text or "").strip()
    assert root.findtext("license") == json.loads((REPO / "package.json").read_text())["license"]
    deps = [(c.tag, c.text) for c in root if c.tag in DEPENDENCY_TAGS]
    assert len(deps) == len(set(deps)), "duplicate dependency"
    assert ("buildtool_depend", "ament_cmake") in deps
    assert root.findtext("export/build_type") == "ament_cmake"


MSG_TYPE_RE = re.compile(r"\b([a-z][a-z0-9_]*_msgs|builtin_interfaces)/(?:msg/)?[A-Z]\w*")


def test_every_message_package_the_code_uses_is_a_dependency():
    sources = [p for p in (REPO / "src").rglob("*.ts") if not p.name.endswith(".test.ts")]
    sources += list((REPO / "hardware").glob("*.yaml")) + list((REPO / "launch").glob("*.py"))
    used = {m.group(1) for p in sources for m in MSG_TYPE_RE.finditer(p.read_text())}
    declared = {c.text for c in package_xml() if c.tag in ("depend", "exec_depend")}
    assert used, "expected the node's sources to name ROS message types"
    assert used <= declared, f"package.xml lacks exec_depend on {sorted(used - declared)}"
    for pkg in ("std_msgs", "sensor_msgs", "geometry_msgs", "diagnostic_msgs", "trajectory_msgs", "nodejs"):
        assert pkg in declared


# --- CMakeLists.txt, installed by a real cmake ------------------------------------------------

@pytest.fixture(scope="module")
def installed(tmp_path_factory) -> Path:
    cmake = shutil.which("cmake")
    assert cmake is not None, "cmake must be on PATH to test CMakeLists.txt"
    work = tmp_path_factory.mktemp("colcon")
    build, prefix = work / "build", work / "install"
    run = lambda *a: subprocess.run(a, capture_output=True, text=True, timeout=300)  # noqa: E731
    r = run(cmake, "-S", str(REPO), "-B", str(build), f"-Dament_cmake_DIR={STANDIN / 'cmake'}",
            f"-DCMAKE_INSTALL_PREFIX={prefix}")
    assert r.returncode == 0, r.stdout + r.stderr
    r = run(cmake, "--install", str(build))
    assert r.returncode == 0, r.stdout + r.stderr
    return prefix


def test_cmake_project_is_the_package():
    text = (REPO / "CMakeLists.txt").read_text()
    assert re.search(r"^project\(\s*csc_node[\s)]", text, re.M)
    assert text.rstrip().endswith("ament_package()"), "ament_package() must be the last call"


def test_install_tree_has_launch_files_config_msg_and_the_executable(installed: Path):
    share = installed / "share" / PACKAGE
    for robot in ROBOTS:
        assert (share / "launch" / f"{robot}.launch.py").is_file()
        assert (share / "config" / f"{robot}.params.yaml").is_file()
    assert (share / "msg" / "Transition.msg").read_text() == (REPO / "msg" / "Transition.msg").read_text()
    assert (share / "package.xml").is_file()
    assert not list(share.rglob("README.md")), "folder READMEs are for the source tree only"
    exe = installed / "lib" / PACKAGE / PACKAGE
    assert exe.is_file() and exe.stat().st_mode & stat.S_IXUSR
    assert (share / "source_root").read_text().strip() == str(REPO)
    # Every file of the installed folders mirrors the source tree (robot profiles included).
    for folder in ("launch", "hardware", "config", "msg"):
        src = {p.relative_to(REPO / folder) for p in (REPO / folder).rglob("*") if p.is_file() and p.name != "README.md"}
        dst = {p.relative_to(share / folder) for p in (share / folder).rglob("*") if p.is_file()}
        assert src == dst, f"{folder}/: installed {sorted(map(str, dst))}, source has {sorted(map(str, src))}"


# --- the csc_node wrapper ---------------------------------------------------------------------

def fake_checkout(root: Path, with_node_modules: bool = True) -> Path:
    """A checkout whose bin/csc.mjs prints the arguments it got, to see what the wrapper ran."""
    (root / "bin").mkdir(parents=True)
    (root / "bin" / "csc.mjs").write_text("console.log(JSON.stringify(process.argv.slice(2)));\n")
    (root / "package.xml").write_text((REPO / "package.xml").read_text())
    (root / "scripts" / "ros").mkdir(parents=True)
    shutil.copy2(REPO / "scripts" / "ros" / PACKAGE, root / "scripts" / "ros" / PACKAGE)
    if with_node_modules:
        (root / "node_modules").mkdir()
    return root


def run_wrapper(exe: Path, *args: str, env: dict | None = None) -> subprocess.CompletedProcess[str]:
    e = {k: v for k, v in os.environ.items() if k != "CSC_NODE_ROOT"}
    e.update(env or {})
    return subprocess.run([str(exe), *args], capture_output=True, text=True, timeout=60, env=e)


def test_installed_copy_runs_csc_node_from_the_recorded_checkout(installed: Path, tmp_path: Path):
    fake = fake_checkout(tmp_path / "checkout")
    prefix = tmp_path / "install"
    shutil.copytree(installed, prefix)
    (prefix / "share" / PACKAGE / "source_root").write_text(f"{fake}\n")
    r = run_wrapper(prefix / "lib" / PACKAGE / PACKAGE, "--checkpoint", "runs/x", "--ros-args", "-p", "epsilon:=0.1")
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout) == ["node", "--checkpoint", "runs/x", "--ros-args", "-p", "epsilon:=0.1"]


def test_symlinked_wrapper_finds_its_checkout(tmp_path: Path):
    fake = fake_checkout(tmp_path / "checkout")
    lib = tmp_path / "install" / "lib" / PACKAGE
    lib.mkdir(parents=True)
    (lib / PACKAGE).symlink_to(fake / "scripts" / "ros" / PACKAGE)  # what --symlink-install makes
    r = run_wrapper(lib / PACKAGE, "--help")
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout) == ["node", "--help"]


@pytest.mark.parametrize("case", ["no-node-modules", "not-a-checkout", "no-marker"])
def test_wrapper_says_what_is_missing(tmp_path: Path, case: str):
    if case == "no-node-modules":
        fake = fake_checkout(tmp_path / "checkout", with_node_modules=False)
        r = run_wrapper(fake / "scripts" / "ros" / PACKAGE)
        assert r.returncode != 0 and f"{fake} has no node_modules: run 'npm ci' there first" in r.stderr
    elif case == "not-a-checkout":
        r = run_wrapper(REPO / "scripts" / "ros" / PACKAGE, env={"CSC_NODE_ROOT": str(tmp_path)})
        assert r.returncode != 0 and f"{tmp_path} is not a csc_node checkout (no bin/csc.mjs)" in r.stderr
    else:
        lib = tmp_path / "lib" / PACKAGE
        lib.mkdir(parents=True)
        shutil.copy2(REPO / "scripts" / "ros" / PACKAGE, lib / PACKAGE)
        r = run_wrapper(lib / PACKAGE)
        assert r.returncode != 0 and "share/csc_node/source_root does not exist" in r.stderr


# --- launch files -------------------------------------------------------------------------------

def real_launch_available() -> bool:
    try:
        importlib.import_module("launch_ros.actions")
        return hasattr(importlib.import_module("launch.actions"), "DeclareLaunchArgument")
    except ImportError:
        return False


@pytest.fixture(scope="module")
def launch_modules():
    """The real launch/launch_ros when importable (a ROS 2 machine), else the stand-ins."""
    added = False
    if not real_launch_available():
        sys.path.insert(0, str(STANDIN / "python"))
        added = True
    try:
        yield importlib.import_module("launch")
    finally:
        if added:
            sys.path.remove(str(STANDIN / "python"))
            for name in [n for n in sys.modules if n == "launch" or n.startswith(("launch.", "launch_ros"))]:
                del sys.modules[name]


def load_launch_description(robot: str):
    path = REPO / "launch" / f"{robot}.launch.py"
    spec = importlib.util.spec_from_file_location(f"csc_{robot}_launch", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.generate_launch_description()


@pytest.mark.parametrize("robot", ROBOTS)
def test_launch_file_declares_checkpoint_profile_params_file(launch_modules, robot: str):
    ld = load_launch_description(robot)
    args = {a.name: a for a in ld.get_launch_arguments()}
    assert set(args) == LAUNCH_ARGS
    assert args["checkpoint"].default_value in (None, []), "checkpoint must be required"
    for a in args.values():
        assert a.description


@pytest.mark.parametrize("robot", ROBOTS)
def test_launch_runs_the_installed_node_with_profile_and_params(launch_modules, installed: Path, tmp_path: Path, robot: str):
    if not hasattr(launch_modules, "perform"):
        pytest.skip("real ROS 2 launch present: check with `ros2 launch csc_node <robot>.launch.py --print`")
    from launch_ros.actions import Node

    ld = load_launch_description(robot)
    context = launch_modules.LaunchContext({"checkpoint": "/runs/demo"}, ament_prefix_path=str(installed))
    for a in ld.get_launch_arguments():
        if a.name not in context.launch_configurations:
            context.launch_configurations[a.name] = launch_modules.perform(a.default_value, context)
    (node,) = [e for e in ld.entities if isinstance(e, Node)]
    cmd = node.command(context)
    share = installed / "share" / PACKAGE
    assert cmd == [
        str(installed / "lib" / PACKAGE / PACKAGE),
        "--checkpoint", "/runs/demo",
        "--profile", str(share / "hardware" / f"{robot}.yaml"),
        "--ros-args", "-r", f"__node:={PACKAGE}",
        "--params-file", str(share / "config" / f"{robot}.params.yaml"),
    ]
    # The installed wrapper hands exactly that to `csc node`.
    fake = fake_checkout(tmp_path / "checkout")
    r = run_wrapper(Path(cmd[0]), *cmd[1:], env={"CSC_NODE_ROOT": str(fake)})
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout) == ["node", *cmd[1:]]
    # The parameter file's node name is the launched node's.
    params = yaml.safe_load(Path(cmd[-1]).read_text())
    assert set(params) == {node.name}


# --- parameters ---------------------------------------------------------------------------------

ROS_TYPES = {"double": float, "bool": bool, "string": str}
DOC_ROW = re.compile(r"^\| `([a-z_]+)` \| (double|bool|string) \| `([^`]*)` \|", re.M)


def documented_parameters() -> dict[str, tuple[str, str]]:
    rows = DOC_ROW.findall((REPO / "docs" / "ros-packaging.md").read_text())
    assert rows, "docs/ros-packaging.md has no parameter table"
    return {name: (ros_type, default) for name, ros_type, default in rows}


@pytest.mark.parametrize("robot", ROBOTS)
def test_params_file_is_ros2_yaml_with_the_documented_parameters(robot: str):
    doc = documented_parameters()
    data = yaml.safe_load((REPO / "config" / f"{robot}.params.yaml").read_text())
    assert list(data) == [PACKAGE] and list(data[PACKAGE]) == ["ros__parameters"]
    params = data[PACKAGE]["ros__parameters"]
    assert set(params) == set(doc), f"params file {sorted(params)} vs documented {sorted(doc)}"
    for name, value in params.items():
        ros_type, default = doc[name]
        # YAML 1.1 as rcl reads it: 100 is an integer, which a double parameter refuses.
        assert type(value) is ROS_TYPES[ros_type], f"{name}: {value!r} is not a {ros_type}"
        assert value == yaml.safe_load(default), f"{name}: {value!r}, documented default {default}"


def test_node_declares_every_parameter_of_the_params_files():
    """Once the node exists (code that calls `.declareParameter(` and is not a transport
    implementing it), each documented parameter name appears in it; until then the documented
    table is the contract."""
    callers = [p for p in (REPO / "src").rglob("*.ts")
               if not p.name.endswith(".test.ts") and ".declareParameter(" in (t := p.read_text())
               and "implements RosTransport" not in t]
    text = "\n".join(p.read_text() for p in callers)
    missing = [n for n in documented_parameters() if callers and f"'{n}'" not in text and f'"{n}"' not in text]
    assert not missing, f"parameters in config/*.params.yaml that {[str(p) for p in callers]} never declare: {missing}"
