"""Grading the course with nbgrader: cell metadata, points, the class report.

- `points`: how many points each exercise is worth (the one table; TEACHING.md shows it).
- `metadata`: derives nbgrader's cell metadata from the lessons' solution markers, so that
  `notebooks/` are nbgrader source notebooks and `exercises/` are gradable as handed out.
- `report`: reads a class's autograded notebooks and tells, per exercise, how many passed and
  which mistakes the checkers recognised most often.

`python -m nnlib.course.grading --help` lists the commands. The checkers' own grading mode (strict,
hidden cases, no borrowed answers) is in `nnlib.course.checks.grading`.
"""
