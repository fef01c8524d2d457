"""An offering's curriculum in the studio: sections, lessons and quizzes.

Its forms and services also schedule live sessions (a lesson can link to one); their routes are in `live`.
"""
