"""Grading a course's submissions (make grade) and the Gradescope autograder
(make autograder).  Student code is untrusted everywhere here: see grader.py."""
