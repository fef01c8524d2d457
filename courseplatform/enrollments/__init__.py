"""Who may learn: enrollments, their states and the one table of transitions, seats in live
workshops, and the waitlist that hears when a place opens.

Every path that changes a learner's access goes through here: checkout and its webhooks
(purchases, refunds, disputes), the studio (complimentary access, CSV enrol, revoke, restore)
and the public waitlist. Nothing else sets an enrollment's status or counts seats.

- `states`: the transition table (event × state → status) and why a change is refused.
- `seats`: capacity, seats taken and whether one can be sold, from one function.
- `access_changes`: grant, end, pause, resume and restore, each through the table.
- `notes`: what a learner and a creator are told about access that ended.
- `waitlist`: joining, telling the list once when a place is really open, the export.
"""
