"""JupyterHub for one class of the course on one machine (TEACHING.md, "A class on JupyterHub").

    jupyterhub -f hub/jupyterhub_config.py          # from the environment that has jupyterhub

What it sets up, all on this machine, nothing outside:
- the hub on http://127.0.0.1:$NNLIB_HUB_PORT (8000), behind configurable-http-proxy (npm);
- users log in with a name from the class list and one shared password (DummyAuthenticator:
  no external service; fine on a machine only the class reaches, for a real class use the
  school's login: TEACHING.md);
- every user's Jupyter server runs here as a local process (SimpleLocalProcessSpawner), each in
  its own folder $NNLIB_HUB_HOMES/<name>; the teacher's folder is the nbgrader course folder;
- the teacher's server has nbgrader's formgrader (hub/teacher/), the students' servers only the
  Assignment List, with their hub name as their nbgrader student id (hub/students/);
- everyone's nbgrader shares one exchange folder, $NNLIB_HUB_EXCHANGE.

Settings come from the environment (the test, tests/hub/test_hub.py, sets them all):
NNLIB_HUB_PORT, NNLIB_HUB_HUB_PORT, NNLIB_HUB_API_PORT, NNLIB_HUB_STATE (the hub's database,
cookie secret), NNLIB_HUB_HOMES, NNLIB_HUB_EXCHANGE, NNLIB_HUB_TEACHER, NNLIB_HUB_STUDENTS
(comma-separated), NNLIB_HUB_PASSWORD, NNLIB_HUB_PROXY (configurable-http-proxy's command).
"""

import os
import sys
from pathlib import Path

c = get_config()  # noqa: F821  (provided by JupyterHub when it loads this file)

HERE = Path(__file__).resolve().parent
STATE = Path(os.environ.get("NNLIB_HUB_STATE", "/srv/jupyterhub"))
HOMES = Path(os.environ.get("NNLIB_HUB_HOMES", "/srv/jupyterhub/homes"))
TEACHER = os.environ.get("NNLIB_HUB_TEACHER", "teacher")
STUDENTS = [name for name in os.environ.get("NNLIB_HUB_STUDENTS", "").split(",") if name]

c.JupyterHub.ip = "127.0.0.1"
c.JupyterHub.port = int(os.environ.get("NNLIB_HUB_PORT", "8000"))
c.JupyterHub.hub_ip = "127.0.0.1"
c.JupyterHub.hub_port = int(os.environ.get("NNLIB_HUB_HUB_PORT", "8081"))
c.ConfigurableHTTPProxy.api_url = f"http://127.0.0.1:{os.environ.get('NNLIB_HUB_API_PORT', '8001')}"
c.ConfigurableHTTPProxy.command = [os.environ.get("NNLIB_HUB_PROXY", "configurable-http-proxy")]
c.JupyterHub.db_url = f"sqlite:///{STATE / 'jupyterhub.sqlite'}"
c.JupyterHub.cookie_secret_file = str(STATE / "jupyterhub_cookie_secret")
c.ConfigurableHTTPProxy.pid_file = str(STATE / "jupyterhub-proxy.pid")
c.JupyterHub.cleanup_servers = True

c.JupyterHub.authenticator_class = "dummy"
c.DummyAuthenticator.password = os.environ["NNLIB_HUB_PASSWORD"]
c.Authenticator.allowed_users = {TEACHER, *STUDENTS}
c.Authenticator.admin_users = {TEACHER}

c.JupyterHub.spawner_class = "simple"
c.SimpleLocalProcessSpawner.home_dir_template = str(HOMES / "{username}")
c.Spawner.cmd = [str(Path(sys.executable).parent / "jupyterhub-singleuser")]
c.Spawner.args = ["--allow-root"] if os.getuid() == 0 else []
c.Spawner.default_url = "/lab"
c.Spawner.start_timeout = 180  # a shared two-core machine starts a Jupyter server slowly
c.Spawner.http_timeout = 180


def _config_path(spawner) -> str:
    """The teacher's and the students' nbgrader and Jupyter settings differ (see the folders)."""
    return str(HERE / ("teacher" if spawner.user.name == TEACHER else "students"))


c.Spawner.environment = {
    "JUPYTER_CONFIG_PATH": _config_path,
    "NNLIB_HUB_EXCHANGE": os.environ.get("NNLIB_HUB_EXCHANGE", "/srv/nbgrader/exchange"),
    "OMP_NUM_THREADS": "1",
    "OPENBLAS_NUM_THREADS": "1",
}
