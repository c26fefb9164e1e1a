"""nbgrader for a student on the hub: the Assignment List of the course, through the shared
exchange folder, as the student's hub name (every server runs as the same system user here)."""

import os

c = get_config()  # noqa: F821

c.CourseDirectory.course_id = "nn-from-scratch"
c.Exchange.root = os.environ.get("NNLIB_HUB_EXCHANGE", "/srv/nbgrader/exchange")
c.CourseDirectory.student_id = os.environ["JUPYTERHUB_USER"]
