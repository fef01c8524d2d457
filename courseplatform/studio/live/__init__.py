"""Live sessions in the studio: the sessions page and attendance (by hand, or a report imported as a job).

The session form and the services that save a session live in `curriculum` (lessons link to sessions).
"""
