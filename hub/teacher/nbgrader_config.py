"""nbgrader for the teacher on the hub: the course folder is the teacher's home folder, where
the course's own nbgrader_config.py (and nbgrader_config_local.py) are read as well."""

import os

c = get_config()  # noqa: F821

c.CourseDirectory.course_id = "nn-from-scratch"
c.Exchange.root = os.environ.get("NNLIB_HUB_EXCHANGE", "/srv/nbgrader/exchange")
