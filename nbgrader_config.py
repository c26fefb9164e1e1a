"""nbgrader configuration of the course (nbgrader 0.9). Copied into a course folder by
`python -m nnlib.course.grading course <folder>`; stock nbgrader commands then need no hand-edits.

While nbgrader grades (`autograde`) or validates, it sets NBGRADER_EXECUTION; the checkers see it
and grade strictly (an unanswered exercise fails, hidden cases, no calls to nnlib's answers) and
training cells run short (only the checks earn points). See TEACHING.md, "Grading with nbgrader".
"""

import os

from nnlib.course.grading.kernel import EXEC_LINES

c = get_config()  # noqa: F821  (provided by nbgrader when it loads this file)

c.CourseDirectory.course_id = "nn-from-scratch"

# The notebook kernels inherit these: one BLAS thread each (repeatable numbers, no
# oversubscription when several notebooks are graded at once). Training needs nothing here:
# under NBGRADER_EXECUTION every lesson's run trains one epoch (nnlib.train.lesson_epochs;
# lesson 07 trains for minutes otherwise), unless a teacher sets NNLIB_EPOCHS.
for variable in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(variable, "1")

# A cell may take this long before it is stopped and scored as failed. Under grading the
# longest cell (lesson 07's one-epoch runs) takes about 10 s on a shared two-core machine; a
# check itself stops a function after 20 s (nnlib.course.checks.grading.CHECK_SECONDS).
c.Execute.timeout = 60
# Every graded kernel first makes widgets and lesson figures inert (nnlib/course/grading/kernel.py):
# no interact callbacks, no PNGs; nothing that earns points changes.
c.Execute.extra_arguments = ["--IPKernelApp.exec_lines=" + EXEC_LINES]
# Once a notebook has run, its kernel is stopped at once instead of asked to exit and waited for
# (its outputs are already in the notebook): one less wait per student and notebook.
c.Execute.shutdown_kernel = "immediate"
# A student's notebook that does not even start its kernel is retried once.
c.Execute.startup_timeout = 120
# The kernels talk to nbgrader over CurveZMQ-encrypted sockets (keys made for each kernel), so no
# kernel logs "Kernel is running over TCP without encryption" for every graded notebook.
c.KernelManager.transport_encryption = "auto"

# Every notebook's kernel runs in a sandbox of its own (nnlib/course/grading/sandbox.py: bubblewrap,
# no network, the course read-only, a private HOME and /tmp, only the student's own folder), and
# talks to nbgrader over Unix sockets (ipc). NNLIB_NO_SANDBOX=1 grades without it (the class
# report says so). Where the sandbox cannot start, `nbgrader autograde` stops with one line.
from nnlib.course.grading import sandbox  # noqa: E402

sandbox.configure(c)

# Right after nbgrader saves the checks' scores, in nbgrader's own process: the trusted run
# (nnlib/course/grading/trusted.py: each answer's defs checked in a fresh sandboxed process; its
# result is the score) and the audit of each answer's source (nnlib/course/grading/audit.py): borrowed or tampering answers, and deleted checks, are
# flagged with their reason (feedback, formgrader, class report). "manual" (default): the check
# scores 0 and needs a manual grade, so the points count only if a teacher gives them by hand;
# "zero": it scores 0. See TEACHING.md, "Flags and manual grades".
from nbgrader.converters import Autograde  # noqa: E402
from nbgrader.preprocessors import Execute, SaveAutoGrades  # noqa: E402

_pipeline = list(Autograde.class_traits()["autograde_preprocessors"].default())
_pipeline.insert(_pipeline.index(SaveAutoGrades) + 1, "nnlib.course.grading.preprocessor.AuditAnswers")
# A kernel that dies (os._exit, a crash) leaves the student graded as far as possible, not dropped.
_pipeline[_pipeline.index(Execute)] = "nnlib.course.grading.preprocessor.ExecuteToTheEnd"
c.Autograde.autograde_preprocessors = _pipeline
# Before nbgrader's own sanitizing: each cell's metadata from the release, not the submission
# (a duplicated check cell, an answer's grade id or role changed or removed: see RestoreMetadata).
c.Autograde.sanitize_preprocessors = ["nnlib.course.grading.preprocessor.RestoreMetadata",
                                      *Autograde.class_traits()["sanitize_preprocessors"].default()]
c.AuditAnswers.flagged = "manual"

# The teacher's own settings (the exchange folder, the late penalty, ...) go into
# nbgrader_config_local.py beside this file: `python -m nnlib.course.grading course` rewrites this
# file after a course update but never touches that one. Nothing happens when it does not exist.
load_subconfig("nbgrader_config_local.py")  # noqa: F821  (provided by traitlets)
