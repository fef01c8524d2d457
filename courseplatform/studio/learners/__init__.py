"""An offering's learners in the studio: the roster, access, CSV enrolment, one learner's progress, the waitlist."""
