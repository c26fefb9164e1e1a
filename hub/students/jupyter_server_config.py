"""A student's Jupyter server on the hub: nbgrader's Assignment List, not the teacher's tools."""

c = get_config()  # noqa: F821

c.ServerApp.jpserver_extensions = {
    "nbgrader.server_extensions.formgrader": False,
    "nbgrader.server_extensions.course_list": False,
}
